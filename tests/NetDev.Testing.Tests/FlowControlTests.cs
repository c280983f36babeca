namespace NetDev.Testing.Tests;

public sealed class FlowControlTests
{
    /// <summary>A driver with a transmit ring of <paramref name="ring"/> frames: it keeps frames, stops the queue when the ring is full.</summary>
    private static (ScriptedDriver Driver, Queue<SkBuff> Ring) RingDriver(int ring)
    {
        var held = new Queue<SkBuff>();
        var driver = new ScriptedDriver();
        driver.OnStartXmit = (device, skb) =>
        {
            held.Enqueue(skb);
            if (held.Count == ring)
            {
                device.StopQueue(skb.QueueIndex);
            }
            return TxResult.Ok;
        };
        return (driver, held);
    }

    /// <summary>The ring's "transmit complete": releases what the driver held and wakes the queue.</summary>
    private static void Complete(NetDevice device, Queue<SkBuff> ring)
    {
        while (ring.TryDequeue(out var skb))
        {
            device.CountTx(skb);
            skb.Consume();
        }
        device.WakeQueue(0);
    }

    [Fact]
    public void AStoppedQueueBacksUpInTheKernelQueueAndDrainsInOrderOnWake()
    {
        var host = new TestHost();
        var (driver, ring) = RingDriver(ring: 4);
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        var frames = Frames.Numbered(10);

        var results = frames.Select(frame => link.InjectTransmit(frame)).ToList();

        Assert.Equal([.. Enumerable.Repeat(InjectResult.Dispatched, 4), .. Enumerable.Repeat(InjectResult.Queued, 6)], results);
        Assert.True(registration.Device.Queues[0].IsStopped);
        Assert.Equal(6, link.GetKernelQueueStats(0).Length);

        Complete(registration.Device, ring);  // wakes: 4 more go to the driver, which stops again
        Assert.Equal(2, link.GetKernelQueueStats(0).Length);
        Complete(registration.Device, ring);
        Complete(registration.Device, ring);

        Assert.Equal(frames, driver.Frames.Select(f => f.Data));
        Assert.Equal(new KernelQueueStats(0, 1000, 10, 0, 10, 0, 6), link.GetKernelQueueStats(0));
        Assert.Equal(10, registration.Device.GetStats().TxPackets);
    }

    [Fact]
    public void AWakeHandsOverEveryWaitingFrameNotOnlyOneRoundsWorth()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver();
        var stoppedOnce = false;
        driver.OnStartXmit = (device, skb) =>
        {
            device.CountTx(skb);
            skb.Consume();
            if (!stoppedOnce)
            {
                stoppedOnce = true;
                device.StopQueue(0);
            }
            return TxResult.Ok;
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        var frames = Frames.Numbered(301);   // more than a few rounds' budget wait behind the stopped queue
        foreach (var frame in frames)
        {
            link.InjectTransmit(frame);
        }
        Assert.Equal(300, link.GetKernelQueueStats(0).Length);

        registration.Device.WakeQueue(0);

        Assert.Equal(0, link.GetKernelQueueStats(0).Length);
        Assert.Equal(frames, driver.Frames.Select(f => f.Data));
        Assert.Equal(301, registration.Device.GetStats().TxPackets);
    }

    [Fact]
    public void FramesThatWaitedTogetherAreHandedOverSayingWhetherAnotherFollows()
    {
        var host = new TestHost();
        var more = new List<bool>();
        var driver = new ScriptedDriver();
        driver.OnStartXmit = (device, skb) =>
        {
            more.Add(device.Queues[0].XmitMore);
            device.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();

        link.InjectTransmit(Frames.Numbered(1)[0]);
        registration.Device.StopQueue(0);
        foreach (var frame in Frames.Numbered(4))
        {
            link.InjectTransmit(frame);
        }
        registration.Device.WakeQueue(0);

        // Alone, the first frame says none follows; the four that waited are handed over as one batch.
        Assert.Equal([false, true, true, true, false], more);
    }

    [Fact]
    public void TheKernelQueueHoldsTxQueueLengthFramesAndCountsTheRestAsItsOwnDrops()
    {
        var host = new TestHost();
        var (driver, ring) = RingDriver(ring: 1);
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        registration.Device.TxQueueLength = 3;
        var link = host.Register(registration);
        registration.Device.BringUp();

        var results = Frames.Numbered(6).Select(frame => link.InjectTransmit(frame)).ToList();

        Assert.Equal([InjectResult.Dispatched, InjectResult.Queued, InjectResult.Queued, InjectResult.Queued, InjectResult.Dropped, InjectResult.Dropped], results);
        Assert.Equal(2, link.KernelTxDropped);
        // The kernel's drops are not the device's: the driver lost nothing.
        Assert.Equal(0, registration.Device.GetStats().TxDropped);
        Complete(registration.Device, ring);
        Complete(registration.Device, ring);
        Complete(registration.Device, ring);
        Complete(registration.Device, ring);
        Assert.Equal(4, driver.Frames.Count);
    }

    [Fact]
    public void WithoutPumpOnWakeWaitingFramesMoveOnlyWhenTheTestPumps()
    {
        var host = new TestHost(new TestHostOptions { PumpOnWake = false });
        var (driver, ring) = RingDriver(ring: 1);
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(1));
        link.InjectTransmit(TestFrames.Numbered(2));

        Complete(registration.Device, ring);
        Assert.Single(driver.Frames);
        Assert.Equal(1, link.GetKernelQueueStats(0).Length);

        link.Pump();
        Assert.Equal(2, driver.Frames.Count);
    }

