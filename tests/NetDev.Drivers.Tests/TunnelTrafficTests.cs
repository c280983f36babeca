using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NetDev.Drivers.Tests.Infrastructure;
using NetDev.Drivers.Tunnel;
using NetDev.Offload;

namespace NetDev.Drivers.Tests;

/// <summary>Two tunnel instances in two namespaces joined by a veth: the overlay works end to end.</summary>
public sealed class TunnelTrafficTests
{
    private static readonly DropReason[] MalformedReasons =
        [DropReason.ForeignSource, DropReason.InvalidHeader, DropReason.PacketTooSmall, DropReason.PacketTooBig, DropReason.UnhandledProtocol];

    [Fact]
    public void PingCrossesTheTunnelBothWays()
    {
        using var pair = TunnelPair.Create();
        var (code, output) = TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB);
        Assert.True(code == 0, $"ping A -> B failed:\n{output}");
        (code, output) = TunnelPair.Ping(pair.Underlay.B, pair.Underlay.OverlayA);
        Assert.True(code == 0, $"ping B -> A failed:\n{output}");

        foreach (var tunnel in new[] { pair.TunnelA, pair.TunnelB })
        {
            var stats = tunnel.Device.GetStats();
            Assert.True(stats.TxPackets >= 3 && stats.RxPackets >= 3, $"{tunnel.Device.Name}: {stats}");
            // Read while a late ARP may still be on its way, hence waited for rather than asserted at once.
            Wait.Until(() => OwnCountersAgree(tunnel.Device), $"{tunnel.Device.Name}'s own counters to agree with the framework's");
            Assert.Equal(0, Own(tunnel.Device)["tunnel_tx_send_errors"]);
        }
        // What A sent, B received, and the other way round: no datagram lost or refused on a quiet veth.
        Wait.Until(() => pair.TunnelA.Device.GetStats().TxPackets == pair.TunnelB.Device.GetStats().RxPackets
                && pair.TunnelB.Device.GetStats().TxPackets == pair.TunnelA.Device.GetStats().RxPackets,
            "every frame sent by one tunnel to be received by the other");
    }

    private static Dictionary<string, long> Own(NetDevice device) =>
        device.GetEthtoolStatistics().ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>Every frame is one datagram carrying the frame and the 4-byte header, both ways.</summary>
    private static bool OwnCountersAgree(NetDevice device)
    {
        var stats = device.GetStats();
        var own = Own(device);
        return own["tunnel_tx_datagrams"] == stats.TxPackets
            && own["tunnel_tx_bytes"] == stats.TxBytes + 4 * stats.TxPackets
            && own["tunnel_rx_datagrams"] == stats.RxPackets
            && own["tunnel_rx_bytes"] == stats.RxBytes + 4 * stats.RxPackets;
    }

    [Fact]
    public void PingCrossesATunnelOverAnIpv6Underlay()
    {
        using var pair = TunnelPair.Create(AddressFamily.InterNetworkV6);
        Assert.Equal(AddressFamily.InterNetworkV6, pair.TunnelA.Device.DriverData.UnderlayFamily);
        Assert.Equal(1434, pair.TunnelA.Device.Mtu);
        var (code, output) = TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB);
        Assert.True(code == 0, $"ping A -> B over IPv6 failed:\n{output}");
        Assert.True(pair.TunnelB.Device.GetStats().RxPackets >= 3);
    }

    [Fact]
    public void ATcpTransferArrivesWhole()
    {
        using var pair = TunnelPair.Create();
        const int port = 5001;
        var payload = new byte[4 << 20];
        Random.Shared.NextBytes(payload);
        var sentHash = SHA256.HashData(payload);

        var (receivedBytes, receivedHash) = TcpTransfer.Run(pair.Underlay.A, pair.Underlay.B, pair.Underlay.OverlayB, port, payload);

        Assert.Equal(payload.Length, receivedBytes);
        Assert.Equal(sentHash, receivedHash);

        // Thousands of data datagrams (B) and dozens of acknowledgements (A: B acknowledges merged frames) were received into pooled
        // buffers that were reused, not allocated anew: at most one receive batch's worth is out at once
        // (and the frames a coalescer holds, and one dropped datagram's).
        // Counted in datagrams: with the default receive coalescing, B hands the system far fewer, merged frames.
        Assert.True(Own(pair.TunnelB.Device)["tunnel_rx_datagrams"] > 2000, $"{pair.NameB}: {pair.TunnelB.Device.GetStats()}");
        Assert.True(Own(pair.TunnelA.Device)["tunnel_rx_datagrams"] > 20, $"{pair.NameA}: {pair.TunnelA.Device.GetStats()}");
        foreach (var tunnel in new[] { pair.TunnelA, pair.TunnelB })
        {
            var device = tunnel.Device;
            Assert.InRange(device.Queues[0].RxPool.Allocated, 1, NetDevice.ReceiveBatchSize + GroCoalescer.DefaultMaxFlows + 1);
            var refused = device.GetDropCounts().Where(d => d.Direction == TrafficDirection.Receive && MalformedReasons.Contains(d.Reason)).ToList();
            Assert.True(refused.Count == 0, $"{device.Name} refused datagrams of its peer: {string.Join(", ", refused)}");
        }
    }
}
