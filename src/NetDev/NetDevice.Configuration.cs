using NetDev.Hosting;

namespace NetDev;

/// <summary>
/// The device's configuration: name, address, MTU and its range, flags, queue length, alias, carrier,
/// watchdog, clock and offloads. Before registration a setter only records the value; afterwards it asks
/// the driver (where it has a say) and then the system, and keeps the value only when both agreed.
/// </summary>
/// <remarks><b>Invariants.</b> These fields change only under the control lock and hold what the system
/// last confirmed (before registration, what will be asked for); <see cref="LinkReconciler"/> writes what
/// others changed through the <c>Confirm…</c> methods, after the driver agreed.</remarks>
public abstract partial class NetDevice
{
    internal const DeviceFlags RxModeFlags = DeviceFlags.Promisc | DeviceFlags.AllMulti;
    internal const DeviceFlags ChangeableFlags = DeviceFlagSets.Mirrored;

    private string _name;
    private MacAddress _macAddress = MacAddress.RandomLocal();
    private int _mtu = 1500;
    private int _minMtu = 68;
    private int _maxMtu = 1500;
    private DeviceFlags _flags = DeviceFlags.Broadcast | DeviceFlags.Multicast;
    private int _txQueueLength = 1000;
    private bool _carrier = true;
    private string? _alias;
    private TimeSpan _watchdogTimeout = TimeSpan.FromSeconds(5);
    private TimeSpan _stopTimeout = TimeSpan.FromSeconds(5);
    private TimeProvider _timeProvider = TimeProvider.System;
    private DeviceFeatures _features;

    /// <summary>
    /// The interface name. Before registration it may be a template with <c>%d</c> (such as
    /// <c>dummy%d</c>) that the system resolves to the first free number; afterwards it is the real name,
    /// and it follows renames made by others (<c>ip link set dev OLD name NEW</c>) once the host reports them.
    /// </summary>
    public string Name
    {
        // Read by logs and the control endpoint on other threads: a reference, written whole.
        get => Volatile.Read(ref _name);
        set
        {
            ArgumentException.ThrowIfNullOrEmpty(value);
            // The kernel's rules (dev_valid_name, dev_alloc_name): it counts bytes, not characters, and
            // resolves no template but a single %d.
            var bytes = System.Text.Encoding.UTF8.GetByteCount(value);
            if (bytes > 15)
            {
                throw new ArgumentException($"Interface names have at most 15 bytes; '{value}' has {bytes}.", nameof(value));
            }
            var percent = value.IndexOf('%');
            var badTemplate = percent >= 0 && (!value.AsSpan(percent).StartsWith("%d") || value.IndexOf('%', percent + 1) >= 0);
            if (value is "." or ".." || value.Contains('/') || value.Contains(':') || value.Any(char.IsWhiteSpace) || badTemplate)
            {
                throw new ArgumentException($"'{value}' is not a valid interface name (not . or .., no '/', ':' or white space, '%' only as one %d).", nameof(value));
            }
            using (EnterControl())
            {
                ThrowIfUnregistered();
                if (_link is not null)
                {
                    throw new InvalidOperationException($"{_name} is registered; its name is chosen before Register().");
                }
                _name = value;
            }
        }
    }

    /// <summary>
    /// The Ethernet address; must be a valid unicast, non-zero address. Setting it on a registered device
    /// asks the driver (<c>SetMacAddress</c>) and then the system.
    /// </summary>
    public MacAddress MacAddress
    {
        get => _macAddress;
        set
        {
            if (!value.IsValidDeviceAddress)
            {
                throw new ArgumentException($"{value} cannot be a device address: it must be unicast and not all zero.", nameof(value));
            }
            using (EnterControl())
            {
                ThrowIfUnregistered();
                if (_link is not { } link)
                {
                    _macAddress = value;
                    return;
                }
                if (value == _macAddress)
                {
                    return;
                }
                var old = _macAddress;
                Operations.SetMacAddress(value);
                ConfigureOrRevert(link, new LinkConfiguration { MacAddress = value }, () => Operations.SetMacAddress(old));
                _macAddress = value;
            }
        }
    }

