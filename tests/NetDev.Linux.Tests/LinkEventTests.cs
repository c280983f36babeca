namespace NetDev.Linux.Tests;

public sealed class LinkEventTests
{
    [Fact]
    public void UpAndDownFromOutsideCallOpenAndStopExactlyOnceEach()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndev0";
        registration.Register();
        Assert.False(registration.Device.IsUp);

        ns.Ip("link set dev ndev0 up");
        Wait.Until(() => driver.Count("Open") == 1, "Open after ip link set up");
        Assert.True(registration.Device.IsUp);

        ns.Ip("link set dev ndev0 up"); // no change: no second Open
        ns.Ip("link set dev ndev0 down");
        Wait.Until(() => driver.Count("Stop") == 1, "Stop after ip link set down");
        Assert.False(registration.Device.IsUp);

        // Another change of something else must not look like up/down.
        ns.Ip("link set dev ndev0 mtu 1300");
        ns.Ip("link set dev ndev0 up");
        Wait.Until(() => driver.Count("Open") == 2, "Open after the second up");
        Assert.Equal(["Init", "Open", "Stop", "Open"], driver.Calls);
    }

    [Fact]
    public void OpenFailureAfterAnOutsideUpKeepsTheLinkDownAndReportsTheError()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver { OnOpen = _ => throw new InvalidOperationException("no carrier in the lab") };
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndopen0";
        var errors = new List<Exception>();
        registration.Device.Error += (_, e) => { lock (errors) errors.Add(e.Exception); };
        registration.Register();

        ns.Ip("link set dev ndopen0 up");
        Wait.Until(() => { lock (errors) return errors.Count > 0; }, "the Open failure reported");
        Wait.Until(() => ns.Link("ndopen0")!.Value.GetProperty("flags").EnumerateArray().All(f => f.GetString() != "UP"), "link put back down");
        Assert.False(registration.Device.IsUp);
        lock (errors)
        {
            Assert.Equal("no carrier in the lab", errors[0].Message);
        }
    }

    [Fact]
    public void BringUpFailureThrowsToTheCallerAndLeavesTheLinkDown()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver { OnOpen = _ => throw new InvalidOperationException("refused") };
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndopen1";
        registration.Register();
        Assert.Throws<InvalidOperationException>(registration.Device.BringUp);
        Assert.DoesNotContain("UP", ns.Link("ndopen1")!.Value.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
    }

    [Fact]
    public void BringUpAndDownSetTheKernelStateAndCallTheDriverOnce()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndbring0";
        registration.Register();
        registration.Device.BringUp();
        Assert.Contains("UP", ns.Link("ndbring0")!.Value.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        registration.Device.BringDown();
        Assert.DoesNotContain("UP", ns.Link("ndbring0")!.Value.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        // The kernel's own notifications of our changes arrive too; they must not call the driver again.
        Thread.Sleep(200);
        Assert.Equal(["Init", "Open", "Stop"], driver.Calls);
    }

    [Fact]
    public void AnInterfaceDeletedFromOutsideDegradesTheDeviceAndTeardownStaysQuiet()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        var registration = new Registration<RecordingDriver>(ns.Host, 2, 2, driver);
        registration.Device.Name = "nddel0";
        var degraded = 0;
        registration.Device.Degraded += (_, _) => Interlocked.Increment(ref degraded);
        registration.Register();
        registration.Device.BringUp();

        ns.Ip("link del nddel0");

        Wait.Until(() => registration.Device.Health == DeviceHealth.Degraded, "the device degraded after ip link del");
        Assert.Equal(1, Volatile.Read(ref degraded));
        Assert.NotNull(registration.Device.LastError);
        registration.Dispose();
        Assert.Empty(registration.Leaks);
    }

    [Fact]
    public void AChangeRejectedHandlerThatThrowsDoesNotEndTheLinkMonitor()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver { RefuseMtu = mtu => mtu != 1500 };
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndrej0";
        registration.Device.MaxMtu = 9000;
        registration.Device.ChangeRejected += (_, _) => throw new InvalidOperationException("a careless handler");
        registration.Register();
        registration.Device.BringUp();

        ns.Ip("link set dev ndrej0 mtu 9000");
        Wait.Until(() => ns.Link("ndrej0")?.GetProperty("mtu").GetInt32() == 1500, "the rejected MTU put back");
        ns.Ip("link set dev ndrej0 down");

        Wait.Until(() => driver.Count("Stop") == 1, "Stop after ip link set down, heard by the same monitor");
        Assert.Equal(DeviceHealth.Healthy, registration.Device.Health);
    }
}
