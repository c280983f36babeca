namespace NetDev.Linux.Loop;

/// <summary>
/// One io_uring instance: the ring descriptor, the submission and completion rings mapped into the
/// process, and the few operations a queue loop needs (queue a submission entry, submit and wait with a
/// timeout, take completions).
/// </summary>
/// <remarks>
/// <para>The ring is made disabled (IORING_SETUP_R_DISABLED) with IORING_SETUP_SINGLE_ISSUER and
/// IORING_SETUP_DEFER_TASKRUN where the kernel has them, so it can be created on the thread that starts the
/// device and then handed to the queue's own thread, which enables it (<see cref="EnableOnCurrentThread"/>)
/// and from then on is its only user: completions run only when that thread asks for them, no lock or
/// atomic is needed beyond the release/acquire of the ring indices the kernel shares.</para>
/// <para><b>Invariants.</b> From <see cref="EnableOnCurrentThread"/> until <see cref="Dispose"/> one thread
/// uses the ring, and it holds a reference on the descriptor and every mapping
/// (<see cref="System.Runtime.InteropServices.SafeHandle.DangerousAddRef"/>), so the raw pointers into the
/// mappings stay valid. <c>_sqTail</c> is this side's submission tail: entries between the kernel's head
/// and it are written but not yet consumed by the kernel; it is published with a release store. Entries
/// between the completion head and tail belong to this side until the head is published past them.</para>
/// </remarks>
internal sealed unsafe class IoUring : IDisposable
{
    private const uint PreferredFlags = Interop.IORING_SETUP_R_DISABLED | Interop.IORING_SETUP_SINGLE_ISSUER
        | Interop.IORING_SETUP_DEFER_TASKRUN | Interop.IORING_SETUP_SUBMIT_ALL;

    private readonly SafeFileDescriptor _fd;
    private readonly SafeMemoryMapping _rings;
    private readonly SafeMemoryMapping? _completionRing;
    private readonly SafeMemoryMapping _entries;
    private readonly string _device;
    private readonly bool _disabled;
    private bool _referenced;
    private int _ringFd = -1;
    private uint* _sqHeadPointer;
    private uint* _sqTailPointer;
    private uint* _sqArray;
    private Interop.IoUringSqe* _sqes;
    private uint _sqMask;
    private uint _sqEntries;
    private uint _sqTail;
    private uint* _cqHeadPointer;
    private uint* _cqTailPointer;
    private Interop.IoUringCqe* _cqes;
    private uint _cqMask;
    private readonly Interop.IoUringParams _parameters;

    private IoUring(SafeFileDescriptor fd, in Interop.IoUringParams parameters, SafeMemoryMapping rings,
        SafeMemoryMapping? completionRing, SafeMemoryMapping entries, string device, bool disabled)
    {
        _fd = fd;
        _parameters = parameters;
        _rings = rings;
        _completionRing = completionRing;
        _entries = entries;
        _device = device;
        _disabled = disabled;
    }

    /// <summary>Submission entries the ring holds.</summary>
    internal uint SubmissionEntries => _parameters.SqEntries;

