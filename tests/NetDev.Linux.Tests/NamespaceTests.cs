using System.Net;
using System.Net.Sockets;

namespace NetDev.Linux.Tests;

public sealed class NamespaceTests
{
    [Fact]
    public void DeviceMovedToAnotherNamespaceKeepsWorkingThere()
    {
        using var first = new TestNamespace();
        using var second = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = RegisterUp(first, "ndmove0", driver, queues: 2);

        registration.Device.MoveToNetworkNamespace(second.Name);

        Assert.Null(first.Link("ndmove0"));
        var link = second.Link("ndmove0") ?? throw new Xunit.Sdk.XunitException("not in the new namespace");
        Assert.Equal(link.GetProperty("ifindex").GetInt32(), registration.Device.IfIndex);
        Assert.Equal(second.Name, registration.Device.NetworkNamespace);
        Assert.False(registration.Device.IsUp);
        Assert.Equal(["Init", "Open", "Stop"], driver.Calls);

        // Link events are heard in the new namespace, and frames still flow on every queue.
        second.Ip("link set dev ndmove0 up");
        Wait.Until(() => driver.Count("Open") == 2, "Open after up in the new namespace");
        second.Ip("addr add 10.204.0.1/24 dev ndmove0");
        NetworkNamespace.Run(second.Name, () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.SendTo("moved"u8.ToArray(), new IPEndPoint(IPAddress.Parse("10.204.0.2"), 7777));
        });
        Wait.Until(() => driver.Frames.Any(f => f.AsSpan().EndsWith("moved"u8)), "a frame sent in the new namespace");
    }

    [Fact]
    public void AMoveToANamespaceThatDoesNotExistLeavesTheDeviceAsItWas()
    {
        using var first = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = RegisterUp(first, "ndmvfail0", driver);

        var refused = Assert.Throws<NetDevException>(() => registration.Device.MoveToNetworkNamespace($"ndt-absent-{Guid.NewGuid():N}"[..20]));

        Assert.Equal(Errno.ENOENT, refused.Errno);
        Assert.Contains("there is no network namespace", refused.Message);
        AssertUnchangedAndManageable(first, registration, driver, "ndmvfail0");
    }

    [Fact]
    public void AMoveToANamespaceWhereTheNameIsTakenLeavesTheDeviceAsItWas()
    {
        using var first = new TestNamespace();
        using var second = new TestNamespace();
        using var third = new TestNamespace();
        second.Ip("tuntap add dev ndmvfail1 mode tap");
        var driver = new RecordingDriver();
        using var registration = RegisterUp(first, "ndmvfail1", driver);

        var refused = Assert.Throws<NetDevException>(() => registration.Device.MoveToNetworkNamespace(second.Name));

        Assert.Equal(Errno.EEXIST, refused.Errno);
        AssertUnchangedAndManageable(first, registration, driver, "ndmvfail1");
        // And it can still move where the name is free.
        registration.Device.MoveToNetworkNamespace(third.Name);
        Assert.Null(first.Link("ndmvfail1"));
        Assert.Equal(third.Link("ndmvfail1")!.Value.GetProperty("ifindex").GetInt32(), registration.Device.IfIndex);
        third.Ip("link set dev ndmvfail1 up");
        Wait.Until(() => driver.Count("Open") == 3, "Open after up in the namespace it moved to");
    }

    /// <summary>A device called <paramref name="name"/> in <paramref name="ns"/>, registered and up (no ARP, so it sends only what a test sends).</summary>
    private static Registration<RecordingDriver> RegisterUp(TestNamespace ns, string name, RecordingDriver driver, int queues = 1)
    {
        var registration = new Registration<RecordingDriver>(ns.Host, queues, queues, driver);
        try
        {
            registration.Device.Name = name;
            registration.Device.Flags = DeviceFlags.NoArp;
            registration.Register();
            registration.Device.BringUp();
            return registration;
        }
        catch
        {
            registration.Dispose();
            throw;
        }
    }

    /// <summary>
    /// After a refused move: the device is up and still where it was, its driver was never stopped, and it
    /// still hears what others do and does what it is asked.
    /// </summary>
    private static void AssertUnchangedAndManageable(TestNamespace home, Registration<RecordingDriver> registration, RecordingDriver driver, string name)
    {
        var device = registration.Device;
        Assert.True(device.IsUp);
        Assert.Equal(home.Name, device.NetworkNamespace);
        Assert.Equal(home.Link(name)!.Value.GetProperty("ifindex").GetInt32(), device.IfIndex);
        Assert.Equal(["Init", "Open"], driver.Calls);

        home.Ip($"link set dev {name} down");
        Wait.Until(() => driver.Count("Stop") == 1, "Stop after ip link set down");
        home.Ip($"link set dev {name} mtu 1400");
        Wait.Until(() => device.Mtu == 1400, "the MTU set from outside");
        device.BringUp();
        Assert.Contains("UP", home.Link(name)!.Value.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
    }

    [Fact]
    public void NamespacesCanBeCreatedAndDeletedWithoutIp()
    {
        var name = KernelNamespace.NewName();
        try
        {
            NetworkNamespace.Create(name);
            Assert.True(NetworkNamespace.Exists(name));
            Assert.Throws<NetDevException>(() => NetworkNamespace.Create(name));
            NetworkConfiguration.SetUp(name, "lo");
            NetworkConfiguration.AddAddress(name, "lo", IPAddress.Parse("10.205.0.1"), 32);
            var addresses = Shell.Run("ip", $"-n {name} -o addr show dev lo");
            Assert.Contains("10.205.0.1/32", addresses);
            Assert.Contains("UP", Shell.Run("ip", $"-n {name} link show dev lo"));
        }
        finally
        {
            NetworkNamespace.Delete(name);
        }
        Assert.False(NetworkNamespace.Exists(name));
        Assert.DoesNotContain(name, Shell.Run("ip", "netns list"));
    }
}
