using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>Up and down, whether the owner or someone outside (<c>ip link set</c>) asks.</summary>
public sealed class AdminStateTests
{
    [Fact]
    public void BringUpOpensTheDriverEnablesTheQueuesAndSetsTheLinkUp()
    {
        using var harness = DeviceHarness.Registered(txQueues: 2);

        harness.Device.BringUp();

        Assert.True(harness.Device.IsUp);
        Assert.True(harness.Link.IsAdminUp);
        Assert.Equal(["driver.Open", "link.SetAdminUp(True)"], harness.Log.Only("driver.Open", "link.SetAdminUp(True)"));
        Assert.All(harness.Device.Queues, queue => Assert.True(queue.IsAcceptingFrames));
    }

    [Fact]
    public void BringUpTwiceOpensOnce()
    {
        using var harness = DeviceHarness.Up();

        harness.Device.BringUp();

        Assert.Equal(1, harness.Log.Count("driver.Open"));
        Assert.Equal([true], harness.Link.AdminUpCalls);
    }

    [Fact]
    public void BringDownStopsTheDriverDisablesTheQueuesAndSetsTheLinkDown()
    {
        using var harness = DeviceHarness.Up();

        harness.Device.BringDown();
        harness.Device.BringDown();

        Assert.False(harness.Device.IsUp);
        Assert.False(harness.Link.IsAdminUp);
        Assert.Equal(1, harness.Log.Count("driver.Stop"));
        Assert.Equal([true, false], harness.Link.AdminUpCalls);
        Assert.False(harness.Device.Queues[0].IsAcceptingFrames);
    }

    [Fact]
    public void BringUpAndDownNeedARegisteredDevice()
    {
        using var harness = DeviceHarness.Unregistered();

        Assert.Throws<InvalidOperationException>(harness.Device.BringUp);
        Assert.Throws<InvalidOperationException>(harness.Device.BringDown);
        Assert.Empty(harness.Log.Entries);
    }

    [Fact]
    public void AnOpenFailureInBringUpReachesTheCallerAndTheLinkStaysDown()
    {
        using var harness = DeviceHarness.Registered();
        var failure = new InvalidOperationException("cannot open");
        harness.Driver.OnOpen = _ => throw failure;

        Assert.Same(failure, Assert.Throws<InvalidOperationException>(harness.Device.BringUp));

        Assert.False(harness.Device.IsUp);
        Assert.Empty(harness.Link.AdminUpCalls);
        Assert.False(harness.Device.Queues[0].IsAcceptingFrames);
        Assert.Equal(0, harness.Log.Count("driver.Stop"));
        Assert.Empty(harness.Errors); // the caller was told; nothing else to report
    }

    [Fact]
    public void WhenTheSystemRefusesToSetTheLinkUpBringUpStopsTheDriverAgainAndThrows()
    {
        using var harness = DeviceHarness.Registered();
        var refusal = new NetDevException(Errno.EPERM, "RTM_NEWLINK", "eth0");
        harness.Link.SetAdminUpFailure = up => up ? refusal : null;

        Assert.Same(refusal, Assert.Throws<NetDevException>(harness.Device.BringUp));

        Assert.False(harness.Device.IsUp);
        Assert.Equal(["driver.Open", "link.SetAdminUp(True)", "driver.Stop"], harness.Log.Only("driver.Open", "link.SetAdminUp(True)", "driver.Stop"));
        Assert.False(harness.Device.Queues[0].IsAcceptingFrames);
    }

    [Fact]
    public void UpAndDownFromOutsideOpenAndStopOncePerTransition()
    {
        using var harness = DeviceHarness.Registered();

        harness.Link.RaiseAdminState(true);
        harness.Link.RaiseAdminState(true);
        Assert.True(harness.Device.IsUp);
        Assert.Equal(1, harness.Log.Count("driver.Open"));

        harness.Link.RaiseAdminState(false);
        harness.Link.RaiseAdminState(false);
        Assert.False(harness.Device.IsUp);
        Assert.Equal(1, harness.Log.Count("driver.Stop"));

        harness.Link.RaiseAdminState(true);
        harness.Link.RaiseAdminState(false);
        harness.Link.RaiseAdminState(true);

        Assert.Equal(
            ["driver.Open", "driver.Stop", "driver.Open", "driver.Stop", "driver.Open"],
            harness.Log.Only("driver.Open", "driver.Stop"));
        Assert.True(harness.Device.IsUp);
        // The device follows the system; it never sets the link itself for an outside change.
        Assert.Empty(harness.Link.AdminUpCalls);
    }

