using NetDev.Hosting;

namespace NetDev.Tests.Fakes;

/// <summary>
/// A host that keeps its interfaces inside the test: it records every call, runs queue work inline on
/// the caller's thread, and lets the test play the system (send frames, set the link up or down).
/// </summary>
public sealed class FakeHost(CallLog log) : INetDeviceHost
{
    private int _nextIfIndex = 10;

    public FakeHost() : this(new CallLog())
    {
    }

    public CallLog Log { get; } = log;

    public string Name => "fake";

    public List<FakeLink> Links { get; } = [];

    /// <summary>The one link a single-device test made.</summary>
    public FakeLink Link => Links.Single();

    /// <summary>When set, <see cref="CreateLink"/> throws it instead of making a link.</summary>
    public Exception? CreateLinkFailure { get; set; }

    /// <summary>Applied to every link made from now on, before it is handed out.</summary>
    public Action<FakeLink>? ConfigureLink { get; set; }

    public IHostLink CreateLink(LinkRequest request)
    {
        Log.Add("host.CreateLink");
        if (CreateLinkFailure is { } failure)
        {
            throw failure;
        }
        var link = new FakeLink(Log, request, _nextIfIndex++);
        ConfigureLink?.Invoke(link);
        Links.Add(link);
        return link;
    }
}

/// <summary>One interface of <see cref="FakeHost"/>.</summary>
public sealed class FakeLink : IHostLink
{
    private readonly CallLog _log;

    internal FakeLink(CallLog log, LinkRequest request, int ifIndex)
    {
        _log = log;
        Request = request;
        IfIndex = ifIndex;
        // The system resolves a template to its first free number; here that is always 0.
        Name = request.NameTemplate.Replace("%d", "0", StringComparison.Ordinal);
    }

    public LinkRequest Request { get; }

    public string Name { get; }

    public int IfIndex { get; }

    public IReadOnlyList<DeviceQueue>? Queues { get; private set; }

    public ILinkEvents? Events { get; private set; }

    public bool IsAdminUp { get; private set; }

    public int DisposeCount { get; private set; }

    public List<bool> AdminUpCalls { get; } = [];

    public List<int> NotifiedQueues { get; } = [];

    public List<(int Queue, byte[] Frame)> Delivered { get; } = [];

    /// <summary>What <see cref="DeliverToSystem"/> answers: null when the system takes the frame.</summary>
    public DropReason? DeliverResult { get; set; }

    /// <summary>When set, <see cref="Start"/> throws it.</summary>
    public Exception? StartFailure { get; set; }

    /// <summary>When it returns an exception for a requested state, <see cref="SetAdminUp"/> throws it.</summary>
    public Func<bool, Exception?>? SetAdminUpFailure { get; set; }

    /// <summary>
    /// Whether <see cref="SetAdminUp"/> reports the change back as an event, as the kernel does with a
    /// netlink notification for every change, including the device's own.
    /// </summary>
    public bool EchoAdminState { get; set; }

    /// <summary>The transmit sources the device opened, by queue.</summary>
    public List<FakeTransmitSource> Sources { get; } = [];

    public ITransmitSource OpenTransmitSource(int queue)
    {
        var source = new FakeTransmitSource(queue, NotifiedQueues);
        Sources.Add(source);
        return source;
    }

    public void Start(ILinkEvents events)
    {
        _log.Add("link.Start");
        if (StartFailure is { } failure)
        {
            throw failure;
        }
        Queues = ((NetDevice)events).Queues;
        Events = events;
    }

    public void SetAdminUp(bool up)
    {
        _log.Add($"link.SetAdminUp({up})");
        AdminUpCalls.Add(up);
        if (SetAdminUpFailure?.Invoke(up) is { } failure)
        {
            throw failure;
        }
        IsAdminUp = up;
        if (EchoAdminState)
        {
            Events?.OnAdminStateChanged(up);
        }
    }

    /// <summary>Every change the device asked the system for, in order.</summary>
    public List<LinkConfiguration> Configurations { get; } = [];

    /// <summary>When it returns an exception for a change, <see cref="Configure"/> throws it (the system refused).</summary>
    public Func<LinkConfiguration, Exception?>? ConfigureFailure { get; set; }

    public void Configure(LinkConfiguration change)
    {
        _log.Add("link.Configure");
        Configurations.Add(change);
        if (ConfigureFailure?.Invoke(change) is { } failure)
        {
            throw failure;
        }
    }

    /// <summary>What <see cref="QueryState"/> answers: the system's state when set, otherwise nothing (a host that only pushes state).</summary>
    public LinkState? State { get; set; }

    public LinkState? QueryState() => State;

    public string? NetworkNamespace { get; private set; }

