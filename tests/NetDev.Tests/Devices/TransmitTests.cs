using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>Frames the system sends on the device: who gets them, who owns them, what happens when the driver cannot take them.</summary>
public sealed class TransmitTests
{
    [Fact]
    public void AFrameSentOnAnOpenDeviceReachesStartXmitOnItsQueue()
    {
        using var harness = DeviceHarness.Up(txQueues: 2);
        var seen = new List<(int Queue, byte[] Bytes)>();
        harness.Driver.OnStartXmit = (device, skb) =>
        {
            seen.Add((skb.QueueIndex, skb.Data.ToArray()));
            device.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        };

        var frame = harness.Link.SendFrame(1, "hello"u8);

        Assert.Equal(frame, Assert.Single(harness.Driver.Offered));
        var (queue, bytes) = Assert.Single(seen);
        Assert.Equal(1, queue);
        Assert.Equal("hello"u8.ToArray(), bytes);
        Assert.Equal(1, harness.Device.Queues[1].TxPackets);
        Assert.Equal(5, harness.Device.Queues[1].TxBytes);
        Assert.Equal(0, harness.Device.Queues[0].TxPackets);
        Assert.Equal(1, harness.Device.Queues[1].TxPool.ConsumedCount);
    }

    [Fact]
    public void FramesWhileRegisteredButDownAreDroppedAsDeviceDown()
    {
        using var harness = DeviceHarness.Registered();

        var frame = harness.Link.SendFrame(0, "early"u8);

        Assert.False(frame.IsLive);
        Assert.Empty(harness.Driver.Offered);
        Assert.Equal(1, harness.Device.Queues[0].TxPool.DropCount(DropReason.DeviceDown));
        Assert.Equal(1, harness.Device.Queues[0].TxDropped);
    }

    [Fact]
    public void FramesAfterGoingDownAreDroppedAsDeviceDown()
    {
        using var harness = DeviceHarness.Up();
        harness.Link.SendFrame(0, "before"u8);
        harness.Link.RaiseAdminState(false);

        harness.Link.SendFrame(0, "after"u8);
        harness.Link.SendFrame(0, "after"u8);

        Assert.Single(harness.Driver.Offered);
        Assert.Equal(2, harness.Device.Queues[0].TxPool.DropCount(DropReason.DeviceDown));
        Assert.Equal(1, harness.Device.Queues[0].TxPool.ConsumedCount);
    }

    [Fact]
    public void BusyKeepsTheFrameAndAfterWakeTheVerySameFrameIsOfferedAgain()
    {
        using var harness = DeviceHarness.Up();
        var queue = harness.Device.Queues[0];
        var full = true;
        harness.Driver.OnStartXmit = (device, skb) =>
        {
            if (full)
            {
                // What a driver with a full ring does: stop the queue and give the frame back.
                device.StopQueue(skb.QueueIndex);
                return TxResult.Busy;
            }
            device.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        };

        var frame = harness.Link.SendFrame(0, "retry me"u8);

        Assert.True(frame.IsLive);
        Assert.True(queue.IsStopped);
        Assert.True(queue.HasPendingFrame);
        Assert.False(queue.IsAcceptingFrames);
        Assert.Equal(1, queue.BusyReturns);

        queue.Engine.RetryPending(); // still stopped: nothing happens
        Assert.Single(harness.Driver.Offered);

        full = false;
        harness.Device.WakeQueue(0);
        Assert.Equal([0], harness.Link.NotifiedQueues);
        queue.Engine.RetryPending(); // what the host's loop does when notified

        Assert.Equal(2, harness.Driver.Offered.Count);
        Assert.Equal(frame, harness.Driver.Offered[1]);
        Assert.False(frame.IsLive);
        Assert.False(queue.HasPendingFrame);
        Assert.True(queue.IsAcceptingFrames);
        Assert.Equal(1, queue.TxPackets);
        Assert.Equal(8, queue.TxBytes);
        Assert.Equal(0, queue.TxDropped);
    }

