using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NetDev.Linux.Loop;

/// <summary>
/// Batched writes of frames to TAP queues through io_uring: a batch of frames, each its own write (a TAP
/// takes one frame per write), costs one <c>io_uring_enter</c> instead of one system call per frame. Each
/// thread that hands batches to the system gets its own small ring (<see cref="ForCurrentThread"/>), so no
/// lock or atomic is taken per batch.
/// </summary>
/// <remarks>
/// <para>Every write carries RWF_NOWAIT, so the kernel performs it during the submission and never parks it
/// to wait for room: a TAP that cannot take a frame completes that write with EAGAIN at once, as a plain
/// non-blocking write would. The writer waits for every completion of a batch before returning, so a batch
/// has the same outcome, per frame and in the same order, as a loop of plain writes. The first writer
/// probes once that the kernel accepts RWF_NOWAIT on a TAP (older kernels answer EOPNOTSUPP); when it does
/// not, or io_uring is unavailable, <see cref="ForCurrentThread"/> returns null for the rest of the
/// process and callers write frame by frame.</para>
/// <para>A writer lives as long as its thread, and no finalizer is relied on to close it: every writer is
/// listed in a registry with the thread that owns it, and <see cref="ReleaseEnded"/> closes those whose
/// thread has ended — the link calls it when it is disposed (after the queues' threads and the driver's
/// receive threads have ended), and a new writer's creation does too. A queue's thread closes its own
/// writer when it ends (<see cref="ReleaseCurrentThread"/>). A thread that outlives every device keeps its
/// writer until one of those happens or the process ends.</para>
/// <para><b>Invariants.</b> A writer is created, enabled and used by one thread only, the one whose
/// thread-static slot holds it; it is closed by that thread, or by another once that thread has ended (no
/// write can be in flight then). <c>s_writers</c> lists exactly the writers not yet closed, under
/// <c>s_registryLock</c>, which is taken only when a writer is made or closed, never per batch. Between the submission of a batch and the return of <see cref="Write"/>
/// every submitted entry completes and is reaped, so no request outlives the frames and the native header
/// and vector arrays it points at; the caller owns the frames (live SkBuffs in pinned pool memory) and
/// keeps the descriptor open (a reference on its handle) for the whole call. A batch that fails part way
/// leaves nothing behind: its entries the kernel has not consumed are taken back out of the ring, the
/// writes it consumed are waited for, and completions carry their batch's number, so a later batch neither
/// submits a stale entry nor takes a stale completion for its own; a writer that could not wait is broken
/// and used no more (<see cref="ForCurrentThread"/> returns null). The native arrays are freed only after
/// the ring is closed.</para>
/// </remarks>
internal sealed unsafe class IoUringWriter
{
    /// <summary>Frames submitted with one <c>io_uring_enter</c> (a receive batch); longer batches go in chunks of this size.</summary>
    internal const int MaxBatch = NetDevice.ReceiveBatchSize;

    private const int HeaderStride = 16;

    // Waits for the writes of a failed batch before the writer gives up on its ring.
    private const int AbandonAttempts = 100;

    [ThreadStatic]
    private static IoUringWriter? t_writer;

    // Set once when io_uring or RWF_NOWAIT on a TAP is refused: every thread then writes frame by frame.
    private static volatile NetDevException? s_unavailable;

    private static readonly object s_registryLock = new();
    private static readonly List<IoUringWriter> s_writers = [];

    private readonly IoUring _ring;
    private readonly Thread _owner;
    private readonly byte* _headers;
    private readonly Interop.IoVec* _vectors;
    private bool _closed;
    private uint _batch;
    private NetDevException? _broken;

    private IoUringWriter(IoUring ring)
    {
        _ring = ring;
        _owner = Thread.CurrentThread;
        // SAFETY: one native block per writer, freed in Close after the ring; headers first, then two vectors per frame.
        _headers = (byte*)NativeMemory.AllocZeroed((nuint)(MaxBatch * HeaderStride + MaxBatch * 2 * sizeof(Interop.IoVec)));
        _vectors = (Interop.IoVec*)(_headers + MaxBatch * HeaderStride);
    }

    /// <summary>Why batched writes are not used in this process, once that is known; null while they are (or are untried).</summary>
    internal static NetDevException? Unavailable => s_unavailable;

