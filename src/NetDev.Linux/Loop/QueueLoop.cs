using System.Buffers.Binary;
using NetDev.Hosting;

namespace NetDev.Linux.Loop;

/// <summary>
/// The dedicated thread of one TAP queue: waits for frames the kernel transmits on the queue and for
/// wake-ups, reads frames straight into pooled buffers and hands them to the queue.
/// </summary>
/// <remarks>
/// <para>Two ways of reading, chosen when the loop is made (<see cref="IoMode"/>): <c>poll</c> on the TAP
/// and wake descriptors, then one <c>read</c> per frame; or io_uring (<see cref="IoUringReader"/>), where
/// one multishot read fills many pooled buffers and one system call hands buffers back, collects the
/// frames and waits.</para>
/// <para>The loop reads only while <see cref="DeviceQueue.IsAcceptingFrames"/>: while the device is down,
/// the queue stopped or a refused frame waits, frames stay in the kernel's queue, which backs up and
/// counts its own drops (with io_uring, after the few buffers the kernel already holds have filled; those
/// frames wait in order in the reader). Control actions (<see cref="Run"/>) run on this thread between batches, so
/// per-queue state needs no lock.</para>
/// <para><b>Invariants.</b> From the start of <see cref="Loop"/> to its end the loop holds a reference
/// on the TAP and wake descriptors (<see cref="System.Runtime.InteropServices.SafeHandle.DangerousAddRef"/>),
/// so the raw values it polls and reads stay open even if the link is disposed meanwhile. After
/// <c>_ended</c> is set (under <c>_controlLock</c>) no request is queued any more; queued requests
/// are always run, by the loop or, after its end, inline by the requester.</para>
/// </remarks>
internal sealed class QueueLoop : IDisposable
{
    private const int Budget = 64;
    private const int RetryIntervalMilliseconds = 1;

    private readonly DeviceQueue _queue;
    private readonly SafeFileDescriptor _tap;
    private readonly WakeSignal _wake;
    private readonly ILinkEvents _events;
    private readonly string _device;
    private readonly bool _virtioNetHeader;
    private readonly IoUringReader? _reader;
    private readonly object _controlLock = new();
    private readonly Queue<ControlRequest> _requests = new();
    private Thread? _thread;
    private volatile bool _stopping;
    // Poll mode reads one frame ahead, so the driver learns whether another follows (XmitMore). The frame
    // read ahead waits here while the queue does not take frames; only the loop's thread touches it.
    private SkBuff _held;
    private bool _holding;
    private bool _ended;

    /// <summary>A loop for <paramref name="queue"/>; with a <paramref name="reader"/> it reads through io_uring and owns the reader, without one it polls.</summary>
    internal QueueLoop(DeviceQueue queue, SafeFileDescriptor tap, WakeSignal wake, ILinkEvents events, string device, bool virtioNetHeader,
        IoUringReader? reader)
    {
        _reader = reader;
        _virtioNetHeader = virtioNetHeader;
        _queue = queue;
        _tap = tap;
        _wake = wake;
        _events = events;
        _device = device;
    }

    internal void Start()
    {
        var thread = new Thread(Loop)
        {
            IsBackground = true,
            Name = $"netdev {_device} q{_queue.Index}",
        };
        lock (_controlLock)
        {
            _thread = thread;
        }
        thread.Start();
    }

    /// <summary>Runs <paramref name="action"/> on the loop's thread and waits; inline when the loop is not running.</summary>
    internal void Run(Action action)
    {
        ControlRequest? request = null;
        lock (_controlLock)
        {
            if (_thread is not null && !_ended && Thread.CurrentThread != _thread)
            {
                request = new ControlRequest(action);
                _requests.Enqueue(request);
            }
        }
        if (request is null)
        {
            action();
            return;
        }
        _wake.Signal();
        request.Wait();
    }

    internal void Notify() => _wake.Signal();

    /// <summary>Ends the loop and waits for its thread (unless called from it).</summary>
    public void Dispose()
    {
        _stopping = true;
        _wake.Signal();
        var thread = _thread;
        if (thread is not null && thread != Thread.CurrentThread)
        {
            thread.Join();
        }
        if (thread is null)
        {
            // Never started: no request is in the ring, so it can simply be closed.
            _reader?.Dispose();
        }
    }