    [Fact]
    public void BusyWithoutStoppingIsRetriedUntilTheDriverTakesTheFrame()
    {
        using var harness = DeviceHarness.Up();
        var queue = harness.Device.Queues[0];
        var refusals = 3;
        harness.Driver.OnStartXmit = (_, skb) =>
        {
            if (refusals-- > 0)
            {
                return TxResult.Busy;
            }
            skb.Consume();
            return TxResult.Ok;
        };

        var frame = harness.Link.SendFrame(0, "x"u8);
        while (queue.HasPendingFrame)
        {
            queue.Engine.RetryPending();
        }

        Assert.Equal(4, harness.Driver.Offered.Count);
        Assert.All(harness.Driver.Offered, offered => Assert.Equal(frame, offered));
        Assert.Equal(3, queue.BusyReturns);
        Assert.Equal(1, queue.TxPool.ConsumedCount);
    }

    [Fact]
    public void AFrameAlreadyReadWhenTheQueueStoppedWaitsForTheWake()
    {
        using var harness = DeviceHarness.Up();
        var queue = harness.Device.Queues[0];
        var frame = queue.TxPool.Rent();
        "in flight"u8.CopyTo(frame.Put(9));
        harness.Device.StopQueue(0); // by another thread, after the engine read the frame
        Assert.False(queue.IsAcceptingFrames);

        queue.Engine.Dispatch(frame, more: false);

        Assert.Empty(harness.Driver.Offered);
        Assert.True(queue.HasPendingFrame);
        Assert.True(frame.IsLive);

        harness.Device.WakeQueue(0);
        queue.Engine.RetryPending();
        Assert.Equal(frame, Assert.Single(harness.Driver.Offered));
        Assert.Equal(0, queue.BusyReturns);
    }

    [Fact]
    public void FramesSentToAStoppedQueueStayInTheSystemAndFlowInOrderAfterTheWake()
    {
        using var harness = DeviceHarness.Up();
        var queue = harness.Device.Queues[0];
        harness.Device.StopQueue(0);
        var first = harness.Link.SendFrame(0, "first"u8);

        var second = harness.Link.SendFrame(0, "second"u8);

        Assert.True(first.IsLive);
        Assert.True(second.IsLive);
        Assert.False(queue.HasPendingFrame);
        Assert.Equal(2, harness.Link.Sources[0].Waiting);
        Assert.Equal(0, queue.TxPool.TotalDrops);
        harness.Device.WakeQueue(0);
        queue.Engine.Serve(retry: true); // what the queue's thread does when woken
        Assert.Equal([first, second], harness.Driver.Offered);
    }

    [Fact]
    public void GoingDownDropsTheWaitingFrameAsDeviceDown()
    {
        using var harness = DeviceHarness.Up();
        harness.Driver.OnStartXmit = (_, _) => TxResult.Busy;
        var frame = harness.Link.SendFrame(0, "stuck"u8);

        harness.Device.BringDown();

        Assert.False(frame.IsLive);
        Assert.False(harness.Device.Queues[0].HasPendingFrame);
        Assert.Equal(1, harness.Device.Queues[0].TxPool.DropCount(DropReason.DeviceDown));
    }

    [Fact]
    public void BusyForAFrameTheDriverAlreadyReleasedIsReportedWithoutCrashing()
    {
        using var harness = DeviceHarness.Up();
        var queue = harness.Device.Queues[0];
        harness.Driver.OnStartXmit = (_, skb) =>
        {
            skb.Consume();
            return TxResult.Busy; // wrong: Busy leaves the frame with the framework
        };

        var frame = harness.Link.SendFrame(0, "gone"u8);

        var error = Assert.IsType<InvalidOperationException>(Assert.Single(harness.Errors));
        Assert.Contains("Busy", error.Message, StringComparison.Ordinal);
        Assert.False(frame.IsLive);
        Assert.False(queue.HasPendingFrame);
        Assert.True(queue.IsAcceptingFrames);
        Assert.Equal(1, queue.TxPool.ConsumedCount);
        Assert.Equal(0, queue.TxPool.TotalDrops);

        // The queue still works for the next frame.
        harness.Driver.OnStartXmit = (_, skb) =>
        {
            skb.Consume();
            return TxResult.Ok;
        };
        harness.Link.SendFrame(0, "next"u8);
        Assert.Equal(2, queue.TxPool.ConsumedCount);
    }

