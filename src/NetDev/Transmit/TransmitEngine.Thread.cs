using System.Runtime.ExceptionServices;
using NetDev.Hosting;

namespace NetDev.Transmit;

// Who runs the rounds: the engine's own dedicated thread, or (inline, NetDev.Testing's deterministic
// mode) the threads of the calls that cause them, one at a time under the gate.
internal sealed partial class TransmitEngine
{
    // The engine whose queue this thread serves right now (its own thread, or an inline serve), so that a
    // thread waiting for a device's control lock can run its queue's requests meanwhile.
    [ThreadStatic]
    private static TransmitEngine? t_current;

    private readonly object _requestsLock = new();
    private readonly Queue<ControlRequest> _requests = new();
    private readonly object _gate = new();
    private Thread? _thread;
    private volatile bool _requestsWaiting;
    private volatile bool _stopping;
    private bool _ended;
    private bool _sourceDisposed;
    private bool _serving;
    private int _serveRequested;

    /// <summary>The engine whose queue the calling thread is serving, if any.</summary>
    internal static TransmitEngine? Current => t_current;

    /// <summary>
    /// Runs <paramref name="action"/> on the queue's thread between rounds and waits for it (its exception is
    /// rethrown here); inline on the queue's own thread, before the engine started and after it ended.
    /// </summary>
    /// <returns>False when <paramref name="timeout"/> passed first: the queue's thread is busy elsewhere (a
    /// driver call that does not return); the action then runs whenever that thread comes back.</returns>
    internal bool Run(Action action, TimeSpan? timeout = null)
    {
        if (_inline is not null)
        {
            return RunInline(action, timeout);
        }
        ControlRequest? request = null;
        lock (_requestsLock)
        {
            if (_thread is not null && !_ended && Thread.CurrentThread != _thread)
            {
                request = Enqueue(action);
            }
        }
        if (request is null)
        {
            action();
            return true;
        }
        _source!.Wake();
        return request.Wait(timeout);
    }

    /// <summary>
    /// On the thread serving this queue, while it waits for something another thread holds (a device's control
    /// lock): runs the requests queued for the queue, which that other thread may be waiting for.
    /// </summary>
    internal void RunWaitingRequests()
    {
        if (t_current == this)
        {
            RunRequests();
        }
    }

    /// <summary>
    /// Ends the queue's service: the thread ends (and waits for it, unless called on it), the source is
    /// disposed on the queue's thread, a frame still waiting is dropped as <see cref="DropReason.DeviceDown"/>.
    /// </summary>
    internal void Stop()
    {
        Thread? thread;
        lock (_requestsLock)
        {
            _stopping = true;
            thread = _thread;
        }
        if (thread is not null)
        {
            _source!.Wake();
            if (thread != Thread.CurrentThread && !thread.Join(_device.StopTimeout))
            {
                // Its frame, if one waits, stays out of the pool and shows in the leak report.
                _device.ReportError(new TimeoutException(
                    $"Queue {_queue.Index} of {_device.Name} did not stop within {_device.StopTimeout.TotalSeconds:0.#} s: a driver call on its thread has not returned; going on without it."));
                return;
            }
        }
        else
        {
            lock (_gate)
            {
                DisposeSource();
            }
        }
        DropPending(DropReason.DeviceDown);
    }

    private void StartThread()
    {
        var thread = new Thread(ThreadMain)
        {
            IsBackground = true,
            Name = $"netdev {_device.Name} q{_queue.Index}",
        };
        lock (_requestsLock)
        {
            _thread = thread;
        }
        thread.Start();
    }

    private void ThreadMain()
    {
        var source = _source!;
        var pool = _queue.TxPool;
        pool.BindToCurrentThread();
        t_current = this;
        try
        {
            source.Start(pool);
            var namedAs = _device.Name;
            while (true)
            {
                RunRequests();
                if (_stopping)
                {
                    break;
                }
                if (!ReferenceEquals(_device.Name, namedAs))
                {
                    // Renamed (ip link set … name …): the thread's name follows, for tools that list threads.
                    namedAs = _device.Name;
                    Thread.CurrentThread.Name = $"netdev {namedAs} q{_queue.Index}";
                }
                Round();
                source.Wait(IsAccepting && !_sourceFailed, NextDelay());
            }
        }
        catch (Exception error)
        {
            _device.Degrade(new InvalidOperationException($"The transmit thread of {_device.Name} queue {_queue.Index} ended: {error.Message}", error));
        }
        finally
        {
            EndRequests();
            DisposeSource();
        }
    }

    private void DisposeSource()
    {
        if (_sourceDisposed || _source is null)
        {
            return;
        }
        _sourceDisposed = true;
        try
        {
            _source.Dispose();
        }
        catch (Exception error)
        {
            _device.ReportError(error);
        }
    }

    private void RunRequests()
    {
        // The flag spares each round the lock while no request waits, which is nearly always.
        while (_requestsWaiting)
        {
            ControlRequest? request;
            lock (_requestsLock)
            {
                if (!_requests.TryDequeue(out request))
                {
                    _requestsWaiting = false;
                    return;
                }
            }
            request.Execute();
        }
    }

