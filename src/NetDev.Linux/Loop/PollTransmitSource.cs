using System.Buffers.Binary;
using NetDev.Hosting;

namespace NetDev.Linux.Loop;

/// <summary>
/// One TAP queue as a frame source with <c>poll</c> and one <c>read</c> per frame: waits on the TAP and a
/// wake eventfd, reads frames straight into pooled buffers.
/// </summary>
/// <remarks>
/// <para>It reads one frame ahead, so the engine can tell the driver whether another follows
/// (<c>XmitMore</c>): the read that finds the queue empty is made anyway. The frame read ahead is still the
/// system's until it is taken, like the frames behind it in the TAP's ring.</para>
/// <para><b>Invariants.</b> From <see cref="Start"/> to <see cref="Dispose"/> the source holds one reference on
/// the TAP and wake descriptors (<see cref="System.Runtime.InteropServices.SafeHandle.DangerousAddRef"/>), so
/// the raw values it polls and reads stay open even if the link is disposed meanwhile. <c>_next</c> is a live
/// frame the source owns exactly while <c>_hasNext</c>; <c>_spare</c> likewise while <c>_hasSpare</c>. Used by
/// the queue's thread only, but for <see cref="Wake"/>.</para>
/// </remarks>
internal sealed class PollTransmitSource : ITransmitSource
{
    private readonly SafeFileDescriptor _tap;
    private readonly WakeSignal _wake;
    private readonly string _device;
    private readonly int _queueIndex;
    private readonly bool _virtioNetHeader;
    private SkBuffPool? _pool;
    private bool _tapReferenced;
    private bool _wakeReferenced;
    private int _tapFd = -1;
    private int _wakeFd = -1;
    private bool _tapUsable = true;
    private NetDevException? _failure;
    private SkBuff _next;
    private bool _hasNext;
    private SkBuff _spare;
    private bool _hasSpare;

    /// <summary>A source over TAP queue <paramref name="queueIndex"/>'s descriptor; it owns <paramref name="wake"/>, not <paramref name="tap"/>.</summary>
    internal PollTransmitSource(SafeFileDescriptor tap, WakeSignal wake, string device, int queueIndex, bool virtioNetHeader)
    {
        _tap = tap;
        _wake = wake;
        _device = device;
        _queueIndex = queueIndex;
        _virtioNetHeader = virtioNetHeader;
    }

    public void Start(SkBuffPool pool)
    {
        _pool = pool;
        _tapFd = _tap.Hold(ref _tapReferenced);
        _wakeFd = _wake.Descriptor.Hold(ref _wakeReferenced);
    }

    public bool TryRead(out SkBuff skb, out bool more)
    {
        if (!_hasNext && !ReadOne(out _next))
        {
            skb = default;
            more = false;
            if (_failure is { } failure)
            {
                _failure = null;
                throw failure;
            }
            return false;
        }
        skb = _next;
        _hasNext = ReadOne(out _next);
        more = _hasNext;
        return true;
    }

    public unsafe void Wait(bool wantFrames, TimeSpan? delay)
    {
        if (wantFrames && (_hasNext || _failure is not null))
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
            throw Interop.Errors.LastException("poll", _device);
        }
        if ((fds[1].ReturnedEvents & Interop.POLLIN) != 0)
        {
            _wake.Clear(_wakeFd);
        }
        if (_tapUsable && (fds[0].ReturnedEvents & (Interop.POLLERR | Interop.POLLHUP | Interop.POLLNVAL)) != 0)
        {
            // A TAP queue polls as an error only once its interface is gone (tun_chr_poll without a tun).
            _tapUsable = false;
            _failure = Deleted($"poll TAP queue {_queueIndex}", _device);
        }
    }

    public void Wake() => _wake.Signal();

    /// <summary>On the queue's thread once it ends: the frame read ahead is dropped, the spare buffer returned, the references released.</summary>
    public void Dispose()
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
        _wake.Descriptor.ReleaseHold(ref _wakeReferenced);
        _tap.ReleaseHold(ref _tapReferenced);
        _wake.Dispose();
        // The queue's thread ends now; a pair-like driver wrote batches from it to its peer.
        IoUringWriter.ReleaseCurrentThread();
    }

    /// <summary>
    /// What a TAP queue whose interface was deleted under it says (someone's <c>ip link del</c>, or its
    /// namespace destroyed): ENODEV, as the link monitor reports the same event, so an owner recognises one
    /// condition whichever thread noticed it first.
    /// </summary>
    internal static NetDevException Deleted(string operation, string device) =>
        new(Errno.ENODEV, operation, device, "the interface was deleted by someone else");

    /// <summary>A poll timeout: the delay rounded up to whole milliseconds, −1 for none.</summary>
    internal static int Milliseconds(TimeSpan? delay) =>
        delay is { } value ? (int)Math.Min(int.MaxValue, Math.Ceiling(value.TotalMilliseconds)) : -1;

    /// <summary>Reads one frame if the TAP has one; false when it has none or failed for good (then <c>_failure</c> says why).</summary>
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
            if (_virtioNetHeader)
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
                        // EBADFD: the queue is detached, its interface gone; anything else is as final.
                        _tapUsable = false;
                        _failure = errno == Errno.EBADFD
                            ? Deleted($"read TAP queue {_queueIndex}", _device)
                            : Interop.Errors.Exception(errno, $"read TAP queue {_queueIndex}", _device);
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
