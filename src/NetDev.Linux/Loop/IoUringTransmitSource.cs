namespace NetDev.Linux.Loop;

/// <summary>
/// One TAP queue as a frame source through io_uring (<see cref="IoUringReader"/>): one multishot read fills
/// many pooled buffers, and one <c>io_uring_enter</c> hands back the buffers used, collects the frames and
/// waits for them, a wake-up or the next timer.
/// </summary>
/// <remarks>
/// <para>Buffers go to the kernel only while the engine wants frames; the ones the kernel already has may
/// still fill, and their frames wait in order in the reader until the queue takes frames again.</para>
/// <para><b>Invariants.</b> The ring has the TAP and wake descriptors registered only while the base class
/// holds its references on them (from <see cref="TapTransmitSource.Start"/> to the end of <see cref="Stopped"/>).</para>
/// </remarks>
internal sealed class IoUringTransmitSource(SafeFileDescriptor tap, WakeSignal wake, IoUringReader reader, string device, int queueIndex)
    : TapTransmitSource(tap, wake, device, queueIndex)
{
    private bool _started;
    private bool _tapUsable = true;

    protected override void Started(SkBuffPool pool, int tapFd, int wakeFd)
    {
        _started = true;
        reader.Start(tapFd, wakeFd, pool);
    }

    public override bool TryRead(out SkBuff skb, out bool more)
    {
        if (!reader.HasReadyFrame)
        {
            return NoFrame(out skb, out more);
        }
        skb = reader.TakeReadyFrame();
        more = reader.HasReadyFrame;
        return true;
    }

    public override void Wait(bool wantFrames, TimeSpan? delay)
    {
        if (wantFrames)
        {
            if (reader.HasReadyFrame || Failure is not null)
            {
                return;
            }
            if (_tapUsable)
            {
                reader.ArmReads();
            }
        }
        reader.Wait(PollTransmitSource.Milliseconds(delay));
        var tapError = reader.Reap();
        if (tapError != 0 && _tapUsable)
        {
            _tapUsable = false;
            Failure = tapError == Errno.EBADFD
                ? Deleted($"read TAP queue {QueueIndex}", Device)
                : Interop.Errors.Exception(tapError, $"read TAP queue {QueueIndex}", Device);
        }
    }

    /// <summary>
    /// Cancels the reads, drops the frames read but not taken, takes the buffers back and closes the ring;
    /// throws when the kernel did not give the buffers back in time (they then stay out of the pool, and its
    /// leak report names them).
    /// </summary>
    protected override void Stopped()
    {
        var returned = !_started || reader.CancelAll();
        reader.Dispose();
        if (!returned)
        {
            throw new NetDevException(Errno.EBUSY, $"cancel io_uring reads of TAP queue {QueueIndex}", Device,
                "the kernel did not give the read buffers back; they stay out of the pool");
        }
    }
}
