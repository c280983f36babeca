using System.Net;
using System.Security.Cryptography;
using NetDev.Drivers.Tests.Infrastructure;

namespace NetDev.Drivers.Tests;

/// <summary>
/// The kernel's tunnels with a NetDev pair as their underlay: VXLAN devices, and WireGuard (wireguard-go),
/// in the pair's two namespaces, carrying ping and a TCP stream across.
/// </summary>
public sealed class PairOverlayTests
{
    private const int TransferPort = 5004;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void KernelVxlanOverAPairCarriesPingAndTcp(bool offloads)
    {
        using var pair = KernelPair.Create(offloads ? DeviceFeatures.All : DeviceFeatures.None);
        var overlayA = IPAddress.Parse($"10.253.{pair.Subnet}.1");
        var overlayB = IPAddress.Parse($"10.253.{pair.Subnet}.2");
        foreach (var (ns, end, local, remote, overlay) in new[]
        {
            (pair.A, pair.NameA, pair.AddressA, pair.AddressB, overlayA),
            (pair.B, pair.NameB, pair.AddressB, pair.AddressA, overlayB),
        })
        {
            ns.Ip($"link add vx0 type vxlan id 42 local {local} remote {remote} dstport 4789 dev {end}");
            ns.Ip($"addr add {overlay}/24 dev vx0");
            ns.Ip("link set vx0 up");
        }

        AssertPingAndTcpCross(pair, overlayA, overlayB);
    }

    [Fact]
    public void WireGuardOverAPairCarriesPingAndTcp()
    {
        Assert.SkipUnless(WireGuardEnd.IsAvailable, "wireguard-go and wg are not installed (.ci/run installs them: apt-get install wireguard-go wireguard-tools)");
        using var pair = KernelPair.Create(DeviceFeatures.All);
        var id = Guid.NewGuid().ToString("N")[..6];
        using var a = WireGuardEnd.Start(pair.A, $"wga{id}");
        using var b = WireGuardEnd.Start(pair.B, $"wgb{id}");
        var overlayA = IPAddress.Parse($"10.254.{pair.Subnet}.1");
        var overlayB = IPAddress.Parse($"10.254.{pair.Subnet}.2");
        a.Configure(51820, b, new IPEndPoint(pair.AddressB, 51820), overlayA, overlayB);
        b.Configure(51820, a, new IPEndPoint(pair.AddressA, 51820), overlayB, overlayA);

        AssertPingAndTcpCross(pair, overlayA, overlayB);
    }

    /// <summary>Ping both ways and a TCP stream each way between the overlay addresses, and every underlay frame accounted for.</summary>
    private static void AssertPingAndTcpCross(KernelPair pair, IPAddress overlayA, IPAddress overlayB)
    {
        var before = pair.Devices.First.Device.GetStats();
        var (code, output) = KernelPair.Ping(pair.A, overlayB);
        Assert.True(code == 0, $"ping {overlayA} -> {overlayB} over the pair failed:\n{output}");
        (code, output) = KernelPair.Ping(pair.B, overlayA);
        Assert.True(code == 0, $"ping {overlayB} -> {overlayA} over the pair failed:\n{output}");
        foreach (var (from, to, target) in new[] { (pair.A, pair.B, overlayB), (pair.B, pair.A, overlayA) })
        {
            var payload = new byte[2 << 20];
            Random.Shared.NextBytes(payload);
            var (bytes, hash) = TcpTransfer.Run(from, to, target, TransferPort, payload);
            Assert.Equal(payload.Length, bytes);
            Assert.Equal(SHA256.HashData(payload), hash);
        }
        // The streams were carried by the pair (encapsulated), not by some other way between the namespaces.
        var after = pair.Devices.First.Device.GetStats();
        Assert.True(after.TxBytes - before.TxBytes > 2 << 20 && after.RxBytes - before.RxBytes > 2 << 20, $"{pair.NameA} carried too little: {before} -> {after}");
        pair.AssertEveryFrameAccounted();
        Assert.All(pair.Ends, end => Assert.Equal(DeviceHealth.Healthy, end.Device.Health));
    }
}