    [Fact]
    public void BusyWithoutStoppingIsRetriedWithTheSameFrameAfterTheRetryInterval()
    {
        var host = new TestHost();
        var busyLeft = 2;
        var offered = new List<SkBuff>();
        var driver = new ScriptedDriver
        {
            OnStartXmit = (device, skb) =>
            {
                offered.Add(skb);
                if (busyLeft-- > 0)
                {
                    return TxResult.Busy;
                }
                device.CountTx(skb);
                skb.Consume();
                return TxResult.Ok;
            },
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        var calls = OperationRecorder.Attach(registration.Device);
        registration.Device.BringUp();

        Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(TestFrames.Numbered(1)));
        Assert.Equal(InjectResult.Queued, link.InjectTransmit(TestFrames.Numbered(2)));
        Assert.Single(offered);

        host.Clock.Advance(TimeSpan.FromMilliseconds(0.5));
        Assert.Single(offered);
        host.Clock.Advance(TimeSpan.FromMilliseconds(0.5));
        Assert.Equal(2, offered.Count);
        host.Clock.Advance(TimeSpan.FromMilliseconds(1));

        // The very same frame each time, then the one that waited in the kernel queue.
        Assert.Equal(4, offered.Count);
        Assert.Equal(offered[0], offered[1]);
        Assert.Equal(offered[0], offered[2]);
        Assert.Equal(TestFrames.Numbered(2), driver.Frames[3].Data);
        Assert.Equal(["Open", "StartXmit(q0) Busy", "StartXmit(q0) Busy", "StartXmit(q0) Ok", "StartXmit(q0) Ok"], calls.Summary());
        Assert.Equal(2, registration.Device.Queues[0].BusyReturns);
        Assert.Equal(2, link.TotalFramesHandedToDriver);
    }

    [Fact]
    public void AQueueStoppedLongerThanTheWatchdogTimeoutCallsTxTimeoutOnce()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver();
        driver.OnStartXmit = (device, skb) =>
        {
            device.StopQueue(0);
            device.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        registration.Device.WatchdogTimeout = TimeSpan.FromSeconds(5);
        var link = host.Register(registration);
        var calls = OperationRecorder.Attach(registration.Device);
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(1));

        host.Clock.Advance(TimeSpan.FromSeconds(4.9));
        Assert.Equal(0, registration.Device.Queues[0].Timeouts);
        host.Clock.Advance(TimeSpan.FromSeconds(0.2));
        host.Clock.Advance(TimeSpan.FromSeconds(60));

        Assert.Equal(1, registration.Device.Queues[0].Timeouts);
        Assert.Equal(["Open", "StartXmit(q0) Ok", "TxTimeout(q0)"], calls.Summary());
    }

    [Fact]
    public void ATxTimeoutThatWakesTheQueueLetsTheWaitingFramesThrough()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver
        {
            OnTxTimeout = (device, queue) => device.WakeQueue(queue),
        };
        driver.OnStartXmit = (device, skb) =>
        {
            device.StopQueue(0);   // "the hardware hung"
            device.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(1));
        Assert.Equal(InjectResult.Queued, link.InjectTransmit(TestFrames.Numbered(2)));

        host.Clock.Advance(registration.Device.WatchdogTimeout + TimeSpan.FromSeconds(1));

        Assert.Equal(2, driver.Frames.Count);
        Assert.Equal(1, registration.Device.Queues[0].Timeouts);
    }
}
