using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NetDev.Linux.Loop;

/// <summary>
/// Batched reads of one TAP queue through io_uring: one multishot read (IORING_OP_READ_MULTISHOT) takes
/// frames into buffers of a provided-buffer ring, each buffer the tailroom of a pooled
/// <see cref="SkBuff"/>; a read of the loop's wake eventfd waits beside it; one <c>io_uring_enter</c>
/// hands back the buffers used, re-arms what ended and collects the next completions.
/// </summary>
/// <remarks>
/// <para>One multishot read waits on the descriptor, not one read per buffer: a frame wakes one waiter, not
/// a herd of them. Completions come in the order the kernel handed out the frames and are taken in ring
/// order into a FIFO of ready frames, so frames reach the queue in order. Buffers are given to the kernel
/// only while the queue accepts frames; the ones it already has may still fill, and their frames wait in
/// the FIFO (it holds every buffer) until the queue accepts again. With IFF_VNET_HDR the kernel writes the
/// 10-byte header into the last bytes of the headroom, so the frame starts where a plain read puts it.</para>
/// <para><b>Invariants.</b> Used by the queue's thread only, between <see cref="Start"/> and
/// <see cref="Dispose"/>. <c>_provided[b]</c> is true exactly while buffer <c>b</c> (<c>_buffers[b]</c>, a
/// live frame this reader owns) sits in the kernel's buffer ring; such a frame is neither handed on nor
/// returned until a completion names <c>b</c> or the ring is unregistered. Every other bid is on the
/// <c>_free</c> stack with no frame. Pool memory is pinned and the pool outlives the ring, so addresses
/// given to the kernel stay valid. The native block (buffer ring, wake counter) is freed only once the
/// kernel no longer uses it.</para>
/// </remarks>
internal sealed unsafe class IoUringReader : IDisposable
{
    /// <summary>Buffers in the provided-buffer ring: how many frames the kernel may read ahead.</summary>
    internal const int Buffers = 64;

    private const ulong WakeTag = ulong.MaxValue;
    private const ulong CancelTag = ulong.MaxValue - 1;
    private const ulong ReadTag = 0;
    private const ushort BufferGroup = 0;
    private const int TapFileIndex = 0;
    private const int WakeFileIndex = 1;
    private const int PageSize = 4096;
    private const int TeardownWaitMilliseconds = 100;
    private const int TeardownAttempts = 50;

    private readonly IoUring _ring;
    private SkBuffPool? _pool;
    private readonly bool _virtioNetHeader;
    private readonly string _device;
    private readonly int _queueIndex;
    private readonly SkBuff[] _buffers = new SkBuff[Buffers];
    private readonly bool[] _provided = new bool[Buffers];
    private readonly int[] _free = new int[Buffers];
    private int _freeCount;
    private readonly SkBuff[] _ready = new SkBuff[Buffers];
    private int _readyHead;
    private int _readyCount;
    private ushort _bufferTail;
    private bool _readArmed;
    private bool _wakeArmed;
    private bool _cancelArmed;
    private bool _tearingDown;
    private bool _filesRegistered;
    private bool _bufferRingRegistered;
    private bool _nativeInUse;
    private readonly byte* _native;
    private readonly Interop.IoUringBuf* _bufferRing;
    private readonly ulong* _wakeCounter;

    private IoUringReader(IoUring ring, bool virtioNetHeader, string device, int queueIndex)
    {
        _ring = ring;
        _virtioNetHeader = virtioNetHeader;
        _device = device;
        _queueIndex = queueIndex;
        var ringBytes = (nuint)(Buffers * sizeof(Interop.IoUringBuf));
        var size = ringBytes + sizeof(ulong);
        // SAFETY: one page-aligned block (the kernel wants the buffer ring page-aligned) holds the ring, then the
        // wake counter; both pointers below stay inside its size.
        _native = (byte*)NativeMemory.AlignedAlloc(size, PageSize);
        NativeMemory.Clear(_native, size);
        _bufferRing = (Interop.IoUringBuf*)_native;
        _wakeCounter = (ulong*)(_native + ringBytes);
        for (var bid = Buffers - 1; bid >= 0; bid--)
        {
            _free[_freeCount++] = bid;
        }
    }

    /// <summary>Makes a reader with its own ring; throws <see cref="NetDevException"/> when the kernel refuses io_uring.</summary>
    /// <remarks>Multishot reads need Linux 6.7; older kernels are refused here with EOPNOTSUPP.</remarks>
    internal static IoUringReader Create(bool virtioNetHeader, string device, int queueIndex)
    {
        var ring = IoUring.Create(8, 2 * Buffers, device);
        try
        {
            if (!ring.Supports(Interop.IORING_OP_READ_MULTISHOT))
            {
                throw new NetDevException(Errno.EOPNOTSUPP, "io_uring_register PROBE", device,
                    "the kernel's io_uring has no multishot read (IORING_OP_READ_MULTISHOT, Linux 6.7)");
            }
            return new IoUringReader(ring, virtioNetHeader, device, queueIndex);
        }
        catch
        {
            ring.Dispose();
            throw;
        }
    }

