using NetDev.Hosting;

namespace NetDev.Linux.Loop;

/// <summary>
/// One TAP queue as a frame source through io_uring (<see cref="IoUringReader"/>): one multishot read fills
/// many pooled buffers, and one <c>io_uring_enter</c> hands back the buffers used, collects the frames and
/// waits for them, a wake-up or the next timer.
/// </summary>
/// <remarks>
/// <para>Buffers go to the kernel only while the engine wants frames; the ones the kernel already has may
/// still fill, and their frames wait in order in the reader until the queue takes frames again.</para>
/// <para><b>Invariants.</b> From <see cref="Start"/> to <see cref="Dispose"/> the source holds one reference
/// on the TAP and wake descriptors, which the ring has registered, so they stay open while the kernel may
/// use them. Used by the queue's thread only, but for <see cref="Wake"/>.</para>
/// </remarks>
internal sealed class IoUringTransmitSource : ITransmitSource
{
    private readonly SafeFileDescriptor _tap;
    private readonly WakeSignal _wake;
    private readonly IoUringReader _reader;
    private readonly string _device;
    private readonly int _queueIndex;
    private bool _tapReferenced;
    private bool _wakeReferenced;
    private bool _started;
    private bool _tapUsable = true;
    private NetDevException? _failure;

    /// <summary>A source over <paramref name="tap"/>; it owns <paramref name="wake"/> and <paramref name="reader"/>, not <paramref name="tap"/>.</summary>
    internal IoUringTransmitSource(SafeFileDescriptor tap, WakeSignal wake, IoUringReader reader, string device, int queueIndex)
    {
        _tap = tap;
        _wake = wake;
        _reader = reader;
        _device = device;
        _queueIndex = queueIndex;
    }

    public void Start(SkBuffPool pool)
    {
        var tapFd = _tap.Hold(ref _tapReferenced);
        var wakeFd = _wake.Descriptor.Hold(ref _wakeReferenced);
        _started = true;
        _reader.Start(tapFd, wakeFd, pool);
    }

    public bool TryRead(out SkBuff skb, out bool more)
    {
        if (_reader.HasReadyFrame)
        {
            skb = _reader.TakeReadyFrame();
            more = _reader.HasReadyFrame;
            return true;
        }
        skb = default;
        more = false;
        if (_failure is { } failure)
        {
            _failure = null;
            throw failure;
        }
        return false;
    }

    public void Wait(bool wantFrames, TimeSpan? delay)
    {
        if (wantFrames)
        {
            if (_reader.HasReadyFrame || _failure is not null)
            {
                return;
            }
            if (_tapUsable)
            {
                _reader.ArmReads();
            }
        }
        _reader.Wait(PollTransmitSource.Milliseconds(delay));
        var tapError = _reader.Reap();
        if (tapError != 0 && _tapUsable)
        {
            _tapUsable = false;
            _failure = tapError == Errno.EBADFD
                ? PollTransmitSource.Deleted($"read TAP queue {_queueIndex}", _device)
                : Interop.Errors.Exception(tapError, $"read TAP queue {_queueIndex}", _device);
        }
    }

    public void Wake() => _wake.Signal();

    /// <summary>
    /// On the queue's thread once it ends: cancels the reads, drops the frames read but not taken, takes the
    /// buffers back and closes the ring; throws when the kernel did not give the buffers back in time (they
    /// then stay out of the pool, and its leak report names them).
    /// </summary>
    public void Dispose()
    {
        var returned = !_started || _reader.CancelAll();
        _reader.Dispose();
        _wake.Descriptor.ReleaseHold(ref _wakeReferenced);
        _tap.ReleaseHold(ref _tapReferenced);
        _wake.Dispose();
        // The queue's thread ends now; a pair-like driver wrote batches from it to its peer.
        IoUringWriter.ReleaseCurrentThread();
        if (!returned)
        {
            throw new NetDevException(Errno.EBUSY, $"cancel io_uring reads of TAP queue {_queueIndex}", _device,
                "the kernel did not give the read buffers back; they stay out of the pool");
        }
    }
}
