using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>Registration's life cycle: register once, fail cleanly, tear down in the documented order.</summary>
public sealed class RegistrationTests
{
    [Fact]
    public void RegisterCreatesTheLinkRunsInitAndStartsTheQueuesInThatOrder()
    {
        using var harness = DeviceHarness.Unregistered(txQueues: 2, rxQueues: 3);

        harness.Registration.Register();

        Assert.Equal(["host.CreateLink", "driver.Init", "link.Start"], harness.Log.Entries);
        Assert.True(harness.Registration.IsRegistered);
        Assert.True(harness.Device.IsRegistered);
        Assert.False(harness.Device.IsUp);
        Assert.Same(harness.Device, harness.Link.Events);
        Assert.Same(harness.Device.Queues, harness.Link.Queues);
        Assert.Equal(3, harness.Link.Queues!.Count);
        Assert.Equal(harness.Link.IfIndex, harness.Device.IfIndex);
        Assert.Equal("eth0", harness.Device.Name);
        Assert.Empty(harness.Link.AdminUpCalls);
    }

    [Fact]
    public void RegisteringTwiceThrowsAndMakesNoSecondLink()
    {
        using var harness = DeviceHarness.Registered();

        Assert.Throws<InvalidOperationException>(harness.Registration.Register);

        Assert.Single(harness.Host.Links);
        Assert.Equal(1, harness.Log.Count("driver.Init"));
        Assert.True(harness.Registration.IsRegistered);
    }

    [Fact]
    public void RegisteringAfterDisposeThrowsObjectDisposed()
    {
        var harness = DeviceHarness.Unregistered();
        harness.Dispose();

        Assert.Throws<ObjectDisposedException>(harness.Registration.Register);

        Assert.Empty(harness.Host.Links);
        Assert.Equal(0, harness.Log.Count("host.CreateLink"));
    }

    [Fact]
    public void RegisteringAfterDisposeOfARegisteredDeviceThrowsObjectDisposed()
    {
        var harness = DeviceHarness.Registered();
        harness.Dispose();

        Assert.Throws<ObjectDisposedException>(harness.Registration.Register);

        Assert.Single(harness.Host.Links);
    }

    [Fact]
    public void AnInitFailureReachesTheCallerAndLeavesNoLinkAndNoRegistration()
    {
        using var harness = DeviceHarness.Unregistered();
        var failure = new InvalidOperationException("no hardware");
        harness.Driver.OnInit = _ => throw failure;
        harness.Device.Name = "test%d";

        var thrown = Assert.Throws<InvalidOperationException>(harness.Registration.Register);

        Assert.Same(failure, thrown);
        Assert.Equal(1, harness.Link.DisposeCount);
        Assert.Equal(["host.CreateLink", "driver.Init", "link.Dispose"], harness.Log.Entries);
        Assert.False(harness.Registration.IsRegistered);
        Assert.False(harness.Device.IsRegistered);
        Assert.Equal(0, harness.Device.IfIndex);
        // The failed attempt must not have replaced the configured template with the dead link's name.
        Assert.Equal("test%d", harness.Device.Name);
        Assert.Throws<InvalidOperationException>(harness.Device.BringUp);
    }

    [Fact]
    public void AfterAFailedInitTheDeviceCanStillBeConfiguredAndRegistered()
    {
        using var harness = DeviceHarness.Unregistered();
        var attempts = 0;
        harness.Driver.OnInit = _ =>
        {
            if (attempts++ == 0)
            {
                throw new InvalidOperationException("first attempt fails");
            }
        };
        Assert.Throws<InvalidOperationException>(harness.Registration.Register);

        harness.Device.Mtu = 1400;
        harness.Registration.Register();

        Assert.True(harness.Registration.IsRegistered);
        Assert.Equal(2, harness.Host.Links.Count);
        Assert.Equal("eth%d", harness.Host.Links[1].Request.NameTemplate);
        Assert.Equal(1400, harness.Host.Links[1].Request.Mtu);
    }

    [Fact]
    public void DisposingAfterAFailedInitNeitherUninitialisesNorRemovesTheLinkAgain()
    {
        var harness = DeviceHarness.Unregistered();
        harness.Driver.OnInit = _ => throw new InvalidOperationException("no hardware");
        Assert.Throws<InvalidOperationException>(harness.Registration.Register);

        harness.Dispose();

        Assert.Equal(0, harness.Log.Count("driver.Uninit"));
        Assert.Equal(1, harness.Link.DisposeCount);
        Assert.Equal(1, harness.Driver.DisposeCount);
    }

    [Fact]
    public void AHostThatRefusesTheLinkFailsRegisterWithoutRunningTheDriver()
    {
        using var harness = DeviceHarness.Unregistered();
        var refusal = new NetDevException(Errno.EPERM, "TUNSETIFF", "eth%d");
        harness.Host.CreateLinkFailure = refusal;

        Assert.Same(refusal, Assert.Throws<NetDevException>(harness.Registration.Register));

        Assert.Equal(["host.CreateLink"], harness.Log.Entries);
        Assert.False(harness.Registration.IsRegistered);
    }

