using NetDev.Hosting;

namespace NetDev.Testing;

/// <summary>
/// One interface of a <see cref="TestHost"/>: the kernel's side of a NetDev device, played by the test.
/// </summary>
/// <remarks>
/// <para>What the kernel would do, a test does through this class: transmit frames into the device
/// (<see cref="InjectTransmit(int, ReadOnlySpan{byte})"/>), which wait in a bounded kernel queue while the
/// device's queue does not accept them; take the frames the driver delivers (<see cref="Received"/>) or
/// refuse them (<see cref="ReceivePolicy"/>); change the interface as another program would
/// (<see cref="IpLinkSetUp"/>, <see cref="IpLinkSetMtu"/>, …). Errors the device reports are collected in
/// <see cref="Errors"/>.</para>
/// <para>Threads: without <see cref="TestHostOptions.Threaded"/> a queue is served on the thread of the
/// call that needs it, under a per-queue gate, so a driver that wakes a queue from a thread of its own is
/// still served by one thread at a time. With it, each queue has a dedicated thread, as on Linux;
/// <see cref="Pump()"/> then waits until every queue has handed over what it could. Changes made "by
/// others" reach the device on the calling thread, one at a time.</para>
/// <para><b>Invariants.</b> <c>_queues</c> is set once by <see cref="Start"/>; each queue is served by one
/// thread at a time (its gate, or its worker). The kernel's view of the interface (admin state, MTU,
/// address, flags, carrier, txqueuelen) changes only under <c>_control</c>; while the interface is down or
/// without carrier, the kernel queues are empty. After removal no frame moves.</para>
/// </remarks>
public sealed partial class TestLink : IHostLink
{
    private readonly object _control = new();
    private readonly object _eventsLock = new();
    private readonly List<Exception> _errors = [];
    private QueueState[] _queues = [];
    private ILinkEvents? _events;
    private volatile bool _removed;

    internal TestLink(TestHost host, LinkRequest request, string name, int ifIndex)
    {
        Host = host;
        Request = request;
        Name = name;
        IfIndex = ifIndex;
        _mtu = request.Mtu;
        _macAddress = request.MacAddress;
        _flags = DeviceFlags.Broadcast | (request.Flags & DeviceFlagSets.Changeable);
        _txQueueLength = request.TxQueueLength;
    }

    /// <summary>The host the interface belongs to.</summary>
    public TestHost Host { get; }

    /// <summary>What the device asked for at registration.</summary>
    public LinkRequest Request { get; }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int IfIndex { get; }

    /// <summary>The device, once <see cref="Start"/> was called.</summary>
    public NetDevice? Device { get; private set; }

    /// <summary>Whether the device's queues were handed over (<see cref="Registration{TDriver}.Register"/> finished).</summary>
    public bool IsStarted => _queues.Length > 0;

    /// <summary>Whether the interface was removed (its registration disposed).</summary>
    public bool IsRemoved => _removed;

    /// <summary>The number of queues.</summary>
    public int QueueCount => Request.QueueCount;

    /// <summary>The wire this link is on, if any (<see cref="TestHost.Connect"/>).</summary>
    public TestWire? Wire { get; internal set; }

    /// <summary>The errors the device reported (<see cref="NetDevice.Error"/>) since it was started, in order.</summary>
    public IReadOnlyList<Exception> Errors
    {
        get
        {
            lock (_errors)
            {
                return [.. _errors];
            }
        }
    }

    /// <summary>Checks that the device reported no error (<see cref="Errors"/> is empty).</summary>
    /// <exception cref="NetDevAssertionException">It did; the message lists the errors.</exception>
    public void AssertNoErrors()
    {
        var errors = Errors;
        if (errors.Count > 0)
        {
            throw new NetDevAssertionException($"{Name} reported {errors.Count} error(s):{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");
        }
    }

