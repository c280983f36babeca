using System.Runtime.ExceptionServices;

namespace NetDev.Testing;

/// <summary>
/// The dedicated thread of one queue in a threaded <see cref="TestHost"/>: it runs control actions and
/// serves the queue (hands it the frames waiting in the kernel queue) whenever asked to.
/// </summary>
/// <remarks><b>Invariants.</b> <c>_requests</c>, <c>_serveRequested</c>, <c>_stopping</c> and <c>_ended</c>
/// are read and written under <c>_lock</c>. Once <c>_ended</c> is set no request is queued any more;
/// every queued request is run, by the thread or, after its end, inline by the requester.</remarks>
internal sealed class QueueWorker(string name, SkBuffPool txPool, Action serve, Action<Exception> report) : IDisposable
{
    private readonly object _lock = new();
    private readonly Queue<Request> _requests = new();
    private Thread? _thread;
    private bool _serveRequested;
    private bool _stopping;
    private bool _ended;

    public void Start()
    {
        var thread = new Thread(Loop) { IsBackground = true, Name = name };
        lock (_lock)
        {
            _thread = thread;
        }
        thread.Start();
    }

    /// <summary>Runs <paramref name="action"/> on the thread and waits; inline on the thread itself or once it ended.</summary>
    public void Run(Action action)
    {
        Request? request = null;
        lock (_lock)
        {
            if (_thread is not null && !_ended && Thread.CurrentThread != _thread)
            {
                request = new Request(action);
                _requests.Enqueue(request);
                Monitor.Pulse(_lock);
            }
        }
        if (request is null)
        {
            action();
            return;
        }
        request.Wait();
    }

    /// <summary>Asks the thread to serve the queue soon; does nothing once it ended.</summary>
    public void RequestServe()
    {
        lock (_lock)
        {
            _serveRequested = true;
            Monitor.Pulse(_lock);
        }
    }

    /// <summary>Ends the thread after the requests queued so far, and waits for it (unless called on it).</summary>
    public void Dispose()
    {
        Thread? thread;
        lock (_lock)
        {
            _stopping = true;
            thread = _thread;
            Monitor.Pulse(_lock);
        }
        if (thread is not null && thread != Thread.CurrentThread)
        {
            thread.Join();
        }
    }

    private void Loop()
    {
        // As the Linux host does: the queue's thread owns the transmit pool, so renting takes no lock.
        txPool.BindToCurrentThread();
        try
        {
            while (true)
            {
                Request? request = null;
                lock (_lock)
                {
                    while (_requests.Count == 0 && !_serveRequested && !_stopping)
                    {
                        Monitor.Wait(_lock);
                    }
                    if (_requests.Count > 0)
                    {
                        request = _requests.Dequeue();
                    }
                    else if (_stopping)
                    {
                        return;
                    }
                    else
                    {
                        _serveRequested = false;
                    }
                }
                if (request is not null)
                {
                    request.Execute();
                    continue;
                }
                try
                {
                    serve();
                }
                catch (Exception error)
                {
                    // The host's own failure: reported to the device like a Linux host's loop failure, and the loop goes on.
                    report(error);
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _ended = true;
            }
            while (true)
            {
                Request? request;
                lock (_lock)
                {
                    if (!_requests.TryDequeue(out request))
                    {
                        break;
                    }
                }
                request.Execute();
            }
        }
    }

    /// <summary>An action to run on the thread, and the caller waiting for it.</summary>
    private sealed class Request(Action action)
    {
        private readonly ManualResetEventSlim _done = new();
        private ExceptionDispatchInfo? _error;

        public void Execute()
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

        public void Wait()
        {
            _done.Wait();
            _done.Dispose();
            _error?.Throw();
        }
    }
}
