namespace NetDev.Control.Tests;

/// <summary>
/// Teardown order: a control request that arrives while the device is being torn down is answered from
/// the framework's counters alone; the driver's <c>GetStats64</c> and ethtool operations are never called
/// during or after its <c>Uninit</c>.
/// </summary>
public sealed partial class ControlServerTests
{
    [Fact]
    public void RequestsDuringUninitDoNotCallTheDriver()
    {
        var driver = new UninitGateDriver();
        var registration = new Registration<UninitGateDriver>(Host(Ns.Name), 1, 1, driver);
        Task? teardown = null;
        try
        {
            registration.Device.Name = "ndtu0";
            registration.Register();
            using var server = ControlServer.Start(registration.Device, Options);
            using var client = ConnectOnly();
            Assert.Equal(7, client.GetStats(queues: false).Stats64.Collisions);
            Assert.Contains(client.GetStatistics(), counter => counter.Name == "gate_queries");

            teardown = Task.Run(registration.Dispose, TestContext.Current.CancellationToken);
            Assert.True(driver.InUninit.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "Uninit never started");

            // The endpoint still answers (its owner has not removed it yet), from the framework's counters only.
            var stats = client.GetStats(queues: false);
            var statistics = client.GetStatistics();
            var info = client.GetDriverInfo();

            Assert.Equal(0, stats.Stats64.Collisions);
            Assert.DoesNotContain(statistics, counter => counter.Name == "gate_queries");
            Assert.NotEqual("gate-bus", info.BusInfo);
            Assert.Equal(0, driver.QueriesDuringOrAfterUninit);
        }
        finally
        {
            driver.ReleaseUninit.Set();
            teardown?.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            registration.Dispose();
        }
        Assert.Equal(0, driver.QueriesDuringOrAfterUninit);
    }

    /// <summary>A driver whose Uninit waits for the test, and which counts the queries that reach it too late.</summary>
    private sealed class UninitGateDriver : IDeviceOperations<UninitGateDriver>, IEthtoolOperations<UninitGateDriver>
    {
        private volatile bool _uninitStarted;
        private int _late;

        public ManualResetEventSlim InUninit { get; } = new();

        public ManualResetEventSlim ReleaseUninit { get; } = new();

        public int QueriesDuringOrAfterUninit => Volatile.Read(ref _late);

        public TxResult StartXmit(NetDevice<UninitGateDriver> device, SkBuff skb)
        {
            skb.Consume();
            return TxResult.Ok;
        }

        public void Uninit(NetDevice<UninitGateDriver> device)
        {
            _uninitStarted = true;
            InUninit.Set();
            ReleaseUninit.Wait(TimeSpan.FromSeconds(30));
        }

        public void GetStats64(NetDevice<UninitGateDriver> device, ref LinkStats64 stats)
        {
            Query();
            stats.Collisions += 7;
        }

        public IEnumerable<KeyValuePair<string, long>> GetStatistics(NetDevice<UninitGateDriver> device)
        {
            Query();
            return [new("gate_queries", 1)];
        }

        public DriverInfo GetDriverInfo(NetDevice<UninitGateDriver> device)
        {
            Query();
            return DriverInfo.For(device) with { BusInfo = "gate-bus" };
        }

        private void Query()
        {
            if (_uninitStarted)
            {
                Interlocked.Increment(ref _late);
            }
        }
    }
}
