namespace NetDev.Testing;

// The transmit side: the system sends frames on the interface, they wait in the kernel queue while the
// device's queue does not accept them, and are handed to the device's queue when it does.
public sealed partial class TestLink
{
    // How many queues (of any link) this thread is serving right now, one inside the other.
    [ThreadStatic]
    private static int t_servingDepth;

    /// <summary>Whether this thread is serving a queue (a wire's loop guard asks).</summary>
    internal static bool IsServingOnThisThread => t_servingDepth > 0;

    /// <summary>As <see cref="InjectTransmit(int, ReadOnlySpan{byte})"/> on queue 0.</summary>
    public InjectResult InjectTransmit(ReadOnlySpan<byte> frame) => InjectTransmit(0, frame);

    /// <summary>
    /// Sends <paramref name="frame"/> on the interface as the kernel would (a packet socket's
    /// <c>sendto</c>): it enters the kernel's transmit queue for <paramref name="queue"/> and, if the
    /// device's queue accepts frames (<see cref="DeviceQueue.IsAcceptingFrames"/>), is copied into an SkBuff
    /// from the queue's <see cref="DeviceQueue.TxPool"/> and handed to <see cref="DeviceQueue.Transmit(SkBuff)"/>,
    /// which calls the driver's <c>StartXmit</c>. Otherwise it waits, up to <see cref="TxQueueLength"/>
    /// frames; beyond that it is dropped and counted as the kernel would (<see cref="KernelQueueStats.Dropped"/>).
    /// </summary>
    /// <param name="queue">The queue the kernel chose for the frame.</param>
    /// <param name="frame">The whole frame, from the Ethernet header on: 14 to <see cref="Mtu"/> + 18 bytes.</param>
    /// <returns>Where the frame is when the call returns.</returns>
    /// <exception cref="ArgumentException">The frame is shorter than an Ethernet header or longer than the MTU allows.</exception>
    /// <exception cref="InvalidOperationException">The link is not started.</exception>
    public InjectResult InjectTransmit(int queue, ReadOnlySpan<byte> frame)
    {
        var state = StateOf(queue);
        var largest = Mtu + NetDevice.LinkOverhead;
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
            if (!state.Kernel.TryEnqueue(frame, state.Queue.IsAcceptingFrames, watch: true, out ticket))
            {
                return InjectResult.Dropped;
            }
        }
        RequestServe(state);
        return state.Kernel.EndWatch(ticket);
    }

    /// <summary>
    /// Serves every queue now: a frame the driver refused is offered again (unless its queue is stopped)
    /// and waiting frames are handed over while the queue accepts them. In threaded mode it waits until
    /// each queue's thread has done so, which makes it the way to wait for frames sent before.
    /// </summary>
    public void Pump()
    {
        foreach (var state in _queues)
        {
            PumpQueue(state);
        }
    }

    /// <summary>As <see cref="Pump()"/>, for queue <paramref name="queue"/> only.</summary>
    public void Pump(int queue) => PumpQueue(StateOf(queue));

    /// <summary>The counters of the kernel's transmit queue in front of device queue <paramref name="queue"/>.</summary>
    public KernelQueueStats GetKernelQueueStats(int queue) => StateOf(queue).Kernel.Snapshot();

    /// <summary>The kernel-side transmit drops of all queues: frames the kernel dropped because a queue was full.</summary>
    public long KernelTxDropped => _queues.Sum(state => state.Kernel.Snapshot().Dropped);

    /// <summary>How many frames were handed to device queue <paramref name="queue"/> (retries of a refused frame not counted again).</summary>
    public long FramesHandedToDriver(int queue) => Interlocked.Read(ref StateOf(queue).HandedToDriver);

    /// <summary>How many frames were handed to the device, all queues together.</summary>
    public long TotalFramesHandedToDriver => _queues.Sum(state => Interlocked.Read(ref state.HandedToDriver));

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
            if (!state.Kernel.TryEnqueue(frame, state.Queue.IsAcceptingFrames, watch: false, out _))
            {
                return false;
            }
        }
        RequestServe(state);
        return true;
    }

    private void PumpQueue(QueueState state)
    {
        Volatile.Write(ref state.RetryRequested, 1);
        if (state.Worker is { } worker)
        {
            worker.Run(() => Serve(state));
            return;
        }
        Serve(state);
    }

    private void RequestServe(QueueState state, bool retry = false)
    {
        if (retry)
        {
            Volatile.Write(ref state.RetryRequested, 1);
        }
        if (state.Worker is { } worker)
        {
            worker.RequestServe();
            return;
        }
        Serve(state);
    }

    /// <summary>
    /// Serves the queue on this thread unless another thread (or an outer call on this one) is serving it;
    /// then that one serves again before it stops, so no request is lost and the driver's
    /// <c>StartXmit</c> is never entered twice for one queue.
    /// </summary>
    private void Serve(QueueState state)
    {
        Volatile.Write(ref state.ServeRequested, 1);
        while (Volatile.Read(ref state.ServeRequested) == 1)
        {
            if (!Monitor.TryEnter(state.Gate))
            {
                return;
            }
            try
            {
                if (state.Serving)
                {
                    return;
                }
                state.Serving = true;
                if (t_servingDepth++ == 0)
                {
                    TestWire.BeginBurst();
                }
                try
                {
                    while (Interlocked.Exchange(ref state.ServeRequested, 0) == 1 && !_removed)
                    {
                        ServeOnce(state);
                    }
                }
                finally
                {
                    t_servingDepth--;
                    state.Serving = false;
                }
            }
            finally
            {
                Monitor.Exit(state.Gate);
            }
        }
    }

    /// <summary>
    /// One round of a queue's loop, in the Linux host's order: watchdog, retry (only when woken, due or
    /// pumped: a frame arriving in the kernel queue does not wake a queue holding a refused frame), new frames.
    /// </summary>
    private void ServeOnce(QueueState state)
    {
        var queue = state.Queue;
        queue.CheckWatchdog();
        if (Interlocked.Exchange(ref state.RetryRequested, 0) == 1)
        {
            queue.RetryPending();
        }
        // As the Linux host's loop, the driver learns whether another frame follows (XmitMore).
        while (queue.IsAcceptingFrames && state.Kernel.TryDequeue(queue.TxPool, out var skb, out var more))
        {
            Interlocked.Increment(ref state.HandedToDriver);
            queue.Transmit(skb, more);
        }
        if (queue.HasPendingFrame && !queue.IsStopped)
        {
            // Busy without stopping the queue: offered again after the retry interval, on the host's clock.
            state.RetryTimer ??= Host.Time.CreateTimer(
                static target => ((ServeTarget)target!).Fire(), new ServeTarget(this, state), Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            state.RetryTimer.Change(Host.Options.BusyRetryInterval, Timeout.InfiniteTimeSpan);
        }
        if (queue.WatchdogDelay is { } delay)
        {
            // The watchdog is the device's and runs on the device's clock (TestHost.Register gives it the host's).
            state.WatchdogTimer ??= queue.Device.TimeProvider.CreateTimer(
                static target => ((ServeTarget)target!).Fire(), new ServeTarget(this, state), Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            state.WatchdogTimer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>A timer's way back to its queue.</summary>
    private sealed class ServeTarget(TestLink link, QueueState state)
    {
        public void Fire()
        {
            if (!link._removed)
            {
                link.RequestServe(state, retry: true);
            }
        }
    }
}
