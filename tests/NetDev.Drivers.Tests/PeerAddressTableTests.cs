using System.Net;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests;

/// <summary>The table that tells the tunnel's receive thread which peer a datagram came from.</summary>
public sealed class PeerAddressTableTests
{
    private static byte[] Bytes(IPEndPoint endPoint)
    {
        var address = endPoint.Serialize();
        return address.Buffer.Span[..address.Size].ToArray();
    }

    [Fact]
    public void FindsEachOfTheMostPeersAndNoStranger()
    {
        // The most peers a tunnel takes, IPv6 (as a dual-stack socket sees them) and IPv4 alike; neighbours
        // differ in one byte of the address or only in the port, which is where a weak hash would collide.
        foreach (var family in new[] { System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.AddressFamily.InterNetworkV6 })
        {
            var peers = Enumerable.Range(0, TunnelDriver.MaxPeers)
                .Select(i => new IPEndPoint(new IPAddress([10, 0, (byte)(i >> 1), 1]), 4789 + (i & 1)))
                .Select(peer => family == System.Net.Sockets.AddressFamily.InterNetwork ? peer : new IPEndPoint(peer.Address.MapToIPv6(), peer.Port))
                .ToArray();
            var table = new PeerAddressTable([.. peers.Select(peer => peer.Serialize())]);
            for (var i = 0; i < peers.Length; i++)
            {
                Assert.Equal(i, table.IndexOf(Bytes(peers[i])));
            }
            Assert.Equal(-1, table.IndexOf(Bytes(new IPEndPoint(peers[0].Address, 4791))));
            Assert.Equal(-1, table.IndexOf(Bytes(new IPEndPoint(family == System.Net.Sockets.AddressFamily.InterNetwork ? IPAddress.Parse("10.0.200.1") : IPAddress.Parse("::ffff:10.0.200.1"), 4789))));
            Assert.Equal(-1, table.IndexOf(Bytes(peers[0])[..^1]));
        }
    }

    [Fact]
    public void OnePeerIsFoundAndTheSameAddressTwiceIsRefused()
    {
        var peer = new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4789);
        var table = new PeerAddressTable([peer.Serialize()]);
        Assert.Equal(0, table.IndexOf(Bytes(peer)));
        Assert.Equal(-1, table.IndexOf(Bytes(new IPEndPoint(IPAddress.Parse("192.0.2.8"), 4789))));
        Assert.Throws<ArgumentException>(() => new PeerAddressTable([peer.Serialize(), new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4789).Serialize()]));
    }
}
