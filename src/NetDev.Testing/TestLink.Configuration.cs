using NetDev.Hosting;

namespace NetDev.Testing;

// The kernel's view of the interface, the changes the device asks for (SetAdminUp, Configure) and the
// changes "others" make (ip link set …), which reach the device as the Linux host reports them.
public sealed partial class TestLink
{
    // A TAP's MTU range: ETH_MIN_MTU to MAX_MTU less the Ethernet header (drivers/net/tun.c).
    private const int KernelMinMtu = 68;
    private const int KernelMaxMtu = 65535 - NetDevice.EthernetHeaderLength;

    private volatile bool _adminUp;
    private int _mtu;
    private MacAddress _macAddress;
    private DeviceFlags _flags;
    private volatile bool _carrier = true;
    private int _txQueueLength;
    private string? _alias;
    private NetDevException? _nextAdminFailure;
    private NetDevException? _nextConfigureFailure;

    /// <summary>Whether the interface is administratively up (<c>IFF_UP</c>).</summary>
    public bool IsAdminUp
    {
        get
        {
            lock (_control)
            {
                return _adminUp;
            }
        }
    }

    /// <summary>The MTU as the system knows it.</summary>
    public int Mtu
    {
        get
        {
            lock (_control)
            {
                return _mtu;
            }
        }
    }

    /// <summary>The Ethernet address as the system knows it.</summary>
    public MacAddress MacAddress
    {
        get
        {
            lock (_control)
            {
                return _macAddress;
            }
        }
    }

    /// <summary>The interface flags as <c>ip link</c> shows them, <see cref="DeviceFlags.Up"/> and <see cref="DeviceFlags.Running"/> included.</summary>
    public DeviceFlags Flags
    {
        get
        {
            lock (_control)
            {
                return CurrentState().Flags;
            }
        }
    }

    /// <summary>Whether the carrier is on.</summary>
    public bool Carrier
    {
        get
        {
            lock (_control)
            {
                return _carrier;
            }
        }
    }

    /// <summary>The transmit queue length (<c>txqueuelen</c>): how many frames each kernel queue holds.</summary>
    public int TxQueueLength
    {
        get
        {
            lock (_control)
            {
                return _txQueueLength;
            }
        }
    }

    /// <summary>The interface alias (<c>IFLA_IFALIAS</c>), if the device set one.</summary>
    public string? Alias
    {
        get
        {
            lock (_control)
            {
                return _alias;
            }
        }
    }

    /// <summary>The interface's state as the system knows it, as a host reports it to the device.</summary>
    public LinkState State
    {
        get
        {
            lock (_control)
            {
                return CurrentState();
            }
        }
    }

    /// <inheritdoc/>
    public LinkState? QueryState() => State;

    /// <inheritdoc/>
    public void SetAdminUp(bool up)
    {
        lock (_control)
        {
            ThrowIfRemoved();
            if (_nextAdminFailure is { } failure)
            {
                _nextAdminFailure = null;
                throw failure;
            }
            ApplyAdminState(up);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Refuses what the kernel refuses, changing nothing: an MTU outside 68..65521 or a
    /// txqueuelen below 0 (<c>EINVAL</c>), an address that is not a valid unicast one (<c>EADDRNOTAVAIL</c>).</remarks>
    public void Configure(LinkConfiguration change)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_control)
        {
            ThrowIfRemoved();
            if (_nextConfigureFailure is { } failure)
            {
                _nextConfigureFailure = null;
                throw failure;
            }
            Validate(change.Mtu, change.MacAddress, change.TxQueueLength);
            if (change.Mtu is { } mtu)
            {
                _mtu = mtu;
            }
            if (change.MacAddress is { } address)
            {
                _macAddress = address;
            }
            var mask = change.FlagMask & DeviceFlagSets.Changeable;
            _flags = (_flags & ~mask) | (change.Flags & mask);
            if (change.TxQueueLength is { } length)
            {
                ApplyTxQueueLength(length);
            }
            if (change.Alias is { } alias)
            {
                _alias = alias.Length == 0 ? null : alias;
            }
            if (change.Carrier is { } carrier)
            {
                ApplyCarrier(carrier);
            }
        }
    }

