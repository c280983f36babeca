using System.Buffers.Binary;
using CsCheck;
using NetDev.Offload;

namespace NetDev.Tests.Offload;

/// <summary>
/// Receive coalescing against the segmenter: what GSO cuts, GRO puts back together, and cutting that
/// again gives the very same segments. Plus the cases where GRO must not merge.
/// </summary>
public sealed class GroCoalescerProperties
{
    /// <summary>Room for a whole 64 KiB merged frame in every buffer, as a driver with TSO on receives into.</summary>
    private const int BigBuffer = 64 + 65536 + 256;

    private static readonly DeviceFeatures Tso = DeviceFeatures.Checksum | DeviceFeatures.Tso4 | DeviceFeatures.Tso6;

    [Fact]
    public void CoalescingSegmentsThenCuttingAgainGivesTheSameSegments() =>
        GsoCase.Any.Sample(gso =>
        {
            var segments = GsoSegmenterProperties.SegmentCopying(gso, gso.Build(), out _);
            var pool = new SkBuffPool(BigBuffer, 64);
            var merged = Coalesce(pool, segments, Tso);
            var again = new List<byte[]>();
            foreach (var frame in merged)
            {
                var sink = new CollectingSink();
                Assert.Equal(OffloadResult.Done, GsoSegmenter.Segment(frame, pool, sink));
                frame.Consume();
                again.AddRange(sink.TakeBytes());
            }
            Assert.Equal(segments.Count, again.Count);
            for (var i = 0; i < segments.Count; i++)
            {
                Assert.True(segments[i].AsSpan().SequenceEqual(again[i]), $"segment {i} differs");
            }
            Assert.Equal(0, pool.Outstanding);
        }, iter: 400, print: gso => gso.ToString());

