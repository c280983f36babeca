using System.Security.Cryptography;
using NetDev.Drivers.Tests.Infrastructure;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Drivers.Tests;

/// <summary>
/// The tunnel's datagram paths, each forced in turn on both ends: UDP GSO with sendmmsg, sendmmsg alone and
/// one sendmsg per datagram on send; UDP GRO with recvmmsg, recvmmsg alone and one recvmsg per datagram on
/// receive. Every combination carries a TCP stream intact, uses the path it was given, and moves as many
/// datagrams per system call as that path promises.
/// </summary>
public sealed class TunnelDatagramPathTests
{
    [Theory]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, DatagramSendPath.Segmented, DatagramReceivePath.Coalesced)]
    [InlineData(TunnelOffloads.Segmentation, DatagramSendPath.Segmented, DatagramReceivePath.Coalesced)]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, DatagramSendPath.Batched, DatagramReceivePath.Batched)]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, DatagramSendPath.Single, DatagramReceivePath.Single)]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, DatagramSendPath.Segmented, DatagramReceivePath.Single)]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, DatagramSendPath.Single, DatagramReceivePath.Coalesced)]
    [InlineData(TunnelOffloads.None, DatagramSendPath.Segmented, DatagramReceivePath.Coalesced)]
    public void EveryPathCarriesATcpStreamWithTheDatagramsPerCallItPromises(TunnelOffloads offloads, DatagramSendPath sendPath, DatagramReceivePath receivePath)
    {
        using var pair = OffloadTunnelPair.Create(offloads, sendPath, receivePath);
        Assert.Equal(sendPath, pair.TunnelA.Device.DriverData.SendPath);
        Assert.Equal(receivePath, pair.TunnelB.Device.DriverData.ReceivePath);
        var payload = new byte[8 << 20];
        Random.Shared.NextBytes(payload);

        var (bytes, hash) = TcpTransfer.Run(pair.Underlay.A, pair.Underlay.B, pair.Underlay.OverlayB, 5003, payload);

        Assert.Equal(payload.Length, bytes);
        Assert.Equal(SHA256.HashData(payload), hash);
        var sent = OffloadTunnelPair.Own(pair.TunnelA.Device);
        var received = OffloadTunnelPair.Own(pair.TunnelB.Device);
        var sentPerCall = (double)sent["tunnel_tx_datagrams"] / sent["tunnel_tx_send_calls"];
        var receivedPerCall = (double)received["tunnel_rx_datagrams"] / received["tunnel_rx_receive_calls"];
        var described = $"sender {Describe(sent)}; receiver {Describe(received)}";
        Assert.Equal(0, sent["tunnel_tx_send_errors"]);
        if (sendPath == DatagramSendPath.Single || offloads == TunnelOffloads.None)
        {
            // One datagram per call: without offloads every frame is one datagram, sent on its own.
            Assert.True(sentPerCall == 1, described);
        }
        else
        {
            // 64 KiB frames leave in a call or two of ~45 datagrams each.
            Assert.True(sentPerCall > 8, described);
        }
        if (receivePath == DatagramReceivePath.Single)
        {
            Assert.True(receivedPerCall == 1, described);
        }
        else if (receivePath == DatagramReceivePath.Coalesced && sendPath == DatagramSendPath.Segmented && offloads != TunnelOffloads.None)
        {
            // A GSO send crosses the veth whole and reaches the GRO socket as one super-datagram.
            Assert.True(receivedPerCall > 8, described);
        }
        else
        {
            Assert.True(receivedPerCall >= 1, described);
        }
    }

    [Theory]
    [InlineData(DatagramSendPath.Segmented, DatagramReceivePath.Coalesced)]
    [InlineData(DatagramSendPath.Single, DatagramReceivePath.Single)]
    public void FramesOfMixedSizesCrossWhole(DatagramSendPath sendPath, DatagramReceivePath receivePath)
    {
        using var pair = OffloadTunnelPair.Create(TunnelOffloads.SegmentationAndCoalescing, sendPath, receivePath);
        var mtu = pair.TunnelA.Device.Mtu;
        // Empty, small, odd, exactly the MTU (IPv4 20 + ICMP 8 less), and fragmented by the overlay's IP.
        foreach (var size in new[] { 0, 1, 57, 999, mtu - 28, mtu - 27, 3 * mtu, 20000 })
        {
            var (code, output, error) = pair.Underlay.A.Exec($"ping -c 2 -i 0.2 -W 2 -s {size} {pair.Underlay.OverlayB}");
            Assert.True(code == 0, $"ping -s {size}: {output}{error}");
        }
        var payload = new byte[3 << 20];
        Random.Shared.NextBytes(payload);
        var (bytes, hash) = TcpTransfer.Run(pair.Underlay.B, pair.Underlay.A, pair.Underlay.OverlayA, 5004, payload);
        Assert.Equal(payload.Length, bytes);
        Assert.Equal(SHA256.HashData(payload), hash);
        foreach (var device in new NetDevice[] { pair.TunnelA.Device, pair.TunnelB.Device })
        {
            var own = OffloadTunnelPair.Own(device);
            Assert.True(own["tunnel_tx_send_errors"] == 0 && own["tunnel_tx_offload_errors"] == 0 && own["tunnel_rx_too_big"] == 0, $"{device.Name}: {Describe(own)}");
        }
    }

    private static string Describe(Dictionary<string, long> statistics) =>
        string.Join(", ", statistics.Where(kv => kv.Value != 0).Select(kv => $"{kv.Key}={kv.Value}"));
}
