namespace NetDev.Testing.Tests;

public sealed class ReceiveTests
{
    private static (TestHost Host, Registration<SinkDriver> Registration, TestLink Link) UpDevice(int queues = 1, TestHostOptions? options = null)
    {
        var host = new TestHost(options);
        var registration = new Registration<SinkDriver>(host, queues, queues, new SinkDriver());
        var link = host.Register(registration);
        registration.Device.BringUp();
        return (host, registration, link);
    }

    /// <summary>What a driver's receive path does: fill a buffer from the pool, hand it over.</summary>
    private static bool Receive(NetDevice device, byte[] frame, int queue = 0)
    {
        var skb = device.AllocSkb(queue);
        frame.CopyTo(skb.Put(frame.Length));
        skb.Protocol = TestFrames.ExperimentalEtherType;
        return device.NetifRx(skb);
    }

    [Fact]
    public void DeliveredFramesAreCapturedPerQueueAsCopiesAndCounted()
    {
        var (_, registration, link) = UpDevice(queues: 2);
        using var _ = registration;
        var device = registration.Device;
        var frames = Frames.Numbered(5);

        var taken = frames.Select((frame, i) => Receive(device, frame, queue: i % 2)).ToList();

        Assert.All(taken, Assert.True);
        Assert.Equal(frames, link.Received.Select(f => f.Data));
        Assert.Equal([0L, 1, 2, 3, 4], link.Received.Select(f => f.Sequence));
        Assert.Equal([frames[1], frames[3]], link.ReceivedOn(1).Select(f => f.Data));
        var first = link.Received[0];
        Assert.Equal((TestFrames.ExperimentalEtherType, TestFrames.ExperimentalEtherType, MacAddress.Broadcast), (first.Protocol, first.EtherType, first.Destination));
        Assert.Equal(5, device.GetStats().RxPackets);
        Assert.Equal(5, link.DeliveredCount);
        // The framework released every buffer after the hand-off; the captures are the test's own copies.
        Assert.All(device.Queues, q => Assert.Equal(0, q.RxPool.Outstanding));
        SkBuffAccounting.AssertNoLeaks(device);
    }

    [Fact]
    public void BackpressureRefusesWithTheReasonAndTheFrameIsDroppedWithIt()
    {
        var (_, registration, link) = UpDevice();
        using var _ = registration;
        var device = registration.Device;

        link.RefuseReceives();
        Assert.False(Receive(device, TestFrames.Numbered(1)));
        Assert.False(Receive(device, TestFrames.Numbered(2)));
        link.AcceptReceives();
        Assert.True(Receive(device, TestFrames.Numbered(3)));

        Assert.Equal(2, device.Queues[0].RxPool.DropCount(DropReason.QueueFull));
        Assert.Equal((1L, 2L), (device.GetStats().RxPackets, device.GetStats().RxDropped));
        Assert.Equal((1L, 2L), (link.DeliveredCount, link.RefusedCount));
        Assert.Equal(TestFrames.Numbered(3), Assert.Single(link.Received).Data);
    }

    [Fact]
    public void RefuseNextReceivesRefusesThatManyThenTakesAgain()
    {
        var (_, registration, link) = UpDevice();
        using var _ = registration;

        link.RefuseNextReceives(2, DropReason.NoRoute);
        var taken = Frames.Numbered(4).Select(frame => Receive(registration.Device, frame)).ToList();

        Assert.Equal([false, false, true, true], taken);
        Assert.Equal(2, registration.Device.Queues[0].RxPool.DropCount(DropReason.NoRoute));
    }

    [Fact]
    public void APolicyDecidesPerFrame()
    {
        var (_, registration, link) = UpDevice();
        using var _ = registration;
        link.ReceivePolicy = (queue, frame) => frame.Length > 100 ? DropReason.PacketTooBig : null;

        Assert.True(Receive(registration.Device, TestFrames.Numbered(1, payloadLength: 60)));
        Assert.False(Receive(registration.Device, TestFrames.Numbered(2, payloadLength: 200)));

        Assert.Equal(1, registration.Device.Queues[0].RxPool.DropCount(DropReason.PacketTooBig));
    }

    [Fact]
    public void TheSystemRefusesRuntFramesAsATapDoes()
    {
        var (_, registration, link) = UpDevice();
        using var _ = registration;

        Assert.False(Receive(registration.Device, new byte[10]));

        Assert.Equal(1, registration.Device.Queues[0].RxPool.DropCount(DropReason.InvalidHeader));
        Assert.Empty(link.Received);
    }

    [Fact]
    public void WithCaptureOffFramesAreCountedButNotKept()
    {
        var (_, registration, link) = UpDevice(options: new TestHostOptions { CaptureReceivedFrames = false });
        using var _ = registration;

        Receive(registration.Device, TestFrames.Numbered(1));

        Assert.Empty(link.Received);
        Assert.Equal(1, link.DeliveredCount);
    }

    [Fact]
    public void ClearReceivedForgetsCapturesButKeepsCounting()
    {
        var (_, registration, link) = UpDevice();
        using var _ = registration;
        Receive(registration.Device, TestFrames.Numbered(1));

        link.ClearReceived();
        Receive(registration.Device, TestFrames.Numbered(2));

        Assert.Equal(1, Assert.Single(link.Received).Sequence);
        Assert.Equal(2, link.DeliveredCount);
    }
}