    [Fact]
    public void AStartFailureUninitialisesTheDriverAndRemovesTheLink()
    {
        using var harness = DeviceHarness.Unregistered();
        var failure = new NetDevException(Errno.ENOMEM, "start queues", "eth0");
        harness.Host.ConfigureLink = link => link.StartFailure = failure;

        Assert.Same(failure, Assert.Throws<NetDevException>(harness.Registration.Register));

        Assert.Equal(["host.CreateLink", "driver.Init", "link.Start", "driver.Uninit", "link.Dispose"], harness.Log.Entries);
        Assert.False(harness.Registration.IsRegistered);
        Assert.False(harness.Device.IsRegistered);
    }

    [Fact]
    public void DisposeOfAnOpenDeviceStopsUninitialisesRemovesTheLinkThenDisposesTheDriver()
    {
        var harness = DeviceHarness.Up();

        harness.Dispose();

        Assert.Equal(
            ["driver.Open", "driver.Stop", "driver.Uninit", "link.Dispose", "driver.Dispose"],
            harness.Log.Only("driver.Open", "driver.Stop", "driver.Uninit", "link.Dispose", "driver.Dispose"));
        Assert.False(harness.Registration.IsRegistered);
        Assert.False(harness.Device.IsUp);
        Assert.Empty(harness.Errors);
        Assert.Empty(harness.Registration.Leaks);
    }

    [Fact]
    public void DisposeOfADownDeviceDoesNotStopIt()
    {
        var harness = DeviceHarness.Registered();

        harness.Dispose();

        Assert.Equal(["driver.Uninit", "link.Dispose", "driver.Dispose"], harness.Log.Only("driver.Stop", "driver.Uninit", "link.Dispose", "driver.Dispose"));
    }

    [Fact]
    public void DisposeOfANeverRegisteredDeviceOnlyDisposesTheDriver()
    {
        var harness = DeviceHarness.Unregistered();

        harness.Dispose();

        Assert.Equal(["driver.Dispose"], harness.Log.Entries);
    }

    [Fact]
    public void DisposingTwiceTearsDownOnce()
    {
        var harness = DeviceHarness.Up();

        harness.Dispose();
        harness.Dispose();

        Assert.Equal(1, harness.Log.Count("driver.Stop"));
        Assert.Equal(1, harness.Log.Count("driver.Uninit"));
        Assert.Equal(1, harness.Link.DisposeCount);
        Assert.Equal(1, harness.Driver.DisposeCount);
    }

    [Fact]
    public async Task DisposeAsyncOfAnAsyncDisposableDriverAwaitsItLast()
    {
        var log = new CallLog();
        var host = new FakeHost(log);
        var driver = new AsyncDisposableDriver(log);
        var registration = new Registration<AsyncDisposableDriver>(host, 1, 1, driver);
        registration.Register();
        registration.Device.BringUp();

        await registration.DisposeAsync();

        Assert.Equal(["driver.Stop", "driver.Uninit", "link.Dispose", "driver.DisposeAsync"],
            log.Only("driver.Stop", "driver.Uninit", "link.Dispose", "driver.DisposeAsync"));
        Assert.Equal(1, driver.DisposeAsyncCount);
    }

    [Fact]
    public void SynchronousDisposeOfAnAsyncDisposableDriverStillDisposesItBeforeReturning()
    {
        var log = new CallLog();
        var driver = new AsyncDisposableDriver(log);
        var registration = new Registration<AsyncDisposableDriver>(new FakeHost(log), 1, 1, driver);
        registration.Register();

        registration.Dispose();

        Assert.Equal(1, driver.DisposeAsyncCount);
        Assert.Equal(["driver.Uninit", "link.Dispose", "driver.DisposeAsync"], log.Only("driver.Uninit", "link.Dispose", "driver.DisposeAsync"));
    }

    [Fact]
    public async Task DisposeAsyncOfASynchronouslyDisposableDriverDisposesIt()
    {
        var harness = DeviceHarness.Registered();

        await harness.Registration.DisposeAsync();

        Assert.Equal(1, harness.Driver.DisposeCount);
    }

    [Fact]
    public void AnUninitFailureIsReportedAfterTheLinkIsRemovedAndTheDriverDisposed()
    {
        var harness = DeviceHarness.Registered();
        var failure = new InvalidOperationException("uninit failed");
        harness.Driver.OnUninit = _ => throw failure;
        harness.Device.Error += (_, _) => harness.Log.Add("device.Error");

        harness.Dispose();

        Assert.Same(failure, Assert.Single(harness.Errors));
        Assert.Equal(["driver.Uninit", "link.Dispose", "device.Error", "driver.Dispose"],
            harness.Log.Only("driver.Uninit", "link.Dispose", "device.Error", "driver.Dispose"));
    }

