using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NetDev.Hosting;

namespace NetDev;

/// <summary>
/// An Ethernet network device, the kernel's <c>struct net_device</c>: its name, address, MTU, flags,
/// carrier, queues and state. Configure it before <see cref="Registration{TDriver}.Register"/>; afterwards
/// the same setters change the live interface, with the driver's consent (<c>ChangeMtu</c>,
/// <c>SetMacAddress</c>, <c>SetRxMode</c>), and changes others make (<c>ip link set …</c>) reach the driver.
/// </summary>
/// <remarks>
/// <para>Defaults are the kernel's <c>ether_setup</c>: MTU 1500 (range 68–1500), broadcast and multicast,
/// txqueuelen 1000, carrier on, and a random locally administered address.</para>
/// <para><b>Invariants.</b> Configuration and <see cref="IsUp"/> change only under the control lock; the
/// fields always hold what the system last confirmed (or, before registration, what will be asked for).
/// While <see cref="IsUp"/> is false no queue is enabled, so no frame reaches the driver. The queue list
/// never changes after construction.</para>
/// </remarks>
public abstract class NetDevice : ILinkEvents
{
    /// <summary>The Ethernet header length (<c>ETH_HLEN</c>).</summary>
    public const int EthernetHeaderLength = 14;

    /// <summary>The largest link-layer overhead on top of the MTU: Ethernet header and one VLAN tag.</summary>
    public const int LinkOverhead = EthernetHeaderLength + 4;

    private const DeviceFlags RxModeFlags = DeviceFlags.Promisc | DeviceFlags.AllMulti;
    private const DeviceFlags ChangeableFlags = DeviceFlagSets.Mirrored;

    // Frames handed to the host in one DeliverBatchToSystem call: a NAPI budget, and what the outcomes on the stack hold.
    private const int ReceiveChunk = 64;

    private readonly object _control = new();
    private readonly DeviceQueue[] _queues;
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
    private TimeProvider _timeProvider = TimeProvider.System;
    private DeviceFeatures _features;
    private IHostLink? _link;
    private bool _up;
    private bool _tearingDown;
    private string? _configuredName;
    private bool _moving;
    private protected readonly DriverQueryGate _queries = new();

    private protected NetDevice(string driverName, int txQueues, int rxQueues, ILogger? logger)
    {
        const int maxQueues = 256;
        ArgumentOutOfRangeException.ThrowIfLessThan(txQueues, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rxQueues, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(txQueues, maxQueues);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rxQueues, maxQueues);
        DriverName = driverName;
        _name = "eth%d";
        TxQueueCount = txQueues;
        RxQueueCount = rxQueues;
        Logger = logger ?? NullLogger.Instance;
        var queueCount = Math.Max(txQueues, rxQueues);
        _queues = new DeviceQueue[queueCount];
        for (var i = 0; i < queueCount; i++)
        {
            _queues[i] = new DeviceQueue(this, i);
        }
    }

    /// <summary>The driver's name (its class name unless the driver implements <see cref="IDriverInfo"/>).</summary>
    public string DriverName { get; }

