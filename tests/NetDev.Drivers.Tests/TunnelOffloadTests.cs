using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NetDev.Drivers.Tests.Infrastructure;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Drivers.Tests;

/// <summary>
/// The tunnel with the system's offloads on: TCP hands it 64 KiB frames that it cuts into datagrams, UDP
/// segmentation likewise, and with coalescing the receiver merges segments back; every stream arrives
/// intact, and nothing is allocated per frame.
/// </summary>
public sealed class TunnelOffloadTests
{
    private static readonly DropReason[] MalformedReasons =
        [DropReason.ForeignSource, DropReason.InvalidHeader, DropReason.PacketTooSmall, DropReason.PacketTooBig, DropReason.UnhandledProtocol];

    [Theory]
    [InlineData(TunnelOffloads.Segmentation, false)]
    [InlineData(TunnelOffloads.Segmentation, true)]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, false)]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, true)]
    [InlineData(TunnelOffloads.None, false)]
    [InlineData(TunnelOffloads.None, true)]
    public void ATcpTransferArrivesWhole(TunnelOffloads offloads, bool ipv6Overlay)
    {
        using var pair = OffloadTunnelPair.Create(offloads);
        var payload = new byte[8 << 20];
        Random.Shared.NextBytes(payload);

        var (bytes, hash) = TcpTransfer.Run(pair.Underlay.A, pair.Underlay.B, ipv6Overlay ? pair.OverlayB6 : pair.Underlay.OverlayB, 5001, payload);

        Assert.Equal(payload.Length, bytes);
        Assert.Equal(SHA256.HashData(payload), hash);
        var sender = pair.TunnelA.Device;
        var receiver = pair.TunnelB.Device;
        var sent = OffloadTunnelPair.Own(sender);
        var received = OffloadTunnelPair.Own(receiver);
        if (offloads == TunnelOffloads.None)
        {
            Assert.Equal(DeviceFeatures.None, sender.Features);
            Assert.Equal(0, sent["tunnel_tx_segmented_frames"]);
        }
        else
        {
            var tso = ipv6Overlay ? DeviceFeatures.Tso6 : DeviceFeatures.Tso4;
            Assert.Equal(DeviceFeatures.Checksum | tso, sender.Features & (DeviceFeatures.Checksum | tso));
            // The stack did hand over frames larger than the MTU, and the driver cut them.
            Assert.True(sent["tunnel_tx_segmented_frames"] > 0, $"{sender.Name} cut no frame: {Describe(sent)}");
        }
        Assert.Equal(0, sent["tunnel_tx_offload_errors"]);
        Assert.Equal(0, received["tunnel_tx_offload_errors"]);
        // What went out is counted per wire-size datagram, as without offloads. A late ACK may be between the
        // driver's own counter and the queue's, which are read one after the other: waited for.
        Wait.Until(() => sender.GetStats() is var stats && OffloadTunnelPair.Own(sender) is var own
                && own["tunnel_tx_datagrams"] == stats.TxPackets && own["tunnel_tx_bytes"] == stats.TxBytes + 4 * stats.TxPackets,
            $"{sender.Name}'s datagram counters to agree with its queue counters: {Describe(OffloadTunnelPair.Own(sender))}, {sender.GetStats()}");
        if (offloads == TunnelOffloads.SegmentationAndCoalescing)
        {
            Assert.True(receiver.DriverData.IsCoalescing);
            Assert.True(received["tunnel_rx_coalesced_segments"] > 0, $"{receiver.Name} merged nothing: {Describe(received)}");
            // Merged frames are fewer than the datagrams that carried them.
            Assert.True(receiver.GetStats().RxPackets < received["tunnel_rx_datagrams"]);
        }
        else
        {
            Assert.False(receiver.DriverData.IsCoalescing);
            Assert.Equal(0, received["tunnel_rx_coalesced_segments"]);
        }
        foreach (var device in new NetDevice[] { sender, receiver })
        {
            // Every datagram was wire-size and well-formed: the receiving end refused none.
            var refused = device.GetDropCounts().Where(d => d.Direction == TrafficDirection.Receive && MalformedReasons.Contains(d.Reason)).ToList();
            Assert.True(refused.Count == 0, $"{device.Name} refused datagrams of its peer: {string.Join(", ", refused)}");
        }
    }

    [Fact]
    public void UdpSegmentationLeavesAsOneDatagramPerSegment()
    {
        using var pair = OffloadTunnelPair.Create(TunnelOffloads.Segmentation);
        Assert.Equal(0, TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB).Code);
        using var sink = Underlay.UdpSocket(pair.Underlay.B, new IPEndPoint(pair.Underlay.OverlayB, 9000));
        sink.ReceiveTimeout = 5000;
        using var source = Underlay.UdpSocket(pair.Underlay.A, new IPEndPoint(pair.Underlay.OverlayA, 9001));
        const int SegmentSize = 1000;
        // UDP_SEGMENT (SOL_UDP 17, option 103): one send of many segments, cut by the device if it has USO.
        source.SetRawSocketOption(17, 103, BitConverter.GetBytes(SegmentSize));
        var payload = new byte[9 * SegmentSize + 500];
        Random.Shared.NextBytes(payload);

        source.SendTo(payload, new IPEndPoint(pair.Underlay.OverlayB, 9000));

        var buffer = new byte[65536];
        var arrived = new List<byte[]>();
        while (arrived.Sum(d => d.Length) < payload.Length)
        {
            var length = sink.Receive(buffer);
            arrived.Add(buffer[..length]);
        }
        Assert.Equal([.. Enumerable.Repeat(SegmentSize, 9), 500], arrived.Select(d => d.Length));
        Assert.Equal(payload, arrived.SelectMany(d => d).ToArray());
        var sent = OffloadTunnelPair.Own(pair.TunnelA.Device);
        if ((pair.TunnelA.Device.Features & DeviceFeatures.Uso4) != 0)
        {
            Assert.True(sent["tunnel_tx_segmented_frames"] > 0, Describe(sent));
        }
        Assert.Equal(0, sent["tunnel_tx_offload_errors"]);
    }

    [Theory]
    [InlineData(TunnelOffloads.Segmentation, DatagramSendPath.Segmented, DatagramReceivePath.Coalesced)]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, DatagramSendPath.Segmented, DatagramReceivePath.Coalesced)]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, DatagramSendPath.Batched, DatagramReceivePath.Batched)]
    [InlineData(TunnelOffloads.SegmentationAndCoalescing, DatagramSendPath.Single, DatagramReceivePath.Single)]
    public void CuttingAndMergingAllocateNothingPerFrame(TunnelOffloads offloads, DatagramSendPath sendPath, DatagramReceivePath receivePath)
    {
        using var pair = OffloadTunnelPair.Create(offloads, sendPath, receivePath);
        const int RoundBytes = 16 << 20;
        var chunk = new byte[64 << 10];
        Random.Shared.NextBytes(chunk);
        using var listener = pair.Underlay.B.Run(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(pair.Underlay.OverlayB, 5002));
            socket.Listen(1);
            return socket;
        });
        using var client = pair.Underlay.A.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.Connect(new IPEndPoint(pair.Underlay.OverlayB, 5002));
        using var connection = listener.Accept();
        long receivedBytes = 0;
        // Reads into one buffer until the stream ends: allocation-free, like the tunnel threads it runs beside.
        var drain = new Thread(() =>
        {
            var buffer = new byte[256 << 10];
            int read;
            while ((read = connection.Receive(buffer)) > 0)
            {
                Interlocked.Add(ref receivedBytes, read);
            }
        }) { IsBackground = true, Name = "tcp drain" };
        drain.Start();

        // The first round fills the pools, the socket buffers and the JIT; the second is the steady state.
        Round(1);
        var before = OffloadTunnelPair.Own(pair.TunnelA.Device);
        var testThreadBefore = GC.GetAllocatedBytesForCurrentThread();
        var processBefore = GC.GetTotalAllocatedBytes(precise: true);
        Round(2);
        var process = GC.GetTotalAllocatedBytes(precise: true) - processBefore;
        var testThread = GC.GetAllocatedBytesForCurrentThread() - testThreadBefore;
        var after = OffloadTunnelPair.Own(pair.TunnelA.Device);
        client.Shutdown(SocketShutdown.Send);
        drain.Join(TimeSpan.FromSeconds(30));

        var datagrams = after["tunnel_tx_datagrams"] - before["tunnel_tx_datagrams"];
        Assert.True(after["tunnel_tx_segmented_frames"] > before["tunnel_tx_segmented_frames"], "the round went through the cutting path");
        if (offloads == TunnelOffloads.SegmentationAndCoalescing)
        {
            Assert.True(OffloadTunnelPair.Own(pair.TunnelB.Device)["tunnel_rx_coalesced_segments"] > 0, "the round went through the merging path");
        }
        // Both tunnels' threads and the hosts' queue loops carried these datagrams; anything they allocated
        // per datagram would be at least 24 bytes each.
        var others = process - testThread;
        Assert.True(others < datagrams, $"{others} bytes allocated outside the test's thread for {datagrams} datagrams");

        void Round(int number)
        {
            for (var sent = 0; sent < RoundBytes; sent += chunk.Length)
            {
                client.Send(chunk);
            }
            var deadline = Environment.TickCount64 + 60_000;
            while (Interlocked.Read(ref receivedBytes) < (long)number * RoundBytes)
            {
                Assert.True(Environment.TickCount64 < deadline, $"round {number}: only {Interlocked.Read(ref receivedBytes)} bytes arrived");
                Thread.Sleep(5);
            }
        }
    }

    [Fact]
    public void TheOffloadModeIsCheckedAndKept()
    {
        var socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TunnelDriver(socket, new IPEndPoint(IPAddress.Loopback, 4789), (TunnelOffloads)7));
        // The driver owns the socket also when its constructor throws.
        Assert.Throws<ObjectDisposedException>(() => socket.Bind(new IPEndPoint(IPAddress.Loopback, 0)));

        socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        using var none = TunnelDriver.CreateRegistration(new NetDev.Linux.LinuxHost(), socket, new IPEndPoint(IPAddress.Loopback, 4789), offloads: TunnelOffloads.None);
        Assert.Equal(DeviceFeatures.None, none.Device.Features);
        Assert.Equal(TunnelOffloads.None, none.Device.DriverData.Offloads);
        socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        using var all = TunnelDriver.CreateRegistration(new NetDev.Linux.LinuxHost(), socket, new IPEndPoint(IPAddress.Loopback, 4789));
        Assert.Equal(DeviceFeatures.All, all.Device.Features);
        Assert.Equal(TunnelOffloads.SegmentationAndCoalescing, all.Device.DriverData.Offloads);
        Assert.Equal(NetDevice.GsoMaxFrameLength, all.Device.MaxFrameLength);
    }

    private static string Describe(Dictionary<string, long> statistics) =>
        string.Join(", ", statistics.Where(kv => kv.Value != 0).Select(kv => $"{kv.Key}={kv.Value}"));
}