    [Fact]
    public void AStopFailureAtTeardownIsReportedAndTeardownGoesOn()
    {
        var harness = DeviceHarness.Up();
        var failure = new InvalidOperationException("stop failed");
        harness.Driver.OnStop = _ => throw failure;

        harness.Dispose();

        Assert.Same(failure, Assert.Single(harness.Errors));
        Assert.Equal(1, harness.Link.DisposeCount);
        Assert.Equal(1, harness.Driver.DisposeCount);
    }

    [Fact]
    public void HostEventsAfterTeardownAreIgnored()
    {
        var harness = DeviceHarness.Registered();
        harness.Dispose();

        harness.Link.RaiseAdminState(true);

        Assert.Equal(0, harness.Log.Count("driver.Open"));
        Assert.False(harness.Device.IsUp);
    }

    [Fact]
    public void ADisposedDeviceCannotBeBroughtUpOrReconfiguredAndItsDriverIsNotCalled()
    {
        var harness = DeviceHarness.Registered();
        harness.Dispose();
        var callsAtDispose = harness.Log.Entries.Count;

        Assert.Throws<InvalidOperationException>(harness.Device.BringUp);
        Assert.Throws<InvalidOperationException>(harness.Device.BringDown);
        Assert.Throws<InvalidOperationException>(() => harness.Device.Mtu = 1400);
        Assert.Throws<InvalidOperationException>(() => harness.Device.MacAddress = MacAddress.Parse("02:aa:bb:cc:dd:ee"));

        Assert.Equal(callsAtDispose, harness.Log.Entries.Count);
        Assert.False(harness.Device.IsUp);
        Assert.False(harness.Device.IsRegistered);
        Assert.Equal(1500, harness.Device.Mtu);
    }

    [Fact]
    public void ATransmitFrameKeptByTheDriverIsReportedAsALeakAtTeardown()
    {
        var harness = DeviceHarness.Up(txQueues: 2);
        var kept = new List<SkBuff>();
        harness.Driver.OnStartXmit = (_, skb) =>
        {
            kept.Add(skb); // taken with Ok, never released
            return TxResult.Ok;
        };
        harness.Link.SendFrame(1, "leak"u8);

        harness.Dispose();

        var leak = Assert.Single(harness.Registration.Leaks);
        Assert.Equal("tx queue 1", leak.PoolName);
        Assert.Equal(1, leak.LeakedCount);
        kept[0].Consume(); // the pool outlives the registration, so late release still works
    }

    [Fact]
    public void AReceiveFrameTheDriverNeverHandedOnIsReportedAsALeakAtTeardown()
    {
        var harness = DeviceHarness.Up();
        var allocated = harness.Device.AllocSkb(0);

        harness.Dispose();

        var leak = Assert.Single(harness.Registration.Leaks);
        Assert.Equal("rx queue 0", leak.PoolName);
        Assert.Equal(1, leak.LeakedCount);
        allocated.Consume();
    }

    [Fact]
    public void AFrameWaitingAfterBusyIsDroppedAtTeardownNotLeaked()
    {
        var harness = DeviceHarness.Up();
        harness.Driver.OnStartXmit = (_, _) => TxResult.Busy;
        var frame = harness.Link.SendFrame(0, "waiting"u8);
        Assert.True(harness.Device.Queues[0].HasPendingFrame);

        harness.Dispose();

        Assert.False(frame.IsLive);
        Assert.Empty(harness.Registration.Leaks);
        Assert.Equal(1, harness.Device.Queues[0].TxPool.DropCount(DropReason.DeviceDown));
    }

    [Fact]
    public void ConstructorChecksItsArguments()
    {
        var host = new FakeHost();
        Assert.Throws<ArgumentNullException>(() => new Registration<MinimalDriver>(null!, 1, 1, new MinimalDriver()));
        Assert.Throws<ArgumentNullException>(() => new Registration<MinimalDriver>(host, 1, 1, null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Registration<MinimalDriver>(host, 0, 1, new MinimalDriver()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Registration<MinimalDriver>(host, 1, 0, new MinimalDriver()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Registration<MinimalDriver>(host, 257, 1, new MinimalDriver()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Registration<MinimalDriver>(host, 1, 257, new MinimalDriver()));

        using var largest = new Registration<MinimalDriver>(host, 256, 2, new MinimalDriver());
        Assert.Equal(256, largest.Device.Queues.Count);
        Assert.Equal(256, largest.Device.TxQueueCount);
        Assert.Equal(2, largest.Device.RxQueueCount);
    }

    [Fact]
    public void TheDriverIsTheDevicesPrivateData()
    {
        using var harness = DeviceHarness.Unregistered();

        Assert.Same(harness.Driver, harness.Device.DriverData);
        Assert.Equal(nameof(RecordingDriver), harness.Device.DriverName);
    }
}