    /// <summary>
    /// The interface name. Before registration it may be a template with <c>%d</c> (such as
    /// <c>dummy%d</c>) that the system resolves to the first free number; afterwards it is the real name.
    /// </summary>
    public string Name
    {
        get => _name;
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
            lock (_control)
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

    /// <summary>The interface index, 0 until registered.</summary>
    public int IfIndex => _link?.IfIndex ?? 0;

    /// <summary>The network namespace the interface is in (a name under <c>/run/netns</c>), or <see langword="null"/> for the host's own.</summary>
    public string? NetworkNamespace => _link?.NetworkNamespace;

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
            lock (_control)
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
                SetMacAddressOperation(value);
                ConfigureOrRevert(link, new LinkConfiguration { MacAddress = value }, () => SetMacAddressOperation(old));
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
            lock (_control)
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
                ChangeMtuOperation(value);
                ConfigureOrRevert(link, new LinkConfiguration { Mtu = value }, () => ChangeMtuOperation(old));
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
            lock (_control)
            {
                ThrowIfUnregistered();
                if (_link is not { } link)
                {
                    _flags = value;
                    return;
                }
                var changed = (value ^ _flags) & ChangeableFlags & ~DeviceFlags.Broadcast;
                if (changed == DeviceFlags.None)
                {
                    return;
                }
                link.Configure(new LinkConfiguration { Flags = value & changed, FlagMask = changed });
                _flags = (_flags & ~changed) | (value & changed);
                if ((changed & RxModeFlags) != 0)
                {
                    SetRxModeOperation();
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
            lock (_control)
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
            lock (_control)
            {
                ThrowIfUnregistered();
                _link?.Configure(new LinkConfiguration { Alias = value ?? "" });
                _alias = value;
            }
        }
    }

    /// <summary>Whether the carrier is on (<c>netif_carrier_ok</c>).</summary>
    public bool Carrier => Volatile.Read(ref _carrier);

    /// <summary>The number of transmit queues.</summary>
    public int TxQueueCount { get; }

    /// <summary>The number of receive queues.</summary>
    public int RxQueueCount { get; }

    /// <summary>The device's queues (as many as the larger of the two counts).</summary>
    public IReadOnlyList<DeviceQueue> Queues => _queues;

    /// <summary>Whether the device is registered (its interface exists).</summary>
    public bool IsRegistered => _link is not null;

    /// <summary>Whether the device is open: <see cref="IDeviceOperations{TSelf}.Open"/> succeeded and frames flow.</summary>
    public bool IsUp => Volatile.Read(ref _up);

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

    /// <summary>The largest frame the device handles, link header included: an MTU-sized frame, or 64 KiB segments with offloads.</summary>
    public int MaxFrameLength => (Features & (DeviceFeatures.Tso4 | DeviceFeatures.Tso6 | DeviceFeatures.Uso4 | DeviceFeatures.Uso6)) != 0
        ? Math.Max(GsoMaxFrameLength, _mtu + LinkOverhead)
        : _mtu + LinkOverhead;

    /// <summary>The largest segmentation-offload frame: 64 KiB of IP packet with its link header.</summary>
    public const int GsoMaxFrameLength = 65536 + LinkOverhead;

    /// <summary>Where the device logs what it cannot report to a caller.</summary>
    public ILogger Logger { get; }

    /// <summary>
    /// Raised when something fails that no caller can be told about: an <c>Open</c> after an
    /// <c>ip link set up</c> by someone else, a driver exception on a queue, a host loop failure.
    /// Handlers run on the thread that saw the failure.
    /// </summary>
    public event EventHandler<DeviceErrorEventArgs>? Error;

    /// <summary>
    /// Raised when a change made by someone else (MTU, address, carrier) was rejected by the device or its
    /// driver and the old value was put back. Handlers run on the host's event thread.
    /// </summary>
    public event EventHandler<ChangeRejectedEventArgs>? ChangeRejected;

    /// <summary>Counts one transmitted frame on <paramref name="skb"/>'s queue (<c>dev_lstats_add</c>). Call on that queue's thread.</summary>
    public void CountTx(SkBuff skb) => _queues[skb.QueueIndex].CountTx(skb.Length);

    /// <summary>Stops transmit queue <paramref name="queue"/> (<c>netif_stop_subqueue</c>).</summary>
    public void StopQueue(int queue) => _queues[queue].Stop();

    /// <summary>Wakes transmit queue <paramref name="queue"/> (<c>netif_wake_subqueue</c>).</summary>
    public void WakeQueue(int queue) => _queues[queue].Wake();

    /// <summary>Turns the carrier on (<c>netif_carrier_on</c>): the link is operational when up.</summary>
    public void CarrierOn() => SetCarrier(true);

    /// <summary>Turns the carrier off (<c>netif_carrier_off</c>): the system stops sending, as with a pulled cable.</summary>
    public void CarrierOff() => SetCarrier(false);

    /// <summary>
    /// Takes an empty frame for receiving on <paramref name="queue"/> (<c>netdev_alloc_skb</c>): room for
    /// an MTU-sized frame with its link header, headroom reserved, <see cref="SkBuff.QueueIndex"/> set.
    /// </summary>
    public SkBuff AllocSkb(int queue = 0)
    {
        var skb = _queues[queue].RxPool.Rent(SkBuffPool.DefaultHeadroom + MaxFrameLength);
        skb.QueueIndex = queue;
        return skb;
    }

    /// <summary>
    /// Hands a received frame to the system's stack on its <see cref="SkBuff.QueueIndex"/> queue
    /// (<c>netif_rx</c>). Ownership passes to the framework, which counts the frame and releases it:
    /// consumed when delivered, dropped with a reason when not (device down, queue full).
    /// </summary>
    /// <returns>Whether the system took the frame.</returns>
    public bool NetifRx([TakesOwnership] SkBuff skb)
    {
        var queueIndex = skb.QueueIndex;
        if ((uint)queueIndex >= (uint)_queues.Length)
        {
            skb.Drop(DropReason.NotSpecified);
            throw new ArgumentOutOfRangeException(nameof(skb), queueIndex, $"{Name} has {_queues.Length} queues; the frame's QueueIndex is {queueIndex}.");
        }
        if (_link is not { } link || !Volatile.Read(ref _up))
        {
            skb.Drop(DropReason.DeviceDown);
            return false;
        }
        var length = skb.Length;
        if (link.DeliverToSystem(queueIndex, skb) is { } reason)
        {
            skb.Drop(reason);
            return false;
        }
        _queues[queueIndex].CountRx(length);
        skb.Consume();
        return true;
    }

    /// <summary>
    /// Hands a batch of received frames to the system (a NAPI poll's worth, <c>netif_receive_skb_list</c>):
    /// at most <paramref name="budget"/> of them, in order; ownership of those passes as with
    /// <see cref="NetifRx"/>, each frame counted and consumed when delivered or dropped with a reason when
    /// not. Consecutive frames of one queue go to the host together, so a host that can write many frames
    /// with one system call (the Linux host does, through io_uring) does; this is the fast way to receive.
    /// </summary>
    /// <returns>How many frames were taken from <paramref name="frames"/> (delivered or dropped); the rest stay the caller's.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A frame's <see cref="SkBuff.QueueIndex"/> is not a queue of
    /// this device; thrown after the batch, whose frames are all taken (that one dropped).</exception>
    public int NetifReceiveBatch(ReadOnlySpan<SkBuff> frames, int budget = 64) => ReceiveBatch(frames, default, budget);

    /// <summary>
    /// As <see cref="NetifReceiveBatch(ReadOnlySpan{SkBuff}, int)"/>, and says what became of each frame:
    /// <paramref name="outcomes"/>[i] is <see langword="null"/> when frame i was delivered, otherwise the
    /// reason it was dropped. A driver that counts its own transmits (the pair) counts by these.
    /// </summary>
    /// <param name="frames">The frames; at most <paramref name="budget"/> are taken.</param>
    /// <param name="outcomes">At least as long as the frames taken.</param>
    /// <param name="budget">At most this many frames are taken.</param>
    /// <returns>How many frames were taken from <paramref name="frames"/>; the rest stay the caller's.</returns>
    /// <exception cref="ArgumentException"><paramref name="outcomes"/> is shorter than the frames taken; nothing is taken.</exception>
    public int NetifReceiveBatch(ReadOnlySpan<SkBuff> frames, Span<DropReason?> outcomes, int budget = 64)
    {
        if (outcomes.Length < Math.Min(frames.Length, budget))
        {
            throw new ArgumentException($"{Math.Min(frames.Length, budget)} frames are taken but only {outcomes.Length} outcomes fit.", nameof(outcomes));
        }
        return ReceiveBatch(frames, outcomes, budget);
    }

    /// <summary>The batch receive; <paramref name="results"/> is empty when the caller does not want the outcomes.</summary>
    private int ReceiveBatch(ReadOnlySpan<SkBuff> frames, Span<DropReason?> results, int budget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, 1);
        var taken = frames[..Math.Min(frames.Length, budget)];
        var wantResults = !results.IsEmpty;
        var badQueue = -1;
        var link = _link;
        var up = link is not null && Volatile.Read(ref _up);
        Span<DropReason?> outcomes = stackalloc DropReason?[ReceiveChunk];
        var start = 0;
        while (start < taken.Length)
        {
            var queueIndex = taken[start].QueueIndex;
            var noSuchQueue = (uint)queueIndex >= (uint)_queues.Length;
            if (noSuchQueue || !up)
            {
                if (noSuchQueue && badQueue < 0)
                {
                    badQueue = queueIndex;
                }
                var reason = noSuchQueue ? DropReason.NotSpecified : DropReason.DeviceDown;
                taken[start].Drop(reason);
                if (wantResults)
                {
                    results[start] = reason;
                }
                start++;
                continue;
            }
            // A run of frames for one queue, at most one chunk long, goes to the host in one call.
            var end = start + 1;
            while (end < taken.Length && end - start < ReceiveChunk && taken[end].QueueIndex == queueIndex)
            {
                end++;
            }
            var run = taken[start..end];
            link!.DeliverBatchToSystem(queueIndex, run, outcomes);
            var queue = _queues[queueIndex];
            for (var i = 0; i < run.Length; i++)
            {
                var skb = run[i];
                if (outcomes[i] is { } reason)
                {
                    skb.Drop(reason);
                }
                else
                {
                    queue.CountRx(skb.Length);
                    skb.Consume();
                }
                if (wantResults)
                {
                    results[start + i] = outcomes[i];
                }
            }
            start = end;
        }
        if (badQueue >= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(frames), badQueue, $"{Name} has {_queues.Length} queues; a frame's QueueIndex is {badQueue}.");
        }
        return taken.Length;
    }

    /// <summary>The device's main counters, added up over its queues now (with the driver's own, if it has <c>GetStats64</c>).</summary>
    public DeviceStats GetStats()
    {
        var stats = GetLinkStats64();
        return new DeviceStats(stats.TxPackets, stats.TxBytes, stats.RxPackets, stats.RxBytes,
            stats.TxDropped, stats.RxDropped, stats.TxErrors, stats.RxErrors);
    }

    /// <summary>All counters (<c>rtnl_link_stats64</c>): the framework's per-queue counters added up, then the driver's <c>GetStats64</c>.</summary>
    public LinkStats64 GetLinkStats64()
    {
        var stats = default(LinkStats64);
        foreach (var queue in _queues)
        {
            stats.TxPackets += queue.TxPackets;
            stats.TxBytes += queue.TxBytes;
            stats.RxPackets += queue.RxPackets;
            stats.RxBytes += queue.RxBytes;
            stats.TxDropped += queue.TxDropped;
            stats.RxDropped += queue.RxDropped;
            stats.TxErrors += queue.TxErrors;
            stats.RxErrors += queue.RxErrors;
        }
        // The released or uninitialised driver is not asked; its own counters are then left out.
        if (_queries.TryEnter())
        {
            try
            {
                GetStats64Operation(ref stats);
            }
            finally
            {
                _queries.Leave();
            }
        }
        return stats;
    }

    /// <summary>Frames dropped, per direction and <see cref="DropReason"/>, added up over the queues (reasons with no drop are left out).</summary>
    public IReadOnlyList<DropCount> GetDropCounts()
    {
        var counts = new List<DropCount>();
        foreach (var reason in Enum.GetValues<DropReason>())
        {
            var tx = _queues.Sum(q => q.TxPool.DropCount(reason));
            var rx = _queues.Sum(q => q.RxPool.DropCount(reason));
            if (tx > 0)
            {
                counts.Add(new DropCount(TrafficDirection.Transmit, reason, tx));
            }
            if (rx > 0)
            {
                counts.Add(new DropCount(TrafficDirection.Receive, reason, rx));
            }
        }
        return counts;
    }

    /// <summary>Driver name, version and bus (<c>ethtool -i</c>).</summary>
    public abstract DriverInfo GetDriverInfo();

    /// <summary>Timestamping capabilities (<c>ethtool -T</c>, the seed's <c>get_ts_info</c>).</summary>
    public abstract TimestampingInfo GetTsInfo();

    /// <summary>Speed, duplex, autonegotiation (<c>ethtool IFNAME</c>).</summary>
    public abstract LinkSettings GetLinkSettings();

    /// <summary>Ring sizes (<c>ethtool -g</c>).</summary>
    public abstract RingParameters GetRingParameters();

    /// <summary>
    /// Named counters (<c>ethtool -S</c>): the framework's per-queue counters and drops by reason, then
    /// the driver's own.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, long>> GetEthtoolStatistics()
    {
        var statistics = new List<KeyValuePair<string, long>>();
        foreach (var queue in _queues)
        {
            var i = queue.Index;
            statistics.Add(new($"tx_queue_{i}_packets", queue.TxPackets));
            statistics.Add(new($"tx_queue_{i}_bytes", queue.TxBytes));
            statistics.Add(new($"tx_queue_{i}_dropped", queue.TxDropped));
            statistics.Add(new($"tx_queue_{i}_busy", queue.BusyReturns));
            statistics.Add(new($"tx_queue_{i}_timeouts", queue.Timeouts));
            statistics.Add(new($"rx_queue_{i}_packets", queue.RxPackets));
            statistics.Add(new($"rx_queue_{i}_bytes", queue.RxBytes));
            statistics.Add(new($"rx_queue_{i}_dropped", queue.RxDropped));
        }
        foreach (var drop in GetDropCounts())
        {
            statistics.Add(new($"{(drop.Direction == TrafficDirection.Transmit ? "tx" : "rx")}_drop_{drop.Reason}", drop.Count));
        }
        if (_queries.TryEnter())
        {
            try
            {
                // Enumerated inside the gate: a driver may hand back a lazy sequence.
                statistics.AddRange(DriverStatistics());
            }
            finally
            {
                _queries.Leave();
            }
        }
        return statistics;
    }

    /// <summary>
    /// Brings the device up (<c>dev_open</c>): calls the driver's <c>Open</c>, lets frames flow and sets
    /// the interface up. Does nothing if it is up already.
    /// </summary>
    /// <exception cref="InvalidOperationException">The device is not registered.</exception>
    /// <exception cref="NetDevException">The system refused; the driver was stopped again.</exception>
    public void BringUp()
    {
        lock (_control)
        {
            var link = RequireLink();
            if (_up)
            {
                return;
            }
            OpenCore(link);
            try
            {
                link.SetAdminUp(true);
            }
            catch
            {
                StopCore(link);
                throw;
            }
        }
    }

    /// <summary>
    /// Takes the device down (<c>dev_close</c>): stops the flow of frames, calls the driver's <c>Stop</c>
    /// and sets the interface down. Does nothing if it is down already.
    /// </summary>
    /// <exception cref="InvalidOperationException">The device is not registered.</exception>
    public void BringDown()
    {
        lock (_control)
        {
            var link = RequireLink();
            if (!_up)
            {
                return;
            }
            StopCore(link);
            link.SetAdminUp(false);
        }
    }

    /// <summary>
    /// Moves the interface into network namespace <paramref name="networkNamespace"/> (a name under
    /// <c>/run/netns</c>). The device is stopped first if it was up, and arrives down.
    /// </summary>
    /// <exception cref="NetDevException">The system refused.</exception>
    public void MoveToNetworkNamespace(string networkNamespace)
    {
        ArgumentException.ThrowIfNullOrEmpty(networkNamespace);
        IHostLink link;
        lock (_control)
        {
            link = RequireLink();
            if (_moving)
            {
                throw new InvalidOperationException($"{Name} is already being moved.");
            }
            if (_up)
            {
                StopCore(link);
            }
            _moving = true;
        }
        // The host replaces its event listener during the move and waits for the old one to finish, so
        // the control lock must be free meanwhile; events arriving during the move are stale and ignored.
        try
        {
            link.MoveToNetworkNamespace(networkNamespace);
        }
        finally
        {
            lock (_control)
            {
                _moving = false;
            }
        }
    }

    /// <inheritdoc/>
    void ILinkEvents.OnAdminStateChanged(bool up)
    {
        lock (_control)
        {
            if (_link is { } link && !_tearingDown && !_moving)
            {
                ApplyAdminState(link, up);
            }
        }
    }

    /// <inheritdoc/>
    void ILinkEvents.OnLinkChanged(LinkState state)
    {
        lock (_control)
        {
            if (_link is not { } link || _tearingDown || _moving)
            {
                return;
            }
            state = link.QueryState() ?? state;
            _txQueueLength = state.TxQueueLength;
            ApplyMtu(link, state.Mtu);
            ApplyMacAddress(link, state.MacAddress);
            ApplyFlags(state.Flags);
            ApplyCarrier(link, state.Carrier);
            ApplyAdminState(link, state.AdminUp);
        }
    }

    /// <inheritdoc/>
    void ILinkEvents.OnHostError(Exception error) => ReportError(error);

    internal abstract TxResult StartXmitCore(SkBuff skb);

    private protected abstract void OpenOperation();

    private protected abstract void StopOperation();

    private protected abstract void ChangeMtuOperation(int newMtu);

    private protected abstract void SetMacAddressOperation(MacAddress address);

    private protected abstract void SetRxModeOperation();

    private protected abstract void ChangeCarrierOperation(bool carrier);

    private protected abstract void GetStats64Operation(ref LinkStats64 stats);

    private protected abstract IEnumerable<KeyValuePair<string, long>> DriverStatistics();

    internal abstract void TxTimeoutOperation(int queue);

    internal void ReportError(Exception error)
    {
        Logger.LogError(error, "{Device}: {Message}", Name, error.Message);
        Error?.Invoke(this, new DeviceErrorEventArgs(error));
    }

    /// <summary>
    /// Starts the transmit side of every queue on <paramref name="link"/>'s sources, then the link's events.
    /// On failure nothing is left running and the sources opened so far are disposed.
    /// </summary>
    internal void StartQueues(IHostLink link)
    {
        var sources = new ITransmitSource[_queues.Length];
        var started = 0;
        try
        {
            for (var i = 0; i < sources.Length; i++)
            {
                sources[i] = link.OpenTransmitSource(i);
            }
            for (; started < sources.Length; started++)
            {
                _queues[started].Engine.Start(sources[started]);
            }
            link.Start(this);
        }
        catch
        {
            StopQueues();
            foreach (var source in sources.AsSpan(started))
            {
                source?.Dispose();
            }
            throw;
        }
    }

    /// <summary>Ends the transmit side of every queue (threads joined, sources disposed, waiting frames dropped). Not under the control lock.</summary>
    internal void StopQueues()
    {
        foreach (var queue in _queues)
        {
            queue.Engine.Stop();
        }
    }

    internal object ControlLock => _control;

    /// <summary>Hears every driver operation called (NetDev.Testing records calls with it); null on a real host.</summary>
    internal IDeviceOperationObserver? OperationObserver { get; set; }

    internal IHostLink? Link => _link;

    internal LinkRequest CreateRequest() => new(_name, _macAddress, _mtu, _flags, _txQueueLength, _queues.Length, DriverName) { Features = _features };

    internal void Attach(IHostLink link)
    {
        _link = link;
        _configuredName = _name;
        _name = link.Name;
        ResizePools();
        if (!_carrier)
        {
            link.Configure(new LinkConfiguration { Carrier = false });
        }
        if (_alias is not null)
        {
            link.Configure(new LinkConfiguration { Alias = _alias });
        }
    }

    /// <summary>Undoes <see cref="Attach"/> after a failed registration: the configured name (a template perhaps) comes back.</summary>
    internal void Detach()
    {
        _link = null;
        _name = _configuredName ?? _name;
    }

    /// <summary>Marks teardown: events from the host are ignored and the device refuses changes from now on. Caller holds the control lock.</summary>
    internal void BeginTeardown() => _tearingDown = true;

    /// <summary>Before the driver's <c>Uninit</c>: its <c>GetStats64</c> and ethtool operations are not called again (see <see cref="DriverQueryGate"/>).</summary>
    internal void EndDriverQueries() => _queries.Close();

    /// <summary>
    /// After the driver's <c>Uninit</c>: the device lets go of its link, so no later call on the device can
    /// reach the removed interface or the released driver. Caller holds the control lock.
    /// </summary>
    internal void EndRegistration() => _link = null;

    /// <summary>Stops the driver if the device is open. Caller holds the control lock.</summary>
    internal void StopIfUp()
    {
        if (_up && _link is { } link)
        {
            StopCore(link);
        }
    }

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

    private IHostLink RequireLink()
    {
        ThrowIfUnregistered();
        return _link ?? throw new InvalidOperationException($"{Name} is not registered; call Register() first.");
    }

    /// <summary>
    /// Throws once teardown began: the interface is being removed or gone and the driver's data is about
    /// to be released, so nothing may reach either any more. Caller holds the control lock.
    /// </summary>
    private void ThrowIfUnregistered()
    {
        if (_tearingDown)
        {
            throw new InvalidOperationException($"{_name} was unregistered (its Registration was disposed); a device is registered once.");
        }
    }

    private void ApplyAdminState(IHostLink link, bool up)
    {
        if (up == _up)
        {
            return;
        }
        if (!up)
        {
            Logger.LogInformation("{Device} was set down; stopping the driver", Name);
            StopCore(link);
            return;
        }
        Logger.LogInformation("{Device} was set up; opening the driver", Name);
        try
        {
            OpenCore(link);
        }
        catch (Exception error)
        {
            // Nobody called us, so the failure is reported and the link put back down.
            ReportError(error);
            try
            {
                link.SetAdminUp(false);
            }
            catch (NetDevException downError)
            {
                ReportError(downError);
            }
        }
    }

    private void ApplyMtu(IHostLink link, int mtu)
    {
        if (mtu == _mtu)
        {
            return;
        }
        var reason = MtuRangeError(mtu);
        if (reason is null)
        {
            try
            {
                ChangeMtuOperation(mtu);
            }
            catch (Exception error)
            {
                reason = error.Message;
            }
        }
        if (reason is null)
        {
            Logger.LogInformation("{Device}: MTU changed from {Old} to {New}", Name, _mtu, mtu);
            SetMtuAndResizePools(mtu);
            return;
        }
        Reject(link, "mtu", mtu.ToString(), _mtu.ToString(), reason, new LinkConfiguration { Mtu = _mtu });
    }

    private void ApplyMacAddress(IHostLink link, MacAddress address)
    {
        if (address == _macAddress)
        {
            return;
        }
        string? reason = address.IsValidDeviceAddress ? null : $"{address} is not a valid unicast, non-zero address";
        if (reason is null)
        {
            try
            {
                SetMacAddressOperation(address);
            }
            catch (Exception error)
            {
                reason = error.Message;
            }
        }
        if (reason is null)
        {
            Logger.LogInformation("{Device}: address changed from {Old} to {New}", Name, _macAddress, address);
            _macAddress = address;
            return;
        }
        Reject(link, "address", address.ToString(), _macAddress.ToString(), reason, new LinkConfiguration { MacAddress = _macAddress });
    }

    private void ApplyFlags(DeviceFlags flags)
    {
        flags &= ChangeableFlags;
        var changed = (flags ^ _flags) & ChangeableFlags;
        if (changed == DeviceFlags.None)
        {
            return;
        }
        _flags = (_flags & ~changed) | flags;
        if ((changed & RxModeFlags) == 0)
        {
            return;
        }
        Logger.LogInformation("{Device}: receive mode now {Flags}", Name, _flags & RxModeFlags);
        try
        {
            SetRxModeOperation();
        }
        catch (Exception error)
        {
            // ndo_set_rx_mode cannot refuse; a failure is only worth knowing.
            ReportError(error);
        }
    }

    private void ApplyCarrier(IHostLink link, bool carrier)
    {
        if (carrier == _carrier)
        {
            return;
        }
        try
        {
            ChangeCarrierOperation(carrier);
        }
        catch (Exception error)
        {
            Reject(link, "carrier", carrier ? "on" : "off", _carrier ? "on" : "off", error.Message, new LinkConfiguration { Carrier = _carrier });
            return;
        }
        Logger.LogInformation("{Device}: carrier {State}", Name, carrier ? "on" : "off");
        Volatile.Write(ref _carrier, carrier);
    }

    private void Reject(IHostLink link, string setting, string requested, string kept, string reason, LinkConfiguration restore)
    {
        Logger.LogWarning("{Device}: rejected {Setting} {Requested}: {Reason}; putting back {Kept}", Name, setting, requested, reason, kept);
        try
        {
            link.Configure(restore);
        }
        catch (Exception error)
        {
            ReportError(error);
        }
        ChangeRejected?.Invoke(this, new ChangeRejectedEventArgs(setting, requested, kept, reason));
    }

    private void SetCarrier(bool carrier)
    {
        lock (_control)
        {
            if (carrier == _carrier)
            {
                return;
            }
            _link?.Configure(new LinkConfiguration { Carrier = carrier });
            Volatile.Write(ref _carrier, carrier);
        }
    }

    private string? MtuRangeError(int mtu) =>
        mtu < _minMtu || (_maxMtu > 0 && mtu > _maxMtu)
            ? $"MTU {mtu} is outside this device's range {_minMtu}..{(_maxMtu > 0 ? _maxMtu.ToString() : "any")}"
            : null;

    private void SetMtuAndResizePools(int mtu)
    {
        _mtu = mtu;
        ResizePools();
    }

    private void ResizePools()
    {
        var bufferSize = SkBuffPool.DefaultHeadroom + MaxFrameLength;
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

    private void OpenCore(IHostLink link)
    {
        OpenOperation();
        Volatile.Write(ref _up, true);
        SetQueuesEnabled(true);
    }

    private void StopCore(IHostLink link)
    {
        SetQueuesEnabled(false);
        Volatile.Write(ref _up, false);
        try
        {
            StopOperation();
        }
        catch (Exception error)
        {
            // ndo_stop cannot veto going down; its failure is only worth knowing.
            ReportError(error);
        }
    }

    private void SetQueuesEnabled(bool enabled)
    {
        foreach (var queue in _queues)
        {
            queue.Engine.SetEnabled(enabled);
        }
    }

    private void ConfigureBeforeRegistration(Action change)
    {
        lock (_control)
        {
            ThrowIfUnregistered();
            if (_link is not null)
            {
                throw new InvalidOperationException($"{_name} is registered; this setting is chosen before Register().");
            }
            change();
        }
    }
}

