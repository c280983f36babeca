using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using NetDev.Diagnostics;

namespace NetDev;

/// <summary>
/// A frame buffer, the kernel's <c>struct sk_buff</c>: a pooled block of memory with the frame in the
/// middle, headroom before it and tailroom after it, so headers can be added and removed without copying.
/// </summary>
/// <remarks>
/// <para>
/// An <see cref="SkBuff"/> is a handle (a reference to pooled storage plus a generation number), so
/// passing it around costs no allocation. Whoever holds the handle owns the frame and must release it
/// exactly once: <see cref="Consume"/> when the frame was delivered, or <see cref="Drop"/> with a
/// <see cref="DropReason"/> when it was not (the kernel's <c>consume_skb</c> and <c>kfree_skb_reason</c>).
/// There is no implicit release: a frame that is never released is a leak, reported by its
/// <see cref="SkBuffPool"/> when the device is torn down.
/// </para>
/// <para>
/// Layout, as in the kernel: <c>0 ≤ head room = data ≤ tail ≤ capacity</c>. <see cref="Push"/> and
/// <see cref="Pull"/> move the start of the frame, <see cref="Put"/> and <see cref="Trim"/> its end,
/// <see cref="Reserve"/> makes headroom in an empty buffer.
/// </para>
/// <para><b>Invariants.</b> A handle is live while its generation equals its storage's generation;
/// releasing increments the storage's generation, so every copy of a released handle is dead from then
/// on, including after the storage has been handed out again. Every member checks liveness first and
/// throws <see cref="SkBuffMisuseException"/> on a dead handle. For a live handle
/// <c>0 ≤ data ≤ tail ≤ memory.Length</c> holds after every operation; operations that would break it
/// throw <see cref="ArgumentOutOfRangeException"/> and change nothing.</para>
/// </remarks>
[DebuggerDisplay("{DebuggerText,nq}")]
public readonly struct SkBuff : IEquatable<SkBuff>
{
    private readonly SkBuffSlot? _slot;
    private readonly int _generation;

    internal SkBuff(SkBuffSlot slot)
    {
        _slot = slot;
        _generation = slot.Generation;
    }

    /// <summary>Whether this handle still owns its frame (it has not been released).</summary>
    public bool IsLive => _slot is { } slot && slot.Generation == _generation;

    /// <summary>The number of bytes in the frame (<c>skb->len</c>).</summary>
    public int Length
    {
        get
        {
            var slot = Live();
            return slot.Tail - slot.Data;
        }
    }

    /// <summary>Free bytes before the frame (<c>skb_headroom</c>).</summary>
    public int Headroom => Live().Data;

    /// <summary>Free bytes after the frame (<c>skb_tailroom</c>).</summary>
    public int Tailroom
    {
        get
        {
            var slot = Live();
            return slot.Memory.Length - slot.Tail;
        }
    }

    /// <summary>The size of the whole buffer: headroom + length + tailroom.</summary>
    public int Capacity => Live().Memory.Length;

    /// <summary>The frame's bytes. The span must not be used after the frame is released.</summary>
    public Span<byte> Data
    {
        get
        {
            var slot = Live();
            return slot.Memory.AsSpan(slot.Data, slot.Tail - slot.Data);
        }
    }

    /// <summary>
    /// The free bytes after the frame, for filling in place before claiming them with <see cref="Put"/>
    /// (a host reads a frame from the kernel straight into it).
    /// </summary>
    public Span<byte> TailroomSpan
    {
        get
        {
            var slot = Live();
            return slot.Memory.AsSpan(slot.Tail);
        }
    }

    /// <summary>The frame's EtherType in host byte order (<c>skb->protocol</c>), such as 0x0800 for IPv4.</summary>
    public ushort Protocol
    {
        get => Live().Protocol;
        set => Live().Protocol = value;
    }

    /// <summary>The device queue the frame came from or goes to (<c>skb->queue_mapping</c>).</summary>
    public int QueueIndex
    {
        get => Live().QueueIndex;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Live().QueueIndex = value;
        }
    }

    /// <summary>
    /// What is still to be done to the frame when it travels with offloads (a checksum to complete, a
    /// segmentation to perform); all zero for a wire-size, complete frame. See <see cref="DeviceFeatures"/>.
    /// </summary>
    public SkBuffOffload Offload
    {
        get => Live().Offload;
        set => Live().Offload = value;
    }

    /// <summary>
    /// The software transmit time recorded by <see cref="TxTimestamp"/>, as a <see cref="Stopwatch"/>
    /// timestamp (CLOCK_MONOTONIC on Linux), or 0 when none was recorded.
    /// </summary>
    public long SoftwareTxTimestamp => Live().TxTimestamp;

    /// <summary>
    /// Whether someone wants this frame's software transmit time (the kernel's <c>SKBTX_SW_TSTAMP</c>,
    /// which a socket sets with <c>SO_TIMESTAMPING</c>): only then does <see cref="TxTimestamp"/> read the
    /// clock. False in a freshly rented buffer. A TAP does not pass the sending socket's request on, so frames
    /// the Linux host reads never carry it; a driver or test that wants the time sets it.
    /// </summary>
    public bool TxTimestampRequested
    {
        get => Live().TxTimestampRequested;
        set => Live().TxTimestampRequested = value;
    }

    /// <summary>
    /// Records the software transmit time (<c>skb_tx_timestamp</c>) if <see cref="TxTimestampRequested"/>;
    /// otherwise, as in the kernel, it does nothing, so a driver may call it on every frame at no cost. A
    /// driver calls it as late as possible before the frame leaves, so the time is as close to the wire as
    /// software can get.
    /// </summary>
    public void TxTimestamp()
    {
        var slot = Live();
        if (slot.TxTimestampRequested)
        {
            slot.TxTimestamp = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>
    /// Makes <paramref name="length"/> bytes of headroom in an empty buffer (<c>skb_reserve</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The buffer already holds data.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or more than the tailroom.</exception>
    public void Reserve(int length)
    {
        var slot = Live();
        if (slot.Tail != slot.Data)
        {
            throw new InvalidOperationException($"Reserve is only allowed on an empty SkBuff; this one holds {slot.Tail - slot.Data} bytes.");
        }
        CheckLength(length, slot.Memory.Length - slot.Tail, "tailroom");
        slot.Data += length;
        slot.Tail += length;
    }

    /// <summary>
    /// Adds <paramref name="length"/> bytes at the start of the frame, taken from the headroom
    /// (<c>skb_push</c>), and returns them so a header can be written.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or more than the headroom.</exception>
    public Span<byte> Push(int length)
    {
        var slot = Live();
        CheckLength(length, slot.Data, "headroom");
        slot.Data -= length;
        return slot.Memory.AsSpan(slot.Data, length);
    }

    /// <summary>
    /// Removes <paramref name="length"/> bytes from the start of the frame (<c>skb_pull</c>) and returns
    /// them (they stay readable in the headroom until something is pushed over them).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or more than the frame's length.</exception>
    public Span<byte> Pull(int length)
    {
        var slot = Live();
        CheckLength(length, slot.Tail - slot.Data, "length");
        var removed = slot.Memory.AsSpan(slot.Data, length);
        slot.Data += length;
        return removed;
    }

    /// <summary>
    /// Adds <paramref name="length"/> bytes at the end of the frame, taken from the tailroom
    /// (<c>skb_put</c>), and returns them so they can be written.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or more than the tailroom.</exception>
    public Span<byte> Put(int length)
    {
        var slot = Live();
        CheckLength(length, slot.Memory.Length - slot.Tail, "tailroom");
        var added = slot.Memory.AsSpan(slot.Tail, length);
        slot.Tail += length;
        return added;
    }

    /// <summary>Cuts the frame to <paramref name="length"/> bytes, dropping bytes at its end (<c>skb_trim</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or longer than the frame.</exception>
    public void Trim(int length)
    {
        var slot = Live();
        CheckLength(length, slot.Tail - slot.Data, "length");
        slot.Tail = slot.Data + length;
    }

    /// <summary>
    /// Releases the frame as delivered (<c>consume_skb</c>): the buffer goes back to its pool and this
    /// handle, and every copy of it, is dead.
    /// </summary>
    /// <exception cref="SkBuffMisuseException">The frame was already released.</exception>
    public void Consume() => Release(consumed: true, DropReason.NotSpecified);

    /// <summary>
    /// Releases the frame as dropped, for <paramref name="reason"/> (<c>kfree_skb_reason</c>): the drop is
    /// counted per reason by the pool, and the buffer goes back to it.
    /// </summary>
    /// <exception cref="SkBuffMisuseException">The frame was already released.</exception>
    public void Drop(DropReason reason) => Release(consumed: false, reason);

    private void Release(bool consumed, DropReason reason)
    {
        var slot = LiveForRelease();
        if (!consumed && (NetDevEventSource.Log.IsEnabled() || FrameCapture.AnyWantsDrops))
        {
            // Someone traces or captures drops: only then is the frame looked at, while it is still live.
            slot.Pool.Observe(this, reason);
        }
        slot.Generation = unchecked(slot.Generation + 1);
        slot.LastRelease = consumed ? ReleaseKind.Consume : ReleaseKind.Drop;
        slot.LastDropReason = reason;
        slot.Pool.Recycle(slot, consumed, reason);
    }

    /// <summary>Returns the storage to its pool without counting a release (a host's unused buffer).</summary>
    internal void ReturnUnused()
    {
        // Giving a released buffer back is a second release, and is reported as one.
        var slot = LiveForRelease();
        slot.Generation = unchecked(slot.Generation + 1);
        slot.LastRelease = ReleaseKind.ReturnUnused;
        slot.Pool.Recycle(slot, consumed: true, DropReason.NotSpecified, count: false);
    }

    internal SkBuffSlot? Slot => _slot;

    private SkBuffSlot LiveForRelease()
    {
        var slot = _slot ?? throw SkBuffMisuseException.NotAllocated();
        if (slot.Generation != _generation)
        {
            throw SkBuffMisuseException.DoubleRelease(slot.DescribeLastRelease());
        }
        return slot;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private SkBuffSlot Live()
    {
        var slot = _slot;
        if (slot is null || slot.Generation != _generation)
        {
            ThrowNotLive(slot);
        }
        return slot;
    }

    [DoesNotReturn]
    private static void ThrowNotLive(SkBuffSlot? slot) =>
        throw (slot is null ? SkBuffMisuseException.NotAllocated() : SkBuffMisuseException.UseAfterRelease(slot.DescribeLastRelease()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckLength(int length, int available, string what)
    {
        if ((uint)length > (uint)available)
        {
            ThrowOutOfRange(length, available, what);
        }
    }

    [DoesNotReturn]
    private static void ThrowOutOfRange(int length, int available, string what) =>
        throw new ArgumentOutOfRangeException(nameof(length), length,
            length < 0 ? "The length must not be negative." : $"{length} bytes asked for, but the {what} is {available} bytes.");

    /// <inheritdoc/>
    public bool Equals(SkBuff other) => ReferenceEquals(_slot, other._slot) && _generation == other._generation;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SkBuff other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_slot, _generation);

    /// <summary>Whether two handles are the same frame (same storage, same generation).</summary>
    public static bool operator ==(SkBuff left, SkBuff right) => left.Equals(right);

    /// <summary>Whether two handles are different frames.</summary>
    public static bool operator !=(SkBuff left, SkBuff right) => !left.Equals(right);

    private string DebuggerText => IsLive ? $"SkBuff len={Length} headroom={Headroom} tailroom={Tailroom}" : "SkBuff (released)";

    /// <inheritdoc/>
    public override string ToString() => DebuggerText;
}

/// <summary>The storage behind <see cref="SkBuff"/> handles; owned by one <see cref="SkBuffPool"/>.</summary>
/// <remarks><b>Invariants.</b> <c>0 ≤ Data ≤ Tail ≤ Memory.Length</c>; <see cref="Memory"/> is pinned,
/// so hosts may take its address for I/O while they own a live handle; <see cref="Generation"/> only grows
/// (modulo 2^32) and changes exactly once per release.</remarks>
internal sealed class SkBuffSlot(SkBuffPool pool, byte[] memory)
{
    public readonly SkBuffPool Pool = pool;
    public byte[] Memory = memory;
    public int Data;
    public int Tail;
    public int Generation;
    public bool Live;
    public ushort Protocol;
    public int QueueIndex;
    public long TxTimestamp;
    public bool TxTimestampRequested;
    public SkBuffOffload Offload;
    public ReleaseKind LastRelease;
    public DropReason LastDropReason;
    public string? AllocationStack;

    public string? DescribeLastRelease() => LastRelease switch
    {
        ReleaseKind.Consume => "Consume()",
        ReleaseKind.Drop => $"Drop({LastDropReason})",
        ReleaseKind.ReturnUnused => "SkBuffPool.Return()",
        _ => null,
    };
}

internal enum ReleaseKind : byte
{
    None,
    Consume,
    Drop,
    ReturnUnused,
}
