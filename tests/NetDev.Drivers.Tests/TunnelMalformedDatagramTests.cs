using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NetDev.Drivers.Tests.Infrastructure;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests;

/// <summary>
/// One tunnel in namespace A whose peer is a plain UDP socket in namespace B played by the test, so every
/// byte on the wire is the test's choice: the documented format both ways, and garbage of every kind.
/// </summary>
public sealed class TunnelMalformedDatagramTests : IDisposable
{
    private const int TunnelPort = 47000;
    private const int PeerPort = 47001;
    private const int OverlayPort = 9000;
    private static readonly MacAddress PeerMac = MacAddress.Parse("02:00:00:00:00:b2");

    private readonly Underlay _underlay;
    private readonly Registration<TunnelDriver> _tunnel;
    private readonly Socket _peer;
    private readonly Socket _overlayListener;
    private readonly IPEndPoint _tunnelEndpoint;
    private readonly string _name = $"tnm{Guid.NewGuid().ToString("N")[..6]}";

    public TunnelMalformedDatagramTests()
    {
        _underlay = Underlay.Create();
        try
        {
            _tunnelEndpoint = new IPEndPoint(_underlay.AddressA, TunnelPort);
            _peer = Underlay.UdpSocket(_underlay.B, new IPEndPoint(_underlay.AddressB, PeerPort));
            _peer.ReceiveTimeout = 30_000;
            _tunnel = TunnelPair.Start(_underlay.A, _name, _tunnelEndpoint, new IPEndPoint(_underlay.AddressB, PeerPort));
            _underlay.A.Ip($"addr add {_underlay.OverlayA}/24 dev {_name}");
            _overlayListener = Underlay.UdpSocket(_underlay.A, new IPEndPoint(_underlay.OverlayA, OverlayPort));
            _overlayListener.ReceiveTimeout = 30_000;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    [Fact]
    public void FramesLeaveAsDocumentedDatagramsAndDatagramsOfThePeerArriveAsFrames()
    {
        // A sends to a neighbour it knows without ARP; the peer sees the header and then the whole frame.
        _underlay.A.Ip($"neigh add {_underlay.OverlayB} lladdr {PeerMac} dev {_name}");
        using (var sender = Underlay.UdpSocket(_underlay.A, new IPEndPoint(_underlay.OverlayA, 9001)))
        {
            sender.SendTo("to the peer"u8, new IPEndPoint(_underlay.OverlayB, 9002));
        }
        var datagram = ReceiveAtPeer(d => d.Length > 4 + 14 + 28 && BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(4 + 12)) == 0x0800);
        Assert.Equal(new byte[] { 0x4E, 0x44, 0x01, 0x00 }, datagram[..4]);
        Assert.Equal(PeerMac, MacAddress.FromBytes(datagram.AsSpan(4, 6)));
        Assert.Equal(_tunnel.Device.MacAddress, MacAddress.FromBytes(datagram.AsSpan(10, 6)));
        Assert.Equal("to the peer"u8.ToArray(), datagram[(4 + 14 + 28)..]);

        DeliverFromPeer("to the tunnel"u8);
    }

    [Fact]
    public void ForeignAndMalformedDatagramsAreDroppedByReasonAndTheTunnelKeepsWorking()
    {
        var device = _tunnel.Device;
        var valid = Frames.Datagram(FrameToA("valid"u8));
        var largestFrame = device.Mtu + NetDevice.LinkOverhead;

        // From a foreign port of the peer's address, and from a foreign address with the peer's port.
        using (var foreignPort = Underlay.UdpSocket(_underlay.B, new IPEndPoint(_underlay.AddressB, PeerPort + 1)))
        {
            for (var i = 0; i < 3; i++)
            {
                foreignPort.SendTo(valid, _tunnelEndpoint);
            }
        }
        _underlay.B.Ip($"addr add 10.250.{_underlay.Subnet}.3/24 dev {_underlay.VethB}");
        using (var foreignAddress = Underlay.UdpSocket(_underlay.B, new IPEndPoint(IPAddress.Parse($"10.250.{_underlay.Subnet}.3"), PeerPort)))
        {
            foreignAddress.SendTo(valid, _tunnelEndpoint);
            foreignAddress.SendTo(valid, _tunnelEndpoint);
        }

        // From the right source: every way a datagram can be wrong.
        _peer.SendTo(Array.Empty<byte>(), _tunnelEndpoint);                                 // too short for a header
        _peer.SendTo(new byte[] { 0x4E, 0x44, 0x01 }, _tunnelEndpoint);                     // too short for a header
        _peer.SendTo(Frames.Datagram(FrameToA("x"u8), magicHigh: 0x58), _tunnelEndpoint);   // bad magic
        _peer.SendTo(Frames.Datagram(FrameToA("x"u8), version: 2), _tunnelEndpoint);         // unknown version
        _peer.SendTo(Frames.Datagram(FrameToA("x"u8), version: 0), _tunnelEndpoint);         // unknown version
        _peer.SendTo(Frames.Datagram(FrameToA("x"u8), type: 7), _tunnelEndpoint);            // unknown payload type
        _peer.SendTo(Frames.Datagram(new byte[13]), _tunnelEndpoint);                        // frame shorter than an Ethernet header
        _peer.SendTo(Frames.Datagram(new byte[largestFrame + 1]), _tunnelEndpoint);          // frame longer than the MTU allows
        _peer.SendTo(Frames.Datagram(new byte[8000]), _tunnelEndpoint);                      // longer than the receive buffer: truncated

        // Still working: a valid datagram after all that arrives as a frame.
        DeliverFromPeer("after the garbage"u8);

        var drops = device.GetDropCounts().Where(d => d.Direction == TrafficDirection.Receive).ToDictionary(d => d.Reason, d => d.Count);
        Assert.Equal(5, drops.GetValueOrDefault(DropReason.ForeignSource));
        Assert.Equal(3, drops.GetValueOrDefault(DropReason.PacketTooSmall));
        Assert.Equal(3, drops.GetValueOrDefault(DropReason.InvalidHeader));
        Assert.Equal(1, drops.GetValueOrDefault(DropReason.UnhandledProtocol));
        Assert.Equal(2, drops.GetValueOrDefault(DropReason.PacketTooBig));
        Assert.Equal(14, drops.Values.Sum());

        var own = device.GetEthtoolStatistics().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(5, own["tunnel_rx_foreign_source"]);
        Assert.Equal(2, own["tunnel_rx_too_short"]);
        Assert.Equal(1, own["tunnel_rx_bad_magic"]);
        Assert.Equal(2, own["tunnel_rx_bad_version"]);
        Assert.Equal(1, own["tunnel_rx_unknown_type"]);
        Assert.Equal(1, own["tunnel_rx_runt_frames"]);
        Assert.Equal(2, own["tunnel_rx_too_big"]);
        Assert.Equal(0, own["tunnel_rx_socket_errors"]);

        // The frame reached the overlay before the receive thread counted it (it counts once the write returned).
        Wait.Until(() => device.GetLinkStats64().RxPackets == 1, "the valid frame counted");
        var stats = device.GetLinkStats64();
        Assert.Equal(14, stats.RxDropped);
        Assert.Equal(2 + 1 + 2, stats.RxLengthErrors);
        Assert.Equal(1 + 2 + 1, stats.RxFrameErrors);
        Assert.Equal(9, stats.RxErrors);
        Assert.Equal(1, stats.RxPackets);
        Assert.True(device.DriverData.IsReceiving);

        // And the other way too, after the garbage.
        FramesLeaveAsDocumentedDatagramsAndDatagramsOfThePeerArriveAsFrames();
    }

    /// <summary>Sends a valid datagram from the peer and waits until its payload reaches a socket in A.</summary>
    private void DeliverFromPeer(ReadOnlySpan<byte> payload)
    {
        _peer.SendTo(Frames.Datagram(FrameToA(payload)), _tunnelEndpoint);
        var buffer = new byte[2048];
        var read = _overlayListener.Receive(buffer);
        Assert.Equal(payload.ToArray(), buffer[..read]);
    }

    private byte[] FrameToA(ReadOnlySpan<byte> payload) =>
        Frames.Ipv4Udp(_tunnel.Device.MacAddress, PeerMac, _underlay.OverlayB, _underlay.OverlayA, 9002, OverlayPort, payload);

    private byte[] ReceiveAtPeer(Func<byte[], bool> wanted)
    {
        var buffer = new byte[65536];
        while (true)
        {
            var read = _peer.Receive(buffer);
            var datagram = buffer[..read];
            if (wanted(datagram))
            {
                return datagram;
            }
        }
    }

    public void Dispose()
    {
        _overlayListener?.Dispose();
        _tunnel?.Dispose();
        _peer?.Dispose();
        _underlay.Dispose();
    }
}