/// <summary>A device with a driver of type <typeparamref name="TDriver"/>, whose instance is the device's private data.</summary>
/// <typeparam name="TDriver">The driver class.</typeparam>
public sealed class NetDevice<TDriver> : NetDevice where TDriver : class, IDeviceOperations<TDriver>
{
    private readonly IDeviceOperations<TDriver> _operations;
    private readonly IEthtoolOperations<TDriver>? _ethtool;

    internal NetDevice(TDriver driver, int txQueues, int rxQueues, ILogger? logger)
        : base(DriverNameOf(driver), txQueues, rxQueues, logger)
    {
        DriverData = driver;
        _operations = driver;
        _ethtool = driver as IEthtoolOperations<TDriver>;
    }

    /// <summary>The driver instance: the device's private data (the seed's <c>drv_priv_data</c>), typed.</summary>
    public TDriver DriverData { get; }

    /// <inheritdoc/>
    public override DriverInfo GetDriverInfo() => Ethtool(static (ethtool, device) => ethtool.GetDriverInfo(device)) ?? DriverInfo.For(this);

    /// <inheritdoc/>
    public override TimestampingInfo GetTsInfo() => Ethtool(static (ethtool, device) => ethtool.GetTsInfo(device)) ?? TimestampingInfo.Software;

