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
/// <c>_spare</c> likewise while <c>_hasSpare</c>, its buffer <c>_spareSize</c> bytes. <c>_overflow</c> is made
/// once, pinned, the first time the pool's buffers are smaller than the largest frame. The raw descriptors are valid from <see cref="Started"/> on,
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
    private int _spareSize;
    private byte[]? _overflow;

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
            // A TAP queue polls as an error only once its interface is gone (tun_chr_poll without a tun).
            _tapUsable = false;
            Failure = Deleted($"poll TAP queue {QueueIndex}", Device);
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
    /// <remarks>
    /// A TAP read takes a frame whole or cuts it (and still returns its full length), so unless the pool's
    /// buffers already hold the largest frame a TAP can give, the read has a second place to spill into: a frame
    /// longer than the buffer (right after someone raised the MTU, before the pools heard of it) is then moved
    /// whole into a buffer that fits. A spare buffer rented before the pools grew is exchanged first.
    /// </remarks>
    private unsafe bool ReadOne(out SkBuff frame)
    {
        frame = default;
        if (!_tapUsable)
        {
            return false;
        }
        var pool = _pool!;
        var header = stackalloc byte[Tap.VirtioNetHeader.Length];
        var vectors = stackalloc Interop.IoVec[3];
        while (true)
        {
            if (_hasSpare && _spareSize < pool.BufferSize)
            {
                _hasSpare = false;
                pool.Return(_spare);
            }
            if (!_hasSpare)
            {
                _spare = pool.Rent();
                _spareSize = pool.BufferSize;
                _hasSpare = true;
            }
            if (_spareSize < LargestBuffer && _overflow is null)
            {
                _overflow = GC.AllocateUninitializedArray<byte>(NetDevice.GsoMaxFrameLength, pinned: true);
            }
            var room = _spare.TailroomSpan;
            nint read;
            // SAFETY: header is on this stack frame, room lies in the pinned buffer of a live SkBuff this source owns,
            // and _overflow (when there is one) is a pinned array of this source; readv writes at most the lengths
            // given, in order: the virtio-net header, the frame in place, what does not fit into the overflow.
            fixed (byte* buffer = room)
            fixed (byte* spill = _overflow)
            {
                var count = 0;
                if (virtioNetHeader)
                {
                    vectors[count++] = new Interop.IoVec { Base = header, Length = Tap.VirtioNetHeader.Length };
                }
                vectors[count++] = new Interop.IoVec { Base = buffer, Length = (nuint)room.Length };
                if (spill is not null)
                {
                    vectors[count++] = new Interop.IoVec { Base = spill, Length = (nuint)_overflow!.Length };
                }
                read = Interop.ReadV(_tapFd, vectors, count);
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
                        // EBADFD: the queue is detached, its interface gone; anything else is as final.
                        _tapUsable = false;
                        Failure = errno == Errno.EBADFD
                            ? Deleted($"read TAP queue {QueueIndex}", Device)
                            : Interop.Errors.Exception(errno, $"read TAP queue {QueueIndex}", Device);
                        return false;
                }
            }
            if (virtioNetHeader && read >= Tap.VirtioNetHeader.Length)
            {
                read -= Tap.VirtioNetHeader.Length;
                _spare.Offload = Tap.VirtioNetHeader.Read(new ReadOnlySpan<byte>(header, Tap.VirtioNetHeader.Length));
            }
            var length = (int)read;
            if (length > room.Length)
            {
                if (!TryMoveSpilled(length, room.Length, out frame))
                {
                    continue;
                }
            }
            else
            {
                frame = _spare;
                _hasSpare = false;
                frame.Put(length);
            }
            if (length >= NetDevice.EthernetHeaderLength)
            {
                frame.Protocol = BinaryPrimitives.ReadUInt16BigEndian(frame.Data[12..]);
            }
            return true;
        }
    }

    // A buffer of this size holds any frame a TAP gives: then no read needs a place to spill into.
    private int LargestBuffer => _pool!.Headroom + NetDevice.GsoMaxFrameLength;

    /// <summary>
    /// A frame longer than the spare buffer: moved whole into a buffer that fits (the spare stays the spare), or,
    /// longer even than the overflow could take, dropped as <see cref="DropReason.PacketTooBig"/>.
    /// </summary>
    private bool TryMoveSpilled(int length, int inRoom, out SkBuff frame)
    {
        var spilled = length - inRoom;
        if (_overflow is null || spilled > _overflow.Length)
        {
            frame = default;
            var cut = _spare;
            _hasSpare = false;
            cut.Put(inRoom);
            cut.Drop(DropReason.PacketTooBig);
            return false;
        }
        frame = _pool!.Rent(_pool.Headroom + length);
        var whole = frame.Put(length);
        _spare.TailroomSpan[..inRoom].CopyTo(whole);
        _overflow.AsSpan(0, spilled).CopyTo(whole[inRoom..]);
        frame.Offload = _spare.Offload;
        return true;
    }
}
