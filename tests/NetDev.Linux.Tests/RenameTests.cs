namespace NetDev.Linux.Tests;

/// <summary>Renames made by others (<c>ip link set dev OLD name NEW</c>): the device follows its interface, not its old name.</summary>
public sealed class RenameTests
{
    [Fact]
    public void ARenamedDeviceTakesTheNewNameAndKeepsBeingManaged()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        var device = registration.Device;
        device.Name = "ndren0";
        device.Flags = DeviceFlags.NoArp;
        registration.Register();
        device.BringUp();
        var ifIndex = device.IfIndex;

        // The kernel (6.2 and later) renames an interface that is up.
        ns.Ip("link set dev ndren0 name ndren1");

        Wait.Until(() => device.Name == "ndren1", "the device takes the new name");
        Assert.Equal(ifIndex, device.IfIndex);
        Assert.True(device.IsUp);
        // What the device asks for reaches the renamed interface.
        device.Mtu = 1400;
        Assert.Equal(1400, ns.Link("ndren1")!.Value.GetProperty("mtu").GetInt32());
        device.BringDown();
        Assert.DoesNotContain("UP", ns.Link("ndren1")!.Value.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        // And what others do to it under its new name reaches the device.
        ns.Ip("link set dev ndren1 up");
        Wait.Until(() => driver.Count("Open") == 2, "Open after ip link set ndren1 up");

        // The old name is free: a new device of that name is another interface, with counters of its own.
        var other = new RecordingDriver();
        using var second = new Registration<RecordingDriver>(ns.Host, 1, 1, other);
        second.Device.Name = "ndren0";
        second.Register();
        Assert.Equal(ns.Link("ndren0")!.Value.GetProperty("ifindex").GetInt32(), second.Device.IfIndex);
        Assert.NotEqual(device.IfIndex, second.Device.IfIndex);
        Assert.Equal("ndren1", device.Name);
    }

    [Fact]
    public void ARenamedDeviceMovesUnderItsNewName()
    {
        using var first = new TestNamespace();
        using var second = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = new Registration<RecordingDriver>(first.Host, 1, 1, driver);
        registration.Device.Name = "ndren2";
        registration.Register();

        first.Ip("link set dev ndren2 name ndren3");
        registration.Device.MoveToNetworkNamespace(second.Name);

        Assert.Equal("ndren3", registration.Device.Name);
        Assert.Equal(second.Link("ndren3")!.Value.GetProperty("ifindex").GetInt32(), registration.Device.IfIndex);
        second.Ip("link set dev ndren3 up");
        Wait.Until(() => driver.Count("Open") == 1, "Open after up in the new namespace");
    }
}
