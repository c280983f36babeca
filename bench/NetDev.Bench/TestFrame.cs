using System.Buffers.Binary;

namespace NetDev.Bench;

/// <summary>
/// The 60-byte frame of the rx figure, the same bytes for NetDev and the C writer: IPv4/UDP from
/// 10.77.0.1 to 10.77.0.2, addressed to a MAC address that is not the interface's. The kernel counts it
/// as received (rx_packets) and then drops it at the IP layer as meant for another host, so the figure is
/// the cost of handing frames over, not of a socket reading them.
/// </summary>
internal static class TestFrame
{
    public const int Length = 60;

    public static byte[] Build()
    {
        var frame = new byte[Length];
        ReadOnlySpan<byte> destination = [0x02, 0, 0, 0, 0, 0x02];
        ReadOnlySpan<byte> source = [0x02, 0, 0, 0, 0, 0x01];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        var ip = frame.AsSpan(NetDevice.EthernetHeaderLength, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], Length - NetDevice.EthernetHeaderLength);
        ip[8] = 64;
        ip[9] = 17;
        ReadOnlySpan<byte> from = [10, 77, 0, 1];
        ReadOnlySpan<byte> to = [10, 77, 0, 2];
        from.CopyTo(ip[12..]);
        to.CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip));
        var udp = frame.AsSpan(NetDevice.EthernetHeaderLength + 20);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 10000);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udp.Length);
        return frame;
    }

    public static string Hex(byte[] frame) => Convert.ToHexString(frame);

    private static ushort Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (var i = 0; i + 1 < header.Length; i += 2)
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