    /// <summary>
    /// Creates a ring of at least <paramref name="entries"/> submission and <paramref name="completionEntries"/>
    /// completion entries. Throws
    /// <see cref="NetDevException"/> when the kernel refuses: ENOSYS (no io_uring), EPERM
    /// (<c>kernel.io_uring_disabled</c>), ENOMEM (locked-memory limit), or EOPNOTSUPP here when it lacks the
    /// features the loop needs (waiting with a timeout).
    /// </summary>
    internal static IoUring Create(uint entries, uint completionEntries, string device)
    {
        // Completions are sized apart: one multishot request may post one per buffer before the loop reaps.
        var parameters = new Interop.IoUringParams { Flags = PreferredFlags | Interop.IORING_SETUP_CQSIZE, CqEntries = completionEntries };
        // SAFETY: parameters is a local io_uring_params the kernel reads and fills in.
        var fd = Interop.IoUringSetup(entries, &parameters);
        if (fd < 0 && Interop.Errors.LastErrno == Errno.EINVAL)
        {
            // Kernels before 6.1 know neither single issuer nor deferred task running: a plain ring works too.
            parameters = new Interop.IoUringParams { Flags = Interop.IORING_SETUP_CQSIZE, CqEntries = completionEntries };
            // SAFETY: as above.
            fd = Interop.IoUringSetup(entries, &parameters);
        }
        if (fd < 0)
        {
            throw Interop.Errors.LastException("io_uring_setup", device);
        }
        var descriptor = new SafeFileDescriptor(fd);
        SafeMemoryMapping? rings = null, completionRing = null, submissionEntries = null;
        try
        {
            if ((parameters.Features & Interop.IORING_FEAT_EXT_ARG) == 0)
            {
                throw new NetDevException(Errno.EOPNOTSUPP, "io_uring_setup", device,
                    "the kernel's io_uring cannot wait with a timeout (IORING_FEAT_EXT_ARG, Linux 5.11)");
            }
            var submissionSize = parameters.SqOffsets.Array + parameters.SqEntries * sizeof(uint);
            var completionSize = parameters.CqOffsets.Cqes + parameters.CqEntries * (uint)sizeof(Interop.IoUringCqe);
            var singleMapping = (parameters.Features & Interop.IORING_FEAT_SINGLE_MMAP) != 0;
            rings = SafeMemoryMapping.Map(descriptor, singleMapping ? Math.Max(submissionSize, completionSize) : submissionSize,
                Interop.IORING_OFF_SQ_RING, "mmap io_uring rings", device);
            if (!singleMapping)
            {
                completionRing = SafeMemoryMapping.Map(descriptor, completionSize, Interop.IORING_OFF_CQ_RING, "mmap io_uring completion ring", device);
            }
            submissionEntries = SafeMemoryMapping.Map(descriptor, parameters.SqEntries * (nuint)sizeof(Interop.IoUringSqe),
                Interop.IORING_OFF_SQES, "mmap io_uring submission entries", device);
            return new IoUring(descriptor, parameters, rings, completionRing, submissionEntries, device,
                disabled: (parameters.Flags & Interop.IORING_SETUP_R_DISABLED) != 0);
        }
        catch
        {
            submissionEntries?.Dispose();
            completionRing?.Dispose();
            rings?.Dispose();
            descriptor.Dispose();
            throw;
        }
    }

    /// <summary>Whether the kernel knows <paramref name="opcode"/> (IORING_REGISTER_PROBE).</summary>
    internal bool Supports(byte opcode)
    {
        const int Ops = 256;
        var size = sizeof(Interop.IoUringProbe) + Ops * sizeof(Interop.IoUringProbeOp);
        var buffer = stackalloc byte[size];
        new Span<byte>(buffer, size).Clear();
        // SAFETY: buffer holds a probe header and Ops entries, as many as the count passed; the kernel fills them.
        if (Interop.IoUringRegister(_fd, Interop.IORING_REGISTER_PROBE, buffer, Ops) < 0)
        {
            throw Interop.Errors.LastException("io_uring_register PROBE", _device);
        }
        var probe = (Interop.IoUringProbe*)buffer;
        var ops = (Interop.IoUringProbeOp*)(buffer + sizeof(Interop.IoUringProbe));
        // SAFETY: the kernel wrote OpsLength entries, at most the Ops asked for.
        return opcode < probe->OpsLength && (ops[opcode].Flags & Interop.IO_URING_OP_SUPPORTED) != 0;
    }

    /// <summary>
    /// Makes the calling thread the ring's one user: takes the references the raw pointers need and
    /// enables the ring, which binds it to this thread.
    /// </summary>
    internal void EnableOnCurrentThread()
    {
        if (_referenced)
        {
            throw new InvalidOperationException("The ring is already in use.");
        }
        bool fdAdded = false, ringsAdded = false, completionAdded = false, entriesAdded = false;
        try
        {
            _fd.DangerousAddRef(ref fdAdded);
            _rings.DangerousAddRef(ref ringsAdded);
            _completionRing?.DangerousAddRef(ref completionAdded);
            _entries.DangerousAddRef(ref entriesAdded);
        }
        catch
        {
            ReleaseReferences(fdAdded, ringsAdded, completionAdded, entriesAdded);
            throw;
        }
        _referenced = true;
        _ringFd = _fd.Fd;
        var sq = (byte*)_rings.Address;
        var cq = (byte*)(_completionRing ?? _rings).Address;
        ref readonly var so = ref _parameters.SqOffsets;
        ref readonly var co = ref _parameters.CqOffsets;
        // SAFETY: the offsets come from the kernel for these very mappings, which the references keep mapped.
        _sqHeadPointer = (uint*)(sq + so.Head);
        _sqTailPointer = (uint*)(sq + so.Tail);
        _sqArray = (uint*)(sq + so.Array);
        _sqMask = *(uint*)(sq + so.RingMask);
        _sqEntries = *(uint*)(sq + so.RingEntries);
        _sqTail = *_sqTailPointer;
        _sqes = (Interop.IoUringSqe*)_entries.Address;
        _cqHeadPointer = (uint*)(cq + co.Head);
        _cqTailPointer = (uint*)(cq + co.Tail);
        _cqMask = *(uint*)(cq + co.RingMask);
        _cqes = (Interop.IoUringCqe*)(cq + co.Cqes);
        if (_disabled)
        {
            // SAFETY: IORING_REGISTER_ENABLE_RINGS takes no argument.
            if (Interop.IoUringRegister(_ringFd, Interop.IORING_REGISTER_ENABLE_RINGS, null, 0) < 0)
            {
                throw Interop.Errors.LastException("io_uring_register ENABLE_RINGS", _device);
            }
        }
    }