    private void Loop()
    {
        var pool = _queue.TxPool;
        pool.BindToCurrentThread();
        bool tapReferenced = false, wakeReferenced = false;
        try
        {
            _tap.DangerousAddRef(ref tapReferenced);
            _wake.Descriptor.DangerousAddRef(ref wakeReferenced);
            if (_reader is { } reader)
            {
                RingLoop(reader, pool);
            }
            else
            {
                PollLoop(pool);
            }
        }
        catch (Exception error)
        {
            _events.OnHostError(error);
        }
        finally
        {
            EndRequests();
            if (wakeReferenced)
            {
                _wake.Descriptor.DangerousRelease();
            }
            if (tapReferenced)
            {
                _tap.DangerousRelease();
            }
        }
    }

    private unsafe void PollLoop(SkBuffPool pool)
    {
        var spare = default(SkBuff);
        var hasSpare = false;
        try
        {
            var tapFd = _tap.Fd;
            var wakeFd = _wake.Descriptor.Fd;
            var tapUsable = true;
            var fds = stackalloc Interop.PollFd[2];
            while (true)
            {
                RunRequests();
                if (_stopping)
                {
                    break;
                }
                _queue.CheckWatchdog();
                _queue.RetryPending();
                HandOnHeld();
                var reading = tapUsable && !_holding && _queue.IsAcceptingFrames;
                var timeout = PollTimeout();
                fds[0] = new Interop.PollFd { Fd = tapFd, Events = reading ? Interop.POLLIN : (short)0 };
                fds[1] = new Interop.PollFd { Fd = wakeFd, Events = Interop.POLLIN };
                // SAFETY: fds points at two PollFd on this stack frame; poll reads and writes exactly those two.
                if (Interop.Poll(fds, 2, timeout) < 0)
                {
                    if (Interop.Errors.LastErrno == Errno.EINTR)
                    {
                        continue;
                    }
                    throw Interop.Errors.LastException("poll", _device);
                }
                if ((fds[1].ReturnedEvents & Interop.POLLIN) != 0)
                {
                    _wake.Clear(wakeFd);
                }
                if (tapUsable && (fds[0].ReturnedEvents & (Interop.POLLERR | Interop.POLLHUP | Interop.POLLNVAL)) != 0)
                {
                    tapUsable = false;
                    ReportTapGone();
                    continue;
                }
                if (reading && (fds[0].ReturnedEvents & Interop.POLLIN) != 0)
                {
                    try
                    {
                        tapUsable = ReadBatch(tapFd, pool, ref spare, ref hasSpare);
                    }
                    finally
                    {
                        // The batch's last frame goes as soon as the batch ends, not after the next wait.
                        HandOnHeld();
                    }
                }
            }
        }
        finally
        {
            if (hasSpare)
            {
                pool.Return(spare);
            }
            if (_holding)
            {
                _holding = false;
                _held.Drop(DropReason.DeviceDown);
            }
        }
    }

    /// <summary>
    /// Hands the frame read ahead to the queue, as the last of its batch, once the queue takes frames
    /// again; a disabled queue (device down) drops it itself.
    /// </summary>
    private void HandOnHeld()
    {
        if (_holding && !_queue.IsStopped && !_queue.HasPendingFrame)
        {
            _holding = false;
            _queue.Transmit(_held, more: false);
        }
    }

    /// <summary>
    /// The io_uring loop: hands on the frames read, re-arms the reads while the queue accepts frames, then
    /// submits and waits in one call for frames, a wake-up or the next timer (retry, watchdog).
    /// </summary>
    private void RingLoop(IoUringReader reader, SkBuffPool pool)
    {
        var returned = false;
        try
        {
            reader.Start(_tap.Fd, _wake.Descriptor.Fd, pool);
            var tapUsable = true;
            while (true)
            {
                RunRequests();
                if (_stopping)
                {
                    break;
                }
                _queue.CheckWatchdog();
                _queue.RetryPending();
                // Frames read before the queue stopped or refused one wait in the reader, in order, rather than
                // being parked and dropped; a disabled queue (device down) drops them itself, as frames read late.
                while (reader.HasReadyFrame && !_queue.IsStopped && !_queue.HasPendingFrame)
                {
                    var frame = reader.TakeReadyFrame();
                    _queue.Transmit(frame, more: reader.HasReadyFrame);
                }
                if (tapUsable && _queue.IsAcceptingFrames)
                {
                    reader.ArmReads();
                }
                reader.Wait(PollTimeout());
                var tapError = reader.Reap();
                if (tapError != 0 && tapUsable)
                {
                    tapUsable = false;
                    _events.OnHostError(Interop.Errors.Exception(tapError, $"read TAP queue {_queue.Index}", _device));
                }
            }
        }
        finally
        {
            returned = reader.CancelAll();
            reader.Dispose();
            if (!returned)
            {
                _events.OnHostError(new NetDevException(Errno.EBUSY, $"cancel io_uring reads of TAP queue {_queue.Index}", _device,
                    "the kernel did not give the read buffers back; they stay out of the pool"));
            }
        }
    }