    /// <summary>Whether completed frames wait to be handed on.</summary>
    internal bool HasReadyFrame => _readyCount > 0;

    /// <summary>
    /// On the queue's thread: binds the ring to it, registers the TAP and wake descriptors (held open by the
    /// caller's references) and the buffer ring, and arms the wake read; frames are rented from <paramref name="pool"/>.
    /// </summary>
    internal void Start(int tapFd, int wakeFd, SkBuffPool pool)
    {
        _pool = pool;
        // The buffers the kernel holds are this reader's working size, not a surplus to shrink.
        pool.Reserve(Buffers);
        _ring.EnableOnCurrentThread();
        ReadOnlySpan<int> files = [tapFd, wakeFd];
        _nativeInUse = true;
        _ring.RegisterFiles(files);
        _filesRegistered = true;
        _ring.RegisterBufferRing(_bufferRing, Buffers, BufferGroup);
        _bufferRingRegistered = true;
        ArmWake();
    }

    /// <summary>Takes the oldest completed frame; ownership passes to the caller.</summary>
    internal SkBuff TakeReadyFrame()
    {
        var frame = _ready[_readyHead];
        _ready[_readyHead] = default;
        _readyHead = (_readyHead + 1) % Buffers;
        _readyCount--;
        return frame;
    }