    /// <inheritdoc/>
    public override LinkSettings GetLinkSettings() => Ethtool(static (ethtool, device) => ethtool.GetLinkSettings(device)) ?? LinkSettings.Unknown;

    /// <inheritdoc/>
    public override RingParameters GetRingParameters() => Ethtool(static (ethtool, device) => ethtool.GetRingParameters(device)) ?? RingParameters.For(this);

    /// <summary>The driver's answer to an ethtool query; null when it has no ethtool operations or may no longer be asked (see <see cref="DriverQueryGate"/>).</summary>
    private T? Ethtool<T>(Func<IEthtoolOperations<TDriver>, NetDevice<TDriver>, T> query) where T : class
    {
        if (_ethtool is null || !_queries.TryEnter())
        {
            return null;
        }
        try
        {
            return query(_ethtool, this);
        }
        finally
        {
            _queries.Leave();
        }
    }

    internal override TxResult StartXmitCore(SkBuff skb)
    {
        if (OperationObserver is not { } observer)
        {
            return _operations.StartXmit(this, skb);
        }
        var (queue, length) = (skb.QueueIndex, skb.Length);
        TxResult result;
        try
        {
            result = _operations.StartXmit(this, skb);
        }
        catch (Exception error)
        {
            observer.OnOperation(this, DeviceOperation.StartXmit, queue, length, TxResult.Ok, error);
            throw;
        }
        observer.OnOperation(this, DeviceOperation.StartXmit, queue, length, result, null);
        return result;
    }

