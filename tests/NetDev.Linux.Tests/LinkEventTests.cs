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
}
