namespace NetDev.Testing.Tests;

/// <summary>
/// A driver that changes its device from the transmit path (carrier, a setting, a reset from TxTimeout)
/// while another thread takes the device down: the control thread waits for the queue's thread, which
/// waits for the control lock. Neither may hang.
/// </summary>
public sealed class ControlLockTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void StartXmitChangingTheCarrierWhileTheDeviceGoesDownDoesNotHang(bool threaded)
    {
        var host = new TestHost(new TestHostOptions { Threaded = threaded });
        var driver = new ScriptedDriver();
        using var goingDown = new ManualResetEventSlim();
        using var insideStartXmit = new ManualResetEventSlim();
        driver.OnStartXmit = (device, skb) =>
        {
            insideStartXmit.Set();
            // Let BringDown take the control lock and start waiting for this queue, then want the lock too.
            goingDown.Wait(Patience);
            Thread.Sleep(100);
            device.CarrierOff();
            skb.Consume();
            return TxResult.Ok;
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        // Longer than the test waits, so the bounded wait for a stuck queue cannot hide a deadlock.
        registration.Device.StopTimeout = TimeSpan.FromMinutes(5);
        var link = host.Register(registration);
        registration.Device.BringUp();

        // Inline mode serves on the injecting thread, so it injects from a thread of its own.
        var sender = Start(() => link.InjectTransmit(Frames.Numbered(1)[0]));
        Assert.True(insideStartXmit.Wait(Patience, TestContext.Current.CancellationToken), "StartXmit was never called");
        var bringDown = Start(() =>
        {
            goingDown.Set();
            registration.Device.BringDown();
        });

        Assert.True(sender.Join(Patience) && bringDown.Join(Patience), "the device's control lock and its queue's thread wait for each other");
        Assert.False(registration.Device.IsUp);
        // In threaded mode StartXmit may still be finishing on the queue's thread.
        Assert.True(SpinWait.SpinUntil(() => registration.Device.Queues[0].TxPool.ConsumedCount == 1 && !registration.Device.Carrier, Patience),
            "StartXmit never got the control lock to turn the carrier off");
        link.AssertNoErrors();
    }

    [Fact]
    public void TxTimeoutResettingTheDeviceWhileAnotherQueueChangesItDoesNotHang()
    {
        var host = new TestHost(new TestHostOptions { Threaded = true });
        var driver = new ScriptedDriver();
        using var resetting = new ManualResetEventSlim();
        using var queue1InDriver = new ManualResetEventSlim();
        driver.OnStartXmit = (device, skb) =>
        {
            var queue = skb.QueueIndex;
            skb.Consume();
            if (queue == 0)
            {
                device.StopQueue(0);   // a ring that never drains: the watchdog fires
            }
            else
            {
                queue1InDriver.Set();
                resetting.Wait(Patience);
                Thread.Sleep(100);
                device.Mtu = 1400;      // queue 1 changes the device while queue 0 resets it
            }
            return TxResult.Ok;
        };
        driver.OnTxTimeout = (device, queue) =>
        {
            resetting.Set();
            device.BringDown();        // the reset the TxTimeout docs suggest
        };
        using var registration = new Registration<ScriptedDriver>(host, 2, 2, driver);
        registration.Device.WatchdogTimeout = TimeSpan.FromSeconds(1);
        registration.Device.StopTimeout = TimeSpan.FromMinutes(5);
        var link = host.Register(registration);
        registration.Device.BringUp();

        link.InjectTransmit(1, Frames.Numbered(1)[0]);
        // Queue 1's thread must be inside the driver before queue 0 resets the device: a reset that came
        // first would close queue 1 and drop its frame as DeviceDown, and no change would ever be made.
        Assert.True(queue1InDriver.Wait(Patience, TestContext.Current.CancellationToken), "queue 1 never handed its frame to the driver");
        link.InjectTransmit(0, Frames.Numbered(1)[0]);
        // The watchdog runs on the test clock: move it on until queue 0's thread has armed it and it fired.
        var done = SpinWait.SpinUntil(() =>
        {
            host.Clock.Advance(TimeSpan.FromSeconds(1));
            return !registration.Device.IsUp && registration.Device.Mtu == 1400;
        }, Patience);

        Assert.True(done, "the reset on queue 0 and the change on queue 1 wait for each other");
        link.AssertNoErrors();
    }

    private static Thread Start(Action action)
    {
        var thread = new Thread(() => action()) { IsBackground = true };
        thread.Start();
        return thread;
    }
}