    private void ReportTapGone() =>
        _events.OnHostError(new NetDevException(Errno.EIO, $"poll TAP queue {_queue.Index}", _device,
            "the TAP queue reports an error; was the interface deleted?"));

    /// <summary>How long poll may sleep: until a refused frame is due for a retry or the watchdog is due, else forever.</summary>
    private int PollTimeout()
    {
        var timeout = _queue.HasPendingFrame && !_queue.IsStopped ? RetryIntervalMilliseconds : -1;
        if (_queue.WatchdogDelay is { } delay)
        {
            var milliseconds = (int)Math.Min(int.MaxValue, Math.Ceiling(delay.TotalMilliseconds));
            timeout = timeout < 0 ? milliseconds : Math.Min(timeout, milliseconds);
        }
        return timeout;
    }

    /// <summary>
    /// Reads up to <see cref="Budget"/> frames, each handed to the queue once the next one is read (or the
    /// batch ends, in <see cref="HandOnHeld"/>); returns false when the queue's descriptor failed for good.
    /// </summary>
    private unsafe bool ReadBatch(int tapFd, SkBuffPool pool, ref SkBuff spare, ref bool hasSpare)
    {
        var header = stackalloc byte[Tap.VirtioNetHeader.Length];
        var vectors = stackalloc Interop.IoVec[2];
        for (var i = 0; i < Budget && _queue.IsAcceptingFrames; i++)
        {
            if (!hasSpare)
            {
                spare = pool.Rent();
                hasSpare = true;
            }
            var room = spare.TailroomSpan;
            nint read;
            if (_virtioNetHeader)
            {
                // SAFETY: header is on this stack frame and room lies in the pinned buffer of a live SkBuff this
                // loop owns; readv writes at most the two lengths given, the header first, the frame in place.
                fixed (byte* buffer = room)
                {
                    vectors[0] = new Interop.IoVec { Base = header, Length = Tap.VirtioNetHeader.Length };
                    vectors[1] = new Interop.IoVec { Base = buffer, Length = (nuint)room.Length };
                    read = Interop.ReadV(tapFd, vectors, 2);
                }
                if (read >= Tap.VirtioNetHeader.Length)
                {
                    read -= Tap.VirtioNetHeader.Length;
                    spare.Offload = Tap.VirtioNetHeader.Read(new ReadOnlySpan<byte>(header, Tap.VirtioNetHeader.Length));
                }
            }
            else
            {
                // SAFETY: room lies in the pinned buffer of a live SkBuff this loop owns; read writes at most room.Length bytes.
                fixed (byte* buffer = room)
                {
                    read = Interop.Read(tapFd, buffer, (nuint)room.Length);
                }
            }
            if (read < 0)
            {
                var errno = Interop.Errors.LastErrno;
                switch (errno)
                {
                    case Errno.EAGAIN:
                        return true;
                    case Errno.EINTR:
                        continue;
                    case Errno.EBADFD or Errno.EIO:
                        _events.OnHostError(Interop.Errors.Exception(errno, $"read TAP queue {_queue.Index}", _device));
                        return false;
                    default:
                        throw Interop.Errors.Exception(errno, $"read TAP queue {_queue.Index}", _device);
                }
            }
            var frame = spare;
            hasSpare = false;
            frame.Put((int)read);
            if (read >= NetDevice.EthernetHeaderLength)
            {
                frame.Protocol = BinaryPrimitives.ReadUInt16BigEndian(frame.Data[12..]);
            }
            if (_holding)
            {
                // The frame read before this one goes now, with the news that another follows.
                _queue.Transmit(_held, more: true);
            }
            _held = frame;
            _holding = true;
        }
        return true;
    }

    private void RunRequests()
    {
        while (true)
        {
            ControlRequest request;
            lock (_controlLock)
            {
                if (!_requests.TryDequeue(out request!))
                {
                    return;
                }
            }
            request.Execute();
        }
    }

    private void EndRequests()
    {
        lock (_controlLock)
        {
            _ended = true;
        }
        RunRequests();
    }

    /// <summary>An action to run on the loop's thread, and the caller waiting for it.</summary>
    private sealed class ControlRequest(Action action)
    {
        private readonly ManualResetEventSlim _done = new();
        private Exception? _error;

        internal void Execute()
        {
            try
            {
                action();
            }
            catch (Exception error)
            {
                _error = error;
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
            if (_error is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_error);
            }
        }
    }
}