    [Fact]
    public void DownFromOutsideWhileAlreadyDownDoesNothing()
    {
        using var harness = DeviceHarness.Registered();

        harness.Link.RaiseAdminState(false);

        Assert.Equal(0, harness.Log.Count("driver.Stop"));
    }

    [Fact]
    public void TheSystemsEchoOfTheDevicesOwnChangeDoesNotOpenOrStopAgain()
    {
        using var harness = DeviceHarness.Unregistered();
        harness.Host.ConfigureLink = link => link.EchoAdminState = true;
        harness.Registration.Register();

        harness.Device.BringUp();
        harness.Device.BringDown();
        harness.Device.BringUp();

        Assert.Equal(["driver.Open", "driver.Stop", "driver.Open"], harness.Log.Only("driver.Open", "driver.Stop"));
        Assert.Empty(harness.Errors);
    }

    [Fact]
    public void AnOpenFailureOnAnOutsideUpPutsTheLinkDownAndReportsTheError()
    {
        using var harness = DeviceHarness.Registered();
        var failure = new InvalidOperationException("cannot open");
        harness.Driver.OnOpen = _ => throw failure;

        harness.Link.RaiseAdminState(true);

        Assert.False(harness.Device.IsUp);
        Assert.Equal([false], harness.Link.AdminUpCalls);
        Assert.False(harness.Link.IsAdminUp);
        Assert.Same(failure, Assert.Single(harness.Errors));
        Assert.False(harness.Device.Queues[0].IsAcceptingFrames);
        Assert.Equal(0, harness.Log.Count("driver.Stop"));
    }

    [Fact]
    public void AfterAFailedOutsideUpTheNextUpOpensAgain()
    {
        using var harness = DeviceHarness.Registered();
        var attempts = 0;
        harness.Driver.OnOpen = _ =>
        {
            if (attempts++ == 0)
            {
                throw new InvalidOperationException("first open fails");
            }
        };

        harness.Link.RaiseAdminState(true);
        harness.Link.RaiseAdminState(true);

        Assert.True(harness.Device.IsUp);
        Assert.Equal(2, harness.Log.Count("driver.Open"));
        Assert.Single(harness.Errors);
    }

    [Fact]
    public void WhenPuttingTheLinkBackDownAlsoFailsBothFailuresAreReported()
    {
        using var harness = DeviceHarness.Registered();
        var openFailure = new InvalidOperationException("cannot open");
        var downFailure = new NetDevException(Errno.ENODEV, "RTM_NEWLINK", "eth0");
        harness.Driver.OnOpen = _ => throw openFailure;
        harness.Link.SetAdminUpFailure = up => up ? null : downFailure;

        harness.Link.RaiseAdminState(true);

        Assert.Equal<Exception>([openFailure, downFailure], harness.Errors);
        Assert.False(harness.Device.IsUp);
    }

    [Fact]
    public void AStopFailureIsReportedAndTheDeviceGoesDownAnyway()
    {
        using var harness = DeviceHarness.Up();
        var failure = new InvalidOperationException("stop failed");
        harness.Driver.OnStop = _ => throw failure;

        harness.Device.BringDown();

        Assert.False(harness.Device.IsUp);
        Assert.False(harness.Link.IsAdminUp);
        Assert.Same(failure, Assert.Single(harness.Errors));
        Assert.False(harness.Device.Queues[0].IsAcceptingFrames);
    }

    [Fact]
    public void AHostErrorIsRaisedAsADeviceError()
    {
        using var harness = DeviceHarness.Registered();
        var failure = new IOException("read loop failed");

        harness.Link.RaiseHostError(failure);

        Assert.Same(failure, Assert.Single(harness.Errors));
    }

    [Fact]
    public void BringUpAndDownOpenAndCloseEveryQueuesTransmitEngine()
    {
        using var harness = DeviceHarness.Registered(txQueues: 3);

        harness.Device.BringUp();
        Assert.All(harness.Device.Queues, queue => Assert.True(queue.Engine.IsEnabled));

        harness.Device.BringDown();
        Assert.All(harness.Device.Queues, queue => Assert.False(queue.Engine.IsEnabled));
    }
}