    /// <summary>When it returns an exception for a namespace, <see cref="MoveToNetworkNamespace"/> throws it instead of moving.</summary>
    public Func<string, Exception?>? MoveFailure { get; set; }

    public void MoveToNetworkNamespace(string networkNamespace)
    {
        _log.Add($"link.MoveToNetworkNamespace({networkNamespace})");
        if (MoveFailure?.Invoke(networkNamespace) is { } failure)
        {
            throw failure;
        }
        NetworkNamespace = networkNamespace;
        // The kernel sets a moved interface down.
        IsAdminUp = false;
    }

    public DropReason? DeliverToSystem(int queue, SkBuff skb)
    {
        _log.Add("link.DeliverToSystem");
        Delivered.Add((queue, skb.Data.ToArray()));
        return RefuseFrame?.Invoke(skb.Data.ToArray()) ?? DeliverResult;
    }

    /// <summary>When it returns a reason for a frame, <see cref="DeliverToSystem"/> refuses that frame with it.</summary>
    public Func<byte[], DropReason?>? RefuseFrame { get; set; }

    /// <summary>Every <see cref="DeliverBatchToSystem"/> call: the queue and how many frames it carried.</summary>
    public List<(int Queue, int Count)> Batches { get; } = [];

    public int DeliverBatchToSystem(int queue, ReadOnlySpan<SkBuff> frames, Span<DropReason?> outcomes)
    {
        Batches.Add((queue, frames.Length));
        for (var i = 0; i < frames.Length; i++)
        {
            outcomes[i] = DeliverToSystem(queue, frames[i]);
        }
        return frames.Length;
    }

    public void Dispose()
    {
        _log.Add("link.Dispose");
        DisposeCount++;
    }

    /// <summary>
    /// Plays the system sending a frame on the device: rents it from the queue's pool, fills it and hands
    /// it to the queue's transmit engine through the queue's source, as a host does; served at once, on this
    /// thread. Returns the handle so the test can recognise the frame later.
    /// </summary>
    public SkBuff SendFrame(int queue, ReadOnlySpan<byte> payload)
    {
        var deviceQueue = (Queues ?? throw new InvalidOperationException("The link was not started."))[queue];
        var skb = deviceQueue.TxPool.Rent();
        payload.CopyTo(skb.Put(payload.Length));
        Sources[queue].Arrive(skb);
        return skb;
    }

    /// <summary>Plays someone running <c>ip link set dev X up</c> (or <c>down</c>).</summary>
    public void RaiseAdminState(bool up)
    {
        IsAdminUp = up;
        (Events ?? throw new InvalidOperationException("The link was not started.")).OnAdminStateChanged(up);
    }

    public void RaiseHostError(Exception error) =>
        (Events ?? throw new InvalidOperationException("The link was not started.")).OnHostError(error);
}

/// <summary>
/// A transmit source served inline: frames a test sends wait in it until the engine takes them, and the
/// engine serves on the test's thread. Wake-ups are recorded, not served (the test retries by hand).
/// </summary>
public sealed class FakeTransmitSource(int queue, List<int> notified) : IInlineTransmitSource
{
    private readonly Queue<SkBuff> _frames = new();
    private TransmitQueueHandle? _queue;

    /// <summary>Frames sent but not yet taken by the engine.</summary>
    public int Waiting => _frames.Count;

    /// <summary>Whether the framework disposed the source.</summary>
    public bool IsDisposed { get; private set; }

    public void Attach(TransmitQueueHandle queue) => _queue = queue;

    void IInlineTransmitSource.Schedule(TimeSpan? delay)
    {
    }

    public void Start(SkBuffPool pool)
    {
    }

    /// <summary>When set, the next read throws it: the source failed for good (its interface is gone).</summary>
    public NetDevException? Failure { get; set; }

    public bool TryRead(out SkBuff skb, out bool more)
    {
        if (Failure is { } failure)
        {
            Failure = null;
            throw failure;
        }
        if (!_frames.TryDequeue(out skb))
        {
            more = false;
            return false;
        }
        more = _frames.Count > 0;
        return true;
    }

    public void Wait(bool wantFrames, TimeSpan? delay)
    {
    }

    public void Wake() => notified.Add(queue);

    public void Dispose()
    {
        IsDisposed = true;
        while (_frames.TryDequeue(out var skb))
        {
            skb.Drop(DropReason.DeviceDown);
        }
    }

    /// <summary>A frame the system sent: it waits here, and the engine is served now.</summary>
    internal void Arrive(SkBuff skb)
    {
        _frames.Enqueue(skb);
        (_queue ?? throw new InvalidOperationException("The source is not attached to a queue.")).Serve(retry: false);
    }
}
