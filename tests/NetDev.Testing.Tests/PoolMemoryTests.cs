namespace NetDev.Testing.Tests;

/// <summary>Pools after a burst: what a burst made them grow to goes back once it stays idle.</summary>
public sealed class PoolMemoryTests
{
    [Fact]
    public void AQueuesPoolLetsGoOfWhatABurstLeftOnceItStaysIdle()
    {
        var host = new TestHost();
        var driver = new HoldingDriver();
        using var registration = new Registration<HoldingDriver>(host, 1, 1, driver);
        registration.Device.TimeProvider = host.Clock;
        var link = host.Register(registration);
        registration.Device.BringUp();
        var pool = registration.Device.Queues[0].TxPool;
        pool.Reserve(4);

        // A burst the driver holds on to, then lets go of all at once.
        foreach (var frame in Frames.Numbered(200))
        {
            Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(frame));
        }
        Assert.Equal(200, pool.Allocated);
        driver.ReleaseAll();
        var burstBytes = pool.PinnedBytes;

        // Nothing uses the buffers for two shrink periods: the surplus goes, the reserved working size stays.
        host.Clock.Advance(TimeSpan.FromSeconds(2));
        host.Clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(pool.Reserved, pool.Allocated);
        Assert.Equal(4, pool.Allocated);
        Assert.True(pool.PinnedBytes * 50 == burstBytes, $"{pool.PinnedBytes} bytes pinned after the burst, {burstBytes} during it");
        // The queue goes on: frames still flow, and the pool grows again as they need.
        Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(Frames.Numbered(1)[0]));
        driver.ReleaseAll();
        Assert.Equal(201, registration.Device.GetStats().TxPackets);
        link.AssertNoErrors();
        SkBuffAccounting.AssertNoLeaks(registration.Device);
    }

    [Fact]
    public void APoolOnlyShrinksBuffersThatStayedFreeAndNeverBelowItsReserve()
    {
        var pool = new SkBuffPool();
        pool.Reserve(2);
        var frames = Enumerable.Range(0, 10).Select(_ => pool.Rent()).ToList();
        frames.ForEach(frame => frame.Consume());

        // The burst needed every buffer since the pool was made: none stayed free the whole time.
        Assert.Equal(0, pool.Shrink());
        // One is used in the next period and nine stay free: all but the reserved two go.
        pool.Rent().Consume();
        Assert.Equal(8, pool.Shrink());
        Assert.Equal(2, pool.Allocated);
        Assert.Equal(0, pool.Shrink());
        Assert.False(pool.HasSurplus);
        Assert.True(pool.CheckLeaks().IsClean);
    }

    /// <summary>Holds every frame sent until the test lets go of them, as a driver with a deep ring does.</summary>
    private sealed class HoldingDriver : IDeviceOperations<HoldingDriver>
    {
        private readonly List<(NetDevice Device, SkBuff Frame)> _held = [];

        public TxResult StartXmit(NetDevice<HoldingDriver> device, SkBuff skb)
        {
            _held.Add((device, skb));
            return TxResult.Ok;
        }

        public void ReleaseAll()
        {
            foreach (var (device, frame) in _held)
            {
                device.CountTx(frame);
                frame.Consume();
            }
            _held.Clear();
        }
    }
}
