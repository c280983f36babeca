using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>Frames the driver hands to the system: AllocSkb and NetifRx.</summary>
public sealed class ReceiveTests
{
    [Fact]
    public void AllocSkbGivesAnEmptyFrameWithHeadroomAndRoomForAnMtuFrameOnItsQueue()
    {
        using var harness = DeviceHarness.Unregistered(txQueues: 1, rxQueues: 2);
        harness.Device.MaxMtu = 9000;
        harness.Device.Mtu = 9000;

        var skb = harness.Device.AllocSkb(1);

        Assert.Equal(1, skb.QueueIndex);
        Assert.Equal(0, skb.Length);
        Assert.Equal(SkBuffPool.DefaultHeadroom, skb.Headroom);
        Assert.True(skb.Tailroom >= 9000 + NetDevice.LinkOverhead);
        Assert.Equal(1, harness.Device.Queues[1].RxPool.Outstanding);
        skb.Drop(DropReason.NotSpecified);
    }

    [Fact]
    public void NetifRxOnAnOpenDeviceDeliversCountsAndConsumes()
    {
        using var harness = DeviceHarness.Up(txQueues: 1, rxQueues: 2);
        var skb = harness.Device.AllocSkb(1);
        "incoming frame"u8.CopyTo(skb.Put(14));

        Assert.True(harness.Device.NetifRx(skb));

        Assert.False(skb.IsLive);
        var (queue, frame) = Assert.Single(harness.Link.Delivered);
        Assert.Equal(1, queue);
        Assert.Equal("incoming frame"u8.ToArray(), frame);
        var rxQueue = harness.Device.Queues[1];
        Assert.Equal(1, rxQueue.RxPackets);
        Assert.Equal(14, rxQueue.RxBytes);
        Assert.Equal(1, rxQueue.RxPool.ConsumedCount);
        Assert.Equal(0, rxQueue.RxDropped);
        Assert.Equal(0, harness.Device.Queues[0].RxPackets);
    }

    [Fact]
    public void NetifRxOnARegisteredButDownDeviceDropsAsDeviceDown()
    {
        using var harness = DeviceHarness.Registered();
        var skb = harness.Device.AllocSkb();
        skb.Put(60);

        Assert.False(harness.Device.NetifRx(skb));

        Assert.False(skb.IsLive);
        Assert.Empty(harness.Link.Delivered);
        Assert.Equal(1, harness.Device.Queues[0].RxPool.DropCount(DropReason.DeviceDown));
        Assert.Equal(0, harness.Device.Queues[0].RxPackets);
        Assert.Equal(1, harness.Device.GetStats().RxDropped);
    }

    [Fact]
    public void NetifRxBeforeRegistrationDropsAsDeviceDown()
    {
        using var harness = DeviceHarness.Unregistered();
        var skb = harness.Device.AllocSkb();

        Assert.False(harness.Device.NetifRx(skb));

        Assert.False(skb.IsLive);
        Assert.Equal(1, harness.Device.Queues[0].RxPool.DropCount(DropReason.DeviceDown));
    }

    [Fact]
    public void NetifRxAfterGoingDownDropsAsDeviceDown()
    {
        using var harness = DeviceHarness.Up();
        harness.Link.RaiseAdminState(false);

        Assert.False(harness.Device.NetifRx(harness.Device.AllocSkb()));

        Assert.Equal(1, harness.Device.Queues[0].RxPool.DropCount(DropReason.DeviceDown));
    }

    [Fact]
    public void AFrameTheSystemRefusesIsDroppedWithItsReasonAndNotCounted()
    {
        using var harness = DeviceHarness.Up();
        harness.Link.DeliverResult = DropReason.QueueFull;
        var skb = harness.Device.AllocSkb();
        skb.Put(60);

        Assert.False(harness.Device.NetifRx(skb));

        Assert.False(skb.IsLive);
        Assert.Equal(1, harness.Device.Queues[0].RxPool.DropCount(DropReason.QueueFull));
        Assert.Equal(0, harness.Device.Queues[0].RxPackets);
        Assert.Equal(0, harness.Device.Queues[0].RxBytes);
    }

    [Fact]
    public void AFrameForAQueueTheDeviceDoesNotHaveIsDroppedAndRejected()
    {
        using var harness = DeviceHarness.Up();
        var skb = harness.Device.AllocSkb();
        skb.QueueIndex = 5;

        Assert.Throws<ArgumentOutOfRangeException>(() => harness.Device.NetifRx(skb));

        Assert.False(skb.IsLive); // not leaked
        Assert.Empty(harness.Link.Delivered);
        Assert.Equal(1, harness.Device.Queues[0].RxPool.TotalDrops);
    }

    [Fact]
    public void NetifRxOfAReleasedFrameThrowsMisuseAndDeliversNothing()
    {
        using var harness = DeviceHarness.Up();
        var skb = harness.Device.AllocSkb();
        skb.Consume();

        var error = Assert.Throws<SkBuffMisuseException>(() => harness.Device.NetifRx(skb));

        Assert.Equal(SkBuffMisuse.UseAfterRelease, error.Misuse);
        Assert.Empty(harness.Link.Delivered);
        Assert.Equal(0, harness.Device.Queues[0].RxPackets);
    }

    [Fact]
    public void ReceiveBuffersAreReusedFrameAfterFrame()
    {
        using var harness = DeviceHarness.Up();
        harness.Device.Queues[0].RxPool.BindToCurrentThread();

        for (var i = 0; i < 500; i++)
        {
            var skb = harness.Device.AllocSkb();
            skb.Put(64);
            Assert.True(harness.Device.NetifRx(skb));
        }

        Assert.Equal(1, harness.Device.Queues[0].RxPool.Allocated);
        Assert.Equal(500, harness.Device.Queues[0].RxPackets);
        Assert.Equal(500 * 64, harness.Device.Queues[0].RxBytes);
    }
}
