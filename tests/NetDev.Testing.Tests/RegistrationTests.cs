namespace NetDev.Testing.Tests;

public sealed class RegistrationTests
{
    [Fact]
    public void TemplatesResolveToTheFirstFreeNumberAndIndexesStartAfterLoopback()
    {
        var host = new TestHost();
        using var first = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        using var second = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        first.Device.Name = "sink%d";
        second.Device.Name = "sink%d";

        var firstLink = host.Register(first);
        var secondLink = host.Register(second);

        Assert.Equal(("sink0", 2), (first.Device.Name, first.Device.IfIndex));
        Assert.Equal(("sink1", 3), (second.Device.Name, second.Device.IfIndex));
        Assert.Same(firstLink, host.GetLink("sink0"));
        Assert.Same(secondLink, host.GetLink(second.Device));
        Assert.Equal([firstLink, secondLink], host.Links);
    }

    [Fact]
    public void ARemovedNameIsFreeAgainButItsIndexIsNotReused()
    {
        var host = new TestHost();
        var first = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        first.Device.Name = "sink%d";
        var firstLink = host.Register(first);
        first.Dispose();

        using var second = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        second.Device.Name = "sink%d";
        host.Register(second);

        Assert.True(firstLink.IsRemoved);
        Assert.Equal("sink0", second.Device.Name);
        Assert.Equal(3, second.Device.IfIndex);
        Assert.Equal(2, host.AllLinks.Count);
    }

    [Fact]
    public void AFixedNameInUseIsRefusedWithEexistAndNothingIsLeft()
    {
        var host = new TestHost();
        using var first = new Registration<ScriptedDriver>(host, 1, 1, new ScriptedDriver());
        first.Device.Name = "same0";
        host.Register(first);
        using var second = new Registration<ScriptedDriver>(host, 1, 1, new ScriptedDriver());
        second.Device.Name = "same0";
        var calls = OperationRecorder.Attach(second.Device);

        var error = Assert.Throws<NetDevException>(second.Register);

        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.False(second.IsRegistered);
        Assert.Empty(calls.Calls);
        Assert.Single(host.Links);
    }

    [Fact]
    public void ARefusedCreateLinkFailsRegisterBeforeTheDriverIsCalled()
    {
        var host = new TestHost();
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, new ScriptedDriver());
        var calls = OperationRecorder.Attach(registration.Device);
        host.FailNextCreateLink(Errno.EPERM);

        var error = Assert.Throws<NetDevException>(registration.Register);

        Assert.True(error.IsPermissionDenied);
        Assert.Empty(calls.Calls);
        Assert.Empty(host.AllLinks);
        // The failure is used up: the next attempt works.
        registration.Register();
        Assert.True(registration.IsRegistered);
    }

    [Fact]
    public void TheLinkStartsWithWhatTheDeviceAskedFor()
    {
        var host = new TestHost();
        using var registration = new Registration<SinkDriver>(host, 3, 2, new SinkDriver());
        var mac = MacAddress.Parse("02:11:22:33:44:55");
        registration.Device.MacAddress = mac;
        registration.Device.Mtu = 1400;
        registration.Device.TxQueueLength = 7;
        registration.Device.Flags |= DeviceFlags.NoArp;

        var link = host.Register(registration);

        Assert.Equal((mac, 1400, 7, 3), (link.MacAddress, link.Mtu, link.TxQueueLength, link.QueueCount));
        Assert.Equal(DeviceFlags.Broadcast | DeviceFlags.Multicast | DeviceFlags.NoArp, link.Flags);
        Assert.False(link.IsAdminUp);
        Assert.True(link.IsStarted);
        Assert.Same(registration.Device, link.Device);
        Assert.Equal(7, link.GetKernelQueueStats(2).Capacity);
    }

    [Fact]
    public void RegisterPutsTheDeviceOnTheHostsClock()
    {
        var host = new TestHost();
        using var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());

        host.Register(registration);

        Assert.Same(host.Clock, registration.Device.TimeProvider);
    }

    [Fact]
    public void TheLinksQueueWorkRunsOnTheCallersThreadWhenNotThreaded()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver();
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        Thread.CurrentThread.Name ??= "the test's thread";

        Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(TestFrames.Numbered(1)));

        Assert.Equal(Thread.CurrentThread.Name, Assert.Single(driver.Frames).Thread);
    }

    [Fact]
    public void CountersReadAfterDisposeNeverCallTheReleasedDriver()
    {
        var host = new TestHost();
        var driver = new DisposableStatsDriver();
        var registration = new Registration<DisposableStatsDriver>(host, 1, 1, driver);
        registration.Device.Name = "stats0";
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(new byte[60]);
        Assert.Equal(7, registration.Device.GetLinkStats64().Collisions);

        registration.Dispose();

        // What a runner prints at the end: the framework's counters, without asking the released driver.
        var stats = registration.Device.GetLinkStats64();
        Assert.Equal(1, stats.TxPackets);
        Assert.Equal(0, stats.Collisions);
        Assert.DoesNotContain(registration.Device.GetEthtoolStatistics(), counter => counter.Key == "released_queries");
        Assert.Equal(0, driver.CallsAfterDispose);
    }

    /// <summary>A driver with its own counters, which notes any call that reaches it after it was released.</summary>
    private sealed class DisposableStatsDriver : IDeviceOperations<DisposableStatsDriver>, IEthtoolOperations<DisposableStatsDriver>, IDisposable
    {
        private bool _disposed;

        public int CallsAfterDispose { get; private set; }

        public TxResult StartXmit(NetDevice<DisposableStatsDriver> device, SkBuff skb)
        {
            device.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        }

        public void GetStats64(NetDevice<DisposableStatsDriver> device, ref LinkStats64 stats)
        {
            Note();
            stats.Collisions += 7;
        }

        public IEnumerable<KeyValuePair<string, long>> GetStatistics(NetDevice<DisposableStatsDriver> device)
        {
            Note();
            return [new("released_queries", 1)];
        }

        public void Dispose() => _disposed = true;

        private void Note()
        {
            if (_disposed)
            {
                CallsAfterDispose++;
            }
        }
    }
}