    [Fact]
    public void AThrowingStartXmitDropsTheFrameAsTransmitErrorAndReportsIt()
    {
        using var harness = DeviceHarness.Up();
        var queue = harness.Device.Queues[0];
        var failure = new IOException("ring broken");
        harness.Driver.OnStartXmit = (_, _) => throw failure;

        var frame = harness.Link.SendFrame(0, "boom"u8);

        Assert.False(frame.IsLive);
        Assert.Equal(1, queue.TxPool.DropCount(DropReason.TransmitError));
        Assert.Equal(1, queue.TxErrors);
        var error = Assert.Single(harness.Errors);
        Assert.Same(failure, error.InnerException);
        Assert.True(queue.IsAcceptingFrames);
    }

    [Fact]
    public void AStartXmitThatThrowsAfterReleasingTheFrameDoesNotReleaseItTwice()
    {
        using var harness = DeviceHarness.Up();
        var queue = harness.Device.Queues[0];
        harness.Driver.OnStartXmit = (_, skb) =>
        {
            skb.Drop(DropReason.NoRoute);
            throw new InvalidOperationException("after the drop");
        };

        harness.Link.SendFrame(0, "x"u8);

        Assert.Equal(1, queue.TxPool.DropCount(DropReason.NoRoute));
        Assert.Equal(0, queue.TxPool.DropCount(DropReason.TransmitError));
        Assert.Equal(1, queue.TxErrors);
        Assert.Single(harness.Errors);
    }

    [Fact]
    public void IsAcceptingFramesFollowsOpenStopWakeAndAWaitingFrame()
    {
        using var harness = DeviceHarness.Registered();
        var queue = harness.Device.Queues[0];
        Assert.False(queue.IsAcceptingFrames); // registered, down

        harness.Device.BringUp();
        Assert.True(queue.IsAcceptingFrames);

        queue.Stop();
        Assert.True(queue.IsStopped);
        Assert.False(queue.IsAcceptingFrames);
        queue.Wake();
        Assert.False(queue.IsStopped);
        Assert.True(queue.IsAcceptingFrames);

        harness.Driver.OnStartXmit = (_, _) => TxResult.Busy;
        harness.Link.SendFrame(0, "x"u8);
        Assert.False(queue.IsStopped);
        Assert.False(queue.IsAcceptingFrames); // a refused frame waits
        queue.Engine.DropPending(DropReason.QueueFull);
        Assert.True(queue.IsAcceptingFrames);

        harness.Device.BringDown();
        Assert.False(queue.IsAcceptingFrames);
    }

    [Fact]
    public void WakingAQueueThatIsNotStoppedDoesNotDisturbTheHost()
    {
        using var harness = DeviceHarness.Up();

        harness.Device.WakeQueue(0);

        Assert.Empty(harness.Link.NotifiedQueues);
    }

    [Fact]
    public void DropPendingWithoutAWaitingFrameDoesNothing()
    {
        using var harness = DeviceHarness.Up();

        harness.Device.Queues[0].Engine.DropPending(DropReason.DeviceDown);

        Assert.Equal(0, harness.Device.Queues[0].TxDropped);
    }

    [Fact]
    public void ADriverWithOnlyStartXmitRegistersOpensTransmitsAndTearsDown()
    {
        var host = new FakeHost();
        var driver = new MinimalDriver();
        var registration = new Registration<MinimalDriver>(host, 1, 1, driver);
        registration.Register();
        registration.Device.BringUp();

        host.Link.SendFrame(0, "one"u8);
        host.Link.RaiseAdminState(false);
        host.Link.RaiseAdminState(true);
        host.Link.SendFrame(0, "two"u8);
        registration.Dispose();

        Assert.Equal(2, driver.Transmitted);
        Assert.Equal(2, registration.Device.GetStats().TxPackets);
        Assert.Empty(registration.Leaks);
        Assert.Equal(1, host.Link.DisposeCount);
    }
}