    /// <summary>Registers <paramref name="fds"/> as the ring's fixed files, addressed by index with IOSQE_FIXED_FILE.</summary>
    internal void RegisterFiles(ReadOnlySpan<int> fds)
    {
        // SAFETY: files is pinned for the call; the kernel reads fds.Length ints from it.
        fixed (int* files = fds)
        {
            if (Interop.IoUringRegister(_ringFd, Interop.IORING_REGISTER_FILES, files, (uint)fds.Length) < 0)
            {
                throw Interop.Errors.LastException("io_uring_register FILES", _device);
            }
        }
    }

    /// <summary>
    /// Drops the ring's references to its fixed files now, on this thread. Closing the ring would drop them
    /// later, from a kernel worker, and a TAP interface lives until its last file reference is gone.
    /// </summary>
    internal void UnregisterFiles()
    {
        // SAFETY: IORING_UNREGISTER_FILES takes no argument.
        if (Interop.IoUringRegister(_ringFd, Interop.IORING_UNREGISTER_FILES, null, 0) < 0)
        {
            throw Interop.Errors.LastException("io_uring_register UNREGISTER_FILES", _device);
        }
    }

    /// <summary>
    /// Registers a provided-buffer ring of <paramref name="entries"/> entries at <paramref name="ring"/>
    /// (page-aligned, kept allocated until <see cref="UnregisterBufferRing"/>) as buffer group <paramref name="group"/>.
    /// </summary>
    internal void RegisterBufferRing(Interop.IoUringBuf* ring, uint entries, ushort group)
    {
        var registration = new Interop.IoUringBufReg { RingAddress = (ulong)ring, RingEntries = entries, GroupId = group };
        // SAFETY: registration is a local the kernel reads once; the ring memory is the caller's, kept as documented.
        if (Interop.IoUringRegister(_ringFd, Interop.IORING_REGISTER_PBUF_RING, &registration, 1) < 0)
        {
            throw Interop.Errors.LastException("io_uring_register PBUF_RING", _device);
        }
    }

    /// <summary>Unregisters buffer group <paramref name="group"/>: the kernel no longer uses the buffers still in its ring.</summary>
    internal void UnregisterBufferRing(ushort group)
    {
        var registration = new Interop.IoUringBufReg { GroupId = group };
        // SAFETY: registration is a local the kernel reads once.
        if (Interop.IoUringRegister(_ringFd, Interop.IORING_UNREGISTER_PBUF_RING, &registration, 1) < 0)
        {
            throw Interop.Errors.LastException("io_uring_register UNREGISTER_PBUF_RING", _device);
        }
    }

    /// <summary>Entries written but not yet consumed by the kernel.</summary>
    private uint Unsubmitted => _sqTail - Volatile.Read(ref *_sqHeadPointer);

    /// <summary>
    /// A cleared submission entry to fill in, queued for the next <see cref="SubmitAndWait"/>; null when
    /// the submission ring is full.
    /// </summary>
    internal Interop.IoUringSqe* NextEntry()
    {
        if (Unsubmitted >= _sqEntries)
        {
            return null;
        }
        var index = _sqTail & _sqMask;
        // SAFETY: index is below the ring's entry count, so both the entry and the array slot lie in their mappings.
        var entry = _sqes + index;
        *entry = default;
        _sqArray[index] = index;
        _sqTail++;
        return entry;
    }

