using NetDev.Hosting;

namespace NetDev.Testing;

/// <summary>
/// The frame source of one test queue: frames leave the kernel queue (<see cref="KernelTxQueue"/>) into
/// SkBuffs of the queue's pool, as the Linux host reads them from a TAP descriptor. The framework's transmit
/// engine does the rest, as on Linux.
/// </summary>
/// <remarks><b>Invariants.</b> <c>_queue</c> is set by <see cref="Attach"/> and <c>_pool</c> by <see cref="Start"/>, both before any read.
/// <c>HandedToDriver</c> counts every frame taken, written by the serving thread, read as a snapshot.</remarks>
internal abstract class TestTransmitSource(TestLink link, KernelTxQueue kernel) : ITransmitSource
{
    // How many queues (of any link) this thread is serving right now, one inside the other.
    [ThreadStatic]
    private static int t_servingDepth;

    private TransmitQueueHandle? _queue;
    private SkBuffPool? _pool;
    private long _handedToDriver;

    /// <summary>Whether this thread is serving a queue (a wire's loop guard asks).</summary>
    internal static bool IsServingOnThisThread => t_servingDepth > 0;

    protected TestLink Link => link;

    /// <summary>The kernel's queue in front of the device queue.</summary>
    internal KernelTxQueue Kernel => kernel;

    /// <summary>How many frames left the kernel queue for the device.</summary>
    internal long HandedToDriver => Interlocked.Read(ref _handedToDriver);

    /// <summary>The framework's side of the queue, once the device registered.</summary>
    internal TransmitQueueHandle Queue => _queue ?? throw new InvalidOperationException($"Queue of {link.Name} is not served yet: register the device first.");

    public TimeSpan BusyRetryInterval => link.Host.Options.BusyRetryInterval;

    public void Attach(TransmitQueueHandle queue) => _queue = queue;

    public virtual void Start(SkBuffPool pool) => _pool = pool;

    public bool TryRead(out SkBuff skb, out bool more)
    {
        if (link.IsRemoved || !kernel.TryDequeue(_pool!, out skb, out more))
        {
            skb = default;
            more = false;
            return false;
        }
        Interlocked.Increment(ref _handedToDriver);
        return true;
    }

    public abstract void Wait(bool wantFrames, TimeSpan? delay);

    public abstract void Wake();

    /// <summary>Frames arrived in the kernel queue: the queue is served (no retry of a refused frame, as on Linux).</summary>
    internal abstract void FramesArrived();

    public virtual void Dispose()
    {
    }

    protected static void EnterServing()
    {
        if (t_servingDepth++ == 0)
        {
            TestWire.BeginBurst();
        }
    }

    protected static void ExitServing() => t_servingDepth--;

    /// <summary>Deterministic mode: served on the threads of the calls that cause it, timers on the host's clock.</summary>
    internal sealed class Inline(TestLink link, KernelTxQueue kernel) : TestTransmitSource(link, kernel), IInlineTransmitSource
    {
        private ITimer? _timer;

        public void Schedule(TimeSpan? delay)
        {
            if (delay is null && _timer is null)
            {
                return;
            }
            _timer ??= Link.Host.Time.CreateTimer(static state => ((Inline)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(delay ?? Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        public void BeginServing() => EnterServing();

        public void EndServing() => ExitServing();

        // Not called: an inline queue never waits.
        public override void Wait(bool wantFrames, TimeSpan? delay)
        {
        }

        public override void Wake()
        {
            if (Link.Host.Options.PumpOnWake && !Link.IsRemoved)
            {
                Queue.Serve(retry: true);
            }
        }

        internal override void FramesArrived() => Queue.Serve(retry: false);

        public override void Dispose() => _timer?.Dispose();

        private void Fire()
        {
            if (!Link.IsRemoved)
            {
                Queue.Serve(retry: true);
            }
        }
    }

    /// <summary>Threaded mode: the engine's dedicated thread waits here for frames, a wake or a timer on the host's clock.</summary>
    internal sealed class Threaded(TestLink link, KernelTxQueue kernel) : TestTransmitSource(link, kernel)
    {
        private readonly object _lock = new();
        private bool _signalled;
        private bool _serving;
        private ITimer? _timer;

        public override void Start(SkBuffPool pool)
        {
            base.Start(pool);
            // The whole life of this thread is serving its queue: a wire's loop guard counts per wake-up.
            EnterServing();
            _serving = true;
        }

        public override void Wait(bool wantFrames, TimeSpan? delay)
        {
            lock (_lock)
            {
                if (!_signalled && !(wantFrames && Kernel.Length > 0))
                {
                    if (delay is { } due)
                    {
                        _timer ??= Link.Host.Time.CreateTimer(static state => ((Threaded)state!).Signal(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                        _timer.Change(due, Timeout.InfiniteTimeSpan);
                    }
                    while (!_signalled && !(wantFrames && Kernel.Length > 0))
                    {
                        Monitor.Wait(_lock);
                    }
                }
                _signalled = false;
            }
            TestWire.BeginBurst();
        }

        public override void Wake() => Signal();

        internal override void FramesArrived() => Signal();

        public override void Dispose()
        {
            _timer?.Dispose();
            if (_serving)
            {
                // On the queue's thread, which started serving in Start.
                _serving = false;
                ExitServing();
            }
        }

        private void Signal()
        {
            lock (_lock)
            {
                _signalled = true;
                Monitor.PulseAll(_lock);
            }
        }
    }
}