    /// <summary>
    /// The calling thread's writer, made on first use (and checked against <paramref name="tapFd"/>, a TAP
    /// descriptor the caller keeps open); null when batched writes are unavailable here.
    /// </summary>
    internal static IoUringWriter? ForCurrentThread(int tapFd, string device)
    {
        if (t_writer is { } writer)
        {
            return writer._broken is null ? writer : null;
        }
        if (s_unavailable is not null)
        {
            return null;
        }
        // Writers of threads that ended since the last sweep go before another one is made.
        ReleaseEnded();
        IoUring? ring = null;
        IoUringWriter? made = null;
        try
        {
            ring = IoUring.Create(MaxBatch, 2 * MaxBatch, device);
            if (!ring.Supports(Interop.IORING_OP_WRITE) || !ring.Supports(Interop.IORING_OP_WRITEV))
            {
                throw new NetDevException(Errno.EOPNOTSUPP, "io_uring_register PROBE", device, "the kernel's io_uring cannot write (Linux 5.6)");
            }
            ring.EnableOnCurrentThread();
            made = new IoUringWriter(ring);
            made.ProbeNoWait(tapFd, device);
            lock (s_registryLock)
            {
                s_writers.Add(made);
            }
            t_writer = made;
            return made;
        }
        catch (NetDevException error)
        {
            if (made is not null)
            {
                made.Close();
            }
            else
            {
                ring?.Dispose();
            }
            s_unavailable = error;
            return null;
        }
    }

    /// <summary>
    /// Writes each of <paramref name="frames"/> to <paramref name="tapFd"/> as one frame, in order, with a
    /// virtio_net_hdr before each when <paramref name="virtioNetHeader"/>, <see cref="MaxBatch"/> frames per
    /// submission; stores at the same index of <paramref name="outcomes"/> <see langword="null"/> for a frame
    /// written, otherwise why it was not (from the write's errno, as a plain write's).
    /// </summary>
    internal void Write(int tapFd, ReadOnlySpan<SkBuff> frames, bool virtioNetHeader, Span<DropReason?> outcomes)
    {
        for (var start = 0; start < frames.Length; start += MaxBatch)
        {
            var chunk = frames.Slice(start, Math.Min(MaxBatch, frames.Length - start));
            WriteChunk(tapFd, chunk, virtioNetHeader, outcomes.Slice(start, chunk.Length));
        }
    }

    private void WriteChunk(int tapFd, ReadOnlySpan<SkBuff> frames, bool virtioNetHeader, Span<DropReason?> outcomes)
    {
        if (_broken is { } broken)
        {
            throw broken;
        }
        // Each batch's completions carry its number, so one left by an abandoned batch is never taken for this one's.
        var tag = (ulong)++_batch << 32;
        var prepared = 0u;
        var completed = 0u;
        try
        {
            Prepare(tapFd, frames, virtioNetHeader, tag, ref prepared);
            while (completed < prepared)
            {
                // Interrupted by a signal: the entries stay submitted; wait again for the rest.
                _ring.SubmitAndWaitFor(prepared - completed);
                completed += Reap(tag, outcomes);
            }
        }
        catch
        {
            Abandon(prepared, completed, tag);
            throw;
        }
    }

