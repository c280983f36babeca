using System.Runtime.CompilerServices;

namespace NetDev.Offload;

/// <summary>
/// Cuts a segmentation-offload frame (<see cref="SkBuffOffload.GsoType"/>: TCP over IPv4 or IPv6, or UDP
/// segmentation) into wire-size frames with complete headers and checksums: the kernel's
/// <c>skb_gso_segment</c>, for a driver whose wire takes no 64 KiB frames (a tunnel, a real NIC
/// without TSO).
/// </summary>
/// <remarks>
/// <para>Each segment carries a copy of the original headers and the next <see cref="SkBuffOffload.GsoSize"/>
/// bytes of payload (the last one what is left), with: IPv4 total length, identification (the first
/// segment's plus its index) and header checksum; IPv6 payload length; the TCP sequence number advanced
/// by the payload before it, FIN and PSH only on the last segment and CWR only on the first; or the UDP
/// length; and the TCP or UDP checksum complete. Other header fields (addresses, ports, options, window,
/// TTL) are copied as they are. The header length is found by parsing the headers rather than taken
/// from <see cref="SkBuffOffload.HeaderLength"/>, which the kernel sets to its linear part, not always
/// to the headers.</para>
/// <para>A frame without segmentation (<see cref="GsoType.None"/>) is a GSO frame of one segment: its
/// checksum is completed if it <see cref="SkBuffOffload.NeedsChecksum"/>, and no header is parsed.</para>
/// <para>Three ways to cut, none allocates: <see cref="Segment"/> copies each segment into a new frame
/// from a pool, for a driver that keeps or queues segments; <see cref="SegmentInPlace"/> makes each
/// segment inside the original buffer, one after the other, for a driver that sends each at once (no
/// payload is copied at all); <see cref="SegmentPacked"/> writes the segments back to back into a buffer of the
/// caller's with room around each, for a driver that sends them all in one call (UDP GSO). In all three the original frame is <b>borrowed</b>: the caller still owns it and
/// releases it afterwards (usually with <see cref="SkBuff.Consume"/>, since its bytes went out in the segments).</para>
/// </remarks>
public static class GsoSegmenter
{
    /// <summary>
    /// The longest headers (link, IP with options or extension headers, TCP with options) the segmenter
    /// takes: a frame with longer ones is <see cref="OffloadResult.Unsupported"/>. Real ones are 54 to 134 bytes.
    /// </summary>
    public const int MaxHeaderLength = 256;