    /// <inheritdoc/>
    public void Start(IReadOnlyList<DeviceQueue> queues, ILinkEvents events)
    {
        ArgumentNullException.ThrowIfNull(queues);
        ArgumentNullException.ThrowIfNull(events);
        lock (_control)
        {
            ObjectDisposedException.ThrowIf(_removed, this);
            if (IsStarted)
            {
                throw new InvalidOperationException($"{Name} was started already; a link is started once.");
            }
            if (queues.Count != QueueCount)
            {
                throw new ArgumentException($"{Name} has {QueueCount} queues but {queues.Count} device queues were given.", nameof(queues));
            }
            var device = queues[0].Device;
            device.Error += (_, e) =>
            {
                lock (_errors)
                {
                    _errors.Add(e.Exception);
                }
            };
            var states = new QueueState[queues.Count];
            for (var i = 0; i < states.Length; i++)
            {
                states[i] = new QueueState(queues[i], new KernelTxQueue(_txQueueLength));
                if (Host.Options.Threaded)
                {
                    var state = states[i];
                    state.Worker = new QueueWorker($"test {Name} q{i}", state.Queue.TxPool, () => Serve(state), ReportHostError);
                }
            }
            _events = events;
            Device = device;
            _queues = states;
            foreach (var state in states)
            {
                state.Worker?.Start();
            }
        }
    }

    /// <inheritdoc/>
    public void RunOnQueue(int queue, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        var states = _queues;
        if (states.Length == 0)
        {
            action();
            return;
        }
        var state = states[queue];
        if (state.Worker is { } worker)
        {
            worker.Run(action);
            return;
        }
        lock (state.Gate)
        {
            action();
        }
        // A serve asked for while the action held the gate was left to the gate's holder: us.
        if (Volatile.Read(ref state.ServeRequested) == 1)
        {
            Serve(state);
        }
    }

    /// <inheritdoc/>
    public void NotifyQueue(int queue)
    {
        var states = _queues;
        if (states.Length == 0 || _removed)
        {
            return;
        }
        if (Host.Options.PumpOnWake || Host.Options.Threaded)
        {
            RequestServe(states[queue], retry: true);
        }
    }

    /// <summary>Removes the interface: its queue threads end, waiting frames are discarded, its name is free again.</summary>
    public void Dispose()
    {
        QueueState[] states;
        lock (_control)
        {
            if (_removed)
            {
                return;
            }
            _removed = true;
            _adminUp = false;
            states = _queues;
        }
        foreach (var state in states)
        {
            state.Worker?.Dispose();
            state.RetryTimer?.Dispose();
            state.WatchdogTimer?.Dispose();
            state.Kernel.Discard();
        }
        Wire?.Disconnect();
        Host.Remove(this);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} (test, ifindex {IfIndex}, {(IsAdminUp ? "up" : "down")})";

    // Straight from the queue's thread, as the Linux host's loops report: taking the events lock here could
    // wait for a control thread that itself waits for this queue's thread.
    private void ReportHostError(Exception error) => _events?.OnHostError(error);

    private QueueState StateOf(int queue)
    {
        var states = _queues;
        if (states.Length == 0)
        {
            throw new InvalidOperationException($"{Name} is not started: register the device first.");
        }
        if ((uint)queue >= (uint)states.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(queue), queue, $"{Name} has {states.Length} queues.");
        }
        return states[queue];
    }

    /// <summary>The host's state for one device queue.</summary>
    /// <remarks><b>Invariants.</b> <c>Serving</c> and the timers' arming change only while <c>Gate</c> is held
    /// (in threaded mode only the worker takes it). <c>ServeRequested</c> is 1 while someone asked for a
    /// serve that has not started yet; <c>RetryRequested</c> is 1 while a wake, a retry timer or a pump
    /// asked for the refused frame to be offered again (a new frame in the kernel queue does not).</remarks>
    private sealed class QueueState(DeviceQueue queue, KernelTxQueue kernel)
    {
        public readonly DeviceQueue Queue = queue;
        public readonly KernelTxQueue Kernel = kernel;
        public readonly object Gate = new();
        public bool Serving;
        public int ServeRequested;
        public int RetryRequested;
        public long HandedToDriver;
        public ITimer? RetryTimer;
        public ITimer? WatchdogTimer;
        public QueueWorker? Worker;
    }
}