    /// <summary>Runs a driver operation, telling the observer (if any) that it returned or threw.</summary>
    private void Observed(DeviceOperation operation, Action<IDeviceOperations<TDriver>, NetDevice<TDriver>> call, int queue = -1)
    {
        try
        {
            call(_operations, this);
        }
        catch (Exception error)
        {
            OperationObserver?.OnOperation(this, operation, queue, -1, TxResult.Ok, error);
            throw;
        }
        OperationObserver?.OnOperation(this, operation, queue, -1, TxResult.Ok, null);
    }

    private protected override void OpenOperation()
    {
        if (DeviceOperationsTable<TDriver>.HasOpen)
        {
            Observed(DeviceOperation.Open, static (ops, dev) => ops.Open(dev));
        }
    }

    private protected override void StopOperation()
    {
        if (DeviceOperationsTable<TDriver>.HasStop)
        {
            Observed(DeviceOperation.Stop, static (ops, dev) => ops.Stop(dev));
        }
    }

    private protected override void ChangeMtuOperation(int newMtu)
    {
        if (DeviceOperationsTable<TDriver>.HasChangeMtu)
        {
            Observed(DeviceOperation.ChangeMtu, (ops, dev) => ops.ChangeMtu(dev, newMtu));
        }
    }

    private protected override void SetMacAddressOperation(MacAddress address)
    {
        if (DeviceOperationsTable<TDriver>.HasSetMacAddress)
        {
            Observed(DeviceOperation.SetMacAddress, (ops, dev) => ops.SetMacAddress(dev, address));
        }
    }

