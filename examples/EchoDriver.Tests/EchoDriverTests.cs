using NetDev.Testing;

namespace NetDev.Examples.Echo.Tests;

public sealed class EchoDriverTests
{
    [Fact]
    public void EveryFrameComesBackWithItsAddressesSwapped()
    {
        var host = new TestHost();
        using var registration = new Registration<EchoDriver>(host, txQueues: 1, rxQueues: 1, new EchoDriver());
        var link = host.Register(registration);
        registration.Device.BringUp();

        var sent = Enumerable.Range(1, 10).Select(seed => TestFrames.Numbered(seed)).ToList();
        foreach (var frame in sent)
        {
            Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(frame));
        }

        WaitUntil(() => link.Received.Count == sent.Count, "all ten echoes");
        for (var i = 0; i < sent.Count; i++)
        {
            var echo = link.Received[i];
            Assert.Equal(MacAddress.FromBytes(sent[i].AsSpan(MacAddress.Length)), echo.Destination);
            Assert.Equal(MacAddress.FromBytes(sent[i]), echo.Source);
            Assert.Equal(sent[i].AsSpan(2 * MacAddress.Length).ToArray(), echo.Data.AsSpan(2 * MacAddress.Length).ToArray());
        }
        link.AssertNoErrors();
    }

    [Fact]
    public void AFullRingStopsTheQueueAndRoomMadeWakesIt()
    {
        var host = new TestHost();
        using var registration = new Registration<EchoDriver>(host, txQueues: 1, rxQueues: 1, new EchoDriver(ringSize: 4));
        var link = host.Register(registration);
        registration.Device.BringUp();
        // The system holds the echo thread inside its first delivery until the test lets it go.
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        link.ReceivePolicy = (_, _) =>
        {
            entered.Set();
            release.Wait();
            return null;
        };

        link.InjectTransmit(TestFrames.Numbered(1));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the echo thread never delivered");
        for (var seed = 2; seed <= 5; seed++)
        {
            Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(TestFrames.Numbered(seed)));
        }
        var queue = registration.Device.Queues[0];
        Assert.True(queue.IsStopped);
        Assert.Equal(InjectResult.Queued, link.InjectTransmit(TestFrames.Numbered(6)));

        release.Set();

        WaitUntil(() => link.Received.Count == 6, "all six echoes, the one the kernel held included");
        Assert.False(queue.IsStopped);
        Assert.Equal(6, registration.Device.GetStats().TxPackets);
        link.AssertNoErrors();
    }

    [Fact]
    public void EchoesTheSystemRefusesAreCountedByReason()
    {
        var host = new TestHost();
        using var registration = new Registration<EchoDriver>(host, txQueues: 1, rxQueues: 1, new EchoDriver());
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.RefuseReceives(DropReason.QueueFull);

        for (var seed = 1; seed <= 5; seed++)
        {
            link.InjectTransmit(TestFrames.Numbered(seed));
        }

        var driver = registration.Device.DriverData;
        WaitUntil(() => driver.RefusedEchoes(DropReason.QueueFull) == 5, "five refused echoes");
        Assert.Empty(link.Received);
        Assert.Equal(5, registration.Device.Queues[0].RxPool.DropCount(DropReason.QueueFull));
    }

    [Fact]
    public void FramesStillInTheRingAreDroppedWhenTheDeviceGoesDown()
    {
        var host = new TestHost();
        var registration = new Registration<EchoDriver>(host, txQueues: 1, rxQueues: 1, new EchoDriver(ringSize: 4));
        var link = host.Register(registration);
        registration.Device.BringUp();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        link.ReceivePolicy = (_, _) =>
        {
            entered.Set();
            release.Wait();
            return null;
        };
        link.InjectTransmit(TestFrames.Numbered(1));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the echo thread never delivered");
        link.InjectTransmit(TestFrames.Numbered(2));
        link.InjectTransmit(TestFrames.Numbered(3));

        release.Set();
        registration.Dispose();

        // Every frame is accounted for: echoed, or dropped as the device went down; none leaked.
        var txPool = registration.Device.Queues[0].TxPool;
        Assert.Equal(3, txPool.ConsumedCount + txPool.DropCount(DropReason.DeviceDown));
        Assert.True(txPool.CheckLeaks().IsClean);
        Assert.True(registration.Device.Queues[0].RxPool.CheckLeaks().IsClean);
        link.AssertNoErrors();
    }

    /// <summary>Waits for the echo thread, bounded generously; no timing is asserted.</summary>
    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Gave up waiting for {what}.");
            Thread.Sleep(10);
        }
    }
}
