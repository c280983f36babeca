using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NetDev.Hosting;

namespace NetDev;

/// <summary>
/// An Ethernet network device, the kernel's <c>struct net_device</c>: its name, address, MTU, flags,
/// queues and state. Configure it before <see cref="Registration{TDriver}.Register"/>; afterwards the
/// values are the interface's own.
/// </summary>
/// <remarks>
/// <para>Defaults are the kernel's <c>ether_setup</c>: MTU 1500 (range 68–1500), broadcast and multicast,
/// txqueuelen 1000, and a random locally administered address.</para>
/// <para><b>Invariants.</b> Configuration changes only before registration and under the control lock;
/// <see cref="IsUp"/> changes only under the control lock, and while it is false no queue is enabled, so
/// no frame reaches the driver. The queue list never changes after construction.</para>
/// </remarks>
public abstract class NetDevice : ILinkEvents
{
    /// <summary>The Ethernet header length (<c>ETH_HLEN</c>).</summary>
    public const int EthernetHeaderLength = 14;

    /// <summary>The largest link-layer overhead on top of the MTU: Ethernet header and one VLAN tag.</summary>
    public const int LinkOverhead = EthernetHeaderLength + 4;

    private readonly object _control = new();
    private readonly DeviceQueue[] _queues;
    private string _name;
    private MacAddress _macAddress = MacAddress.RandomLocal();
    private int _mtu = 1500;
    private int _minMtu = 68;
    private int _maxMtu = 1500;
    private DeviceFlags _flags = DeviceFlags.Broadcast | DeviceFlags.Multicast;
    private int _txQueueLength = 1000;
    private IHostLink? _link;
    private bool _up;

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

