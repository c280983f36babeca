using System.Net;
using System.Net.Sockets;
using NetDev.Drivers.Tests.Infrastructure;

namespace NetDev.Drivers.Tests;

public sealed class TunnelAllocationTests
{
    private const int Frames = 10_000;

    [Fact]
    public void SteadyTrafficAllocatesNothingPerFrame()
    {
        using var pair = TunnelPair.Create();
        Assert.Equal(0, TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB).Code);
        using var sink = Underlay.UdpSocket(pair.Underlay.B, new IPEndPoint(pair.Underlay.OverlayB, 9000));
        using var markers = Underlay.UdpSocket(pair.Underlay.B, new IPEndPoint(pair.Underlay.OverlayB, 9001));
        markers.ReceiveTimeout = 1000;
        using var source = Underlay.UdpSocket(pair.Underlay.A, new IPEndPoint(pair.Underlay.OverlayA, 9002));
        var sinkAddress = new IPEndPoint(pair.Underlay.OverlayB, 9000).Serialize();
        var markerAddress = new IPEndPoint(pair.Underlay.OverlayB, 9001).Serialize();
        var payload = new byte[1000];

        // The first round fills the pools and the JIT; the second is the steady state.
        Blast(source, sinkAddress, markers, markerAddress, payload);
        var received = pair.TunnelB.Device.GetStats().RxPackets;
        var testThreadBefore = GC.GetAllocatedBytesForCurrentThread();
        var processBefore = GC.GetTotalAllocatedBytes(precise: true);
        Blast(source, sinkAddress, markers, markerAddress, payload);
        var process = GC.GetTotalAllocatedBytes(precise: true) - processBefore;
        var testThread = GC.GetAllocatedBytesForCurrentThread() - testThreadBefore;
        received = pair.TunnelB.Device.GetStats().RxPackets - received;

        // Both tunnels' threads (A's transmit, B's receive) and the hosts' queue loops carried these frames;
        // anything they allocated per frame would be at least 24 bytes a frame.
        Assert.True(received > Frames / 2, $"only {received} of {Frames} frames crossed");
        var others = process - testThread;
        Assert.True(others < received, $"{others} bytes allocated outside the test's thread for {received} frames");
    }

    /// <summary>Sends the frames, then a marker until it arrives: behind it, every frame has been handled.</summary>
    private static void Blast(Socket source, SocketAddress sink, Socket markers, SocketAddress marker, byte[] payload)
    {
        for (var i = 0; i < Frames; i++)
        {
            source.SendTo(payload, SocketFlags.None, sink);
            if (i % 64 == 63)
            {
                // Paced so that few frames overflow the kernel's socket buffers on the way.
                Thread.Sleep(1);
            }
        }
        var buffer = new byte[16];
        for (var attempt = 0; ; attempt++)
        {
            source.SendTo(payload.AsSpan(0, 1), SocketFlags.None, marker);
            try
            {
                markers.Receive(buffer);
                return;
            }
            catch (SocketException error) when (error.SocketErrorCode == SocketError.TimedOut && attempt < 30)
            {
            }
        }
    }
}