    /// <summary>
    /// Cuts <paramref name="skb"/> into wire-size frames rented from <paramref name="pool"/> (its headroom
    /// kept in front of each, the <see cref="SkBuff.Protocol"/>, <see cref="SkBuff.QueueIndex"/> and <see cref="SkBuff.TxTimestampRequested"/> copied,
    /// no offload left), and hands each to <paramref name="sink"/> in order as soon as it is made.
    /// </summary>
    /// <param name="skb">The frame to cut; borrowed and not changed.</param>
    /// <param name="pool">Where the segments' buffers come from.</param>
    /// <param name="sink">Takes ownership of each segment.</param>
    /// <returns><see cref="OffloadResult.Done"/> when every segment was delivered; otherwise none was, and nothing was rented.</returns>
    public static OffloadResult Segment(SkBuff skb, SkBuffPool pool, IFrameSink sink)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(sink);
        var offload = skb.Offload;
        var frame = skb.Data;
        if (offload.GsoType == GsoType.None)
        {
            if (offload.NeedsChecksum && !CanComplete(frame.Length, offload))
            {
                return OffloadResult.Malformed;
            }
            var copy = RentCopy(skb, pool, frame.Length);
            frame.CopyTo(copy.Data);
            if (offload.NeedsChecksum)
            {
                PartialChecksum.TryComplete(copy.Data, offload.ChecksumStart, offload.ChecksumOffset);
            }
            sink.Deliver(copy);
            return OffloadResult.Done;
        }
        var result = SegmentPlan.TryCreate(frame, offload, out var plan);
        if (result != OffloadResult.Done)
        {
            return result;
        }
        var headers = frame[..plan.Layout.HeaderLength];
        for (var index = 0; index < plan.Count; index++)
        {
            var payloadLength = plan.PayloadLengthOf(index);
            var segment = RentCopy(skb, pool, headers.Length + payloadLength);
            var bytes = segment.Data;
            headers.CopyTo(bytes);
            frame.Slice(plan.PayloadOffset(index), payloadLength).CopyTo(bytes[headers.Length..]);
            plan.Finish(bytes, index);
            sink.Deliver(segment);
        }
        return OffloadResult.Done;
    }

    /// <summary>
    /// Prepares to cut <paramref name="skb"/> inside its own buffer: each
    /// <see cref="InPlaceSegments.MoveNext"/> (given the same frame) turns the frame's data into the next
    /// wire-size segment, its headers written just in front of its payload, over bytes an earlier segment
    /// already used.
    /// </summary>
    /// <remarks>The frame is borrowed, here and by each <see cref="InPlaceSegments.MoveNext"/>, and may not
    /// be released before the walk ends; its content is consumed by the walk (afterwards it holds the last
    /// segment). Use each segment (send or copy it) before moving to the next: the next one's headers
    /// overwrite the end of this one.</remarks>
    /// <returns><see cref="OffloadResult.Done"/> and a walk positioned before the first segment; otherwise
    /// the frame is untouched and the walk has no segments.</returns>
    public static OffloadResult SegmentInPlace(SkBuff skb, out InPlaceSegments segments)
    {
        var result = Plan(skb, out var plan);
        segments = result == OffloadResult.Done ? new InPlaceSegments(skb, plan, skb.Offload) : default;
        return result;
    }

    /// <summary>
    /// Prepares to cut <paramref name="skb"/> into a buffer of the caller's, segments back to back with room
    /// in front of and behind each (<see cref="PackedSegments.Fill"/>): for a driver that hands many segments
    /// to its wire in one call, each wrapped in its own header and trailer. The frame is borrowed and not changed.
    /// </summary>
    /// <returns><see cref="OffloadResult.Done"/> and a walk positioned before the first segment; otherwise the
    /// walk has no segments.</returns>
    public static OffloadResult SegmentPacked(SkBuff skb, out PackedSegments segments)
    {
        var result = Plan(skb, out var plan);
        segments = result == OffloadResult.Done ? new PackedSegments(skb, plan, skb.Offload) : default;
        return result;
    }

    /// <summary>
    /// How <paramref name="skb"/> is cut, for both walks: no plan for a frame without GSO (one segment, its
    /// checksum completed if it needs one), otherwise the segment plan of its headers.
    /// </summary>
    private static OffloadResult Plan(SkBuff skb, out SegmentPlan plan)
    {
        var offload = skb.Offload;
        if (offload.GsoType == GsoType.None)
        {
            plan = default;
            return offload.NeedsChecksum && !CanComplete(skb.Data.Length, offload) ? OffloadResult.Malformed : OffloadResult.Done;
        }
        return SegmentPlan.TryCreate(skb.Data, offload, out plan);
    }

    private static bool CanComplete(int frameLength, in SkBuffOffload offload) =>
        (offload.ChecksumOffset & 1) == 0 && offload.ChecksumStart + offload.ChecksumOffset + sizeof(ushort) <= frameLength;

    private static SkBuff RentCopy(SkBuff original, SkBuffPool pool, int length)
    {
        // At least one byte past the headroom, which is all a pool refuses: an empty frame copies to an empty one.
        var copy = pool.Rent(pool.Headroom + Math.Max(length, 1));
        copy.Put(length);
        copy.Protocol = original.Protocol;
        copy.QueueIndex = original.QueueIndex;
        // Each segment leaves on its own, so each carries the sender's wish for a transmit time.
        copy.TxTimestampRequested = original.TxTimestampRequested;
        return copy;
    }
}

