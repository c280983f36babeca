using NetDev.Drivers.Pair;
using NetDev.Drivers.Tests.Infrastructure;
using NetDev.Hosting;
using NetDev.Testing;

namespace NetDev.Drivers.Tests;

/// <summary>
/// The pair driver's logic on the test host: two test interfaces joined by the driver, the test playing
/// the kernel on both sides.
/// </summary>
public sealed class PairDriverTests
{
    [Fact]
    public void AFrameSentOnOneEndArrivesAtTheOtherEndsSystemByteForByte()
    {
        using var pair = TestPair.Create();
        var calls = pair.CallsA;
        var toB = Enumerable.Range(0, 30).Select(i => TestFrames.Numbered(i, payloadLength: 46 + 47 * i)).ToList();
        var toA = Enumerable.Range(100, 5).Select(i => TestFrames.Numbered(i, payloadLength: 1500)).ToList();

        foreach (var frame in toB)
        {
            Assert.Equal(InjectResult.Dispatched, pair.LinkA.InjectTransmit(frame));
        }
        foreach (var frame in toA)
        {
            Assert.Equal(InjectResult.Dispatched, pair.LinkB.InjectTransmit(frame));
        }

        Assert.Equal(toB, pair.LinkB.Received.Select(f => f.Data));
        Assert.Equal(toA, pair.LinkA.Received.Select(f => f.Data));
        long bytesToB = toB.Sum(f => f.Length), bytesToA = toA.Sum(f => f.Length);
        Assert.Equal(new DeviceStats(30, bytesToB, 5, bytesToA, 0, 0, 0, 0), pair.A.GetStats());
        Assert.Equal(new DeviceStats(5, bytesToA, 30, bytesToB, 0, 0, 0, 0), pair.B.GetStats());
        // Only what the pair implements is ever called: Init makes its per-queue batches, Open sizes the pools for them.
        Assert.Equal(["Init", "Open", "StartXmit(q0) Ok ×30"], calls.FoldedSummary());
        pair.AssertClean();
    }

    [Fact]
    public void AFrameSentWhileThePeerIsDownIsDroppedAndCountedOnTheSender()
    {
        using var pair = TestPair.Create();

        pair.LinkB.IpLinkSetDown();
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(InjectResult.Dispatched, pair.LinkA.InjectTransmit(TestFrames.Numbered(i)));
        }

        Assert.Empty(pair.LinkB.Received);
        Assert.Equal(new DeviceStats(0, 0, 0, 0, 4, 0, 0, 0), pair.A.GetStats());
        Assert.Equal(default(DeviceStats), pair.B.GetStats());
        Assert.Equal([new DropCount(TrafficDirection.Transmit, DropReason.DeviceDown, 4)], pair.A.GetDropCounts());
        Assert.Empty(pair.B.GetDropCounts());

        pair.LinkB.IpLinkSetUp();
        var frame = TestFrames.Numbered(9);
        pair.LinkA.InjectTransmit(frame);