    private void EndRequests()
    {
        lock (_requestsLock)
        {
            _ended = true;
        }
        RunRequests();
    }

    /// <summary>
    /// Inline mode: serves the queue on this thread unless another thread (or an outer call on this one)
    /// is serving it; that one then serves again before it stops, so no request is lost and the driver's
    /// <c>StartXmit</c> is never entered twice for one queue. <paramref name="retry"/> asks for the refused
    /// frame to be offered again (a wake, a timer, a pump; a frame arriving does not).
    /// </summary>
    internal void Serve(bool retry)
    {
        var inline = _inline ?? throw new InvalidOperationException("Only an inline source's queue is served by its callers.");
        if (retry)
        {
            Volatile.Write(ref _wakeRequested, 1);
        }
        Volatile.Write(ref _serveRequested, 1);
        while (Volatile.Read(ref _serveRequested) == 1)
        {
            if (!Monitor.TryEnter(_gate))
            {
                return;
            }
            try
            {
                if (_serving || _sourceDisposed)
                {
                    return;
                }
                _serving = true;
                var outer = t_current;
                t_current = this;
                inline.BeginServing();
                try
                {
                    while (Interlocked.Exchange(ref _serveRequested, 0) == 1 && !_stopping)
                    {
                        RunRequests();
                        if (Round())
                        {
                            // The budget ran out with frames possibly waiting: nobody else will come for them
                            // (the Linux thread's next round does the same).
                            Volatile.Write(ref _serveRequested, 1);
                        }
                    }
                    inline.Schedule(NextDelay());
                }
                finally
                {
                    RunRequests();
                    inline.EndServing();
                    t_current = outer;
                    _serving = false;
                }
            }
            finally
            {
                Monitor.Exit(_gate);
            }
        }
    }

    /// <summary>
    /// Serves the queue now, the refused frame offered again first, and returns once the frames waiting in
    /// the source have been handed over while the queue takes them (NetDev.Testing's <c>Pump</c>). Rounds
    /// go on at most for a full system queue (<see cref="NetDevice.TxQueueLength"/> frames), so that a
    /// sender that never stops cannot keep the caller waiting.
    /// </summary>
    internal void Pump()
    {
        if (_source is null)
        {
            return;
        }
        if (_inline is not null)
        {
            Serve(retry: true);
            return;
        }
        Volatile.Write(ref _wakeRequested, 1);
        _ = Run(() =>
        {
            var rounds = _device.TxQueueLength / RoundBudget + 2;
            while (!_stopping && Round() && --rounds > 0)
            {
            }
        });
    }

    private bool RunInline(Action action, TimeSpan? timeout)
    {
        var done = true;
        if (Monitor.TryEnter(_gate))
        {
            try
            {
                action();
                RunRequests();
            }
            finally
            {
                Monitor.Exit(_gate);
            }
        }
        else
        {
            // Another thread serves the queue: it runs the request between rounds, or while it waits for a
            // lock this thread may hold; if it has left meanwhile, this thread takes the gate and runs it.
            ControlRequest request;
            lock (_requestsLock)
            {
                request = Enqueue(action);
            }
            // Real time, not the device's clock: this bounds a thread stuck in a driver call, and a test's clock may stand still.
            var deadline = timeout is { } limit ? Environment.TickCount64 + (long)limit.TotalMilliseconds : long.MaxValue;
            while (!request.IsDone && Environment.TickCount64 < deadline)
            {
                if (Monitor.TryEnter(_gate, HelpInterval))
                {
                    try
                    {
                        RunRequests();
                    }
                    finally
                    {
                        Monitor.Exit(_gate);
                    }
                }
            }
            done = request.Wait(TimeSpan.Zero);
        }
        // A serve asked for while the action held the gate was left to the gate's holder: us.
        if (Volatile.Read(ref _serveRequested) == 1)
        {
            Serve(retry: false);
        }
        return done;
    }

    private static readonly TimeSpan HelpInterval = TimeSpan.FromMilliseconds(1);

    /// <summary>Queues a request. Caller holds <c>_requestsLock</c>.</summary>
    private ControlRequest Enqueue(Action action)
    {
        var request = new ControlRequest(action);
        _requests.Enqueue(request);
        _requestsWaiting = true;
        return request;
    }

    /// <summary>An action to run on the queue's thread, and the caller waiting for it.</summary>
    private sealed class ControlRequest(Action action)
    {
        private readonly ManualResetEventSlim _done = new();
        private ExceptionDispatchInfo? _error;

        internal bool IsDone => _done.IsSet;

        internal void Execute()
        {
            try
            {
                action();
            }
            catch (Exception error)
            {
                _error = ExceptionDispatchInfo.Capture(error);
            }
            finally
            {
                _done.Set();
            }
        }

        /// <summary>Waits (at most <paramref name="timeout"/>) and rethrows the action's exception; false when it has not run yet.</summary>
        internal bool Wait(TimeSpan? timeout)
        {
            if (!_done.Wait(timeout ?? Timeout.InfiniteTimeSpan))
            {
                return false;
            }
            _error?.Throw();
            return true;
        }
    }
}
