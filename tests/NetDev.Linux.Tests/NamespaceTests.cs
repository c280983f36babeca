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
        using var registration = new Registration<RecordingDriver>(first.Host, 2, 2, driver);
        registration.Device.Name = "ndmove0";
        registration.Device.Flags = DeviceFlags.NoArp;
        registration.Register();
        registration.Device.BringUp();

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
    public void NamespacesCanBeCreatedAndDeletedWithoutIp()
    {
        var name = $"ndt-{Guid.NewGuid().ToString("N")[..10]}";
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
