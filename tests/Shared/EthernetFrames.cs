// Shared by the test projects that write Ethernet frames themselves through AF_PACKET; linked into each.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NetDev.TestSupport;

/// <summary>Hand-made Ethernet frames (marked, so a test finds its own among the kernel's), VLAN tags, packet socket addresses.</summary>
public static class EthernetFrames
{
    /// <summary>The EtherType of an 802.1Q (customer) VLAN tag.</summary>
    public const ushort Vlan = 0x8100;

    /// <summary>The EtherType of an 802.1ad (service, "QinQ" outer) VLAN tag.</summary>
    public const ushort ServiceVlan = 0x88A8;

    /// <summary>IEEE's local experimental EtherType: no protocol of the kernel's takes these frames.</summary>
    public const ushort LocalExperimental = 0x88B5;

    /// <summary>The source address of every marked frame.</summary>
    public static readonly MacAddress Source = MacAddress.Parse("02:00:00:00:00:aa");

    private static readonly byte[] Marker = "NETDEV-TEST"u8.ToArray();

    /// <summary>
    /// A frame of <paramref name="length"/> bytes to <paramref name="destination"/> of the local experimental
    /// EtherType, starting with the test marker and filled with bytes that depend on <paramref name="seed"/>.
    /// </summary>
    public static byte[] Marked(MacAddress destination, int length, int seed)
    {
        var frame = new byte[length];
        destination.CopyTo(frame);
        Source.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), LocalExperimental);
        Marker.CopyTo(frame.AsSpan(14));
        for (var i = 14 + Marker.Length; i < length; i++)
        {
            frame[i] = (byte)(i * 31 + seed);
        }
        return frame;
    }

    /// <summary>Whether <paramref name="frame"/> is one <see cref="Marked"/> made, tagged or not.</summary>
    public static bool IsMarked(byte[] frame)
    {
        var payload = 14;
        while (frame.Length >= payload + 4 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(payload - 2)) is Vlan or ServiceVlan)
        {
            payload += 4;
        }
        return frame.Length > payload + Marker.Length && frame.AsSpan(payload, Marker.Length).SequenceEqual(Marker);
    }

    /// <summary>
    /// <paramref name="frame"/> with <paramref name="tags"/> (EtherType and TCI of each, outermost first)
    /// after its addresses: four bytes longer per tag, as a VLAN device on top of another would send it.
    /// </summary>
    public static byte[] Tagged(byte[] frame, params ReadOnlySpan<(ushort Tpid, ushort Tci)> tags)
    {
        var tagged = new byte[frame.Length + 4 * tags.Length];
        frame.AsSpan(0, 12).CopyTo(tagged);
        for (var i = 0; i < tags.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12 + 4 * i), tags[i].Tpid);
            BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14 + 4 * i), tags[i].Tci);
        }
        frame.AsSpan(12).CopyTo(tagged.AsSpan(12 + 4 * tags.Length));
        return tagged;
    }

    /// <summary>A <c>struct sockaddr_ll</c> naming interface <paramref name="ifIndex"/> and <paramref name="protocol"/> (an EtherType).</summary>
    public static SocketAddress PacketAddress(int ifIndex, ushort protocol = LocalExperimental)
    {
        var address = new SocketAddress(AddressFamily.Packet, 20);
        var bytes = address.Buffer.Span;
        BinaryPrimitives.WriteUInt16BigEndian(bytes[2..], protocol);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[4..], ifIndex);
        return address;
    }
}