    /// <summary>Queues one write per frame, tagged with the batch's number; <paramref name="prepared"/> counts what is queued.</summary>
    private void Prepare(int tapFd, ReadOnlySpan<SkBuff> frames, bool virtioNetHeader, ulong tag, ref uint prepared)
    {
        for (var i = 0; i < frames.Length; i++)
        {
            var entry = _ring.NextEntry();
            if (entry is null)
            {
                // Every earlier batch was reaped whole or abandoned, and a batch fits the ring.
                throw new InvalidOperationException("The io_uring submission ring is full.");
            }
            prepared++;
            var frame = frames[i];
            var data = frame.Data;
            // SAFETY: data lies in the pinned pool buffer of a live SkBuff the caller owns until this method returns,
            // and every write that reads it completes before then (see Invariants).
            var bytes = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(data));
            if (virtioNetHeader && frame.Headroom >= Tap.VirtioNetHeader.Length)
            {
                // The header goes into the headroom, right in front of the frame: one range, one plain write
                // (cheaper for the kernel than a vectored one).
                // SAFETY: the frame has at least Length bytes of headroom, free bytes of the same pinned buffer in
                // front of data; the write reads the header and the frame, both inside that buffer.
                var header = bytes - Tap.VirtioNetHeader.Length;
                Tap.VirtioNetHeader.Write(frame.Offload, new Span<byte>(header, Tap.VirtioNetHeader.Length));
                entry->Opcode = Interop.IORING_OP_WRITE;
                entry->Address = (ulong)header;
                entry->Length = (uint)(Tap.VirtioNetHeader.Length + data.Length);
            }
            else if (virtioNetHeader)
            {
                // SAFETY: header i and vectors 2i, 2i+1 lie inside the native block (i < MaxBatch), which outlives the write.
                var header = _headers + i * HeaderStride;
                Tap.VirtioNetHeader.Write(frame.Offload, new Span<byte>(header, Tap.VirtioNetHeader.Length));
                var vectors = _vectors + 2 * i;
                vectors[0] = new Interop.IoVec { Base = header, Length = Tap.VirtioNetHeader.Length };
                vectors[1] = new Interop.IoVec { Base = bytes, Length = (nuint)data.Length };
                entry->Opcode = Interop.IORING_OP_WRITEV;
                entry->Address = (ulong)vectors;
                entry->Length = 2;
            }
            else
            {
                entry->Opcode = Interop.IORING_OP_WRITE;
                entry->Address = (ulong)bytes;
                entry->Length = (uint)data.Length;
            }
            entry->Fd = tapFd;
            entry->OpFlags = Interop.RWF_NOWAIT;
            entry->UserData = tag | (uint)i;
        }
    }

    /// <summary>Takes the completions there are; stores this batch's outcomes (unless <paramref name="outcomes"/> is empty) and returns how many were its own.</summary>
    private uint Reap(ulong tag, Span<DropReason?> outcomes)
    {
        var taken = 0u;
        while (_ring.TryTakeCompletion(out var completion))
        {
            if ((completion.UserData & ~(ulong)uint.MaxValue) != tag)
            {
                continue;
            }
            if (!outcomes.IsEmpty)
            {
                outcomes[(int)(uint)completion.UserData] = completion.Result < 0 ? Tap.TapLink.WriteFailure(-completion.Result) : null;
            }
            taken++;
        }
        return taken;
    }

    /// <summary>
    /// A batch failed part way (a frame could not be prepared, or <c>io_uring_enter</c> failed): the entries
    /// the kernel has not consumed are taken back, so no later batch submits them with pointers into buffers
    /// that were reused meanwhile, and the writes it did consume are waited for, so none outlives the call.
    /// When they cannot be waited for, the writer is broken for good: the caller writes frame by frame.
    /// </summary>
    private void Abandon(uint prepared, uint completed, ulong tag)
    {
        var inFlight = prepared - _ring.DiscardUnsubmitted() - completed;
        for (var attempt = 0; inFlight > 0 && attempt < AbandonAttempts; attempt++)
        {
            try
            {
                _ring.SubmitAndWaitFor(inFlight);
            }
            catch (NetDevException error)
            {
                _broken = error;
                return;
            }
            inFlight -= Reap(tag, default);
        }
        if (inFlight > 0)
        {
            _broken = new NetDevException(Errno.EIO, "io_uring_enter", null, "writes of an abandoned batch did not complete");
        }
    }

    /// <summary>
    /// A zero-length RWF_NOWAIT write to the TAP: a kernel whose TAP lacks non-blocking io_uring writes
    /// refuses the flag (EOPNOTSUPP) before the TAP sees the write; one that has them lets the TAP refuse
    /// the empty frame (EINVAL), which it does without counting anything.
    /// </summary>
    private void ProbeNoWait(int tapFd, string device)
    {
        var entry = _ring.NextEntry();
        entry->Opcode = Interop.IORING_OP_WRITE;
        entry->Address = (ulong)_headers;
        entry->Length = 0;
        entry->Fd = tapFd;
        entry->OpFlags = Interop.RWF_NOWAIT;
        Interop.IoUringCqe completion;
        while (!_ring.TryTakeCompletion(out completion))
        {
            _ring.SubmitAndWaitFor(1);
        }
        if (completion.Result == -Errno.EOPNOTSUPP)
        {
            throw new NetDevException(Errno.EOPNOTSUPP, "io_uring write RWF_NOWAIT", device,
                "this kernel's TAP cannot take non-blocking io_uring writes; frames are written one by one");
        }
    }

    /// <summary>Closes the calling thread's writer, if it has one: for a thread about to end (a queue's, at its end).</summary>
    internal static void ReleaseCurrentThread()
    {
        if (t_writer is not { } writer)
        {
            return;
        }
        t_writer = null;
        lock (s_registryLock)
        {
            s_writers.Remove(writer);
        }
        writer.Close();
    }

    /// <summary>Closes the writers whose thread has ended; safe from any thread, as none of them can be writing.</summary>
    internal static void ReleaseEnded()
    {
        lock (s_registryLock)
        {
            for (var i = s_writers.Count - 1; i >= 0; i--)
            {
                if (!s_writers[i]._owner.IsAlive)
                {
                    s_writers[i].Close();
                    s_writers.RemoveAt(i);
                }
            }
        }
    }

    private void Close()
    {
        if (_closed)
        {
            return;
        }
        _closed = true;
        _ring.Dispose();
        NativeMemory.Free(_headers);
    }
}
