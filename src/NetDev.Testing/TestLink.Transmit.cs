using NetDev.Hosting;

namespace NetDev.Testing;

// The transmit side: the system sends frames on the interface, they wait in the kernel queue while the
// device's queue does not accept them, and the framework's transmit engine takes them when it does.
public sealed partial class TestLink
{
    /// <summary>Whether this thread is serving a queue (a wire's loop guard asks).</summary>
    internal static bool IsServingOnThisThread => TestTransmitSource.IsServingOnThisThread;

    /// <summary>As <see cref="InjectTransmit(int, ReadOnlySpan{byte})"/> on queue 0.</summary>
    public InjectResult InjectTransmit(ReadOnlySpan<byte> frame) => InjectTransmit(0, frame);

    /// <summary>
    /// Sends <paramref name="frame"/> on the interface as the kernel would (a packet socket's
    /// <c>sendto</c>): it enters the kernel's transmit queue for <paramref name="queue"/> and, if the
    /// device's queue accepts frames, is copied into an SkBuff from the queue's <see cref="DeviceQueue.TxPool"/>
    /// and handed to the driver's <c>StartXmit</c>. Otherwise it waits, up to <see cref="TxQueueLength"/>
    /// frames; beyond that it is dropped and counted as the kernel would (<see cref="KernelQueueStats.Dropped"/>).
    /// </summary>
    /// <param name="queue">The queue the kernel chose for the frame.</param>
    /// <param name="frame">The whole frame, from the Ethernet header on: 14 to <see cref="Mtu"/> + 22 bytes (two VLAN tags).</param>
    /// <returns>Where the frame is when the call returns.</returns>
    /// <exception cref="ArgumentException">The frame is shorter than an Ethernet header or longer than the MTU allows.</exception>
    /// <exception cref="InvalidOperationException">The link is not started.</exception>
    public InjectResult InjectTransmit(int queue, ReadOnlySpan<byte> frame)
    {
        var state = StateOf(queue);
        var largest = Mtu + NetDevice.MaxLinkOverhead;
        if (frame.Length < NetDevice.EthernetHeaderLength || frame.Length > largest)
        {
            throw new ArgumentException(
                $"A frame sent on {Name} has {NetDevice.EthernetHeaderLength} to {largest} bytes (MTU {Mtu}); this one has {frame.Length}; the kernel would refuse it (EMSGSIZE or EINVAL).",
                nameof(frame));
        }
        long ticket;
        lock (_control)
        {
            if (!_adminUp)
            {
                return InjectResult.LinkDown;
            }
            if (!_carrier)
            {
                state.Kernel.CountDrop();
                return InjectResult.Dropped;
            }
            if (!state.Kernel.TryEnqueue(frame, state.Source.Queue.IsAcceptingFrames, watch: true, out ticket))
            {
                return InjectResult.Dropped;
            }
        }
        state.Source.FramesArrived();
        return state.Kernel.EndWatch(ticket);
    }

    /// <summary>
    /// Serves every queue now: a frame the driver refused is offered again (unless its queue is stopped)
    /// and waiting frames are handed over while the queue accepts them. In threaded mode it waits until
    /// each queue's thread has done so, which makes it the way to wait for frames sent before.
    /// </summary>
    public void Pump()
    {
        if (!IsStarted)
        {
            return;
        }
        foreach (var state in _queues)
        {
            state.Source.Queue.Pump();
        }
    }

    /// <summary>As <see cref="Pump()"/>, for queue <paramref name="queue"/> only.</summary>
    public void Pump(int queue) => StateOf(queue).Source.Queue.Pump();

    /// <summary>
    /// Runs <paramref name="action"/> where queue <paramref name="queue"/>'s frames are handed to the driver
    /// (its thread in threaded mode, under its gate otherwise) and waits for it; inline before the link is started.
    /// </summary>
    public void RunOnQueue(int queue, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (!IsStarted)
        {
            action();
            return;
        }
        StateOf(queue).Source.Queue.Run(action);
    }

    /// <summary>The counters of the kernel's transmit queue in front of device queue <paramref name="queue"/>.</summary>
    public KernelQueueStats GetKernelQueueStats(int queue) => StateOf(queue).Kernel.Snapshot();

    /// <summary>The kernel-side transmit drops of all queues: frames the kernel dropped because a queue was full.</summary>
    public long KernelTxDropped => _queues.Sum(state => state.Kernel.Snapshot().Dropped);

    /// <summary>How many frames were handed to device queue <paramref name="queue"/> (retries of a refused frame not counted again).</summary>
    public long FramesHandedToDriver(int queue) => StateOf(queue).Source.HandedToDriver;

    /// <summary>How many frames were handed to the device, all queues together.</summary>
    public long TotalFramesHandedToDriver => _queues.Sum(state => state.Source.HandedToDriver);

    /// <inheritdoc/>
    public ITransmitSource OpenTransmitSource(int queue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)queue, (uint)_queues.Length, nameof(queue));
        lock (_control)
        {
            ObjectDisposedException.ThrowIf(_removed, this);
            var kernel = new KernelTxQueue(_txQueueLength);
            TestTransmitSource source = Host.Options.Threaded
                ? new TestTransmitSource.Threaded(this, kernel)
                : new TestTransmitSource.Inline(this, kernel);
            _queues[queue] = new QueueState(kernel, source);
            return source;
        }
    }

    /// <summary>Puts a frame the system sends into queue <paramref name="queue"/>'s kernel queue and serves it (a wire's forwarding).</summary>
    internal bool EnqueueFromSystem(int queue, ReadOnlySpan<byte> frame)
    {
        var state = _queues[queue];
        lock (_control)
        {
            if (!_adminUp)
            {
                return false;
            }
            if (!_carrier)
            {
                state.Kernel.CountDrop();
                return false;
            }
            if (!state.Kernel.TryEnqueue(frame, state.Source.Queue.IsAcceptingFrames, watch: false, out _))
            {
                return false;
            }
        }
        state.Source.FramesArrived();
        return true;
    }

    /// <summary>The host's state for one device queue: the kernel queue in front of it and the source the engine reads.</summary>
    /// <remarks><b>Invariants.</b> Made by <see cref="OpenTransmitSource"/>; the source's queue handle is set once, at registration.</remarks>
    private sealed class QueueState(KernelTxQueue kernel, TestTransmitSource source)
    {
        public readonly KernelTxQueue Kernel = kernel;
        public readonly TestTransmitSource Source = source;
    }
}
