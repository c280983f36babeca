using System.Net.Sockets;

namespace NetDev.Drivers.Tunnel;

/// <summary>The tunnel's sizes: what the outer headers cost, and the MTUs that follow.</summary>
public sealed partial class TunnelDriver
{
    /// <summary>
    /// Bytes the outer headers add to a frame's payload: IP, UDP, the tunnel header and the inner
    /// Ethernet header. An MTU of the underlay minus this is the largest tunnel MTU that needs no fragmentation.
    /// </summary>
    /// <param name="underlay">The IP version of the underlay.</param>
    /// <param name="keyed">Whether datagrams carry the keyed format's larger header and tag.</param>
    public static int Overhead(AddressFamily underlay, bool keyed = false) =>
        IpHeaderLength(underlay) + UdpHeaderLength + DatagramOverhead(keyed) + NetDevice.EthernetHeaderLength;

    /// <summary>What the tunnel adds to a frame inside the UDP payload: 4 bytes of header, or 44 of keyed header and tag.</summary>
    public static int DatagramOverhead(bool keyed) => keyed ? KeyedFormat.Overhead : TunnelHeader.Length;

    /// <summary>
    /// The default MTU on an underlay with MTU <paramref name="underlayMtu"/>: 1454 over IPv4 and 1434 over
    /// IPv6 with Ethernet's 1500, so that no outer datagram is fragmented.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The result would be below <see cref="MinimumMtu"/>.</exception>
    /// <param name="underlay">The IP version of the underlay.</param>
    /// <param name="underlayMtu">The underlay's MTU.</param>
    /// <param name="keyed">Whether the tunnel is keyed (40 bytes more overhead: 1414 over IPv4 with 1500).</param>
    public static int DefaultMtu(AddressFamily underlay, int underlayMtu = DefaultUnderlayMtu, bool keyed = false)
    {
        var mtu = underlayMtu - Overhead(underlay, keyed);
        if (mtu < MinimumMtu)
        {
            throw new ArgumentOutOfRangeException(nameof(underlayMtu), underlayMtu,
                $"An underlay MTU of {underlayMtu} leaves {mtu} bytes for the tunnel, below the minimum of {MinimumMtu}.");
        }
        return mtu;
    }

    /// <summary>
    /// The largest MTU: the largest UDP payload (65507 bytes over IPv4, 65527 over IPv6) less the tunnel
    /// header and an Ethernet header with a VLAN tag. Beyond the underlay's MTU the outer datagrams are
    /// fragmented by IP.
    /// </summary>
    /// <param name="underlay">The IP version of the underlay.</param>
    /// <param name="keyed">Whether the tunnel is keyed.</param>
    public static int MaximumMtu(AddressFamily underlay, bool keyed = false)
    {
        var largestUdpPayload = underlay == AddressFamily.InterNetworkV6
            ? LargestIpPacket - UdpHeaderLength // IPv6's payload length does not count its own header
            : LargestIpPacket - Ipv4HeaderLength - UdpHeaderLength;
        return largestUdpPayload - DatagramOverhead(keyed) - NetDevice.LinkOverhead;
    }

    private static int IpHeaderLength(AddressFamily underlay) => underlay switch
    {
        AddressFamily.InterNetwork => Ipv4HeaderLength,
        AddressFamily.InterNetworkV6 => Ipv6HeaderLength,
        _ => throw new ArgumentOutOfRangeException(nameof(underlay), underlay, "The underlay is IPv4 or IPv6."),
    };
}
