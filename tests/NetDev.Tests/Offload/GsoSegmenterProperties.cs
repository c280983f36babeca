using System.Buffers.Binary;
using CsCheck;
using NetDev.Offload;

namespace NetDev.Tests.Offload;

/// <summary>
/// Random GSO frames cut by both ways of the segmenter, every segment checked field by field against what
/// the kernel's GSO makes, with checksums recomputed by an independent implementation.
/// </summary>
public sealed class GsoSegmenterProperties
{
    private const int Iterations = 600;

    /// <summary>Shared by all cases (and CsCheck's threads): the pool must come out with nothing outstanding.</summary>
    private static readonly SkBuffPool Pool = new(bufferSize: 2048, headroom: 64, name: "gso tests");

    [Fact]
    public void SegmentsAreValidWireFramesThatRebuildThePayload() =>
        GsoCase.Any.Sample(gso =>
        {
            var original = gso.Build();
            var segments = SegmentCopying(gso, original, out var unchanged);
            Assert.True(unchanged, "the original frame was changed");
            Assert.Equal(gso.SegmentCount, segments.Count);
            for (var i = 0; i < segments.Count; i++)
            {
                Reference.AssertSegment(gso, original, segments[i], i);
            }
            var rebuilt = segments.SelectMany(segment => segment[gso.HeaderLength..]).ToArray();
            Assert.Equal(gso.Payload(), rebuilt);
        }, iter: Iterations, print: gso => gso.ToString());

    [Fact]
    public void CuttingInPlaceMakesTheSameSegmentsAsCopying() =>
        GsoCase.Any.Sample(gso =>
        {
            var original = gso.Build();
            var copied = SegmentCopying(gso, original, out _);
            var inPlace = SegmentInPlace(gso, original, tunnelHeader: 4);
            Assert.Equal(copied.Count, inPlace.Count);
            for (var i = 0; i < copied.Count; i++)
            {
                Assert.True(copied[i].AsSpan().SequenceEqual(inPlace[i]), $"segment {i} differs");
            }
        }, iter: Iterations, print: gso => gso.ToString());

    [Fact]
    public void CuttingPackedMakesTheSameSegmentsAsCopyingAtOneStrideWithTheRoomLeftAlone() =>
        GsoCase.Any.Sample(gso =>
        {
            var original = gso.Build();
            var copied = SegmentCopying(gso, original, out _);
            // Room as a tunnel needs it (a header in front, a tag behind), and a buffer so small that the walk
            // takes several fills, some of one segment only.
            var before = gso.SegmentCount % 5 * 4;
            var after = gso.SegmentCount % 3 * 8;
            var skb = Load(gso, original, Pool);
            try
            {
                Assert.Equal(OffloadResult.Done, GsoSegmenter.SegmentPacked(skb, out var walk));
                Assert.Equal(copied.Count, walk.Count);
                var stride = before + walk.SegmentFrameLength + after;
                var destination = new byte[2 * stride + 1];
                var packed = new List<byte[]>();
                while (!walk.IsFinished)
                {
                    destination.AsSpan().Fill(0xEE);
                    var count = walk.Fill(skb, destination, before, after, maxSegments: 3, out var length);
                    Assert.InRange(count, 1, 2);
                    for (var k = 0; k < count; k++)
                    {
                        var index = packed.Count;
                        var frameLength = walk.FrameLengthOf(index);
                        var start = k * stride;
                        Assert.True(destination.AsSpan(start, before).IndexOfAnyExcept((byte)0xEE) < 0, "the room in front was written");
                        Assert.True(destination.AsSpan(start + before + frameLength, after).IndexOfAnyExcept((byte)0xEE) < 0, "the room behind was written");
                        packed.Add(destination.AsSpan(start + before, frameLength).ToArray());
                    }
                    Assert.Equal((count - 1) * stride + before + walk.FrameLengthOf(packed.Count - 1) + after, length);
                }
                Assert.True(skb.Data.SequenceEqual(original), "the original frame was changed");
                Assert.Equal(copied.Count, packed.Count);
                for (var i = 0; i < copied.Count; i++)
                {
                    Assert.True(copied[i].AsSpan().SequenceEqual(packed[i]), $"segment {i} differs");
                }
            }
            finally
            {
                skb.Consume();
            }
        }, iter: Iterations, print: gso => gso.ToString());

