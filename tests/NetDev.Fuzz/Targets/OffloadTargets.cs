using System.Runtime.InteropServices;
using NetDev.Offload;

namespace NetDev.Fuzz;

/// <summary>
/// The offload helpers on arbitrary frames, as a driver meets them: frames the kernel wrote to a TAP with
/// whatever offload fields it set (FrameLayout, PartialChecksum, GsoSegmenter) and frames off a wire
/// (GroCoalescer).
/// </summary>
internal static class OffloadTargets
{
    [ThreadStatic]
    private static SkBuffPool? t_pool;

    private static SkBuffPool Pool => t_pool ??= new SkBuffPool(2048, 64, "fuzz");

    /// <summary>Input: a frame. A parsed layout must lie inside the frame, in order.</summary>
    public static void FrameLayout(ReadOnlySpan<byte> input)
    {
        var frame = new FuzzInput(input).Rest;
        var result = Offload.FrameLayout.TryParse(frame, out var layout);
        if (result != OffloadResult.Done)
        {
            FuzzFailure.Check(layout == default, $"frame-layout: {result} yet a layout was given");
            return;
        }
        CheckLayout(frame, layout, "frame-layout");
    }

    /// <summary>
    /// Input: checksum start and offset (2 bytes each, big-endian), a GSO type byte, then the frame.
    /// Done: the checksum is complete and only its field changed; anything else: nothing changed.
    /// </summary>
    public static void PartialChecksum(ReadOnlySpan<byte> input)
    {
        var fields = new FuzzInput(input);
        var start = fields.UInt16();
        var offset = fields.UInt16();
        var offload = new SkBuffOffload(true, false, GsoTypeOf(fields.Byte()), false, 0, 0, start, offset);
        var frame = fields.Rest;
        var pool = Pool;
        var outstanding = pool.Outstanding;
        var skb = Frames.Load(pool, frame, offload);
        var result = Offload.PartialChecksum.Complete(skb);
        var after = skb.Data;
        if (result == OffloadResult.Done)
        {
            var field = offload.ChecksumStart + offload.ChecksumOffset;
            FuzzFailure.Check(!skb.Offload.NeedsChecksum, "partial-checksum: Done, yet the frame still needs its checksum");
            FuzzFailure.Check(after[..field].SequenceEqual(frame[..field]) && after[(field + 2)..].SequenceEqual(frame[(field + 2)..]),
                "partial-checksum: bytes outside the checksum field changed");
            // The field held the pseudo-header's sum, which the checksum covers: the range, with that sum
            // added back, must add up to all ones.
            var seed = MemoryMarshal.Read<ushort>(frame[field..]);
            FuzzFailure.Check(InternetChecksum.Fold(InternetChecksum.Accumulate(after[offload.ChecksumStart..], seed)) == 0xFFFF,
                "partial-checksum: the completed checksum is wrong");
        }
        else
        {
            FuzzFailure.Check(after.SequenceEqual(frame) && skb.Offload == offload, $"partial-checksum: {result}, yet the frame changed");
        }
        skb.Consume();
        Frames.CheckNoneLeaked(pool, outstanding, "partial-checksum");
    }

    /// <summary>
    /// Input: GSO type, flags (1 needs checksum, 2 ECN), segment size, checksum start and offset (big-endian),
    /// then the frame. Both ways of cutting must agree segment by segment, every segment must be a
    /// well-formed packet no larger than the segment size asks, and nothing may leak.
    /// </summary>
    public static void Gso(ReadOnlySpan<byte> input) => CutSegments(input);

