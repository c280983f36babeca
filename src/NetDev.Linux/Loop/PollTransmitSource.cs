using System.Buffers.Binary;

namespace NetDev.Linux.Loop;

/// <summary>
/// One TAP queue as a frame source with <c>poll</c> and one <c>read</c> per frame: waits on the TAP and a
/// wake eventfd, reads frames straight into pooled buffers.
/// </summary>
/// <remarks>
/// <para>It reads one frame ahead, so the engine can tell the driver whether another follows
/// (<c>XmitMore</c>): the read that finds the queue empty is made anyway. The frame read ahead is still the
/// system's until it is taken, like the frames behind it in the TAP's ring.</para>
/// <para><b>Invariants.</b> <c>_next</c> is a live frame the source owns exactly while <c>_hasNext</c>;
/// <c>_spare</c> likewise while <c>_hasSpare</c>. The raw descriptors are valid from <see cref="Started"/> on,
/// while the base class holds its references.</para>
/// </remarks>
internal sealed class PollTransmitSource(SafeFileDescriptor tap, WakeSignal wake, string device, int queueIndex, bool virtioNetHeader)
    : TapTransmitSource(tap, wake, device, queueIndex)
{
    private SkBuffPool? _pool;
    private int _tapFd = -1;
    private int _wakeFd = -1;
    private bool _tapUsable = true;
    private SkBuff _next;
    private bool _hasNext;
    private SkBuff _spare;
    private bool _hasSpare;

    protected override void Started(SkBuffPool pool, int tapFd, int wakeFd)
    {
        _pool = pool;
        // The frame read ahead and the spare buffer are this source's working size, not a surplus to shrink.
        pool.Reserve(2);
        _tapFd = tapFd;
        _wakeFd = wakeFd;
    }

    public override bool TryRead(out SkBuff skb, out bool more)
    {
        if (!_hasNext && !ReadOne(out _next))
        {
            return NoFrame(out skb, out more);
        }
        skb = _next;
        _hasNext = ReadOne(out _next);
        more = _hasNext;
        return true;
    }

    public override unsafe void Wait(bool wantFrames, TimeSpan? delay)
    {
        if (wantFrames && (_hasNext || Failure is not null))
        {
            return;
        }
        var reading = wantFrames && _tapUsable;
        var fds = stackalloc Interop.PollFd[2];
        fds[0] = new Interop.PollFd { Fd = _tapFd, Events = reading ? Interop.POLLIN : (short)0 };
        fds[1] = new Interop.PollFd { Fd = _wakeFd, Events = Interop.POLLIN };
        // SAFETY: fds points at two PollFd on this stack frame; poll reads and writes exactly those two.
        if (Interop.Poll(fds, 2, Milliseconds(delay)) < 0)
        {
            if (Interop.Errors.LastErrno == Errno.EINTR)
            {
                return;
            }
            throw Interop.Errors.LastException("poll", Device);
        }
        if ((fds[1].ReturnedEvents & Interop.POLLIN) != 0)
        {
            WakeSignal.Clear(_wakeFd);
        }
        if (_tapUsable && (fds[0].ReturnedEvents & (Interop.POLLERR | Interop.POLLHUP | Interop.POLLNVAL)) != 0)
        {
            _tapUsable = false;
            Failure = new NetDevException(Errno.EIO, $"poll TAP queue {QueueIndex}", Device,
                "the TAP queue reports an error; was the interface deleted?");
        }
    }

    /// <summary>The frame read ahead is dropped, the spare buffer returned.</summary>
    protected override void Stopped()
    {
        if (_hasNext)
        {
            _hasNext = false;
            _next.Drop(DropReason.DeviceDown);
        }
        if (_hasSpare)
        {
            _hasSpare = false;
            _pool!.Return(_spare);
        }
    }

    /// <summary>A poll timeout: the delay rounded up to whole milliseconds, −1 for none.</summary>
    internal static int Milliseconds(TimeSpan? delay) =>
        delay is { } value ? (int)Math.Min(int.MaxValue, Math.Ceiling(value.TotalMilliseconds)) : -1;

    /// <summary>Reads one frame if the TAP has one; false when it has none or failed for good (then <c>Failure</c> says why).</summary>
    private unsafe bool ReadOne(out SkBuff frame)
    {
        frame = default;
        if (!_tapUsable)
        {
            return false;
        }
        var header = stackalloc byte[Tap.VirtioNetHeader.Length];
        var vectors = stackalloc Interop.IoVec[2];
        while (true)
        {
            if (!_hasSpare)
            {
                _spare = _pool!.Rent();
                _hasSpare = true;
            }
            var room = _spare.TailroomSpan;
            nint read;
            if (virtioNetHeader)
            {
                // SAFETY: header is on this stack frame and room lies in the pinned buffer of a live SkBuff this
                // source owns; readv writes at most the two lengths given, the header first, the frame in place.
                fixed (byte* buffer = room)
                {
                    vectors[0] = new Interop.IoVec { Base = header, Length = Tap.VirtioNetHeader.Length };
                    vectors[1] = new Interop.IoVec { Base = buffer, Length = (nuint)room.Length };
                    read = Interop.ReadV(_tapFd, vectors, 2);
                }
                if (read >= Tap.VirtioNetHeader.Length)
                {
                    read -= Tap.VirtioNetHeader.Length;
                    _spare.Offload = Tap.VirtioNetHeader.Read(new ReadOnlySpan<byte>(header, Tap.VirtioNetHeader.Length));
                }
            }
            else
            {
                // SAFETY: room lies in the pinned buffer of a live SkBuff this source owns; read writes at most room.Length bytes.
                fixed (byte* buffer = room)
                {
                    read = Interop.Read(_tapFd, buffer, (nuint)room.Length);
                }
            }
            if (read < 0)
            {
                var errno = Interop.Errors.LastErrno;
                switch (errno)
                {
                    case Errno.EAGAIN:
                        return false;
                    case Errno.EINTR:
                        continue;
                    default:
                        // EBADFD, EIO: the interface is gone; anything else is as final.
                        _tapUsable = false;
                        Failure = Interop.Errors.Exception(errno, $"read TAP queue {QueueIndex}", Device);
                        return false;
                }
            }
            frame = _spare;
            _hasSpare = false;
            frame.Put((int)read);
            if (read >= NetDevice.EthernetHeaderLength)
            {
                frame.Protocol = BinaryPrimitives.ReadUInt16BigEndian(frame.Data[12..]);
            }
            return true;
        }
    }
}
