namespace NetDev.Offload;

/// <summary>
/// A walk over the segments of a frame cut into a buffer of the caller's, back to back, each with room in
/// front and behind (<see cref="GsoSegmenter.SegmentPacked"/>): the layout UDP GSO sends in one call, where
/// every datagram is a segment wrapped in a tunnel's header and trailer.
/// </summary>
/// <remarks>
/// <para>Each <see cref="Fill"/> writes the next segments, as many as fit, at a fixed <em>stride</em>:
/// segment <c>k</c> of a fill starts at <c>k × stride</c> with <c>before</c> bytes left for the caller, then
/// the complete wire-size frame (the original headers, finished, and its payload), then <c>after</c> bytes left
/// for the caller. Every segment but the frame's last is exactly one stride long; the last may be shorter.
/// The original frame is borrowed and not changed, so the walk may stop at any point.</para>
/// <para><b>Invariants.</b> <c>_next</c> counts the segments written, up to <see cref="Count"/>; <c>_storage</c> is
/// the storage of the frame the walk began with, which each step borrows anew; the frame's bytes are those
/// <c>_plan</c> was made from (it is not written to by the walk).</para>
/// </remarks>
public ref struct PackedSegments
{
    private readonly object? _storage;
    private readonly SegmentPlan _plan;
    private readonly SkBuffOffload _offload;
    private readonly int _count;
    private readonly int _frameLength;
    private int _next;

    internal PackedSegments(SkBuff skb, SegmentPlan plan, SkBuffOffload offload)
    {
        _storage = skb.Slot;
        _plan = plan;
        _offload = offload;
        _frameLength = skb.Length;
        _count = offload.GsoType == GsoType.None ? 1 : plan.Count;
    }

    /// <summary>How many segments the frame is cut into (0 for a walk that was not started).</summary>
    public readonly int Count => _count;

    /// <summary>Whether every segment was written.</summary>
    public readonly bool IsFinished => _next >= _count;

    /// <summary>How many segments are written so far.</summary>
    public readonly int Written => _next;

    /// <summary>The length of one segment's frame but the last: its headers and a full segment of payload.</summary>
    public readonly int SegmentFrameLength => _offload.GsoType == GsoType.None ? _frameLength : _plan.Layout.HeaderLength + _plan.SegmentSize;

    /// <summary>The length of segment <paramref name="index"/>'s frame.</summary>
    public readonly int FrameLengthOf(int index) =>
        _offload.GsoType == GsoType.None ? _frameLength : _plan.Layout.HeaderLength + _plan.PayloadLengthOf(index);

    /// <summary>
    /// Writes the next segments into <paramref name="destination"/>, as many as fit, each at a stride of
    /// <paramref name="before"/> + <see cref="SegmentFrameLength"/> + <paramref name="after"/>.
    /// </summary>
    /// <param name="skb">The frame the walk began with (borrowed).</param>
    /// <param name="destination">Where the segments go; what lies in the room before and after each is left as it was.</param>
    /// <param name="before">Bytes left free in front of each segment.</param>
    /// <param name="after">Bytes left free behind each segment.</param>
    /// <param name="maxSegments">How many segments to write at most.</param>
    /// <param name="length">How many bytes of <paramref name="destination"/> the written segments take, room included.</param>
    /// <returns>How many segments were written: 0 when the walk is finished or not even one fits.</returns>
    /// <exception cref="ArgumentException"><paramref name="skb"/> is not the frame the walk began with.</exception>
    public int Fill(SkBuff skb, Span<byte> destination, int before, int after, int maxSegments, out int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(before);
        ArgumentOutOfRangeException.ThrowIfNegative(after);
        if (!ReferenceEquals(skb.Slot, _storage))
        {
            throw new ArgumentException("The walk goes over the frame it was started with; this is another one.", nameof(skb));
        }
        var frame = skb.Data;
        length = 0;
        var written = 0;
        while (_next < _count && written < maxSegments)
        {
            var frameLength = FrameLengthOf(_next);
            if (length + before + frameLength + after > destination.Length)
            {
                break;
            }
            var segment = destination.Slice(length + before, frameLength);
            if (_offload.GsoType == GsoType.None)
            {
                frame.CopyTo(segment);
                if (_offload.NeedsChecksum)
                {
                    PartialChecksum.TryComplete(segment, _offload.ChecksumStart, _offload.ChecksumOffset);
                }
            }
            else
            {
                var headerLength = _plan.Layout.HeaderLength;
                frame[..headerLength].CopyTo(segment);
                frame.Slice(_plan.PayloadOffset(_next), frameLength - headerLength).CopyTo(segment[headerLength..]);
                _plan.Finish(segment, _next);
            }
            length += before + frameLength + after;
            _next++;
            written++;
        }
        return written;
    }
}