    [Fact]
    public void MergingFromSpansFirstGivesWhatReceivingFramesGives() =>
        GsoCase.Any.Sample(gso =>
        {
            // One send's segments, one of them corrupt in the middle: TryMerge must take
            // exactly what Receive would merge and leave everything else to it.
            var segments = GsoSegmenterProperties.SegmentCopying(gso, gso.Build(), out _);
            var spoiled = segments.Select(segment => segment.ToArray()).ToList();
            if (spoiled.Count > 2)
            {
                spoiled[spoiled.Count / 2][^1] ^= 0x5A;
            }
            var pool = new SkBuffPool(BigBuffer, 64);
            var expected = Coalesce(pool, spoiled, Tso).Select(Take).ToList();
            var sink = new CollectingSink();
            var gro = new GroCoalescer(sink, Tso);
            var merged = 0;
            foreach (var frame in spoiled)
            {
                if (gro.TryMerge(frame))
                {
                    merged++;
                    continue;
                }
                Receive(gro, pool, frame);
            }
            gro.Flush();
            var actual = sink.Frames.Select(Take).ToList();
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.True(expected[i].Bytes.AsSpan().SequenceEqual(actual[i].Bytes), $"frame {i} differs");
                Assert.Equal(expected[i].Offload, actual[i].Offload);
            }
            Assert.Equal(gro.MergedSegments, merged);
            Assert.Equal(0, pool.Outstanding);
        }, iter: 400, print: gso => gso.ToString());

    [Fact]
    public void TheSegmentsOfOneSendBecomeOneFrameDescribingTheirSegmentation() =>
        GsoCase.Any.Where(g => !g.Udp && g.PayloadLength > 0)
            // Only ACK, and PSH at the end: the flags a bulk sender's segments carry.
            .Select(g => g with { Flags = (byte)(GsoCase.Ack | (g.Flags & GsoCase.Psh)) })
            .Sample(gso =>
            {
                var original = gso.Build();
                var segments = GsoSegmenterProperties.SegmentCopying(gso, original, out _);
                var pool = new SkBuffPool(BigBuffer, 64);
                var merged = Assert.Single(Coalesce(pool, segments, Tso));
                var frame = merged.Data.ToArray();
                var offload = merged.Offload;
                merged.Consume();

                Assert.Equal(original.Length, frame.Length);
                Assert.Equal(gso.Payload(), frame[gso.HeaderLength..]);
                var ip = frame.AsSpan(gso.LinkLength, gso.NetworkHeaderLength);
                var tcp = frame.AsSpan(gso.TransportOffset);
                if (gso.SegmentCount == 1)
                {
                    Assert.True(offload.IsNone);
                    Assert.Equal(segments[0], frame);
                    return;
                }
                Assert.Equal(new SkBuffOffload(true, false, gso.GsoType, false, (ushort)gso.HeaderLength, (ushort)gso.GsoSize, (ushort)gso.TransportOffset, 16), offload);
                Assert.Equal(gso.Flags, tcp[13]);
                Assert.Equal(gso.Sequence, BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]));
                if (gso.Ipv6)
                {
                    Assert.Equal(frame.Length - gso.LinkLength - 40, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
                }
                else
                {
                    Assert.Equal(frame.Length - gso.LinkLength, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
                    Assert.Equal(gso.Identification, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
                    Assert.Equal(0, Reference.Checksum(ip));
                }
                // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum over the merged length.
                var partial = (ushort)~Reference.Checksum([], Reference.PseudoHeaderSum(ip, gso.Ipv6, 6, tcp.Length));
                Assert.Equal(partial, BinaryPrimitives.ReadUInt16BigEndian(tcp[16..]));
            }, iter: 400, print: gso => gso.ToString());

    [Fact]
    public void InterleavedFlowsAreEachMergedInOrder()
    {
        var first = BulkCase(seed: 1, payload: 10 * 1448);
        var second = BulkCase(seed: 2, payload: 7 * 1448 + 100) with { Ipv6 = true };
        var a = GsoSegmenterProperties.SegmentCopying(first, first.Build(), out _);
        var b = GsoSegmenterProperties.SegmentCopying(second, second.Build(), out _);
        var interleaved = a.Zip(b).SelectMany(pair => new[] { pair.First, pair.Second }).Concat(a.Skip(b.Count)).ToList();
        var pool = new SkBuffPool(BigBuffer, 64);

        var frames = Coalesce(pool, interleaved, Tso).Select(Take).ToList();

        // B's last segment is short, which ends B's frame at once; A's goes out at the flush.
        Assert.Equal(2, frames.Count);
        Assert.Equal(second.Payload(), frames[0].Bytes[second.HeaderLength..]);
        Assert.Equal(first.Payload(), frames[1].Bytes[first.HeaderLength..]);
    }

    [Fact]
    public void AGapInTheSequenceEndsTheFrameAndStartsAnother()
    {
        var gso = BulkCase(seed: 3, payload: 6 * 1448);
        var segments = GsoSegmenterProperties.SegmentCopying(gso, gso.Build(), out _);
        segments.RemoveAt(3);
        var pool = new SkBuffPool(BigBuffer, 64);

        var frames = Coalesce(pool, segments, Tso).Select(Take).ToList();

        Assert.Equal([3 * 1448, 2 * 1448], frames.Select(f => f.Bytes.Length - gso.HeaderLength));
        Assert.All(frames, f => Assert.Equal(GsoType.TcpV4, f.Offload.GsoType));
    }

    [Fact]
    public void ASegmentWithABadChecksumIsNotMergedAndKeepsItsPlace()
    {
        var gso = BulkCase(seed: 4, payload: 5 * 1448);
        var segments = GsoSegmenterProperties.SegmentCopying(gso, gso.Build(), out _);
        segments[2][^1] ^= 0x01;
        var pool = new SkBuffPool(BigBuffer, 64);

        var frames = Coalesce(pool, segments, Tso).Select(Take).ToList();

        Assert.Equal(3, frames.Count);
        Assert.Equal(2 * 1448, frames[0].Bytes.Length - gso.HeaderLength);
        Assert.Equal(segments[2], frames[1].Bytes);
        Assert.True(frames[1].Offload.IsNone);
        Assert.Equal(2 * 1448, frames[2].Bytes.Length - gso.HeaderLength);
    }

    [Fact]
    public void ASegmentTheSenderMarkedCheckedIsMergedWithoutAChecksumCheck()
    {
        var gso = BulkCase(seed: 5, payload: 3 * 1448);
        var segments = GsoSegmenterProperties.SegmentCopying(gso, gso.Build(), out _);
        segments[1][^1] ^= 0x01;
        var pool = new SkBuffPool(BigBuffer, 64);
        var sink = new CollectingSink();
        var gro = new GroCoalescer(sink, Tso);
        foreach (var segment in segments)
        {
            var skb = pool.Rent();
            segment.CopyTo(skb.Put(segment.Length));
            skb.Offload = new SkBuffOffload(false, true, GsoType.None, false, 0, 0, 0, 0);
            gro.Receive(skb);
        }
        gro.Flush();
        Assert.Single(sink.Frames);
        sink.ConsumeAll();
    }

    public static TheoryData<string, Action<byte[], GsoCase>> Unmergeable => new()
    {
        { "another window", (s, g) => s[g.TransportOffset + 15] ^= 1 },
        { "another acknowledgement", (s, g) => s[g.TransportOffset + 11] ^= 1 },
        { "other TCP options", (s, g) => s[g.TransportOffset + 21] ^= 1 },
        { "another TTL", (s, g) => s[g.LinkLength + 8] ^= 1 },
        { "another TOS", (s, g) => s[g.LinkLength + 1] ^= 4 },
        { "an identification out of step", (s, g) => s[g.LinkLength + 5] ^= 2 },
        { "another destination MAC", (s, g) => s[0] ^= 1 },
        { "URG", (s, g) => s[g.TransportOffset + 13] |= GsoCase.Urg },
        { "ECE", (s, g) => s[g.TransportOffset + 13] |= GsoCase.Ece },
        { "CWR", (s, g) => s[g.TransportOffset + 13] |= GsoCase.Cwr },
        { "FIN", (s, g) => s[g.TransportOffset + 13] |= GsoCase.Fin },
        { "padding after the packet", (s, g) => { } },
    };

    [Theory]
    [MemberData(nameof(Unmergeable))]
    public void ASegmentThatDiffersInWhatMustBeEqualIsNotMerged(string what, Action<byte[], GsoCase> spoil)
    {
        var gso = BulkCase(seed: 6, payload: 3 * 1448);
        var segments = GsoSegmenterProperties.SegmentCopying(gso, gso.Build(), out _);
        var third = segments[2];
        spoil(third, gso);
        if (what.StartsWith("padding"))
        {
            third = [.. third, 0, 0];
        }
        segments[2] = Refinish(gso, third);
        var pool = new SkBuffPool(BigBuffer, 64);

        var frames = Coalesce(pool, segments, Tso).Select(Take).ToList();

        Assert.Equal(2, frames.Count);
        Assert.Equal(2 * 1448, frames[0].Bytes.Length - gso.HeaderLength);
        Assert.Equal(segments[2], frames[1].Bytes);
    }

    [Fact]
    public void WithoutTsoForAnIpVersionItsSegmentsPassThrough()
    {
        var v4 = BulkCase(seed: 7, payload: 3 * 1448);
        var v6 = BulkCase(seed: 8, payload: 3 * 1448) with { Ipv6 = true };
        var segments = GsoSegmenterProperties.SegmentCopying(v4, v4.Build(), out _)
            .Concat(GsoSegmenterProperties.SegmentCopying(v6, v6.Build(), out _)).ToList();
        var pool = new SkBuffPool(BigBuffer, 64);

        Assert.Equal(4, Coalesce(pool, segments, DeviceFeatures.Checksum | DeviceFeatures.Tso4).Select(Take).Count());
        Assert.Equal(6, Coalesce(pool, segments, DeviceFeatures.Tso4 | DeviceFeatures.Tso6).Select(Take).Count());
        Assert.False(new GroCoalescer(new CollectingSink(), DeviceFeatures.None).IsEnabled);
    }

    [Fact]
    public void UdpAndOtherFramesPassStraightThroughWhileTcpIsHeld()
    {
        var tcp = BulkCase(seed: 9, payload: 2 * 1448);
        var udp = BulkCase(seed: 10, payload: 1000) with { Udp = true };
        var tcpSegments = GsoSegmenterProperties.SegmentCopying(tcp, tcp.Build(), out _);
        var datagram = GsoSegmenterProperties.SegmentCopying(udp, udp.Build(), out _)[0];
        var pool = new SkBuffPool(BigBuffer, 64);
        var sink = new CollectingSink();
        var gro = new GroCoalescer(sink, Tso);

        Receive(gro, pool, tcpSegments[0]);
        Receive(gro, pool, datagram);
        Assert.Equal(datagram, Assert.Single(sink.Frames).Data.ToArray());
        Assert.Equal(1, gro.HeldCount);
        Receive(gro, pool, tcpSegments[1]);
        gro.Flush();

        Assert.Equal(2, sink.Frames.Count);
        Assert.Equal(0, gro.HeldCount);
        Assert.Equal(1, gro.MergedSegments);
        Assert.Equal(1, gro.MergedFrames);
        sink.ConsumeAll();
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void AFrameThatIsAlreadyLargeSendsItsFlowsHeldFrameOutFirst()
    {
        var gso = BulkCase(seed: 13, payload: 2 * 1448);
        var first = GsoSegmenterProperties.SegmentCopying(gso, gso.Build(), out _)[0];
        // The same flow's next data, still one 64 KiB-style frame with its segmentation to do.
        var rest = gso with { Sequence = gso.Sequence + 1448, Identification = (ushort)(gso.Identification + 1), PayloadLength = 4 * 1448 };
        var pool = new SkBuffPool(BigBuffer, 64);
        var sink = new CollectingSink();
        var gro = new GroCoalescer(sink, Tso);

        Receive(gro, pool, first);
        var large = pool.Rent();
        var restBytes = rest.Build();
        restBytes.CopyTo(large.Put(restBytes.Length));
        large.Offload = rest.Offload;
        gro.Receive(large);

        Assert.Equal(0, gro.HeldCount);
        Assert.Equal([first, restBytes], sink.TakeBytes());
    }

    [Fact]
    public void MoreFlowsThanItHoldsSendTheOldestOut()
    {
        var pool = new SkBuffPool(BigBuffer, 64);
        var sink = new CollectingSink();
        var gro = new GroCoalescer(sink, Tso, maxFlows: 2);
        var firsts = Enumerable.Range(20, 3)
            .Select(seed => BulkCase(seed, 2 * 1448))
            .Select(g => GsoSegmenterProperties.SegmentCopying(g, g.Build(), out _)[0])
            .ToList();

        foreach (var segment in firsts)
        {
            Receive(gro, pool, segment);
        }

        Assert.Equal(firsts[0], Assert.Single(sink.Frames).Data.ToArray());
        Assert.Equal(2, gro.HeldCount);
        gro.Flush();
        Assert.Equal(firsts, sink.TakeBytes());
    }

    [Fact]
    public void AFrameOutgrowingItsBufferIsSentAndANewOneBegun()
    {
        var gso = BulkCase(seed: 11, payload: 6 * 1448);
        var segments = GsoSegmenterProperties.SegmentCopying(gso, gso.Build(), out _);
        // Room for the headers and three segments' payload only.
        var pool = new SkBuffPool(64 + gso.HeaderLength + 3 * 1448, 64);

        var frames = Coalesce(pool, segments, Tso).Select(Take).ToList();

        Assert.Equal([3 * 1448, 3 * 1448], frames.Select(f => f.Bytes.Length - gso.HeaderLength));
    }

    [Fact]
    public void CoalescingAllocatesNothingPerFrame()
    {
        var gso = BulkCase(seed: 12, payload: 40 * 1448);
        var segments = GsoSegmenterProperties.SegmentCopying(gso, gso.Build(), out _);
        var pool = new SkBuffPool(BigBuffer, 64);
        pool.BindToCurrentThread();
        var sink = new ConsumingSink();
        var gro = new GroCoalescer(sink, Tso);
        // Warm up long enough for tiered compilation to settle: under load one warm-up round was seen to
        // leave a later round allocating (as GsoSegmenterProperties found for cutting).
        for (var i = 0; i < 50; i++)
        {
            Round();
        }
        // Three windows of 20 rounds; per-frame allocation would show in every one, while the runtime's own
        // one-off work (seen once under load even after the warm-up) lands in one at most.
        var windows = new long[3];
        for (var w = 0; w < windows.Length; w++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 20; i++)
            {
                Round();
            }
            windows[w] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.Equal(0, windows.Min());
        Assert.Equal(110, sink.Count);

        void Round()
        {
            foreach (var segment in segments)
            {
                var skb = pool.Rent();
                segment.CopyTo(skb.Put(segment.Length));
                gro.Receive(skb);
            }
            gro.Flush();
        }
    }

    /// <summary>
    /// A bulk sender's frame: IPv4, TCP with timestamps, ACK only, 1448-byte segments. Addresses and ports
    /// come from the seed, so cases with different seeds are different flows.
    /// </summary>
    private static GsoCase BulkCase(int seed, int payload) =>
        new(false, 0, 0, 0, false, 3, GsoCase.Ack, (uint)seed * 1_000_003, 77, 501, (ushort)(seed * 100), 0, payload, 1448, false, seed);

    private static List<SkBuff> Coalesce(SkBuffPool pool, IEnumerable<byte[]> frames, DeviceFeatures features)
    {
        var sink = new CollectingSink();
        var gro = new GroCoalescer(sink, features);
        foreach (var frame in frames)
        {
            Receive(gro, pool, frame);
        }
        gro.Flush();
        Assert.Equal(0, gro.HeldCount);
        return sink.Frames;
    }

    private static void Receive(GroCoalescer gro, SkBuffPool pool, byte[] frame)
    {
        var skb = pool.Rent(pool.Headroom + frame.Length);
        frame.CopyTo(skb.Put(frame.Length));
        gro.Receive(skb);
    }

    private static (byte[] Bytes, SkBuffOffload Offload) Take(SkBuff skb)
    {
        var taken = (skb.Data.ToArray(), skb.Offload);
        skb.Consume();
        return taken;
    }

    /// <summary>Makes a spoiled segment's checksums right again, so only the spoiled field keeps it apart.</summary>
    private static byte[] Refinish(GsoCase gso, byte[] segment)
    {
        var ip = segment.AsSpan(gso.LinkLength, gso.NetworkHeaderLength);
        var tcp = segment.AsSpan(gso.TransportOffset);
        if (!gso.Ipv6)
        {
            ip[10] = 0;
            ip[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Reference.Checksum(ip));
        }
        tcp[16] = 0;
        tcp[17] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Reference.Checksum(tcp, Reference.PseudoHeaderSum(ip, gso.Ipv6, 6, tcp.Length)));
        return segment;
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
