namespace NetDev.Testing.Tests.Example;

public sealed class PacedDriverTests
{
    [Fact]
    public void SendsOneFramePerIntervalWhileTheKernelHoldsTheRest()
    {
        var host = new TestHost();
        var driver = new PacedDriver(TimeSpan.FromMilliseconds(1), ringSize: 4);
        var registration = new Registration<PacedDriver>(host, 1, 1, driver);
        var calls = OperationRecorder.Attach(registration.Device);
        var link = host.Register(registration);
        registration.Device.BringUp();
        var frames = Enumerable.Range(0, 10).Select(i => TestFrames.Numbered(i)).ToList();

        var results = frames.Select(frame => link.InjectTransmit(frame)).ToList();

        Assert.Equal(4, results.Count(result => result == InjectResult.Dispatched));
        Assert.Equal(6, link.GetKernelQueueStats(0).Length);
        Assert.True(registration.Device.Queues[0].IsStopped);
        Assert.Empty(driver.Sent);

        host.Clock.Advance(TimeSpan.FromMilliseconds(10));

        Assert.Equal(frames, driver.Sent);
        Assert.Equal(10, registration.Device.GetStats().TxPackets);
        Assert.Equal(0, link.KernelTxDropped);
        Assert.Equal(["Open", "StartXmit(q0) Ok ×10"], calls.FoldedSummary());

        registration.Dispose();
        host.AssertClean();
    }

    [Fact]
    public void FramesStillInTheRingAreDroppedWhenTheDeviceGoesDown()
    {
        var host = new TestHost();
        var registration = new Registration<PacedDriver>(host, 1, 1, new PacedDriver(TimeSpan.FromMilliseconds(1), ringSize: 4));
        var link = host.Register(registration);
        registration.Device.BringUp();
        foreach (var i in Enumerable.Range(0, 3))
        {
            link.InjectTransmit(TestFrames.Numbered(i));
        }

        link.IpLinkSetDown();

        Assert.Equal(3, registration.Device.Queues[0].TxPool.DropCount(DropReason.DeviceDown));
        registration.Dispose();
        host.AssertClean();
    }

    [Fact]
    public void UnderLoadTheRingNeverHoldsMoreThanItsSlots()
    {
        // Frames arrive as fast as the queue's thread takes them while another thread frees slots as fast as
        // it can: a wake that raced with a stop would let the ring grow past its size.
        var host = new TestHost(new TestHostOptions { Threaded = true, TimeProvider = TimeProvider.System, CaptureReceivedFrames = false });
        var driver = new PacedDriver(Timeout.InfiniteTimeSpan, ringSize: 2);
        using var registration = new Registration<PacedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        var stop = false;
        var completions = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                driver.TransmitOne(registration.Device);
            }
        }) { IsBackground = true };
        completions.Start();

        const int Frames = 200_000;
        var frame = TestFrames.Numbered(1);
        for (var i = 0; i < Frames; i++)
        {
            while (link.InjectTransmit(frame) == InjectResult.Dropped)
            {
                Thread.Yield();
            }
        }
        Assert.True(SpinWait.SpinUntil(() => driver.SentCount == Frames, TimeSpan.FromSeconds(120)), $"only {driver.SentCount} of {Frames} frames were sent");
        Volatile.Write(ref stop, true);
        completions.Join();

        Assert.InRange(driver.MostQueued, 1, 2);
    }

    [Fact]
    public void AWakeThatRacesWithTheRingFillingAgainDoesNotOverfillIt()
    {
        // The interleaving a completion thread can meet: a slot frees, frames fill the ring again (the queue
        // stops), and only then does the completion wake the queue.
        var host = new TestHost();
        var driver = new PacedDriver(Timeout.InfiniteTimeSpan, ringSize: 2);
        using var registration = new Registration<PacedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(0));   // one slot of two taken: the queue runs
        var refill = true;
        driver.FrameSent = () =>
        {
            if (refill)
            {
                refill = false;
                link.InjectTransmit(TestFrames.Numbered(1));
                link.InjectTransmit(TestFrames.Numbered(2));   // full again: stopped
                link.InjectTransmit(TestFrames.Numbered(3));   // waits in the kernel
            }
        };

        driver.TransmitOne(registration.Device);   // frees a slot, then (after the refill) wakes the queue

        Assert.Equal(2, driver.MostQueued);
        Assert.True(registration.Device.Queues[0].IsStopped);
        Assert.Equal(1, link.GetKernelQueueStats(0).Length);
    }

    [Fact]
    public void AWakeDecidedBeforeTheQueueWasWokenAndStoppedAgainDoesNotEndTheNewStop()
    {
        // The completion thread saw the queue stopped and room in the ring; before it woke the queue, the queue's
        // own second look woke it, the ring filled again and the queue stopped again. The late wake belongs to the
        // first stop: acting on it would hand a frame to a full ring.
        var host = new TestHost();
        using var registration = new Registration<PacedDriver>(host, 1, 1, new PacedDriver(Timeout.InfiniteTimeSpan, ringSize: 2));
        host.Register(registration);
        registration.Device.BringUp();
        var queue = registration.Device.Queues[0];
        queue.Stop();

        var woken = queue.MaybeWake(queue, static q =>
        {
            q.Wake();   // the queue's thread: its second look found room
            q.Stop();   // ... and the ring is full again
            return true;   // what the completion had seen
        });

        Assert.False(woken);
        Assert.True(queue.IsStopped);
    }
}
