namespace NetDev.Testing.Tests;

public sealed class ThreadedModeTests
{
    [Fact]
    public void EachQueueIsServedOnItsOwnThreadAndPumpWaitsForIt()
    {
        var host = new TestHost(new TestHostOptions { Threaded = true });
        var driver = new ScriptedDriver();
        var registration = new Registration<ScriptedDriver>(host, 2, 2, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        var frames = Frames.Numbered(400);

        for (var i = 0; i < frames.Count; i++)
        {
            Assert.NotEqual(InjectResult.Dropped, link.InjectTransmit(i % 2, frames[i]));
        }
        link.Pump();

        Assert.Equal(400, registration.Device.GetStats().TxPackets);
        Assert.Equal($"netdev {link.Name} q0", driver.Frames.First(f => f.Queue == 0).Thread);
        Assert.Equal($"netdev {link.Name} q1", driver.Frames.First(f => f.Queue == 1).Thread);
        Assert.Equal(frames.Where((_, i) => i % 2 == 1), driver.Frames.Where(f => f.Queue == 1).Select(f => f.Data));
        registration.Dispose();
        host.AssertClean();
    }

    [Fact]
    public void PumpWaitsForEveryFrameSentBeforeEvenWhenTheQueueThreadFellBehind()
    {
        var host = new TestHost(new TestHostOptions { Threaded = true });
        var driver = new ScriptedDriver();
        using var inDriver = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        driver.OnStartXmit = (device, skb) =>
        {
            device.CountTx(skb);
            skb.Consume();
            if (!inDriver.IsSet)
            {
                inDriver.Set();
                release.Wait(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);   // the queue's thread is held up in the first frame
            }
            else
            {
                Thread.Sleep(1);   // a slow driver: frames still wait when a Pump that stopped early would return
            }
            return TxResult.Ok;
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        var frames = Frames.Numbered(301);
        link.InjectTransmit(frames[0]);
        Assert.True(inDriver.Wait(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
        foreach (var frame in frames.Skip(1))
        {
            link.InjectTransmit(frame);   // they wait in the kernel queue, several rounds' budget of them
        }

        var pump = new Thread(link.Pump);
        pump.Start();
        // Let Pump's request reach the queue before the thread goes on; if it comes later, the thread has
        // drained the queue by itself and the test checks less, but cannot fail for it.
        Thread.Sleep(100);
        release.Set();
        Assert.True(pump.Join(TimeSpan.FromSeconds(20)));

        Assert.Equal(301, registration.Device.GetStats().TxPackets);
        Assert.Equal(frames, driver.Frames.Select(f => f.Data));
    }

    [Fact]
    public void AQueueWokenFromAnotherThreadIsServedByItsOwnThread()
    {
        var host = new TestHost(new TestHostOptions { Threaded = true });
        var driver = new ScriptedDriver();
        driver.OnStartXmit = (device, skb) =>
        {
            device.CountTx(skb);
            skb.Consume();
            device.StopQueue(0);   // one frame at a time; the "completion" below wakes the queue
            return TxResult.Ok;
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        foreach (var frame in Frames.Numbered(5))
        {
            link.InjectTransmit(frame);
        }

        var completions = new Thread(() =>
        {
            for (var i = 0; i < 4; i++)
            {
                var step = i;
                if (!SpinWait.SpinUntil(() => registration.Device.Queues[0].IsStopped && driver.Frames.Count == step + 1, TimeSpan.FromSeconds(20)))
                {
                    return;   // the assertions below tell what went wrong
                }
                registration.Device.WakeQueue(0);
            }
        });
        completions.Start();
        completions.Join();
        link.Pump();

        Assert.Equal(Frames.Numbered(5), driver.Frames.Select(f => f.Data));
        Assert.All(driver.Frames, f => Assert.Equal($"netdev {link.Name} q0", f.Thread));
    }

    [Fact]
    public void ControlActionsRunOnTheQueueThread()
    {
        var host = new TestHost(new TestHostOptions { Threaded = true });
        using var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        var link = host.Register(registration);
        string? ranOn = null;

        link.RunOnQueue(0, () => ranOn = Thread.CurrentThread.Name);

        Assert.Equal($"netdev {link.Name} q0", ranOn);
        var error = Assert.Throws<InvalidOperationException>(() => link.RunOnQueue(0, () => throw new InvalidOperationException("inside")));
        Assert.Equal("inside", error.Message);
    }

    [Fact]
    public void RemovingTheLinkEndsItsThreadsAndLaterControlActionsRunInline()
    {
        var host = new TestHost(new TestHostOptions { Threaded = true });
        var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        var link = host.Register(registration);
        registration.Device.BringUp();

        registration.Dispose();
        string? ranOn = "not run";
        link.RunOnQueue(0, () => ranOn = Thread.CurrentThread.Name);

        Assert.Equal(Thread.CurrentThread.Name, ranOn);
        Assert.True(link.IsRemoved);
    }
}
