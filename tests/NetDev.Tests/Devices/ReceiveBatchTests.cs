using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>NetifReceiveBatch: a NAPI poll's worth of frames handed to the host in runs of one queue, each frame released by its outcome.</summary>
public sealed class ReceiveBatchTests
{
    private static SkBuff[] Frames(NetDevice device, params int[] queues)
    {
        var frames = new SkBuff[queues.Length];
        for (var i = 0; i < queues.Length; i++)
        {
            frames[i] = device.AllocSkb(queues[i]);
            var data = frames[i].Put(20 + i);
            data.Fill((byte)i);
        }
        return frames;
    }

    [Fact]
    public void ABatchIsDeliveredInOrderCountedAndConsumed()
    {
        using var harness = DeviceHarness.Up();
        var frames = Frames(harness.Device, 0, 0, 0, 0, 0);

        Assert.Equal(5, harness.Device.NetifReceiveBatch(frames));

        Assert.All(frames, skb => Assert.False(skb.IsLive));
        Assert.Equal([(0, 5)], harness.Link.Batches);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (byte)i), harness.Link.Delivered.Select(d => d.Frame[0]));
        var queue = harness.Device.Queues[0];
        Assert.Equal(5, queue.RxPackets);
        Assert.Equal(20 + 21 + 22 + 23 + 24, queue.RxBytes);
        Assert.Equal(5, queue.RxPool.ConsumedCount);
    }

    [Fact]
    public void ConsecutiveFramesOfOneQueueGoToTheHostTogether()
    {
        using var harness = DeviceHarness.Up(txQueues: 1, rxQueues: 2);
        var frames = Frames(harness.Device, 0, 0, 1, 1, 1, 0);

        harness.Device.NetifReceiveBatch(frames);

        Assert.Equal([(0, 2), (1, 3), (0, 1)], harness.Link.Batches);
        Assert.Equal(3, harness.Device.Queues[0].RxPackets);
        Assert.Equal(3, harness.Device.Queues[1].RxPackets);
    }

    [Fact]
    public void ALongRunGoesToTheHostWholeForTheHostToCutAsItNeeds()
    {
        using var harness = DeviceHarness.Up();
        var frames = Frames(harness.Device, new int[150]);

        Assert.Equal(150, harness.Device.NetifReceiveBatch(frames, budget: 150));

        Assert.Equal([(0, 150)], harness.Link.Batches);
        Assert.Equal(150, harness.Device.Queues[0].RxPackets);
    }

    [Fact]
    public void OnlyTheBudgetIsTakenAndTheRestStayTheCallers()
    {
        using var harness = DeviceHarness.Up();
        var frames = Frames(harness.Device, 0, 0, 0, 0);

        Assert.Equal(3, harness.Device.NetifReceiveBatch(frames, budget: 3));

        Assert.False(frames[2].IsLive);
        Assert.True(frames[3].IsLive);
        Assert.Equal(3, harness.Device.Queues[0].RxPackets);
        frames[3].Drop(DropReason.NotSpecified);
        Assert.Throws<ArgumentOutOfRangeException>(() => harness.Device.NetifReceiveBatch(frames, budget: 0));
    }

    [Fact]
    public void FramesTheSystemRefusesAreDroppedWithTheirReasonAndTheOthersCounted()
    {
        using var harness = DeviceHarness.Up();
        harness.Link.RefuseFrame = frame => frame[0] == 2 ? DropReason.InvalidHeader : null;
        var frames = Frames(harness.Device, 0, 0, 0, 0);

        Assert.Equal(4, harness.Device.NetifReceiveBatch(frames));

        Assert.All(frames, skb => Assert.False(skb.IsLive));
        var queue = harness.Device.Queues[0];
        Assert.Equal(3, queue.RxPackets);
        Assert.Equal(3, queue.RxPool.ConsumedCount);
        Assert.Equal(1, queue.RxPool.DropCount(DropReason.InvalidHeader));
        Assert.Equal(1, harness.Device.GetStats().RxDropped);
    }

    [Fact]
    public void ABatchForADownDeviceIsDroppedAsDeviceDownWithoutReachingTheHost()
    {
        using var harness = DeviceHarness.Registered();
        var frames = Frames(harness.Device, 0, 0, 0);

        Assert.Equal(3, harness.Device.NetifReceiveBatch(frames));

        Assert.All(frames, skb => Assert.False(skb.IsLive));
        Assert.Empty(harness.Link.Batches);
        Assert.Equal(3, harness.Device.Queues[0].RxPool.DropCount(DropReason.DeviceDown));
    }

    [Fact]
    public void AFrameForAQueueTheDeviceDoesNotHaveIsDroppedTheRestDeliveredThenRejected()
    {
        using var harness = DeviceHarness.Up();
        var frames = Frames(harness.Device, 0, 0, 0);
        frames[1].QueueIndex = 7;

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => harness.Device.NetifReceiveBatch(frames));

        Assert.Equal(7, error.ActualValue);
        Assert.All(frames, skb => Assert.False(skb.IsLive));
        Assert.Equal([(0, 1), (0, 1)], harness.Link.Batches);
        Assert.Equal(2, harness.Device.Queues[0].RxPackets);
        Assert.Equal(1, harness.Device.Queues[0].RxPool.DropCount(DropReason.NotSpecified));
    }
}