    private protected override void SetRxModeOperation()
    {
        if (DeviceOperationsTable<TDriver>.HasSetRxMode)
        {
            Observed(DeviceOperation.SetRxMode, static (ops, dev) => ops.SetRxMode(dev));
        }
    }

    private protected override void ChangeCarrierOperation(bool carrier)
    {
        if (DeviceOperationsTable<TDriver>.HasChangeCarrier)
        {
            Observed(DeviceOperation.ChangeCarrier, (ops, dev) => ops.ChangeCarrier(dev, carrier));
        }
    }

    private protected override void GetStats64Operation(ref LinkStats64 stats)
    {
        if (DeviceOperationsTable<TDriver>.HasGetStats64)
        {
            _operations.GetStats64(this, ref stats);
        }
    }

    private protected override IEnumerable<KeyValuePair<string, long>> DriverStatistics() =>
        _ethtool?.GetStatistics(this) ?? [];

    internal override void TxTimeoutOperation(int queue)
    {
        if (DeviceOperationsTable<TDriver>.HasTxTimeout)
        {
            Observed(DeviceOperation.TxTimeout, (ops, dev) => ops.TxTimeout(dev, queue), queue);
        }
    }

    internal void InitOperation()
    {
        if (DeviceOperationsTable<TDriver>.HasInit)
        {
            Observed(DeviceOperation.Init, static (ops, dev) => ops.Init(dev));
        }
    }