    /// <summary>Makes the device's next <see cref="SetAdminUp"/> fail with <paramref name="errno"/>, as the kernel refusing it.</summary>
    public void FailNextSetAdminUp(int errno)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(errno);
        lock (_control)
        {
            _nextAdminFailure = new NetDevException(errno, "RTM_NEWLINK", Name);
        }
    }

    /// <summary>Makes the device's next <see cref="Configure"/> fail with <paramref name="errno"/>, as the kernel refusing it.</summary>
    public void FailNextConfigure(int errno)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(errno);
        lock (_control)
        {
            _nextConfigureFailure = new NetDevException(errno, "RTM_NEWLINK", Name);
        }
    }

    /// <summary>
    /// Sets the interface up as another program would (<c>ip link set dev NAME up</c>): the device hears
    /// of it and opens its driver. Nothing happens when it is up already.
    /// </summary>
    /// <exception cref="InvalidOperationException">The link is not started.</exception>
    public void IpLinkSetUp() => ChangeByOthers(() => ApplyAdminState(true));

    /// <summary>
    /// Sets the interface down as another program would (<c>ip link set dev NAME down</c>): frames waiting
    /// in the kernel queues are discarded and the device stops its driver.
    /// </summary>
    /// <exception cref="InvalidOperationException">The link is not started.</exception>
    public void IpLinkSetDown() => ChangeByOthers(() => ApplyAdminState(false));

    /// <summary>
    /// Changes the MTU as another program would (<c>ip link set dev NAME mtu N</c>). The device asks its
    /// driver (<c>ChangeMtu</c>); if either rejects it, the device puts the old MTU back here.
    /// </summary>
    /// <exception cref="NetDevException">The kernel itself refuses <paramref name="mtu"/> (outside 68..65521).</exception>
    public void IpLinkSetMtu(int mtu) => ChangeByOthers(() =>
    {
        Validate(mtu, null, null);
        var changed = _mtu != mtu;
        _mtu = mtu;
        return changed;
    });

    /// <summary>
    /// Changes the address as another program would (<c>ip link set dev NAME address A</c>). The device
    /// asks its driver (<c>SetMacAddress</c>); if it rejects it, the device puts the old address back here.
    /// </summary>
    /// <exception cref="NetDevException">The kernel itself refuses the address (multicast or zero).</exception>
    public void IpLinkSetAddress(MacAddress address) => ChangeByOthers(() =>
    {
        Validate(null, address, null);
        var changed = _macAddress != address;
        _macAddress = address;
        return changed;
    });

    /// <summary>Turns promiscuous mode on or off as another program would (<c>ip link set dev NAME promisc on|off</c>); the driver hears <c>SetRxMode</c>.</summary>
    public void IpLinkSetPromisc(bool on) => IpLinkSetFlags(on ? DeviceFlags.Promisc : DeviceFlags.None, DeviceFlags.Promisc);

    /// <summary>Turns all-multicast mode on or off as another program would (<c>ip link set dev NAME allmulticast on|off</c>); the driver hears <c>SetRxMode</c>.</summary>
    public void IpLinkSetAllMulticast(bool on) => IpLinkSetFlags(on ? DeviceFlags.AllMulti : DeviceFlags.None, DeviceFlags.AllMulti);

    /// <summary>
    /// Changes the flags in <paramref name="mask"/> to their values in <paramref name="flags"/> as another
    /// program would; only <see cref="DeviceFlags.NoArp"/>, <see cref="DeviceFlags.Multicast"/>,
    /// <see cref="DeviceFlags.Promisc"/> and <see cref="DeviceFlags.AllMulti"/> can change this way.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="mask"/> names another flag.</exception>
    public void IpLinkSetFlags(DeviceFlags flags, DeviceFlags mask)
    {
        if ((mask & ~DeviceFlagSets.Changeable) != 0)
        {
            throw new ArgumentException($"Only {DeviceFlagSets.Changeable} change this way; up and down have IpLinkSetUp and IpLinkSetDown.", nameof(mask));
        }
        ChangeByOthers(() =>
        {
            var changed = ((_flags ^ flags) & mask) != 0;
            _flags = (_flags & ~mask) | (flags & mask);
            return changed;
        });
    }

    /// <summary>
    /// Turns the carrier on or off as another program would (<c>ip link set dev NAME carrier on|off</c>).
    /// The device asks its driver (<c>ChangeCarrier</c>); if it rejects it, the device puts the old state
    /// back here. Without carrier the kernel sends nothing: waiting frames are discarded, new ones dropped.
    /// </summary>
    public void IpLinkSetCarrier(bool on) => ChangeByOthers(() => ApplyCarrier(on));

    /// <summary>
    /// Renames the interface as another program would (<c>ip link set dev NAME name NEW</c>): the device
    /// takes the new name, its driver is not asked (the kernel has no operation for it).
    /// </summary>
    /// <exception cref="NetDevException">Another interface of this host has that name (<c>EEXIST</c>).</exception>
    public void IpLinkSetName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ChangeByOthers(() =>
        {
            if (name == _name)
            {
                return false;
            }
            Host.Rename(this, name);
            _name = name;
            return true;
        });
    }

    /// <summary>Changes the transmit queue length as another program would (<c>ip link set dev NAME txqueuelen N</c>).</summary>
    /// <exception cref="NetDevException">A negative length (<c>EINVAL</c>).</exception>
    public void IpLinkSetTxQueueLength(int length) => ChangeByOthers(() =>
    {
        Validate(null, null, length);
        var changed = _txQueueLength != length;
        ApplyTxQueueLength(length);
        return changed;
    });

    /// <summary>
    /// Applies a change made by someone else under <c>_control</c>, then, if something changed, tells the
    /// device as the Linux host does: the whole state, after the fact, one report at a time.
    /// </summary>
    private void ChangeByOthers(Func<bool> apply)
    {
        ILinkEvents events;
        LinkState state;
        lock (_control)
        {
            ThrowIfRemoved();
            events = _events ?? throw new InvalidOperationException($"{Name} is not started: register the device first.");
            if (!apply())
            {
                return;
            }
            state = CurrentState();
        }
        lock (_eventsLock)
        {
            events.OnLinkChanged(state);
        }
    }

    /// <summary>The kernel's view as a <see cref="LinkState"/>. Caller holds <c>_control</c>.</summary>
    private LinkState CurrentState()
    {
        var flags = _flags;
        if (_adminUp)
        {
            flags |= DeviceFlags.Up;
            if (_carrier)
            {
                flags |= DeviceFlags.Running;
            }
        }
        return new LinkState(_adminUp, _mtu, _macAddress, flags, _carrier, _txQueueLength) { Name = _name };
    }

    /// <summary>Goes up or down; returns whether that changed anything. Caller holds <c>_control</c>.</summary>
    private bool ApplyAdminState(bool up)
    {
        if (_adminUp == up)
        {
            return false;
        }
        _adminUp = up;
        if (!up)
        {
            // The kernel resets the queueing discipline when an interface goes down: what waited is gone.
            DiscardKernelQueues();
        }
        return true;
    }

    /// <summary>Turns the carrier on or off; returns whether that changed anything. Caller holds <c>_control</c>.</summary>
    private bool ApplyCarrier(bool on)
    {
        if (_carrier == on)
        {
            return false;
        }
        _carrier = on;
        if (!on)
        {
            // Losing the carrier deactivates the queueing discipline, as going down does.
            DiscardKernelQueues();
        }
        return true;
    }

    /// <summary>Resizes the kernel queues; frames beyond the new length are discarded. Caller holds <c>_control</c>.</summary>
    private void ApplyTxQueueLength(int length)
    {
        _txQueueLength = length;
        foreach (var state in _queues)
        {
            state.Kernel.Resize(length);
        }
    }

    private void DiscardKernelQueues()
    {
        foreach (var state in _queues)
        {
            state.Kernel.Discard();
        }
    }

    private void Validate(int? mtu, MacAddress? address, int? txQueueLength)
    {
        if (mtu is { } m && (m < KernelMinMtu || m > KernelMaxMtu))
        {
            throw new NetDevException(Errno.EINVAL, "RTM_NEWLINK", Name, $"MTU {m} is outside the interface's range {KernelMinMtu}..{KernelMaxMtu}");
        }
        if (address is { } a && !a.IsValidDeviceAddress)
        {
            throw new NetDevException(Errno.EADDRNOTAVAIL, "RTM_NEWLINK", Name, $"{a} is not a valid unicast address");
        }
        if (txQueueLength is < 0)
        {
            throw new NetDevException(Errno.EINVAL, "RTM_NEWLINK", Name, "a transmit queue length cannot be negative");
        }
    }

    private void ThrowIfRemoved()
    {
        if (_removed)
        {
            throw new NetDevException(Errno.ENODEV, "RTM_NEWLINK", Name, "the interface was removed");
        }
    }
}