    /// <summary>
    /// Takes back the entries queued since the last submission that the kernel has not consumed, so that no
    /// later <c>io_uring_enter</c> submits them; returns how many. For a caller whose batch failed before
    /// or during its submission: the memory those entries point at may be reused as soon as it returns.
    /// </summary>
    internal uint DiscardUnsubmitted()
    {
        var discarded = Unsubmitted;
        _sqTail -= discarded;
        // The kernel reads the tail only inside io_uring_enter (no SQPOLL), so moving it back is seen by the next one.
        Volatile.Write(ref *_sqTailPointer, _sqTail);
        return discarded;
    }

    /// <summary>
    /// Submits the queued entries and waits until a completion is there or <paramref name="timeoutMilliseconds"/>
    /// passed (negative: no limit; zero: do not wait). Returns false when the wait timed out or was interrupted.
    /// </summary>
    internal bool SubmitAndWait(int timeoutMilliseconds)
    {
        // The tail is published with release semantics so the kernel sees complete entries.
        Volatile.Write(ref *_sqTailPointer, _sqTail);
        var timespec = new Interop.KernelTimespec
        {
            Seconds = Math.Max(timeoutMilliseconds, 0) / 1000,
            Nanoseconds = Math.Max(timeoutMilliseconds, 0) % 1000 * 1_000_000L,
        };
        var argument = new Interop.IoUringGetEventsArg
        {
            Timespec = timeoutMilliseconds >= 0 ? (ulong)&timespec : 0,
        };
        var wait = timeoutMilliseconds == 0 ? 0u : 1u;
        // SAFETY: argument and timespec are locals the kernel only reads during the call.
        var result = Interop.IoUringEnter(_ringFd, Unsubmitted, wait,
            Interop.IORING_ENTER_GETEVENTS | Interop.IORING_ENTER_EXT_ARG, &argument, (nuint)sizeof(Interop.IoUringGetEventsArg));
        if (result >= 0)
        {
            return true;
        }
        return Interop.Errors.LastErrno switch
        {
            Errno.ETIME or Errno.EINTR => false,
            // Completions wait to be taken before more can be posted: the caller reaps, then comes back.
            Errno.EAGAIN or Errno.EBUSY => true,
            _ => throw Interop.Errors.LastException("io_uring_enter", _device),
        };
    }

    /// <summary>
    /// Submits the queued entries and waits until at least <paramref name="count"/> completions are there.
    /// Returns false when a signal interrupted the wait; what was submitted stays submitted.
    /// </summary>
    internal bool SubmitAndWaitFor(uint count)
    {
        Volatile.Write(ref *_sqTailPointer, _sqTail);
        // SAFETY: no argument is passed (no EXT_ARG), so the kernel reads no memory of ours.
        var result = Interop.IoUringEnter(_ringFd, Unsubmitted, count, Interop.IORING_ENTER_GETEVENTS, null, 0);
        if (result >= 0)
        {
            return true;
        }
        return Interop.Errors.LastErrno switch
        {
            Errno.EINTR => false,
            Errno.EAGAIN or Errno.EBUSY => true,
            _ => throw Interop.Errors.LastException("io_uring_enter", _device),
        };
    }

    /// <summary>Takes the oldest completion, if any.</summary>
    internal bool TryTakeCompletion(out Interop.IoUringCqe completion)
    {
        var head = *_cqHeadPointer;
        // Acquire: the entry's contents are read only after the kernel's tail that covers it.
        if (head == Volatile.Read(ref *_cqTailPointer))
        {
            completion = default;
            return false;
        }
        // SAFETY: head & mask indexes the completion array in its mapping; the entry belongs to this side until published.
        completion = _cqes[head & _cqMask];
        Volatile.Write(ref *_cqHeadPointer, head + 1);
        return true;
    }

    /// <summary>Closes the ring. The caller must have reaped every request that points at memory it frees.</summary>
    public void Dispose()
    {
        if (_referenced)
        {
            _referenced = false;
            ReleaseReferences(true, true, _completionRing is not null, true);
        }
        _entries.Dispose();
        _completionRing?.Dispose();
        _rings.Dispose();
        _fd.Dispose();
    }

    private void ReleaseReferences(bool fd, bool rings, bool completion, bool entries)
    {
        if (entries)
        {
            _entries.DangerousRelease();
        }
        if (completion)
        {
            _completionRing!.DangerousRelease();
        }
        if (rings)
        {
            _rings.DangerousRelease();
        }
        if (fd)
        {
            _fd.DangerousRelease();
        }
    }
}