    [Fact]
    public void SegmentsKeepTheFramesMetadataAndLeaveNoOffload()
    {
        var gso = new GsoCase(false, 0, 0, 0, false, 3, GsoCase.Ack | GsoCase.Psh | GsoCase.Fin, 1000, 5, 512, 7, 0, 3000, 1448, false, 42);
        // A pool of this test's own: the shared one is busy with the property tests that run in parallel.
        var pool = new SkBuffPool(bufferSize: 2048, headroom: 64, name: "metadata test");
        var skb = Load(gso, gso.Build(), pool);
        skb.Protocol = 0x0800;
        skb.QueueIndex = 3;
        skb.TxTimestampRequested = true;
        var sink = new CollectingSink();

        Assert.Equal(OffloadResult.Done, GsoSegmenter.Segment(skb, pool, sink));
        skb.Consume();

        Assert.Equal(3, sink.Frames.Count);
        Assert.All(sink.Frames, segment =>
        {
            Assert.Equal((ushort)0x0800, segment.Protocol);
            Assert.Equal(3, segment.QueueIndex);
            Assert.True(segment.TxTimestampRequested);
            Assert.True(segment.Offload.IsNone);
            Assert.Equal(pool.Headroom, segment.Headroom);
        });
        // 1448 + 1448 + 104: the last segment carries what is left, with FIN and PSH.
        Assert.Equal([1448, 1448, 104], sink.Frames.Select(f => f.Length - gso.HeaderLength));
        Assert.Equal([GsoCase.Ack, GsoCase.Ack, GsoCase.Ack | GsoCase.Psh | GsoCase.Fin], sink.Frames.Select(f => f.Data[gso.TransportOffset + 13]));
        sink.ConsumeAll();
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void CwrIsOnlyOnTheFirstSegment()
    {
        var gso = new GsoCase(true, 0, 0, 0, false, 0, GsoCase.Ack | GsoCase.Cwr | GsoCase.Ece, 1, 1, 1, 0, 0, 3000, 1000, true, 1);
        var segments = SegmentCopying(gso, gso.Build(), out _);
        Assert.Equal([GsoCase.Ack | GsoCase.Cwr | GsoCase.Ece, GsoCase.Ack | GsoCase.Ece, GsoCase.Ack | GsoCase.Ece],
            segments.Select(s => s[gso.TransportOffset + 13]));
    }

    [Fact]
    public void AFrameWithoutSegmentationIsOneSegmentWithItsChecksumCompleted()
    {
        var gso = new GsoCase(false, 1, 2, 0, true, 0, GsoCase.Ack, 0, 0, 0, 9, 0, 700, 1400, false, 5);
        var original = gso.Build();
        WritePartialChecksum(gso, original);
        var skb = Load(gso, original, Pool);
        skb.Offload = gso.Offload with { GsoType = GsoType.None, GsoSize = 0 };
        var sink = new CollectingSink();

        Assert.Equal(OffloadResult.Done, GsoSegmenter.Segment(skb, Pool, sink));
        var copied = Assert.Single(sink.TakeBytes());
        Reference.AssertSegment(gso, original, copied, 0);

        Assert.Equal(OffloadResult.Done, GsoSegmenter.SegmentInPlace(skb, out var walk));
        Assert.Equal(1, walk.Count);
        Assert.True(walk.MoveNext(skb));
        Assert.Equal(copied, skb.Data.ToArray());
        Assert.False(walk.MoveNext(skb));
        Assert.True(skb.Offload.IsNone);
        skb.Consume();
    }

    [Fact]
    public void AnEmptyFrameWithoutSegmentationIsOneEmptySegment()
    {
        // Found by the gso fuzz target: copying a 0-byte frame asked the pool for no room past its headroom, which it refuses.
        var skb = Pool.Rent();
        var sink = new CollectingSink();

        Assert.Equal(OffloadResult.Done, GsoSegmenter.Segment(skb, Pool, sink));
        Assert.Empty(Assert.Single(sink.TakeBytes()));

        Assert.Equal(OffloadResult.Done, GsoSegmenter.SegmentInPlace(skb, out var walk));
        Assert.True(walk.MoveNext(skb));
        Assert.Equal(0, skb.Length);
        Assert.False(walk.MoveNext(skb));
        skb.Consume();
    }

    public static TheoryData<string, Func<GsoCase, byte[], SkBuffOffload, (byte[], SkBuffOffload)>, OffloadResult> Refusals => new()
    {
        { "TCPv6 type on an IPv4 frame", (g, f, o) => (f, o with { GsoType = GsoType.TcpV6 }), OffloadResult.Malformed },
        { "UDP segmentation on a TCP frame", (g, f, o) => (f, o with { GsoType = GsoType.UdpL4 }), OffloadResult.Malformed },
        { "segment size 0", (g, f, o) => (f, o with { GsoSize = 0 }), OffloadResult.Malformed },
        { "checksum start elsewhere", (g, f, o) => (f, o with { ChecksumStart = (ushort)(o.ChecksumStart + 4) }), OffloadResult.Malformed },
        { "unknown GSO type", (g, f, o) => (f, o with { GsoType = (GsoType)2 }), OffloadResult.Malformed },
        { "legacy UDP fragmentation", (g, f, o) => (f, o with { GsoType = GsoType.Udp }), OffloadResult.Unsupported },
        { "cut inside the TCP header", (g, f, o) => (f[..(g.HeaderLength - 1)], o), OffloadResult.Malformed },
        { "cut inside the IP header", (g, f, o) => (f[..(g.LinkLength + 10)], o), OffloadResult.Malformed },
        { "ARP", (g, f, o) => (WithByte(f, 12, 0x08, 0x06), o), OffloadResult.Unsupported },
        { "IP version 5", (g, f, o) => (WithByte(f, 14, 0x55), o), OffloadResult.Malformed },
        { "IPv4 fragment", (g, f, o) => (WithByte(f, 14 + 6, 0x20), o), OffloadResult.Unsupported },
        { "TCP data offset below 5", (g, f, o) => (WithByte(f, g.TransportOffset + 12, 0x40), o), OffloadResult.Malformed },
        { "ICMP", (g, f, o) => (WithByte(f, 14 + 9, 1), o), OffloadResult.Unsupported },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void AFrameThatIsNotWhatItsOffloadSaysIsRefusedUntouched(string what, Func<GsoCase, byte[], SkBuffOffload, (byte[], SkBuffOffload)> spoil, OffloadResult expected)
    {
        var gso = new GsoCase(false, 0, 0, 0, false, 3, GsoCase.Ack, 1, 1, 1, 1, 0, 4000, 1448, false, 3);
        var (frame, offload) = spoil(gso, gso.Build(), gso.Offload);
        var pool = new SkBuffPool(2048, 64, what);
        var skb = Load(gso, frame, pool);
        skb.Offload = offload;
        var sink = new CollectingSink();

        Assert.Equal(expected, GsoSegmenter.Segment(skb, pool, sink));
        Assert.Empty(sink.Frames);
        Assert.Equal(1, pool.Outstanding);
        Assert.Equal(expected, GsoSegmenter.SegmentInPlace(skb, out var walk));
        Assert.False(walk.MoveNext(skb));
        Assert.Equal(frame, skb.Data.ToArray());
        Assert.Equal(offload, skb.Offload);
        skb.Consume();
    }

    [Fact]
    public void TheInPlaceWalkOnlyGoesOverTheFrameItBeganWithWhileItIsLive()
    {
        var gso = new GsoCase(false, 0, 0, 0, false, 3, GsoCase.Ack, 1, 1, 1, 1, 0, 4000, 1448, false, 13);
        var pool = new SkBuffPool(8192, 64, "walk");
        var skb = Load(gso, gso.Build(), pool);
        var other = Load(gso, gso.Build(), pool);
        Assert.Equal(OffloadResult.Done, GsoSegmenter.SegmentInPlace(skb, out var walk));
        Assert.True(walk.MoveNext(skb));

        var wrongFrame = false;
        try
        {
            walk.MoveNext(other);
        }
        catch (ArgumentException)
        {
            wrongFrame = true;
        }
        Assert.True(wrongFrame);
        other.Consume();

        var copy = skb;
        copy.Consume();
        var released = false;
        try
        {
            walk.MoveNext(skb);
        }
        catch (SkBuffMisuseException)
        {
            released = true;
        }
        Assert.True(released);
    }

    [Fact]
    public void HeadersLongerThanTheLimitAreUnsupported()
    {
        // Two VLAN tags, IPv6 with 10 extension headers of 16 bytes, TCP with 40 bytes of options: 282 bytes.
        var gso = new GsoCase(true, 2, 0, 10, false, 10, GsoCase.Ack, 1, 1, 1, 1, 0, 3000, 1000, false, 1);
        Assert.True(gso.HeaderLength > GsoSegmenter.MaxHeaderLength);
        var skb = Load(gso, gso.Build(), Pool);
        skb.Offload = gso.Offload;
        Assert.Equal(OffloadResult.Unsupported, GsoSegmenter.Segment(skb, Pool, new CollectingSink()));
        skb.Consume();
    }

    [Fact]
    public void TheSegmentCheckCatchesAWrongSegment()
    {
        // The properties above must be able to fail: one flipped payload bit breaks the checksum.
        var gso = new GsoCase(false, 0, 0, 0, false, 3, GsoCase.Ack, 1, 1, 1, 1, 0, 3000, 1448, false, 9);
        var original = gso.Build();
        var segments = SegmentCopying(gso, original, out _);
        segments[1][^1] ^= 0x10;
        Assert.ThrowsAny<Exception>(() => Reference.AssertSegment(gso, original, segments[1], 1));
        // And a segment in the wrong place is caught by its sequence number.
        Assert.ThrowsAny<Exception>(() => Reference.AssertSegment(gso, original, segments[0], 1));
    }

    [Fact]
    public void CuttingAllocatesNothingPerFrame()
    {
        var gso = new GsoCase(false, 0, 0, 0, false, 3, GsoCase.Ack | GsoCase.Psh, 1, 1, 1, 1, 0, 64000, 1448, false, 11);
        var original = gso.Build();
        var pool = new SkBuffPool(2048 + 65536, 64, "allocation");
        pool.BindToCurrentThread();
        var sink = new ConsumingSink();
        // Warm: the pool at its working size and the code past its first tiers, as on a running device.
        const int WarmUp = 50, Measured = 20;
        for (var i = 0; i < WarmUp; i++)
        {
            Cut(pool, original, gso, sink);
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Measured; i++)
        {
            Cut(pool, original, gso, sink);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal((WarmUp + Measured) * 2 * gso.SegmentCount, sink.Count);

        static void Cut(SkBuffPool pool, byte[] original, GsoCase gso, ConsumingSink sink)
        {
            var skb = Load(gso, original, pool);
            GsoSegmenter.Segment(skb, pool, sink);
            GsoSegmenter.SegmentInPlace(skb, out var walk);
            while (walk.MoveNext(skb))
            {
                sink.Count++;
            }
            skb.Consume();
        }
    }

    internal static SkBuff Load(GsoCase gso, ReadOnlySpan<byte> frame, SkBuffPool pool)
    {
        var skb = pool.Rent(pool.Headroom + frame.Length);
        frame.CopyTo(skb.Put(frame.Length));
        skb.Offload = gso.Offload;
        return skb;
    }

    internal static List<byte[]> SegmentCopying(GsoCase gso, byte[] original, out bool unchanged)
    {
        var skb = Load(gso, original, Pool);
        var sink = new CollectingSink();
        try
        {
            Assert.Equal(OffloadResult.Done, GsoSegmenter.Segment(skb, Pool, sink));
            unchanged = skb.Data.SequenceEqual(original) && skb.Offload == gso.Offload;
            Assert.All(sink.Frames, segment => Assert.True(segment.Offload.IsNone));
            return sink.TakeBytes();
        }
        finally
        {
            skb.Consume();
        }
    }

    /// <summary>Walks the segments in place, pushing and scribbling a tunnel-like header in front of each, as a sender would.</summary>
    internal static List<byte[]> SegmentInPlace(GsoCase gso, byte[] original, int tunnelHeader)
    {
        var skb = Load(gso, original, Pool);
        try
        {
            Assert.Equal(OffloadResult.Done, GsoSegmenter.SegmentInPlace(skb, out var walk));
            Assert.True(skb.Offload.IsNone);
            var segments = new List<byte[]>();
            while (walk.MoveNext(skb))
            {
                Assert.Equal(segments.Count, walk.Index);
                segments.Add(skb.Data.ToArray());
                skb.Push(tunnelHeader).Fill(0xEE);
            }
            return segments;
        }
        finally
        {
            skb.Consume();
        }
    }

    /// <summary>Puts the pseudo-header's sum (not complemented) in the transport checksum field, as the kernel does for CHECKSUM_PARTIAL.</summary>
    internal static void WritePartialChecksum(GsoCase gso, byte[] frame)
    {
        var ip = frame.AsSpan(gso.LinkLength, gso.NetworkHeaderLength);
        var transportLength = frame.Length - gso.TransportOffset;
        var partial = (ushort)~Reference.Checksum([], Reference.PseudoHeaderSum(ip, gso.Ipv6, gso.Udp ? (byte)17 : (byte)6, transportLength));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(gso.TransportOffset + (gso.Udp ? 6 : 16)), partial);
    }

    private static byte[] WithByte(byte[] frame, int offset, params byte[] values)
    {
        var copy = frame.ToArray();
        values.CopyTo(copy, offset);
        return copy;
    }

    private sealed class ConsumingSink : IFrameSink
    {
        public int Count;

        public void Deliver([TakesOwnership] SkBuff frame)
        {
            Count++;
            frame.Consume();
        }
    }
}