    /// <summary>The driver's name (its class name unless the driver says otherwise).</summary>
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
            if (value.Length > 15)
            {
                throw new ArgumentException($"Interface names have at most 15 characters; '{value}' has {value.Length}.", nameof(value));
            }
            if (value.Contains('/') || value.Any(char.IsWhiteSpace) || value.Count(c => c == '%') > 1)
            {
                throw new ArgumentException($"'{value}' is not a valid interface name (no '/', no white space, at most one %d).", nameof(value));
            }
            Configure(() => _name = value);
        }
    }

    /// <summary>The interface index, 0 until registered.</summary>
    public int IfIndex => _link?.IfIndex ?? 0;

    /// <summary>The Ethernet address; must be a valid unicast, non-zero address.</summary>
    public MacAddress MacAddress
    {
        get => _macAddress;
        set
        {
            if (!value.IsValidDeviceAddress)
            {
                throw new ArgumentException($"{value} cannot be a device address: it must be unicast and not all zero.", nameof(value));
            }
            Configure(() => _macAddress = value);
        }
    }

    /// <summary>The MTU; must lie within <see cref="MinMtu"/>..<see cref="MaxMtu"/> (no upper bound when <see cref="MaxMtu"/> is 0).</summary>
    public int Mtu
    {
        get => _mtu;
        set
        {
            if (value < _minMtu || (_maxMtu > 0 && value > _maxMtu))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"MTU {value} is outside this device's range {_minMtu}..{(_maxMtu > 0 ? _maxMtu : "any")}.");
            }
            Configure(() => _mtu = value);
        }
    }

    /// <summary>The smallest MTU the driver accepts (<c>min_mtu</c>).</summary>
    public int MinMtu
    {
        get => _minMtu;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Configure(() => _minMtu = value);
        }
    }

    /// <summary>The largest MTU the driver accepts (<c>max_mtu</c>); 0 means no limit of the driver's own.</summary>
    public int MaxMtu
    {
        get => _maxMtu;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Configure(() => _maxMtu = value);
        }
    }

    /// <summary>The interface flags to apply at registration (see <see cref="LinkRequest.Flags"/> for which count).</summary>
    public DeviceFlags Flags
    {
        get => _flags;
        set => Configure(() => _flags = value & ~(DeviceFlags.Up | DeviceFlags.Running));
    }

    /// <summary>The transmit queue length in frames (<c>tx_queue_len</c>).</summary>
    public int TxQueueLength
    {
        get => _txQueueLength;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Configure(() => _txQueueLength = value);
        }
    }

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

    /// <summary>Where the device logs what it cannot report to a caller.</summary>
    public ILogger Logger { get; }

    /// <summary>
    /// Raised when something fails that no caller can be told about: an <c>Open</c> after an
    /// <c>ip link set up</c> by someone else, a driver exception on a queue, a host loop failure.
    /// Handlers run on the thread that saw the failure.
    /// </summary>
    public event EventHandler<DeviceErrorEventArgs>? Error;

    /// <summary>Counts one transmitted frame on <paramref name="skb"/>'s queue (<c>dev_lstats_add</c>). Call on that queue's thread.</summary>
    public void CountTx(SkBuff skb) => _queues[skb.QueueIndex].CountTx(skb.Length);

    /// <summary>Stops transmit queue <paramref name="queue"/> (<c>netif_stop_subqueue</c>).</summary>
    public void StopQueue(int queue) => _queues[queue].Stop();

    /// <summary>Wakes transmit queue <paramref name="queue"/> (<c>netif_wake_subqueue</c>).</summary>
    public void WakeQueue(int queue) => _queues[queue].Wake();

    /// <summary>
    /// Takes an empty frame for receiving on <paramref name="queue"/> (<c>netdev_alloc_skb</c>): room for
    /// an MTU-sized frame with its link header, headroom reserved, <see cref="SkBuff.QueueIndex"/> set.
    /// </summary>
    public SkBuff AllocSkb(int queue = 0)
    {
        var skb = _queues[queue].RxPool.Rent(SkBuffPool.DefaultHeadroom + _mtu + LinkOverhead);
        skb.QueueIndex = queue;
        return skb;
    }

    /// <summary>
    /// Hands a received frame to the system's stack on its <see cref="SkBuff.QueueIndex"/> queue
    /// (<c>netif_rx</c>). Ownership passes to the framework, which counts the frame and releases it:
    /// consumed when delivered, dropped with a reason when not (device down, queue full).
    /// </summary>
    /// <returns>Whether the system took the frame.</returns>
    public bool NetifRx(SkBuff skb)
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

    /// <summary>The device's counters, added up over its queues now.</summary>
    public DeviceStats GetStats()
    {
        long txPackets = 0, txBytes = 0, rxPackets = 0, rxBytes = 0, txDropped = 0, rxDropped = 0, txErrors = 0, rxErrors = 0;
        foreach (var queue in _queues)
        {
            txPackets += queue.TxPackets;
            txBytes += queue.TxBytes;
            rxPackets += queue.RxPackets;
            rxBytes += queue.RxBytes;
            txDropped += queue.TxDropped;
            rxDropped += queue.RxDropped;
            txErrors += queue.TxErrors;
            rxErrors += queue.RxErrors;
        }
        return new DeviceStats(txPackets, txBytes, rxPackets, rxBytes, txDropped, rxDropped, txErrors, rxErrors);
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
            var link = _link ?? throw new InvalidOperationException($"{Name} is not registered; call Register() first.");
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
            var link = _link ?? throw new InvalidOperationException($"{Name} is not registered; call Register() first.");
            if (!_up)
            {
                return;
            }
            StopCore(link);
            link.SetAdminUp(false);
        }
    }

    /// <inheritdoc/>
    void ILinkEvents.OnAdminStateChanged(bool up)
    {
        lock (_control)
        {
            if (_link is not { } link || up == _up || _tearingDown)
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
    }

    /// <inheritdoc/>
    void ILinkEvents.OnHostError(Exception error) => ReportError(error);

    internal abstract TxResult StartXmitCore(SkBuff skb);

    private protected abstract void OpenOperation();

    private protected abstract void StopOperation();

    internal void ReportError(Exception error)
    {
        Logger.LogError(error, "{Device}: {Message}", Name, error.Message);
        Error?.Invoke(this, new DeviceErrorEventArgs(error));
    }

    internal void NotifyQueue(int queue) => _link?.NotifyQueue(queue);

    private bool _tearingDown;

    internal object ControlLock => _control;

    internal IHostLink? Link => _link;

    internal LinkRequest CreateRequest() => new(_name, _macAddress, _mtu, _flags, _txQueueLength, _queues.Length, DriverName);

    internal void Attach(IHostLink link)
    {
        _link = link;
        _name = link.Name;
        var bufferSize = SkBuffPool.DefaultHeadroom + _mtu + LinkOverhead;
        foreach (var queue in _queues)
        {
            if (queue.TxPool.BufferSize < bufferSize)
            {
                queue.TxPool.BufferSize = bufferSize;
            }
        }
    }

    internal void Detach() => _link = null;

    /// <summary>Marks teardown: events from the host are ignored from now on. Caller holds the control lock.</summary>
    internal void BeginTeardown() => _tearingDown = true;

    /// <summary>Stops the driver if the device is open. Caller holds the control lock.</summary>
    internal void StopIfUp()
    {
        if (_up && _link is { } link)
        {
            StopCore(link);
        }
    }

    private void OpenCore(IHostLink link)
    {
        OpenOperation();
        Volatile.Write(ref _up, true);
        SetQueuesEnabled(link, true);
    }

    private void StopCore(IHostLink link)
    {
        SetQueuesEnabled(link, false);
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

    private void SetQueuesEnabled(IHostLink link, bool enabled)
    {
        foreach (var queue in _queues)
        {
            link.RunOnQueue(queue.Index, () =>
            {
                queue.Enabled = enabled;
                if (!enabled)
                {
                    queue.DropPending(DropReason.DeviceDown);
                }
            });
        }
    }

    private void Configure(Action change)
    {
        lock (_control)
        {
            if (_link is not null)
            {
                throw new InvalidOperationException($"{_name} is registered; its configuration is set before Register().");
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

    internal NetDevice(TDriver driver, int txQueues, int rxQueues, ILogger? logger)
        : base(DriverNameOf(driver), txQueues, rxQueues, logger)
    {
        DriverData = driver;
        _operations = driver;
    }

    /// <summary>The driver instance: the device's private data (the seed's <c>drv_priv_data</c>), typed.</summary>
    public TDriver DriverData { get; }

    internal override TxResult StartXmitCore(SkBuff skb) => _operations.StartXmit(this, skb);

    private protected override void OpenOperation()
    {
        if (DeviceOperationsTable<TDriver>.HasOpen)
        {
            _operations.Open(this);
        }
    }

    private protected override void StopOperation()
    {
        if (DeviceOperationsTable<TDriver>.HasStop)
        {
            _operations.Stop(this);
        }
    }

    internal void InitOperation()
    {
        if (DeviceOperationsTable<TDriver>.HasInit)
        {
            _operations.Init(this);
        }
    }

    internal void UninitOperation()
    {
        if (DeviceOperationsTable<TDriver>.HasUninit)
        {
            _operations.Uninit(this);
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
