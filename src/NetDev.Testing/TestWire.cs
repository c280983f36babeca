namespace NetDev.Testing;

/// <summary>
/// Two test interfaces whose system sides are joined, as two ports of one kernel bridge: every frame one
/// device's driver delivers to the system (<see cref="NetDevice.NetifRx"/>) is transmitted by the system
/// into the other device (its driver's <c>StartXmit</c>), both ways. Made by <see cref="TestHost.Connect"/>;
/// disposing it takes the wire away.
/// </summary>
/// <remarks>
/// <para>Why the system sides: for a NetDev device the wire is the driver's business (a pair driver's
/// peer, a tunnel's UDP socket); the host only plays the kernel. Joining two kernels' sides is what a
/// test needs to put drivers end to end: a frame sent into device A's driver comes out of B's driver if
/// the drivers carry it (a pair, two tunnel ends), and what B's driver receives from outside reaches A's
/// driver as the kernel would forward it. A bridge in the kernel does the same to real NetDev devices,
/// so a scenario tested here can be run on Linux with <c>ip link set A master br0</c>.</para>
/// <para>A forwarded frame is also kept in the delivering link's <see cref="TestLink.Received"/>, as
/// <c>tcpdump</c> on a bridge port sees it. It enters the other link's kernel queue on the queue of the
/// same index (modulo its queue count); a frame longer than that link's MTU allows, or arriving while it
/// is down, is not forwarded (<see cref="NotForwarded"/>), as a bridge would not.</para>
/// <para>Do not join two devices whose drivers already carry frames to each other: as with a bridge
/// across a veth pair, every frame would go round for ever. Inline, the wire stops such a loop after
/// <see cref="LoopLimit"/> forwards made while one queue is being served and drops the rest
/// (<see cref="LoopDrops"/>).</para>
/// <para><b>Invariants.</b> Each link is on at most one wire; <c>_connected</c> goes from true to false once.</para>
/// </remarks>
public sealed class TestWire : IDisposable
{
    /// <summary>How many frames may be forwarded on one thread while one outermost serve of a queue lasts before the wire calls it a loop.</summary>
    public const int LoopLimit = 100_000;

    // Forwards made on this thread since it began serving a queue (or since a forward outside any serve):
    // a loop keeps the outermost serve going, so the count grows until LoopLimit.
    [ThreadStatic]
    private static int t_burst;

    // Connecting and disconnecting change two links at once; one lock for all wires keeps each link on at most one.
    private static readonly object s_wiring = new();

    private long _forwardedFromFirst;
    private long _forwardedFromSecond;
    private long _notForwarded;
    private long _loopDrops;
    private volatile bool _connected = true;

    internal TestWire(TestLink first, TestLink second)
    {
        if (first == second)
        {
            throw new InvalidOperationException($"A wire joins two different links; both ends are {first.Name}.");
        }
        lock (s_wiring)
        {
            if (first.Wire is not null || second.Wire is not null)
            {
                throw new InvalidOperationException($"{(first.Wire is not null ? first.Name : second.Name)} is on a wire already.");
            }
            First = first;
            Second = second;
            first.Wire = this;
            second.Wire = this;
        }
    }

    /// <summary>One end.</summary>
    public TestLink First { get; }

    /// <summary>The other end.</summary>
    public TestLink Second { get; }

    /// <summary>Whether the wire still joins the two links.</summary>
    public bool IsConnected => _connected;

    /// <summary>Frames delivered by <see cref="First"/>'s driver and sent into <see cref="Second"/>.</summary>
    public long ForwardedFromFirst => Interlocked.Read(ref _forwardedFromFirst);

    /// <summary>Frames delivered by <see cref="Second"/>'s driver and sent into <see cref="First"/>.</summary>
    public long ForwardedFromSecond => Interlocked.Read(ref _forwardedFromSecond);

    /// <summary>
    /// Frames not forwarded: the other link was down, the frame was longer than its MTU allows, or its
    /// kernel queue was full (then also counted in its <see cref="KernelQueueStats.Dropped"/>).
    /// </summary>
    public long NotForwarded => Interlocked.Read(ref _notForwarded);

    /// <summary>Frames dropped because they went round in a loop (see <see cref="LoopLimit"/>).</summary>
    public long LoopDrops => Interlocked.Read(ref _loopDrops);

    /// <summary>A thread begins serving a queue with no serve under way on it: a new burst of forwards begins.</summary>
    internal static void BeginBurst() => t_burst = 0;

    /// <summary>Takes the wire away; both links can be connected again.</summary>
    public void Dispose() => Disconnect();

    internal void Disconnect()
    {
        lock (s_wiring)
        {
            if (!_connected)
            {
                return;
            }
            _connected = false;
            First.Wire = null;
            Second.Wire = null;
        }
    }

    internal void Forward(TestLink from, int queue, ReadOnlySpan<byte> frame)
    {
        if (!_connected)
        {
            return;
        }
        var to = from == First ? Second : First;
        if (!TestLink.IsServingOnThisThread)
        {
            t_burst = 0;
        }
        if (++t_burst > LoopLimit)
        {
            Interlocked.Increment(ref _loopDrops);
            return;
        }
        if (to.IsRemoved || !to.IsStarted || frame.Length > to.Mtu + NetDevice.MaxLinkOverhead)
        {
            Interlocked.Increment(ref _notForwarded);
            return;
        }
        Interlocked.Increment(ref from == First ? ref _forwardedFromFirst : ref _forwardedFromSecond);
        if (!to.EnqueueFromSystem(queue % to.QueueCount, frame))
        {
            Interlocked.Decrement(ref from == First ? ref _forwardedFromFirst : ref _forwardedFromSecond);
            Interlocked.Increment(ref _notForwarded);
        }
    }
}