/// <summary>
/// A walk over the segments of a GSO frame cut inside its own buffer (<see cref="GsoSegmenter.SegmentInPlace"/>).
/// </summary>
/// <remarks>
/// <para>Segment <c>i</c>'s payload already lies where it belongs, at <c>header length + i × segment size</c>
/// from the frame's start; its headers are written in the <c>header length</c> bytes in front of it, which
/// held the end of segment <c>i − 1</c>'s payload (already used) or, for the first, the original headers.
/// The headers are copied once, at the start, so later segments are built from the original even when a
/// small segment size makes their headers overlap it. <see cref="MoveNext"/> then sets the frame's data to
/// exactly the segment with <see cref="SkBuff.Push"/>/<see cref="SkBuff.Pull"/> and
/// <see cref="SkBuff.Put"/>/<see cref="SkBuff.Trim"/> (which leave the bytes in the buffer as they are),
/// whatever the caller pushed in front of the previous one: a tunnel header goes into the room before each
/// segment, which is used data too.</para>
/// <para><b>Invariants.</b> <c>_origin</c> and <c>_length</c> are the buffer offset (the headroom) and the
/// length of the original frame, and every segment lies inside the original frame's bytes;
/// <c>_template</c> holds the original <c>_plan.Layout.HeaderLength</c> header bytes; <c>_next</c> counts
/// the segments made, up to <see cref="Count"/>. <c>_storage</c> is the storage of the frame the walk
/// began with; the frame itself is borrowed anew by each step, and the walk lives on its creator's stack.</para>
/// </remarks>
public ref struct InPlaceSegments
{
    // The frame's storage, to check that each step is given the frame the walk began with. Not the handle:
    // the walk borrows the frame at each step rather than keeping it.
    private readonly object? _storage;
    private readonly SegmentPlan _plan;
    private readonly SkBuffOffload _offload;
    private readonly int _origin;
    private readonly int _length;
    private readonly int _count;
    private HeaderTemplate _template;
    private int _next;

    internal InPlaceSegments(SkBuff skb, SegmentPlan plan, SkBuffOffload offload)
    {
        _storage = skb.Slot;
        _plan = plan;
        _offload = offload;
        _origin = skb.Headroom;
        _length = skb.Length;
        _count = offload.GsoType == GsoType.None ? 1 : plan.Count;
        if (offload.GsoType != GsoType.None)
        {
            skb.Data[..plan.Layout.HeaderLength].CopyTo(_template);
        }
        // Every segment is a complete frame; nothing is left for whoever sends them.
        skb.Offload = default;
    }

    /// <summary>How many segments the frame is cut into (0 for a walk that was not started).</summary>
    public readonly int Count => _count;

    /// <summary>The index of the segment the frame holds now, from 0; -1 before the first <see cref="MoveNext"/>.</summary>
    public readonly int Index => _next - 1;

    /// <summary>Makes the data of <paramref name="skb"/>, the frame the walk began with, the next segment, complete and wire-size.</summary>
    /// <returns>false when every segment was made.</returns>
    /// <exception cref="ArgumentException"><paramref name="skb"/> is not the frame the walk began with.</exception>
    /// <exception cref="SkBuffMisuseException">The frame was released during the walk.</exception>
    public bool MoveNext(SkBuff skb)
    {
        if (_next >= _count)
        {
            return false;
        }
        if (!ReferenceEquals(skb.Slot, _storage))
        {
            throw new ArgumentException("The walk goes over the frame it was started with; this is another one.", nameof(skb));
        }
        var index = _next++;
        if (_offload.GsoType == GsoType.None)
        {
            if (_offload.NeedsChecksum)
            {
                SetWindow(skb, _origin, _length);
                PartialChecksum.TryComplete(skb.Data, _offload.ChecksumStart, _offload.ChecksumOffset);
            }
            return true;
        }
        var headerLength = _plan.Layout.HeaderLength;
        var payloadOffset = _plan.PayloadOffset(index);
        SetWindow(skb, _origin + payloadOffset - headerLength, headerLength + _plan.PayloadLengthOf(index));
        var segment = skb.Data;
        ((ReadOnlySpan<byte>)_template)[..headerLength].CopyTo(segment);
        _plan.Finish(segment, index);
        return true;
    }

    /// <summary>Makes the frame's data the <paramref name="length"/> bytes at buffer offset <paramref name="start"/>.</summary>
    private static void SetWindow(SkBuff skb, int start, int length)
    {
        var headroom = skb.Headroom;
        if (start < headroom)
        {
            skb.Push(headroom - start);
        }
        else if (start > headroom)
        {
            // Pull may not remove more than the frame holds: reach the new start with the end first.
            if (headroom + skb.Length < start)
            {
                skb.Put(start - headroom - skb.Length);
            }
            skb.Pull(start - headroom);
        }
        var current = skb.Length;
        if (length > current)
        {
            skb.Put(length - current);
        }
        else
        {
            skb.Trim(length);
        }
    }

    /// <summary>Room for one copy of the original headers, inside the walk (on the stack).</summary>
    [InlineArray(GsoSegmenter.MaxHeaderLength)]
    private struct HeaderTemplate
    {
        private byte _element;
    }
}