    /// <summary>
    /// The MTU; must lie within <see cref="MinMtu"/>..<see cref="MaxMtu"/> (no upper bound of the driver's
    /// own when <see cref="MaxMtu"/> is 0). Setting it on a registered device asks the driver
    /// (<c>ChangeMtu</c>) and then the system.
    /// </summary>
    public int Mtu
    {
        get => _mtu;
        set
        {
            if (MtuRangeError(value) is { } error)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, error);
            }
            using (EnterControl())
            {
                ThrowIfUnregistered();
                if (_link is not { } link)
                {
                    _mtu = value;
                    return;
                }
                if (value == _mtu)
                {
                    return;
                }
                var old = _mtu;
                Operations.ChangeMtu(value);
                // The buffers grow before the system hears of a larger MTU: its first larger frame must fit.
                GrowPools(value);
                ConfigureOrRevert(link, new LinkConfiguration { Mtu = value }, () => Operations.ChangeMtu(old));
                SetMtuAndResizePools(value);
            }
        }
    }

    /// <summary>The smallest MTU the driver accepts (<c>min_mtu</c>).</summary>
    public int MinMtu
    {
        get => _minMtu;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ConfigureBeforeRegistration(() => _minMtu = value);
        }
    }

    /// <summary>The largest MTU the driver accepts (<c>max_mtu</c>); 0 means no limit of the driver's own.</summary>
    public int MaxMtu
    {
        get => _maxMtu;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ConfigureBeforeRegistration(() => _maxMtu = value);
        }
    }

    /// <summary>
    /// The interface flags. <see cref="DeviceFlags.NoArp"/>, <see cref="DeviceFlags.Multicast"/>,
    /// <see cref="DeviceFlags.Promisc"/> and <see cref="DeviceFlags.AllMulti"/> can be changed on a
    /// registered device too (a change of the last two calls the driver's <c>SetRxMode</c>);
    /// <see cref="DeviceFlags.Up"/> and <see cref="DeviceFlags.Running"/> are not set here.
    /// </summary>
    public DeviceFlags Flags
    {
        get => _flags;
        set
        {
            value &= ~(DeviceFlags.Up | DeviceFlags.Running);
            using (EnterControl())
            {
                ThrowIfUnregistered();
                if (_link is not { } link)
                {
                    _flags = value;
                    return;
                }
                var changed = (value ^ _flags) & DeviceFlagSets.Changeable;
                if (changed == DeviceFlags.None)
                {
                    return;
                }
                link.Configure(new LinkConfiguration { Flags = value & changed, FlagMask = changed });
                _flags = (_flags & ~changed) | (value & changed);
                if ((changed & RxModeFlags) != 0)
                {
                    Operations.SetRxMode();
                }
            }
        }
    }

    /// <summary>The transmit queue length in frames (<c>tx_queue_len</c>).</summary>
    public int TxQueueLength
    {
        get => _txQueueLength;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            using (EnterControl())
            {
                ThrowIfUnregistered();
                _link?.Configure(new LinkConfiguration { TxQueueLength = value });
                _txQueueLength = value;
            }
        }
    }

    /// <summary>
    /// The interface alias (<c>IFLA_IFALIAS</c>, shown by <c>ip -d link</c>). By default the host names the
    /// NetDev driver running the device there.
    /// </summary>
    public string? Alias
    {
        get => _alias;
        set
        {
            using (EnterControl())
            {
                ThrowIfUnregistered();
                _link?.Configure(new LinkConfiguration { Alias = value ?? "" });
                _alias = value;
            }
        }
    }

    /// <summary>Whether the carrier is on (<c>netif_carrier_ok</c>).</summary>
    public bool Carrier => Volatile.Read(ref _carrier);

    /// <summary>
    /// How long a queue may stay stopped before the driver's <c>TxTimeout</c> is called
    /// (<c>watchdog_timeo</c>); 5 seconds by default.
    /// </summary>
    public TimeSpan WatchdogTimeout
    {
        get => _watchdogTimeout;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _watchdogTimeout = value;
        }
    }

    /// <summary>
    /// How long taking the device down or tearing it down waits for a queue's thread that is inside a driver
    /// call (a <c>StartXmit</c> or <c>TxTimeout</c> that does not return) before it goes on without it and
    /// reports so; 5 seconds by default.
    /// </summary>
    public TimeSpan StopTimeout
    {
        get => _stopTimeout;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _stopTimeout = value;
        }
    }

    /// <summary>The clock of everything timed (the watchdog); a test host may set a controllable one before registration.</summary>
    public TimeProvider TimeProvider
    {
        get => _timeProvider;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            ConfigureBeforeRegistration(() => _timeProvider = value);
        }
    }

    /// <summary>
    /// The offloads the driver can take (set before registration); once registered, those in force —
    /// what the system accepted of them. See <see cref="DeviceFeatures"/>.
    /// </summary>
    public DeviceFeatures Features
    {
        get => _link?.Features ?? _features;
        set => ConfigureBeforeRegistration(() => _features = value);
    }

    /// <summary>
    /// The largest frame the device handles, link header included: an MTU-sized frame with up to two VLAN tags
    /// (<see cref="MaxLinkOverhead"/>), or 64 KiB segments with offloads.
    /// </summary>
    public int MaxFrameLength => MaxFrameLengthFor(_mtu);

    /// <summary>The largest segmentation-offload frame: 64 KiB of IP packet with its link header.</summary>
    public const int GsoMaxFrameLength = 65536 + MaxLinkOverhead;

    private int MaxFrameLengthFor(int mtu) => (Features & (DeviceFeatures.Tso4 | DeviceFeatures.Tso6 | DeviceFeatures.Uso4 | DeviceFeatures.Uso6)) != 0
        ? Math.Max(GsoMaxFrameLength, mtu + MaxLinkOverhead)
        : mtu + MaxLinkOverhead;

    /// <summary>Turns the carrier on (<c>netif_carrier_on</c>): the link is operational when up.</summary>
    public void CarrierOn() => SetCarrier(true);

    /// <summary>Turns the carrier off (<c>netif_carrier_off</c>): the system stops sending, as with a pulled cable.</summary>
    public void CarrierOff() => SetCarrier(false);

    /// <summary>The system's transmit queue length, which needs nobody's consent. Caller holds the control lock.</summary>
    internal void ConfirmTxQueueLength(int length) => _txQueueLength = length;

    /// <summary>The name the system gave the interface (renamed by others). Caller holds the control lock.</summary>
    internal void ConfirmName(string name) => Volatile.Write(ref _name, name);

    /// <summary>An address the driver accepted. Caller holds the control lock.</summary>
    internal void ConfirmMacAddress(MacAddress address) => _macAddress = address;

    /// <summary>The changeable flags as the system has them now. Caller holds the control lock.</summary>
    internal void ConfirmFlags(DeviceFlags changed, DeviceFlags flags) => _flags = (_flags & ~changed) | flags;

    /// <summary>A carrier state the driver accepted. Caller holds the control lock.</summary>
    internal void ConfirmCarrier(bool carrier) => Volatile.Write(ref _carrier, carrier);

    /// <summary>
    /// Applies a change the driver already accepted to the system; if the system refuses, the driver is
    /// put back to the old value (as the kernel's <c>dev_set_mtu_ext</c> does) and the refusal rethrown.
    /// Caller holds the control lock.
    /// </summary>
    private void ConfigureOrRevert(IHostLink link, LinkConfiguration change, Action revertDriver)
    {
        try
        {
            link.Configure(change);
        }
        catch
        {
            try
            {
                revertDriver();
            }
            catch (Exception revertError)
            {
                // The caller hears of the system's refusal; this second failure has nobody else to go to.
                ReportError(revertError);
            }
            throw;
        }
    }

    private void SetCarrier(bool carrier)
    {
        using (EnterControl())
        {
            if (carrier == _carrier)
            {
                return;
            }
            _link?.Configure(new LinkConfiguration { Carrier = carrier });
            Volatile.Write(ref _carrier, carrier);
        }
    }

    /// <summary>Why <paramref name="mtu"/> is outside the device's range, or <see langword="null"/> when it is inside.</summary>
    internal string? MtuRangeError(int mtu) =>
        mtu < _minMtu || (_maxMtu > 0 && mtu > _maxMtu)
            ? $"MTU {mtu} is outside this device's range {_minMtu}..{(_maxMtu > 0 ? _maxMtu.ToString() : "any")}"
            : null;

    /// <summary>Takes an MTU everyone agreed to and makes the pools' buffers fit it. Caller holds the control lock.</summary>
    internal void SetMtuAndResizePools(int mtu)
    {
        _mtu = mtu;
        ResizePools();
    }

    private void ResizePools() => GrowPools(_mtu);

    /// <summary>Makes the pools' buffers fit frames of <paramref name="mtu"/>; buffers never shrink here.</summary>
    private void GrowPools(int mtu)
    {
        var bufferSize = SkBuffPool.DefaultHeadroom + MaxFrameLengthFor(mtu);
        foreach (var queue in _queues)
        {
            if (queue.TxPool.BufferSize < bufferSize)
            {
                queue.TxPool.BufferSize = bufferSize;
            }
            if (queue.RxPool.BufferSize < bufferSize)
            {
                queue.RxPool.BufferSize = bufferSize;
            }
        }
    }
}