    /// <summary>Runs <see cref="Gso"/> and says how many segments the frame was cut into, so a test can see that the seeds reach the cutting.</summary>
    internal static int CutSegments(ReadOnlySpan<byte> input)
    {
        var fields = new FuzzInput(input);
        var gsoType = GsoTypeOf(fields.Byte());
        var flags = fields.Byte();
        var gsoSize = fields.UInt16();
        var offload = new SkBuffOffload((flags & 1) != 0, false, gsoType, (flags & 2) != 0, 0, gsoSize, fields.UInt16(), fields.UInt16());
        var frame = fields.Rest;
        var pool = Pool;
        var outstanding = pool.Outstanding;

        var original = Frames.Load(pool, frame, offload);
        var copied = new CollectingSink();
        var result = GsoSegmenter.Segment(original, pool, copied);
        FuzzFailure.Check(original.Data.SequenceEqual(frame) && original.Offload == offload, "gso: Segment changed the frame it borrowed");
        FuzzFailure.Check(result == OffloadResult.Done || copied.Frames.Count == 0, $"gso: {result}, yet segments were delivered");
        original.Consume();

        var inPlace = new List<byte[]>();
        var walked = Frames.Load(pool, frame, offload);
        var inPlaceResult = GsoSegmenter.SegmentInPlace(walked, out var segments);
        while (segments.MoveNext(walked))
        {
            inPlace.Add(walked.Data.ToArray());
        }
        FuzzFailure.Check(inPlaceResult == OffloadResult.Done || walked.Data.SequenceEqual(frame), $"gso: in place {inPlaceResult}, yet the frame changed");
        walked.Consume();
        Frames.CheckNoneLeaked(pool, outstanding, "gso");

        FuzzFailure.Check(result == inPlaceResult, $"gso: Segment says {result}, SegmentInPlace {inPlaceResult}");
        FuzzFailure.Check(copied.Frames.Count == inPlace.Count, $"gso: {copied.Frames.Count} segments copied, {inPlace.Count} made in place");
        for (var i = 0; i < inPlace.Count; i++)
        {
            FuzzFailure.Check(copied.Frames[i].Bytes.AsSpan().SequenceEqual(inPlace[i]), $"gso: segment {i} differs between the two ways of cutting");
            FuzzFailure.Check(copied.Frames[i].Offload == default, $"gso: segment {i} still carries offload fields");
        }
        if (result != OffloadResult.Done || gsoType == GsoType.None)
        {
            return inPlace.Count;
        }
        Offload.FrameLayout.TryParse(frame, out var layout);
        var payload = 0;
        foreach (var segment in inPlace)
        {
            FuzzFailure.Check(Offload.FrameLayout.TryParse(segment, out var segmentLayout) == OffloadResult.Done && segmentLayout == layout,
                "gso: a segment's headers do not parse as the original's");
            FuzzFailure.Check(Frames.IpLengthField(segment, layout) == segment.Length - layout.NetworkOffset, "gso: a segment's IP length is not its length");
            FuzzFailure.Check(segment.Length - layout.HeaderLength <= gsoSize, "gso: a segment carries more than the segment size");
            payload += segment.Length - layout.HeaderLength;
        }
        FuzzFailure.Check(payload == frame.Length - layout.HeaderLength, "gso: the segments do not carry the frame's payload exactly");
        return inPlace.Count;
    }

    /// <summary>
    /// Input: a byte choosing the features (bits 0–1) and the held flows (bits 2–4, 1 to 8), then frames,
    /// each a flags byte (1 checksum valid, 2 needs checksum, 4 a GSO frame, 8 flush after it), a length
    /// (2 bytes, big-endian) and its bytes. Every frame must come out once, untouched or with later
    /// segments merged onto it; a merged frame must be a well-formed GSO frame the segmenter can cut
    /// again; nothing may leak.
    /// </summary>
    public static void Gro(ReadOnlySpan<byte> input) => MergeSegments(input);

