using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace NetDev.Linux.Loop;

/// <summary>
/// One TAP queue as a frame source with <c>poll</c> and one <c>read</c> per frame: waits on the TAP and a
/// wake eventfd, reads frames into pooled buffers (straight into them when they hold any frame a TAP gives).
/// </summary>
/// <remarks>
/// <para>It reads one frame ahead, so the engine can tell the driver whether another follows
/// (<c>XmitMore</c>): the read that finds the queue empty is made anyway. The frame read ahead is still the
/// system's until it is taken, like the frames behind it in the TAP's ring. A read ahead that found the
/// queue empty is not repeated before the next <c>poll</c>: on a queue that drains after nearly every frame
/// (TCP clocked by its acknowledgements) that saves one <c>read</c> per frame.</para>
/// <para><b>Invariants.</b> <c>_next</c> is a live frame the source owns exactly while <c>_hasNext</c>;
/// <c>_drained</c> is true only between a read ahead that found the queue empty and the next <c>Wait</c>;
/// <c>_spare</c> likewise while <c>_hasSpare</c>, its buffer <c>_spareSize</c> bytes. <c>_landing</c> is made
/// once, pinned, the first time the pool's buffers are smaller than the largest frame, and holds the
/// largest frame with its virtio-net header. The raw descriptors are valid from <see cref="Started"/> on,
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
    private bool _drained;
    private SkBuff _spare;
    private bool _hasSpare;
    private int _spareSize;
    private byte[]? _landing;

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
        if (!_hasNext && (_drained || !ReadOne(out _next)))
        {
            return NoFrame(out skb, out more);
        }
        skb = _next;
        _hasNext = ReadOne(out _next);
        // A read ahead that found the queue empty is the last look until poll: another read right after
        // the driver's call would nearly always find it empty too, and poll sees a frame that came meanwhile.
        _drained = !_hasNext;
        more = _hasNext;
        return true;
    }

    public override unsafe void Wait(bool wantFrames, TimeSpan? delay)
    {
        if (wantFrames && (_hasNext || Failure is not null))
        {
            return;
        }
        _drained = false;
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
    /// One plain <c>read</c> per frame: the kernel's <c>read</c> path costs measurably less than <c>readv</c>'s
    /// (about a tenth of the thread's time for 60-byte frames here), so the virtio-net header lands in the
    /// buffer's headroom, right in front of the frame, rather than in a vector of its own. A TAP read takes a
    /// frame whole or cuts it (and still returns its full length), so the read goes straight into the pooled
    /// buffer only when that buffer holds the largest frame a TAP can give; otherwise (buffers sized for the
    /// MTU) it lands in this source's landing buffer and the frame is copied into a pooled one that fits. So a
    /// frame longer than the pool's buffers (right after someone raised the MTU, before the pools heard of it)
    /// still arrives whole. A spare buffer rented before the pools grew is exchanged first.
    /// </remarks>
    private unsafe bool ReadOne(out SkBuff frame)
    {
        frame = default;
        if (!_tapUsable)
        {
            return false;
        }
        var pool = _pool!;
        var headerLength = virtioNetHeader ? Tap.VirtioNetHeader.Length : 0;
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
            var inPlace = _spareSize >= LargestBuffer;
            if (!inPlace && _landing is null)
            {
                _landing = GC.AllocateUninitializedArray<byte>(headerLength + NetDevice.GsoMaxFrameLength, pinned: true);
            }
            nint read;
            if (inPlace)
            {
                // The header's bytes are pushed onto the empty buffer: they and the tailroom after them are one range.
                _spare.Push(headerLength);
                var room = headerLength + _spare.TailroomSpan.Length;
                // SAFETY: the range starts at the pushed header bytes of a live SkBuff this source owns and runs
                // headerLength + tailroom bytes, to the end of its pinned buffer; read writes at most that many.
                fixed (byte* start = &MemoryMarshal.GetReference(_spare.Data))
                {
                    read = Interop.Read(_tapFd, start, (nuint)room);
                }
            }
            else
            {
                // SAFETY: _landing is a pinned array of this source; read writes at most its length.
                fixed (byte* landing = _landing)
                {
                    read = Interop.Read(_tapFd, landing, (nuint)_landing!.Length);
                }
            }
            if (read < 0)
            {
                var errno = Interop.Errors.LastErrno;
                if (inPlace)
                {
                    _spare.Pull(headerLength);
                }
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
            if (inPlace)
            {
                frame = TakeInPlace((int)read, headerLength);
            }
            else if (!TakeLanded((int)read, headerLength, out frame))
            {
                continue;
            }
            if (frame.Length >= NetDevice.EthernetHeaderLength)
            {
                frame.Protocol = BinaryPrimitives.ReadUInt16BigEndian(frame.Data[12..]);
            }
            return true;
        }
    }

    /// <summary>The spare buffer read into in place becomes the frame, its virtio-net header pulled off and read.</summary>
    private SkBuff TakeInPlace(int read, int headerLength)
    {
        var frame = _spare;
        _hasSpare = false;
        // The pushed header bytes are the frame's first ones now.
        if (read >= headerLength)
        {
            frame.Put(read - headerLength);
            var header = frame.Pull(headerLength);
            if (headerLength > 0)
            {
                frame.Offload = Tap.VirtioNetHeader.Read(header);
            }
        }
        else
        {
            frame.Trim(read);
        }
        return frame;
    }

    /// <summary>
    /// A frame read into the landing buffer, copied into the spare buffer, or, longer than that, into a pooled
    /// buffer that fits (the spare stays the spare). Longer even than the landing buffer (the TAP cut it): the
    /// part read is dropped as <see cref="DropReason.PacketTooBig"/> and false returned.
    /// </summary>
    private bool TakeLanded(int read, int headerLength, out SkBuff frame)
    {
        var landing = _landing!;
        var offload = default(SkBuffOffload);
        var start = 0;
        if (headerLength > 0 && read >= headerLength)
        {
            offload = Tap.VirtioNetHeader.Read(landing.AsSpan(0, headerLength));
            start = headerLength;
        }
        var length = read - start;
        var landed = landing.AsSpan(start, Math.Min(length, landing.Length - start));
        if (landed.Length < length)
        {
            frame = default;
            var cut = _spare;
            _hasSpare = false;
            var kept = Math.Min(landed.Length, cut.Tailroom);
            landed[..kept].CopyTo(cut.Put(kept));
            cut.Drop(DropReason.PacketTooBig);
            return false;
        }
        if (length <= _spare.Tailroom)
        {
            frame = _spare;
            _hasSpare = false;
        }
        else
        {
            frame = _pool!.Rent(_pool.Headroom + length);
        }
        landed.CopyTo(frame.Put(length));
        frame.Offload = offload;
        return true;
    }

    // A buffer of this size holds any frame a TAP gives: then the read goes straight into it.
    private int LargestBuffer => _pool!.Headroom + NetDevice.GsoMaxFrameLength;
}