    internal void UninitOperation()
    {
        if (DeviceOperationsTable<TDriver>.HasUninit)
        {
            Observed(DeviceOperation.Uninit, static (ops, dev) => ops.Uninit(dev));
        }
    }

    private static string DriverNameOf(TDriver driver) =>
        driver is IDriverInfo info ? info.DriverName : typeof(TDriver).Name;
}

/// <summary>Optional: lets a driver give its name (shown by tools) instead of its class name.</summary>
public interface IDriverInfo
{
    /// <summary>The driver's name, such as <c>dummy</c>.</summary>
    string DriverName { get; }
}

/// <summary>A failure no caller could be told about; see <see cref="NetDevice.Error"/>.</summary>
/// <param name="error">What failed.</param>
public sealed class DeviceErrorEventArgs(Exception error) : EventArgs
{
    /// <summary>What failed.</summary>
    public Exception Exception { get; } = error;
}

/// <summary>A change made by someone else that the device rejected; see <see cref="NetDevice.ChangeRejected"/>.</summary>
/// <param name="setting">What was changed: <c>mtu</c>, <c>address</c> or <c>carrier</c>.</param>
/// <param name="requested">The value asked for.</param>
/// <param name="kept">The value kept and put back.</param>
/// <param name="reason">Why it was rejected.</param>
public sealed class ChangeRejectedEventArgs(string setting, string requested, string kept, string reason) : EventArgs
{
    /// <summary>What was changed: <c>mtu</c>, <c>address</c> or <c>carrier</c>.</summary>
    public string Setting { get; } = setting;

    /// <summary>The value asked for.</summary>
    public string Requested { get; } = requested;

    /// <summary>The value kept and put back.</summary>
    public string Kept { get; } = kept;

    /// <summary>Why it was rejected.</summary>
    public string Reason { get; } = reason;
}

/// <summary>Which way frames go.</summary>
public enum TrafficDirection
{
    /// <summary>Frames the system sends through the device.</summary>
    Transmit,
    /// <summary>Frames the device hands to the system.</summary>
    Receive,
}

/// <summary>How many frames were dropped in one direction for one reason.</summary>
/// <param name="Direction">Transmit or receive.</param>
/// <param name="Reason">Why.</param>
/// <param name="Count">How many.</param>
public readonly record struct DropCount(TrafficDirection Direction, DropReason Reason, long Count);