    /// <summary>Runs <see cref="Gro"/> and says how many segments were merged, so a test can see that the seeds reach the merging.</summary>
    internal static long MergeSegments(ReadOnlySpan<byte> input)
    {
        var fields = new FuzzInput(input);
        var setup = fields.Byte();
        DeviceFeatures[] choices = [DeviceFeatures.All, DeviceFeatures.Checksum | DeviceFeatures.Tso4, DeviceFeatures.Checksum | DeviceFeatures.Tso6, DeviceFeatures.None];
        var sink = new CollectingSink();
        var coalescer = new GroCoalescer(sink, choices[setup & 3], 1 + ((setup >> 2) & 7));
        var pool = Pool;
        var outstanding = pool.Outstanding;
        var received = new List<(byte[] Bytes, SkBuffOffload Offload)>();
        while (!fields.IsEmpty)
        {
            var flags = fields.Byte();
            var bytes = fields.Bytes(fields.UInt16());
            var offload = new SkBuffOffload((flags & 2) != 0, (flags & 1) != 0, (flags & 4) != 0 ? GsoType.TcpV4 : GsoType.None, false, 0, 0, 0, 0);
            var skb = Frames.Load(pool, bytes, offload);
            // The coalescer leaves the protocol alone: it tells which frame (or merge's first frame) comes out.
            skb.Protocol = (ushort)received.Count;
            received.Add((bytes.ToArray(), offload));
            coalescer.Receive(skb);
            if ((flags & 8) != 0)
            {
                coalescer.Flush();
            }
        }
        coalescer.Flush();
        FuzzFailure.Check(coalescer.HeldCount == 0, "gro: frames are held after Flush");
        FuzzFailure.Check(sink.Frames.Count + coalescer.MergedSegments == received.Count,
            $"gro: {received.Count} frames in, {sink.Frames.Count} out and {coalescer.MergedSegments} merged");
        FuzzFailure.Check(sink.Frames.Select(frame => frame.Protocol).Distinct().Count() == sink.Frames.Count, "gro: a frame came out twice");
        Frames.CheckNoneLeaked(pool, outstanding, "gro");
        foreach (var (bytes, offload, index) in sink.Frames)
        {
            var (original, originalOffload) = received[index];
            if (bytes.Length == original.Length)
            {
                FuzzFailure.Check(bytes.AsSpan().SequenceEqual(original) && offload == originalOffload, $"gro: frame {index} came out alone but changed");
                continue;
            }
            var parsed = Offload.FrameLayout.TryParse(bytes, out var layout);
            FuzzFailure.Check(parsed == OffloadResult.Done && offload.GsoType is GsoType.TcpV4 or GsoType.TcpV6, $"gro: merged frame {index} does not parse as a TCP GSO frame ({parsed})");
            CheckLayout(bytes, layout, "gro");
            FuzzFailure.Check(Frames.IpLengthField(bytes, layout) == bytes.Length - layout.NetworkOffset, "gro: a merged frame's IP length is not its length");
            var merged = Frames.Load(pool, bytes, offload);
            var segments = new CollectingSink();
            var result = GsoSegmenter.Segment(merged, pool, segments);
            merged.Consume();
            FuzzFailure.Check(result == OffloadResult.Done && segments.Frames.Count >= 2, $"gro: merged frame {index} cannot be cut again ({result})");
            FuzzFailure.Check(segments.Frames[0].Bytes.AsSpan(layout.HeaderLength).SequenceEqual(original.AsSpan(layout.HeaderLength)),
                $"gro: merged frame {index} does not begin with its first frame's payload");
        }
        Frames.CheckNoneLeaked(pool, outstanding, "gro");
        return coalescer.MergedSegments;
    }

    /// <summary>A GSO type from a byte: mostly the kernel's values, sometimes one it never sends.</summary>
    private static GsoType GsoTypeOf(byte value) => (GsoType)(value % 7);

    private static void CheckLayout(ReadOnlySpan<byte> frame, FrameLayout layout, string target)
    {
        FuzzFailure.Check(layout.NetworkOffset >= NetDevice.EthernetHeaderLength && layout.NetworkOffset < layout.TransportOffset
            && layout.TransportOffset < layout.HeaderLength && layout.HeaderLength <= frame.Length,
            $"{target}: the layout {layout} does not lie inside the {frame.Length}-byte frame in order");
        FuzzFailure.Check(layout.HeaderLength <= GsoSegmenter.MaxHeaderLength, $"{target}: headers of {layout.HeaderLength} bytes were accepted");
        FuzzFailure.Check(layout.TransportProtocol is Offload.FrameLayout.Tcp or Offload.FrameLayout.Udp, $"{target}: transport protocol {layout.TransportProtocol}");
        FuzzFailure.Check(frame.Length - layout.NetworkOffset - (layout.IsIpv6 ? Offload.FrameLayout.Ipv6HeaderLength : 0) <= Offload.FrameLayout.LargestIpPacket,
            $"{target}: an IP packet longer than 65535 bytes was accepted");
    }
}
