using System.Buffers.Binary;
using System.Net;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>Hand-built Ethernet frames and tunnel datagrams, so tests can play the peer byte by byte.</summary>
public static class Frames
{
    /// <summary>An Ethernet frame carrying an IPv4 UDP datagram (UDP checksum 0: "none", allowed over IPv4).</summary>
    public static byte[] Ipv4Udp(MacAddress destination, MacAddress source, IPAddress from, IPAddress to, int fromPort, int toPort, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[14 + 20 + 8 + payload.Length];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        var ip = frame.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload.Length));
        ip[8] = 64;
        ip[9] = 17;
        from.GetAddressBytes().CopyTo(ip[12..]);
        to.GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Ipv4Checksum(ip));
        var udp = frame.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)fromPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)toPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payload.Length));
        payload.CopyTo(udp[8..]);
        return frame;
    }

    /// <summary>A datagram of the tunnel's format: the 4 header bytes given, then <paramref name="frame"/>.</summary>
    public static byte[] Datagram(ReadOnlySpan<byte> frame, byte magicHigh = 0x4E, byte magicLow = 0x44, byte version = 1, byte type = 0)
    {
        var datagram = new byte[4 + frame.Length];
        datagram[0] = magicHigh;
        datagram[1] = magicLow;
        datagram[2] = version;
        datagram[3] = type;
        frame.CopyTo(datagram.AsSpan(4));
        return datagram;
    }

    private static ushort Ipv4Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (var i = 0; i < header.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        }
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }
}
