using System.Net;
using System.Security.Cryptography;
using NetDev.Drivers.Tests.Infrastructure;

namespace NetDev.Drivers.Tests;

/// <summary>
/// A pair end as a port of a kernel bridge, next to a veth: what a user does to put a NetDev device on a
/// switch. A (the pair's first end) reaches C (behind the veth) across the bridge in B, and back.
/// </summary>
public sealed class PairBridgeTests
{
    private const int TransferPort = 5003;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PingAndTcpCrossABridgeWhoseOnePortIsAPairEnd(bool offloads)
    {
        using var pair = KernelPair.Create(offloads ? DeviceFeatures.All : DeviceFeatures.None, addressB: false);
        using var c = new TestNamespace();
        var addressC = IPAddress.Parse($"10.252.{pair.Subnet}.3");
        // The bridge and both its ports live in B; the veth's other end is C's only interface.
        pair.B.Ip("link add br0 type bridge forward_delay 0");
        pair.B.Ip($"link set {pair.NameB} master br0");
        pair.B.Ip($"link add vb type veth peer name vc netns {c.Name}");
        pair.B.Ip("link set vb master br0");
        pair.B.Ip("link set vb up");
        pair.B.Ip("link set br0 up");
        c.Ip($"addr add {addressC}/24 dev vc");
        c.Ip("link set vc up");
        var port = pair.Devices.Second.Device;
        // A bridge port hears every frame: the bridge asks for promiscuous mode, and the driver is told.
        Wait.Until(() => port.Flags.HasFlag(DeviceFlags.Promisc), $"{port.Name} promiscuous as a bridge port: {port.Flags}");

        var (code, output) = KernelPair.Ping(pair.A, addressC);
        Assert.True(code == 0, $"ping {pair.NameA} -> C across the bridge failed:\n{output}");
        (code, output) = KernelPair.Ping(c, pair.AddressA);
        Assert.True(code == 0, $"ping C -> {pair.NameA} across the bridge failed:\n{output}");

        foreach (var (from, to, target) in new[] { (pair.A, c, addressC), (c, pair.A, pair.AddressA) })
        {
            var payload = new byte[2 << 20];
            Random.Shared.NextBytes(payload);
            var (bytes, hash) = TcpTransfer.Run(from, to, target, TransferPort, payload);
            Assert.Equal(payload.Length, bytes);
            Assert.Equal(SHA256.HashData(payload), hash);
        }
        // Both streams went through the port both ways, and every frame of both ends is accounted for.
        // The queue thread counts a batch once the peer took it, so the last frames' count may trail the stream's end.
        SpinWait.SpinUntil(() => port.GetStats() is { TxBytes: > 2 << 20, RxBytes: > 2 << 20 }, TimeSpan.FromSeconds(10));
        Assert.True(port.GetStats() is { TxBytes: > 2 << 20, RxBytes: > 2 << 20 }, $"{port.Name}: {port.GetStats()}");
        pair.AssertEveryFrameAccounted();
        Assert.All(pair.Ends, end => Assert.Equal(DeviceHealth.Healthy, end.Device.Health));
    }
}