    /// <summary>
    /// Gives every free buffer to the kernel (renting frames from the queue's pool) and arms the
    /// multishot read if it is not waiting. Call only while the queue accepts frames.
    /// </summary>
    internal void ArmReads()
    {
        var pool = _pool!;
        if (_freeCount > 0)
        {
            var headroomUsed = _virtioNetHeader ? Tap.VirtioNetHeader.Length : 0;
            while (_freeCount > 0)
            {
                var bid = _free[--_freeCount];
                var frame = pool.Rent();
                _buffers[bid] = frame;
                _provided[bid] = true;
                if (frame.Headroom < headroomUsed)
                {
                    throw new InvalidOperationException("The pool's headroom cannot hold a virtio_net_hdr.");
                }
                var room = frame.TailroomSpan;
                // SAFETY: room lies in pinned pool memory of a frame this reader keeps until a completion names
                // bid or the buffer ring is gone (see Invariants); with IFF_VNET_HDR the header goes into the last
                // bytes of the headroom (checked just above), still inside that memory.
                var start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(room)) - headroomUsed;
                // SAFETY: the index is masked to the ring's entry count, inside the native block.
                var entry = _bufferRing + (_bufferTail & (Buffers - 1));
                entry->Address = (ulong)start;
                entry->Length = (uint)(room.Length + headroomUsed);
                entry->BufferId = (ushort)bid;
                _bufferTail++;
            }
            // Release: the kernel sees the entries complete before the tail that covers them.
            Volatile.Write(ref *(ushort*)((byte*)_bufferRing + 14), _bufferTail);
        }
        if (!_readArmed)
        {
            var entry = _ring.NextEntry();
            if (entry is null)
            {
                return;
            }
            entry->Opcode = Interop.IORING_OP_READ_MULTISHOT;
            entry->Flags = Interop.IOSQE_FIXED_FILE | Interop.IOSQE_BUFFER_SELECT;
            entry->Fd = TapFileIndex;
            entry->BufferGroup = BufferGroup;
            entry->UserData = ReadTag;
            _readArmed = true;
        }
    }

    /// <summary>Submits what is queued and waits for a completion, at most <paramref name="timeoutMilliseconds"/> (negative: no limit).</summary>
    internal void Wait(int timeoutMilliseconds) => _ring.SubmitAndWait(timeoutMilliseconds);

    /// <summary>
    /// Takes every completion: frames go to the ready FIFO, the wake read is re-armed. Returns 0, or the
    /// errno with which the TAP queue failed for good (EBADFD, EIO: the interface is gone).
    /// </summary>
    internal int Reap()
    {
        var tapError = 0;
        while (_ring.TryTakeCompletion(out var completion))
        {
            switch (completion.UserData)
            {
                case WakeTag:
                    _wakeArmed = false;
                    if (completion.Result < 0 && completion.Result != -Errno.ECANCELED
                        && completion.Result != -Errno.EAGAIN && completion.Result != -Errno.EINTR)
                    {
                        throw Interop.Errors.Exception(-completion.Result, "read wake eventfd", _device);
                    }
                    if (!_tearingDown)
                    {
                        ArmWake();
                    }
                    break;
                case CancelTag:
                    _cancelArmed = false;
                    break;
                default:
                    var error = CompleteRead(completion);
                    tapError = error != 0 ? error : tapError;
                    break;
            }
        }
        return tapError;
    }

    private int CompleteRead(in Interop.IoUringCqe completion)
    {
        if ((completion.Flags & Interop.IORING_CQE_F_MORE) == 0)
        {
            _readArmed = false;
        }
        if ((completion.Flags & Interop.IORING_CQE_F_BUFFER) != 0)
        {
            var bid = (int)(completion.Flags >> Interop.IORING_CQE_BUFFER_SHIFT);
            var frame = _buffers[bid];
            _buffers[bid] = default;
            _provided[bid] = false;
            _free[_freeCount++] = bid;
            if (completion.Result < 0)
            {
                // A buffer came back unused: it holds no frame.
                _pool!.Return(frame);
            }
            else
            {
                Accept(frame, completion.Result);
            }
        }
        if (completion.Result >= 0)
        {
            return 0;
        }
        var errno = -completion.Result;
        return errno switch
        {
            // The buffer ring ran dry (the queue stopped taking frames) or the read was interrupted: re-armed later.
            Errno.ENOBUFS or Errno.EAGAIN or Errno.EINTR or Errno.ECANCELED => 0,
            Errno.EBADFD or Errno.EIO => errno,
            _ => throw Interop.Errors.Exception(errno, $"read TAP queue {_queueIndex}", _device),
        };
    }

    private void Accept([TakesOwnership] SkBuff frame, int read)
    {
        if (_virtioNetHeader)
        {
            // The kernel wrote from the headroom's last bytes: the header there, the frame from the tailroom on.
            frame.Push(Tap.VirtioNetHeader.Length);
            if (read >= Tap.VirtioNetHeader.Length)
            {
                frame.Offload = Tap.VirtioNetHeader.Read(frame.Data[..Tap.VirtioNetHeader.Length]);
                frame.Pull(Tap.VirtioNetHeader.Length);
                read -= Tap.VirtioNetHeader.Length;
            }
            else
            {
                frame.Pull(Tap.VirtioNetHeader.Length);
            }
        }
        if (read > frame.Tailroom)
        {
            // The kernel cut a frame longer than the buffer (one given to it before the MTU grew) and still said
            // its full length: it cannot arrive whole, so it is a counted drop, not a cut frame.
            frame.Put(frame.Tailroom);
            frame.Drop(DropReason.PacketTooBig);
            return;
        }
        frame.Put(read);
        if (read >= NetDevice.EthernetHeaderLength)
        {
            frame.Protocol = BinaryPrimitives.ReadUInt16BigEndian(frame.Data[12..]);
        }
        _ready[(_readyHead + _readyCount) % Buffers] = frame;
        _readyCount++;
    }

    private void ArmWake()
    {
        var entry = _ring.NextEntry();
        if (entry is null)
        {
            // The ring has room for the read, the wake read and a cancel, with entries to spare.
            throw new InvalidOperationException("The io_uring submission ring is full.");
        }
        entry->Opcode = Interop.IORING_OP_READ;
        entry->Flags = Interop.IOSQE_FIXED_FILE;
        entry->Fd = WakeFileIndex;
        entry->Address = (ulong)_wakeCounter;
        entry->Length = sizeof(ulong);
        entry->UserData = WakeTag;
        _wakeArmed = true;
    }

    /// <summary>
    /// Teardown: cancels the waiting requests and reaps them, drops the frames read but not handed on,
    /// takes the buffers back from the kernel and returns them to the pool. Returns false
    /// when the kernel did not let go in time; the buffers then stay out of the pool (its leak report
    /// names them) rather than be reused while the kernel might still write them.
    /// </summary>
    internal bool CancelAll()
    {
        var pool = _pool;
        _tearingDown = true;
        for (var attempt = 0; (_readArmed || _wakeArmed) && attempt < TeardownAttempts; attempt++)
        {
            if (!_cancelArmed)
            {
                var entry = _ring.NextEntry();
                if (entry is not null)
                {
                    entry->Opcode = Interop.IORING_OP_ASYNC_CANCEL;
                    entry->OpFlags = Interop.IORING_ASYNC_CANCEL_ANY;
                    entry->Fd = -1;
                    entry->UserData = CancelTag;
                    _cancelArmed = true;
                }
            }
            _ring.SubmitAndWait(TeardownWaitMilliseconds);
            // Frames that completed before the cancel go to the FIFO and are dropped below.
            Reap();
        }
        while (_readyCount > 0)
        {
            TakeReadyFrame().Drop(DropReason.DeviceDown);
        }
        if (_readArmed || _wakeArmed)
        {
            return false;
        }
        // Requests are freed by deferred task work, after their completions are posted: run it now, so none
        // holds the TAP's file any more when the files are unregistered below.
        _ring.SubmitAndWait(0);
        if (_bufferRingRegistered)
        {
            _ring.UnregisterBufferRing(BufferGroup);
            _bufferRingRegistered = false;
        }
        for (var bid = 0; bid < Buffers; bid++)
        {
            if (_provided[bid] && pool is not null)
            {
                _provided[bid] = false;
                pool.Return(_buffers[bid]);
                _buffers[bid] = default;
                _free[_freeCount++] = bid;
            }
        }
        if (_filesRegistered)
        {
            _filesRegistered = false;
            _ring.UnregisterFiles();
        }
        _nativeInUse = false;
        return true;
    }

    /// <summary>Closes the ring and frees the native memory; call after <see cref="CancelAll"/> returned true.</summary>
    public void Dispose()
    {
        _ring.Dispose();
        if (!_nativeInUse)
        {
            NativeMemory.AlignedFree(_native);
        }
        // Otherwise the kernel may still read the buffer ring or write the wake counter: the page stays allocated.
    }
}
