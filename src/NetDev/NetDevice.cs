using NetDev.Transmit;
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
/// <para>The device's jobs live in files of their own: configuration (<c>NetDevice.Configuration.cs</c>),
/// what the host reports (<see cref="LinkReconciler"/>), receive (<c>NetDevice.Receive.cs</c>), counters
/// (<see cref="DeviceStatistics"/>) and calls into the driver (<see cref="DeviceOperationDispatcher"/>);
/// this file holds its identity, queues and life cycle.</para>
/// </remarks>
public abstract partial class NetDevice : ILinkEvents
{
    /// <summary>The Ethernet header length (<c>ETH_HLEN</c>).</summary>
    public const int EthernetHeaderLength = 14;

    /// <summary>The link-layer overhead on top of the MTU of a frame with one VLAN tag: Ethernet header and the tag.</summary>
    public const int LinkOverhead = EthernetHeaderLength + 4;

    /// <summary>
    /// The largest link-layer overhead a frame the system sends may carry: the Ethernet header and two stacked
    /// VLAN tags (802.1ad over 802.1Q). Buffers are sized with it, so such frames arrive whole.
    /// </summary>
    public const int MaxLinkOverhead = EthernetHeaderLength + 2 * 4;

    private readonly object _control = new();
    private readonly DeviceQueue[] _queues;
    private readonly LinkReconciler _reconciler;
    private IHostLink? _link;
    private bool _up;
    private bool _tearingDown;
    private string? _configuredName;
    private bool _moving;

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
        Statistics = new DeviceStatistics(this);
        _reconciler = new LinkReconciler(this);
        var queueCount = Math.Max(txQueues, rxQueues);
        _queues = new DeviceQueue[queueCount];
        for (var i = 0; i < queueCount; i++)
        {
            _queues[i] = new DeviceQueue(this, i);
        }
    }

    /// <summary>The driver's name (its class name unless the driver implements <see cref="IDriverInfo"/>).</summary>
    public string DriverName { get; }

    /// <summary>The interface index, 0 until registered.</summary>
    public int IfIndex => _link?.IfIndex ?? 0;

    /// <summary>The network namespace the interface is in (a name under <c>/run/netns</c>), or <see langword="null"/> for the host's own.</summary>
    public string? NetworkNamespace => _link?.NetworkNamespace;

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

    /// <summary>The device's counters, added up over its queues when read; what <c>netdev stats</c> and <c>ethtool -S</c> show.</summary>
    public DeviceStatistics Statistics { get; }

    /// <summary>The device's main counters now; see <see cref="DeviceStatistics.GetStats"/>.</summary>
    public DeviceStats GetStats() => Statistics.GetStats();

    /// <summary>All counters (<c>rtnl_link_stats64</c>); see <see cref="DeviceStatistics.GetLinkStats64"/>.</summary>
    public LinkStats64 GetLinkStats64() => Statistics.GetLinkStats64();

    /// <summary>Frames dropped, per direction and reason; see <see cref="DeviceStatistics.GetDropCounts"/>.</summary>
    public IReadOnlyList<DropCount> GetDropCounts() => Statistics.GetDropCounts();

    /// <summary>Named counters (<c>ethtool -S</c>); see <see cref="DeviceStatistics.GetEthtoolStatistics"/>.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> GetEthtoolStatistics() => Statistics.GetEthtoolStatistics();

    /// <summary>Driver name, version and bus (<c>ethtool -i</c>).</summary>
    public DriverInfo GetDriverInfo() => Operations.GetDriverInfo();

    /// <summary>Timestamping capabilities (<c>ethtool -T</c>, the seed's <c>get_ts_info</c>).</summary>
    public TimestampingInfo GetTsInfo() => Operations.GetTsInfo();

    /// <summary>Speed, duplex, autonegotiation (<c>ethtool IFNAME</c>).</summary>
    public LinkSettings GetLinkSettings() => Operations.GetLinkSettings();

    /// <summary>Ring sizes (<c>ethtool -g</c>).</summary>
    public RingParameters GetRingParameters() => Operations.GetRingParameters();

    /// <summary>
    /// Brings the device up (<c>dev_open</c>): calls the driver's <c>Open</c>, lets frames flow and sets
    /// the interface up. Does nothing if it is up already.
    /// </summary>
    /// <exception cref="InvalidOperationException">The device is not registered.</exception>
    /// <exception cref="NetDevException">The system refused; the driver was stopped again.</exception>
    public void BringUp()
    {
        using (EnterControl())
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
        using (EnterControl())
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
    /// <c>/run/netns</c>). The interface arrives down, so a device that was up is stopped once it moved.
    /// If the move fails, the device is as it was: same namespace, same state, still hearing changes.
    /// </summary>
    /// <exception cref="NetDevException">The system refused (no such namespace, an interface of this name already there).</exception>
    public void MoveToNetworkNamespace(string networkNamespace)
    {
        ArgumentException.ThrowIfNullOrEmpty(networkNamespace);
        IHostLink link;
        using (EnterControl())
        {
            link = RequireLink();
            if (_moving)
            {
                throw new InvalidOperationException($"{Name} is already being moved.");
            }
            _moving = true;
        }
        // The host replaces its event listener during the move and waits for the old one to finish, so
        // the control lock must be free meanwhile; events arriving during the move are stale and ignored.
        // The driver is stopped only after the move, as the kernel's dev_change_net_namespace closes the
        // device only once the move was found possible: a refused move leaves it running.
        var moved = false;
        try
        {
            link.MoveToNetworkNamespace(networkNamespace);
            moved = true;
        }
        finally
        {
            using (EnterControl())
            {
                _moving = false;
                if (moved && _up)
                {
                    StopCore(link);
                }
                _reconciler.Resynchronise();
            }
        }
    }

    /// <inheritdoc/>
    void ILinkEvents.OnAdminStateChanged(bool up) => Guarded(() => _reconciler.OnAdminStateChanged(up));

    /// <inheritdoc/>
    void ILinkEvents.OnLinkChanged(LinkState state) => Guarded(() => _reconciler.OnLinkChanged(state));

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

    /// <summary>
    /// Takes the control lock for a <c>using</c> block. On a thread that serves a transmit queue (a driver's
    /// <c>StartXmit</c> or <c>TxTimeout</c> changing the device: its carrier, a setting, <c>BringDown</c> as a
    /// reset) it does not simply block: whoever holds the lock may be waiting for this very thread (taking a
    /// device down waits for each queue to stop taking frames), so while it waits it runs what was asked of
    /// its queue meanwhile.
    /// </summary>
    internal ControlScope EnterControl()
    {
        if (!Monitor.TryEnter(_control))
        {
            if (TransmitEngine.Current is { } engine)
            {
                while (!Monitor.TryEnter(_control, HelpInterval))
                {
                    engine.RunWaitingRequests();
                }
            }
            else
            {
                Monitor.Enter(_control);
            }
        }
        return new ControlScope(_control);
    }

    // How often a queue's thread waiting for the control lock looks for requests of its own queue.
    private static readonly TimeSpan HelpInterval = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Where every driver operation is called: set once by <see cref="NetDevice{TDriver}"/>'s constructor, and
    /// swapped under the control lock only by a recorder (NetDev.Testing) for a recording wrapper and back.
    /// The transmit side reads it per frame: a field load and the driver's call, nothing else.
    /// </summary>
    internal DeviceOperationDispatcher Operations { get; set; } = null!;

    internal IHostLink? Link => _link;

    /// <summary>
    /// The link while what the host reports should be applied: registered, not tearing down, not being
    /// moved (events during a move are stale). Caller holds the control lock.
    /// </summary>
    internal IHostLink? LinkForEvents => _tearingDown || _moving ? null : _link;

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
    internal void EndDriverQueries() => Queries.Close();

    /// <summary>What lets the driver's read-only operations through only while it is initialised.</summary>
    internal DriverQueryGate Queries { get; } = new();

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

    /// <summary>Opens the driver and lets frames flow. Caller holds the control lock.</summary>
    internal void OpenCore(IHostLink link)
    {
        Operations.Open();
        Volatile.Write(ref _up, true);
        SetQueuesEnabled(true);
    }

    /// <summary>Stops the flow of frames, then the driver (whose failure is only reported). Caller holds the control lock.</summary>
    internal void StopCore(IHostLink link)
    {
        SetQueuesEnabled(false);
        Volatile.Write(ref _up, false);
        try
        {
            Operations.Stop();
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
        using (EnterControl())
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

/// <summary>The control lock, held until disposed (see <see cref="NetDevice.EnterControl"/>).</summary>
internal readonly struct ControlScope(object gate) : IDisposable
{
    public void Dispose() => Monitor.Exit(gate);
}
