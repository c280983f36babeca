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
/// <para><b>Invariants.</b> <c>_queues[i]</c> is set once by <see cref="OpenTransmitSource"/>, and its source's
/// queue handle once at registration; each queue is served by one thread at a time (the transmit engine's
/// gate, or its thread). The kernel's view of the interface (name, admin state, MTU,
/// address, flags, carrier, txqueuelen) changes only under <c>_control</c>; while the interface is down or
/// without carrier, the kernel queues are empty. After removal no frame moves.</para>
/// </remarks>
public sealed partial class TestLink : IHostLink
{
    private readonly object _control = new();
    private readonly object _eventsLock = new();
    private readonly List<Exception> _errors = [];
    private readonly QueueState[] _queues;
    private volatile bool _started;
    private ILinkEvents? _events;
    private volatile bool _removed;
    private volatile string _name;

    internal TestLink(TestHost host, LinkRequest request, string name, int ifIndex)
    {
        Host = host;
        Request = request;
        _name = name;
        IfIndex = ifIndex;
        _mtu = request.Mtu;
        _macAddress = request.MacAddress;
        _flags = DeviceFlags.Broadcast | (request.Flags & DeviceFlagSets.Changeable);
        _txQueueLength = request.TxQueueLength;
        _queues = new QueueState[request.QueueCount];
    }

    /// <summary>The host the interface belongs to.</summary>
    public TestHost Host { get; }

    /// <summary>What the device asked for at registration.</summary>
    public LinkRequest Request { get; }

    /// <summary>The interface's name: the one it was created with, or the last one <see cref="IpLinkSetName"/> gave it.</summary>
    public string Name => _name;

    /// <inheritdoc/>
    public int IfIndex { get; }

    /// <summary>The device, once <see cref="Start"/> was called.</summary>
    public NetDevice? Device { get; private set; }

    /// <summary>Whether the device's queues were handed over (<see cref="Registration{TDriver}.Register"/> finished).</summary>
    public bool IsStarted => _started;

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
    public void Start(ILinkEvents events)
    {
        ArgumentNullException.ThrowIfNull(events);
        lock (_control)
        {
            ObjectDisposedException.ThrowIf(_removed, this);
            if (IsStarted)
            {
                throw new InvalidOperationException($"{Name} was started already; a link is started once.");
            }
            if (events is not NetDevice device || device.Queues.Count != QueueCount || _queues.Any(state => state is null))
            {
                throw new InvalidOperationException($"{Name} is started by the device it was made for, after a transmit source was opened for each of its {QueueCount} queues.");
            }
            device.Error += (_, e) =>
            {
                lock (_errors)
                {
                    _errors.Add(e.Exception);
                }
            };
            _events = events;
            Device = device;
            _started = true;
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
            // The queues' threads and timers are the device's engines' and ended before the link is removed.
            state?.Kernel.Discard();
        }
        Wire?.Disconnect();
        Host.Remove(this);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} (test, ifindex {IfIndex}, {(IsAdminUp ? "up" : "down")})";

    private QueueState StateOf(int queue)
    {
        var states = _queues;
        if (!IsStarted)
        {
            throw new InvalidOperationException($"{Name} is not started: register the device first.");
        }
        if ((uint)queue >= (uint)states.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(queue), queue, $"{Name} has {states.Length} queues.");
        }
        return states[queue];
    }
}
