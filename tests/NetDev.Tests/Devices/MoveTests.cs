using NetDev.Hosting;
using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>Moving a device to another network namespace: it arrives down, and a refused move changes nothing.</summary>
public sealed class MoveTests
{
    [Fact]
    public void AMovedDeviceIsStoppedAfterTheMove()
    {
        using var harness = DeviceHarness.Up();

        harness.Device.MoveToNetworkNamespace("blue");

        Assert.False(harness.Device.IsUp);
        Assert.Equal("blue", harness.Device.NetworkNamespace);
        Assert.Equal(["link.MoveToNetworkNamespace(blue)", "driver.Stop"], harness.Log.Only("link.MoveToNetworkNamespace(blue)", "driver.Stop"));
    }

    [Fact]
    public void ARefusedMoveLeavesTheDeviceRunning()
    {
        using var harness = DeviceHarness.Up();
        harness.Link.MoveFailure = _ => new NetDevException(Errno.EEXIST, "move to network namespace", harness.Device.Name);

        Assert.Throws<NetDevException>(() => harness.Device.MoveToNetworkNamespace("blue"));

        Assert.True(harness.Device.IsUp);
        Assert.Null(harness.Device.NetworkNamespace);
        Assert.Equal(0, harness.Log.Count("driver.Stop"));
        Assert.All(harness.Device.Queues, queue => Assert.True(queue.IsAcceptingFrames));
        // Not being moved any more: changes from outside reach it again.
        harness.Link.RaiseAdminState(false);
        Assert.Equal(1, harness.Log.Count("driver.Stop"));
    }

    [Fact]
    public void AMoveThatFailedHalfWayTakesWhatTheSystemSays()
    {
        using var harness = DeviceHarness.Up();
        var link = harness.Link;
        // The host moved the interface (it arrived down), then failed at something after.
        link.MoveFailure = _ => new NetDevException(Errno.ENOMEM, "move to network namespace", harness.Device.Name);
        link.State = new LinkState(false, harness.Device.Mtu, harness.Device.MacAddress, DeviceFlags.Broadcast | DeviceFlags.Multicast, true, 1000) { Name = "renamed0" };

        Assert.Throws<NetDevException>(() => harness.Device.MoveToNetworkNamespace("blue"));

        Assert.False(harness.Device.IsUp);
        Assert.Equal(1, harness.Log.Count("driver.Stop"));
        Assert.Equal("renamed0", harness.Device.Name);
    }
}