        Assert.Equal([frame], pair.LinkB.Received.Select(f => f.Data));
        Assert.Equal((1, 4), (pair.A.GetStats().TxPackets, pair.A.GetStats().TxDropped));
        pair.AssertClean();
    }

    [Fact]
    public void AFrameThePeersSystemRefusesIsATransmitDropOfTheSenderWithTheSystemsReason()
    {
        using var pair = TestPair.Create();
        pair.LinkB.RefuseNextReceives(2, DropReason.QueueFull);

        for (var i = 0; i < 5; i++)
        {
            pair.LinkA.InjectTransmit(TestFrames.Numbered(i));
        }

        Assert.Equal(3, pair.LinkB.DeliveredCount);
        Assert.Equal(2, pair.LinkB.RefusedCount);
        Assert.Equal((3, 2), (pair.A.GetStats().TxPackets, pair.A.GetStats().TxDropped));
        Assert.Equal(3, pair.B.GetStats().RxPackets);
        Assert.Equal([new DropCount(TrafficDirection.Transmit, DropReason.QueueFull, 2)], pair.A.GetDropCounts());
        pair.AssertClean();
    }

    [Fact]
    public void EachQueueFeedsTheSameQueueOfThePeer()
    {
        const int queues = 4;
        using var pair = TestPair.Create(queues);
        var sent = new int[queues];

        for (var i = 0; i < 40; i++)
        {
            var queue = (i * 7) % queues;
            pair.LinkA.InjectTransmit(queue, TestFrames.Numbered(i, payloadLength: 60 + queue));
            sent[queue]++;
        }

        for (var q = 0; q < queues; q++)
        {
            var arrived = pair.LinkB.ReceivedOn(q);
            Assert.Equal(sent[q], arrived.Count);
            Assert.All(arrived, frame => Assert.Equal(60 + q, frame.Payload.Length));
            Assert.Equal(sent[q], pair.A.Queues[q].TxPackets);
            Assert.Equal(sent[q], pair.B.Queues[q].RxPackets);
            Assert.Equal(sent[q], pair.LinkA.FramesHandedToDriver(q));
        }
        pair.AssertClean();
    }

    public static TheoryData<string, SkBuffOffload> Offloads => new()
    {
        { "TCPv4 segments, checksum partial", new SkBuffOffload(true, false, GsoType.TcpV4, false, 54, 1448, 34, 16) },
        { "TCPv6 segments with ECN", new SkBuffOffload(true, false, GsoType.TcpV6, true, 74, 1428, 54, 16) },
        { "UDP segments", new SkBuffOffload(true, false, GsoType.UdpL4, false, 42, 1472, 34, 6) },
        { "checksum partial only", new SkBuffOffload(true, false, GsoType.None, false, 0, 0, 34, 16) },
        { "checksum already verified", new SkBuffOffload(false, true, GsoType.None, false, 0, 0, 0, 0) },
    };

    [Theory]
    [MemberData(nameof(Offloads))]
    public void OffloadStateCrossesThePairUntouched(string what, SkBuffOffload offload)
    {
        var seen = new List<(int Queue, SkBuffOffload Offload, byte[] Data)>();
        using var pair = TestPair.Create(observer: (queue, skb) => seen.Add((queue, skb.Offload, skb.Data.ToArray())));
        // Larger than the MTU when it is a segmentation offload: 64 KiB segments cross a pair uncut.
        var length = offload.GsoType == GsoType.None ? 1514 : offload.HeaderLength + 3 * offload.GsoSize;
        var frame = TestFrames.Numbered(3, payloadLength: length - NetDevice.EthernetHeaderLength);

        // Handed to A's queue as a host hands a frame read with its virtio header, on the queue's thread.
        var queue = pair.A.Queues[0];
        var skb = queue.TxPool.Rent(SkBuffPool.DefaultHeadroom + length);
        frame.CopyTo(skb.Put(length));
        skb.Offload = offload;
        pair.LinkA.RunOnQueue(0, () => queue.Engine.Dispatch(skb, more: false));

        var (arrivedOn, arrivedOffload, arrivedData) = Assert.Single(seen);
        Assert.Equal(0, arrivedOn);
        Assert.True(offload == arrivedOffload, $"{what}: sent {offload}, arrived {arrivedOffload}");
        Assert.Equal(frame, arrivedData);
        Assert.Equal(frame, Assert.Single(pair.LinkB.Received).Data);
        Assert.Equal((1, (long)length), (pair.A.GetStats().TxPackets, pair.A.GetStats().TxBytes));
        Assert.Equal((1, (long)length), (pair.B.GetStats().RxPackets, pair.B.GetStats().RxBytes));
        pair.AssertClean();
    }

    [Fact]
    public void FramesTheHostSaysMoreFollowAreHeldThenCrossTogetherInOrder()
    {
        using var pair = TestPair.Create();
        var frames = Enumerable.Range(0, 4).Select(i => TestFrames.Numbered(i)).ToList();
        var queue = pair.A.Queues[0];
        var heldBeforeTheLast = -1;

        // As a host's loop hands over a batch it read in one go: all but the last say another follows.
        pair.LinkA.RunOnQueue(0, () =>
        {
            for (var i = 0; i < frames.Count; i++)
            {
                if (i == frames.Count - 1)
                {
                    heldBeforeTheLast = pair.LinkB.Received.Count;
                }
                var skb = queue.TxPool.Rent();
                frames[i].CopyTo(skb.Put(frames[i].Length));
                queue.Engine.Dispatch(skb, more: i < frames.Count - 1);
            }
        });

        Assert.Equal(0, heldBeforeTheLast);
        Assert.Equal(frames, pair.LinkB.Received.Select(f => f.Data));
        Assert.Equal(4, pair.A.GetStats().TxPackets);
        Assert.Equal(4, pair.B.GetStats().RxPackets);
        pair.AssertClean();
    }

    [Fact]
    public void HeldFramesThePeerCannotTakeAreDroppedOnTheSenderAndNotCounted()
    {
        using var pair = TestPair.Create();
        var queue = pair.A.Queues[0];
        pair.LinkA.RunOnQueue(0, () =>
        {
            for (var i = 0; i < 3; i++)
            {
                var skb = queue.TxPool.Rent();
                TestFrames.Numbered(i).CopyTo(skb.Put(TestFrames.Numbered(i).Length));
                queue.Engine.Dispatch(skb, more: true);
                if (i == 1)
                {
                    // The peer goes down in the middle of the batch; the batch crosses after that.
                    pair.LinkB.IpLinkSetDown();
                }
            }
            var last = queue.TxPool.Rent();
            last.Put(60);
            queue.Engine.Dispatch(last, more: false);
        });

        Assert.Empty(pair.LinkB.Received);
        Assert.Equal(0, pair.A.GetStats().TxPackets);
        Assert.Equal(4, queue.TxPool.DropCount(DropReason.DeviceDown));
        Assert.Equal(0, queue.TxPool.Outstanding);
    }

    [Fact]
    public void AHandOverThatThrowsDropsItsBatchCountedAndTheQueueGoesOn()
    {
        using var pair = TestPair.Create();
        var queue = pair.A.Queues[0];
        var throwNext = true;
        // The peer's system fails once in the middle of a batch, as a host whose write throws.
        pair.LinkB.ReceivePolicy = (_, _) =>
        {
            if (throwNext)
            {
                throwNext = false;
                throw new InvalidOperationException("the peer's system failed");
            }
            return null;
        };

        pair.LinkA.RunOnQueue(0, () =>
        {
            for (var i = 0; i < 4; i++)
            {
                var skb = queue.TxPool.Rent();
                TestFrames.Numbered(i).CopyTo(skb.Put(TestFrames.Numbered(i).Length));
                queue.Engine.Dispatch(skb, more: i < 3);
            }
        });
        // More than a whole batch after it: the held batch was cleared, so nothing touches a released frame.
        var after = Enumerable.Range(10, NetDevice.ReceiveBatchSize + 6).Select(i => TestFrames.Numbered(i)).ToList();
        foreach (var frame in after)
        {
            Assert.Equal(InjectResult.Dispatched, pair.LinkA.InjectTransmit(frame));
        }

        Assert.Equal(after, pair.LinkB.Received.Select(f => f.Data));
        Assert.Equal(4, queue.TxPool.DropCount(DropReason.TransmitError));
        Assert.Equal(((long)after.Count, 4L), (pair.A.GetStats().TxPackets, pair.A.GetStats().TxDropped));
        Assert.Equal(after.Count, pair.B.GetStats().RxPackets);
        // The failure is reported once, not once per later frame.
        Assert.Contains("the peer's system failed", Assert.Single(pair.LinkA.Errors).ToString());
        pair.LinkB.AssertNoErrors();
        SkBuffAccounting.AssertNoLeaks(pair.A);
        SkBuffAccounting.AssertNoLeaks(pair.B);
    }

    [Fact]
    public void WithOffloadsAndManyQueuesAnEndPinsNoMoreThanItsBound()
    {
        const int queues = 16;
        // Buffers as a Linux host with offloads sizes them, for a 64 KiB segment (the test host has no offloads).
        const int bufferSize = SkBuffPool.DefaultHeadroom + NetDevice.GsoMaxFrameLength;
        using var pair = TestPair.Create(queues, bufferSize: bufferSize);
        // The documented bound (docs/reliability.md): queues × (hold + 2) buffers, the hold within HeldBytesPerEnd.
        var hold = PairDriver.HoldLimit(queues, bufferSize);
        var bound = (long)queues * (hold + 2) * bufferSize;
        Assert.True(bound <= PairDriver.HeldBytesPerEnd + 2L * queues * bufferSize, $"bound {bound}");

        // A long batch on every queue: the host says more follow for 100 frames.
        for (var q = 0; q < queues; q++)
        {
            var queue = pair.A.Queues[q];
            pair.LinkA.RunOnQueue(q, () =>
            {
                for (var i = 0; i < 100; i++)
                {
                    var skb = queue.TxPool.Rent();
                    TestFrames.Numbered(i).CopyTo(skb.Put(TestFrames.Numbered(i).Length));
                    queue.Engine.Dispatch(skb, more: i < 99);
                }
            });
        }

        Assert.Equal(100L * queues, pair.B.GetStats().RxPackets);
        foreach (var end in new[] { pair.A, pair.B })
        {
            var pinned = end.Queues.Sum(q => q.TxPool.PinnedBytes + q.RxPool.PinnedBytes);
            Assert.True(pinned <= bound, $"{end.Name} pins {pinned} bytes; its bound is {bound}");
        }
        pair.AssertClean();
    }

    [Fact]
    public void EveryBufferIsReleasedOnceAndNoneIsLeftAtTeardown()
    {
        var pair = TestPair.Create(queues: 2);
        try
        {
            for (var i = 0; i < 50; i++)
            {
                pair.LinkA.InjectTransmit(i % 2, TestFrames.Numbered(i));
                pair.LinkB.InjectTransmit(i % 2, TestFrames.Numbered(1000 + i));
            }
            pair.LinkB.IpLinkSetDown();
            for (var i = 0; i < 6; i++)
            {
                pair.LinkA.InjectTransmit(i % 2, TestFrames.Numbered(i));
            }
            pair.LinkB.IpLinkSetUp();
            pair.LinkB.RefuseNextReceives(3);
            for (var i = 0; i < 10; i++)
            {
                pair.LinkA.InjectTransmit(i % 2, TestFrames.Numbered(i));
            }
        }
        finally
        {
            pair.Dispose();
        }

        // Frames cross without a copy: every buffer is rented from the sender's transmit pool and released
        // there exactly once — consumed when the peer's system took it, dropped otherwise.
        foreach (var (device, link, delivered, dropped) in new[] { (pair.A, pair.LinkA, 50 + 7L, 9L), (pair.B, pair.LinkB, 50L, 0L) })
        {
            var transmitted = device.Queues.Select(q => SkBuffAccounting.Account(q.TxPool)).ToList();
            Assert.Equal(link.TotalFramesHandedToDriver, transmitted.Sum(a => a.Released));
            Assert.Equal(delivered, transmitted.Sum(a => a.Consumed));
            Assert.Equal(dropped, transmitted.Sum(a => a.Dropped));
            Assert.All(device.Queues, q => Assert.Equal(0, SkBuffAccounting.Account(q.RxPool).Released));
        }
        Assert.Equal(new Dictionary<DropReason, long> { [DropReason.DeviceDown] = 6, [DropReason.QueueFull] = 3 },
            pair.A.Queues.SelectMany(q => SkBuffAccounting.Account(q.TxPool).DropsByReason)
                .GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value)));
        SkBuffAccounting.AssertNoLeaks(pair.Registration.First);
        SkBuffAccounting.AssertNoLeaks(pair.Registration.Second);
        pair.Host.AssertClean();
    }

    [Fact]
    public void EthtoolStatisticsNameThePeer()
    {
        using var pair = TestPair.Create();

        Assert.Contains(new KeyValuePair<string, long>("peer_ifindex", pair.LinkB.IfIndex), pair.A.GetEthtoolStatistics());
        Assert.Contains(new KeyValuePair<string, long>("peer_ifindex", pair.LinkA.IfIndex), pair.B.GetEthtoolStatistics());
        Assert.Same(pair.B, pair.A.DriverData.Peer);
        Assert.Same(pair.A, pair.B.DriverData.Peer);
    }

    /// <summary>Both ends of a pair on one test host, registered and up.</summary>
    private sealed class TestPair : IDisposable
    {
        private TestPair(TestHost host, PairRegistration registration)
        {
            Host = host;
            Registration = registration;
        }

        public TestHost Host { get; }

        public PairRegistration Registration { get; }

        public NetDevice<PairDriver> A => Registration.First.Device;

        public NetDevice<PairDriver> B => Registration.Second.Device;

        public TestLink LinkA => Host.GetLink(A);

        public TestLink LinkB => Host.GetLink(B);

        public OperationRecorder CallsA { get; private set; } = null!;

        /// <summary>A pair on a new test host; <paramref name="observer"/> sees each frame B's driver hands to B's system.</summary>
        public static TestPair Create(int queues = 1, DeliveryObserver? observer = null, int? bufferSize = null)
        {
            var host = new TestHost();
            INetDeviceHost hostB = observer is null ? host : new ObservedHost(host, observer);
            var registration = PairDriver.Create(host, "pa%d", hostB, "pb%d", queues);
            var pair = new TestPair(host, registration);
            try
            {
                pair.A.TimeProvider = host.Clock;
                pair.B.TimeProvider = host.Clock;
                pair.CallsA = OperationRecorder.Attach(pair.A);
                registration.Register();
                if (bufferSize is { } size)
                {
                    foreach (var queue in pair.A.Queues.Concat(pair.B.Queues))
                    {
                        queue.TxPool.BufferSize = size;
                        queue.RxPool.BufferSize = size;
                    }
                }
                registration.BringUp();
                return pair;
            }
            catch
            {
                registration.Dispose();
                throw;
            }
        }

        /// <summary>No device error, no buffer out, while both ends are still up.</summary>
        public void AssertClean()
        {
            LinkA.AssertNoErrors();
            LinkB.AssertNoErrors();
            SkBuffAccounting.AssertNoLeaks(A);
            SkBuffAccounting.AssertNoLeaks(B);
        }

        public void Dispose() => Registration.Dispose();
    }
}
