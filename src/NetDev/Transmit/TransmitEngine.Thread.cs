using System.Runtime.ExceptionServices;
using NetDev.Hosting;

namespace NetDev.Transmit;

// Who runs the rounds: the engine's own dedicated thread, or (inline, NetDev.Testing's deterministic
// mode) the threads of the calls that cause them, one at a time under the gate.
internal sealed partial class TransmitEngine
{
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

    /// <summary>
    /// Runs <paramref name="action"/> on the queue's thread between rounds and waits for it (its exception is
    /// rethrown here); inline on the queue's own thread, before the engine started and after it ended.
    /// </summary>
    internal void Run(Action action)
    {
        if (_inline is not null)
        {
            RunInline(action);
            return;
        }
        ControlRequest? request = null;
        lock (_requestsLock)
        {
            if (_thread is not null && !_ended && Thread.CurrentThread != _thread)
            {
                request = new ControlRequest(action);
                _requests.Enqueue(request);
                _requestsWaiting = true;
            }
        }
        if (request is null)
        {
            action();
            return;
        }
        _source!.Wake();
        request.Wait();
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
            if (thread != Thread.CurrentThread)
            {
                thread.Join();
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
        try
        {
            source.Start(pool);
            while (true)
            {
                RunRequests();
                if (_stopping)
                {
                    break;
                }
                Round();
                source.Wait(IsAccepting && !_sourceFailed, NextDelay());
            }
        }
        catch (Exception error)
        {
            _device.ReportError(new InvalidOperationException($"The transmit loop of {_device.Name} queue {_queue.Index} failed: {error.Message}", error));
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
                inline.EnterServe();
                try
                {
                    while (Interlocked.Exchange(ref _serveRequested, 0) == 1 && !_stopping)
                    {
                        Round();
                    }
                    inline.Schedule(NextDelay());
                }
                finally
                {
                    inline.ExitServe();
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
    /// Serves the queue now, the refused frame offered again first, and returns once that round is done
    /// (NetDev.Testing's <c>Pump</c>).
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
        Run(() =>
        {
            if (!_stopping)
            {
                Round();
            }
        });
    }

    private void RunInline(Action action)
    {
        lock (_gate)
        {
            action();
        }
        // A serve asked for while the action held the gate was left to the gate's holder: us.
        if (Volatile.Read(ref _serveRequested) == 1)
        {
            Serve(retry: false);
        }
    }

    /// <summary>An action to run on the queue's thread, and the caller waiting for it.</summary>
    private sealed class ControlRequest(Action action)
    {
        private readonly ManualResetEventSlim _done = new();
        private ExceptionDispatchInfo? _error;

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

        internal void Wait()
        {
            _done.Wait();
            _done.Dispose();
            _error?.Throw();
        }
    }
}

/// <summary>
/// A source whose queue is served on the threads of the calls that feed it rather than on a thread of its
/// own: NetDev.Testing's deterministic mode, where a test sees a frame's outcome when its call returns.
/// </summary>
internal interface IInlineTransmitSource : ITransmitSource
{
    /// <summary>The engine to call <see cref="TransmitEngine.Serve"/> on when frames arrive, timers fire or the queue is woken.</summary>
    void Attach(TransmitEngine engine);

    /// <summary>After each round: calls <see cref="TransmitEngine.Serve"/> with a retry after <paramref name="delay"/> (null: no timer).</summary>
    void Schedule(TimeSpan? delay);

    /// <summary>A round of serving begins on this thread (under the engine's gate).</summary>
    void EnterServe() { }

    /// <summary>That round of serving ended.</summary>
    void ExitServe() { }
}
