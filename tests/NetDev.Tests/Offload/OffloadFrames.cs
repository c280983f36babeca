using System.Buffers.Binary;
using CsCheck;
using NetDev.Offload;

namespace NetDev.Tests.Offload;

/// <summary>
/// One segmentation-offload frame as the kernel hands it to a TAP, described field by field so a failing
/// case prints readably: Ethernet with VLAN tags, IPv4 with options or IPv6 with extension headers, TCP
/// with options or UDP, and a payload of any length cut into <see cref="GsoSize"/>-byte segments.
/// </summary>
public sealed record GsoCase(
    bool Ipv6,
    int VlanTags,
    int IpOptionWords,
    int Ipv6ExtensionHeaders,
    bool Udp,
    int TcpOptionWords,
    byte Flags,
    uint Sequence,
    uint Acknowledgement,
    ushort Window,
    ushort Identification,
    byte TrafficClass,
    int PayloadLength,
    int GsoSize,
    bool Ecn,
    int Seed)
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Psh = 0x08;
    public const byte Ack = 0x10;
    public const byte Urg = 0x20;
    public const byte Ece = 0x40;
    public const byte Cwr = 0x80;

    public int LinkLength => 14 + 4 * VlanTags;

    public int NetworkHeaderLength => Ipv6 ? 40 + 16 * Ipv6ExtensionHeaders : 20 + 4 * IpOptionWords;

    public int TransportOffset => LinkLength + NetworkHeaderLength;

    public int TransportHeaderLength => Udp ? 8 : 20 + 4 * TcpOptionWords;

    public int HeaderLength => TransportOffset + TransportHeaderLength;

    public int SegmentCount => PayloadLength == 0 ? 1 : (PayloadLength + GsoSize - 1) / GsoSize;

    public GsoType GsoType => Udp ? GsoType.UdpL4 : Ipv6 ? GsoType.TcpV6 : GsoType.TcpV4;

    /// <summary>The offload fields the kernel sets: partial checksum at the transport header, the GSO type and size.</summary>
    public SkBuffOffload Offload => new(
        NeedsChecksum: true,
        ChecksumValid: false,
        GsoType: GsoType,
        Ecn: Ecn,
        HeaderLength: (ushort)HeaderLength,
        GsoSize: (ushort)GsoSize,
        ChecksumStart: (ushort)TransportOffset,
        ChecksumOffset: (ushort)(Udp ? 6 : 16));

    public byte[] Payload()
    {
        var payload = new byte[PayloadLength];
        new Random(Seed).NextBytes(payload);
        return payload;
    }

    /// <summary>
    /// The whole frame. The IP lengths describe the whole frame, the IPv4 header checksum is right, and the
    /// transport checksum field holds junk: the segmenter must not depend on what it holds.
    /// </summary>
    public byte[] Build()
    {
        var random = new Random(Seed ^ 0x5A5A5A);
        var frame = new byte[HeaderLength + PayloadLength];
        var span = frame.AsSpan();
        span[..6].Fill(0x02);
        span[5] = 0x01;
        span[6] = 0x02;
        span[7..12].Fill(0x22);
        var offset = 12;
        for (var tag = 0; tag < VlanTags; tag++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[offset..], tag == 0 && VlanTags == 2 ? (ushort)0x88A8 : (ushort)0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(span[(offset + 2)..], (ushort)(100 + tag));
            offset += 4;
        }
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], Ipv6 ? (ushort)0x86DD : (ushort)0x0800);
        var network = LinkLength;
        var ip = span[network..TransportOffset];
        var protocol = Udp ? (byte)17 : (byte)6;
        if (Ipv6)
        {
            ip[0] = (byte)(0x60 | TrafficClass >> 4);
            ip[1] = (byte)(TrafficClass << 4 | 0x0A);
            ip[2] = 0xBC;
            ip[3] = 0xDE;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(frame.Length - network - 40));
            ip[7] = 64;
            random.NextBytes(ip.Slice(8, 32));
            var next = 6;
            for (var i = 0; i < Ipv6ExtensionHeaders; i++)
            {
                // Hop-by-hop first (it must be), destination options after it.
                var type = i == 0 ? (byte)0 : (byte)60;
                ip[next] = type;
                var extension = ip.Slice(40 + 16 * i, 16);
                extension[1] = 1; // (1 + 1) × 8 bytes
                extension[2..].Fill(0x01); // PadN-ish filler; nobody parses options here
                next = 40 + 16 * i;
            }
            ip[next] = protocol;
        }
        else
        {
            ip[0] = (byte)(0x40 | (5 + IpOptionWords));
            ip[1] = TrafficClass;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - network));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], Identification);
            ip[6] = 0x40; // DF
            ip[8] = 64;
            ip[9] = protocol;
            random.NextBytes(ip.Slice(12, 8 + 4 * IpOptionWords));
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Reference.Checksum(ip));
        }
        var transport = span[TransportOffset..HeaderLength];
        random.NextBytes(transport[..4]);
        if (Udp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(transport[4..], (ushort)(frame.Length - TransportOffset));
            BinaryPrimitives.WriteUInt16BigEndian(transport[6..], 0xBEEF);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(transport[4..], Sequence);
            BinaryPrimitives.WriteUInt32BigEndian(transport[8..], Acknowledgement);
            transport[12] = (byte)((5 + TcpOptionWords) << 4);
            transport[13] = Flags;
            BinaryPrimitives.WriteUInt16BigEndian(transport[14..], Window);
            BinaryPrimitives.WriteUInt16BigEndian(transport[16..], 0xBEEF);
            random.NextBytes(transport[20..]);
        }
        Payload().CopyTo(span[HeaderLength..]);
        return frame;
    }

    /// <summary>Random cases: every layout the segmenter takes, payloads from empty to 64 KiB, segment sizes from 1 byte.</summary>
    public static readonly Gen<GsoCase> Any =
        from ipv6 in Gen.Bool
        from vlanTags in Gen.Frequency((4, Gen.Const(0)), (1, Gen.Int[1, 2]))
        from ipOptionWords in Gen.Frequency((3, Gen.Const(0)), (1, Gen.Int[1, 10]))
        from extensions in Gen.Frequency((3, Gen.Const(0)), (1, Gen.Int[1, 2]))
        from udp in Gen.Frequency((3, Gen.Const(false)), (1, Gen.Const(true)))
        from tcpOptionWords in Gen.Frequency((1, Gen.Const(0)), (2, Gen.Const(3)), (1, Gen.Int[1, 10]))
        from flags in Gen.Byte
        from sequence in Gen.UInt
        from acknowledgement in Gen.UInt
        from window in Gen.UShort
        from identification in Gen.UShort
        from trafficClass in Gen.Byte
        from payloadLength in Gen.Frequency((1, Gen.Const(0)), (6, Gen.Int[1, 6000]), (1, Gen.Int[6000, 64000]))
        from gsoSize in Gen.Frequency((4, Gen.Int[500, 1500]), (2, Gen.Int[1, 500]), (1, Gen.Int[1500, 9000]))
        from ecn in Gen.Bool
        from seed in Gen.Int
        select new GsoCase(ipv6, vlanTags, ipOptionWords, extensions, udp, tcpOptionWords,
            // ACK and a random mix of the rest, but never SYN or RST with data (the kernel never segments those).
            (byte)((flags | Ack) & ~(Syn | 0x04)), sequence, acknowledgement, window, identification, trafficClass,
            payloadLength,
            // At most 400 segments, so one case stays quick.
            Math.Max(gsoSize, (payloadLength + 399) / 400), ecn, seed);

    public override string ToString() =>
        $"{(Ipv6 ? $"IPv6+{Ipv6ExtensionHeaders}ext" : $"IPv4+{IpOptionWords}optw")} vlan={VlanTags} {(Udp ? "UDP" : $"TCP+{TcpOptionWords}optw flags=0x{Flags:X2}")} " +
        $"payload={PayloadLength} gso={GsoSize} seq={Sequence} id={Identification} seed={Seed}";
}

/// <summary>
/// The Internet checksum written the plain way (big-endian 16-bit words, RFC 1071), independent of the
/// code under test, and the checks every wire-size segment must pass.
/// </summary>
public static class Reference
{
    public static ushort Checksum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        uint sum = initial;
        for (var i = 0; i + 1 < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8 | data[i + 1]);
        }
        if ((data.Length & 1) != 0)
        {
            sum += (uint)data[^1] << 8;
        }
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }

    /// <summary>The pseudo-header's sum (not complemented) for a transport checksum.</summary>
    public static uint PseudoHeaderSum(ReadOnlySpan<byte> ip, bool ipv6, byte protocol, int transportLength)
    {
        var addresses = ipv6 ? ip.Slice(8, 32) : ip.Slice(12, 8);
        uint sum = protocol + (uint)transportLength;
        for (var i = 0; i < addresses.Length; i += 2)
        {
            sum += (uint)(addresses[i] << 8 | addresses[i + 1]);
        }
        return sum;
    }

    /// <summary>Whether the transport checksum of the packet whose IP header is <paramref name="ip"/> is right.</summary>
    public static bool TransportChecksumIsValid(ReadOnlySpan<byte> ip, bool ipv6, byte protocol, ReadOnlySpan<byte> transport) =>
        Checksum(transport, PseudoHeaderSum(ip, ipv6, protocol, transport.Length)) == 0;

    /// <summary>
    /// Asserts that <paramref name="segment"/> is segment <paramref name="index"/> of <paramref name="gso"/>
    /// as the kernel's GSO would make it, field by field, with valid checksums computed here.
    /// </summary>
    public static void AssertSegment(GsoCase gso, byte[] original, ReadOnlySpan<byte> segment, int index)
    {
        var payloadLength = gso.PayloadLength == 0 ? 0 : Math.Min(gso.GsoSize, gso.PayloadLength - index * gso.GsoSize);
        var last = index == gso.SegmentCount - 1;
        Assert.Equal(gso.HeaderLength + payloadLength, segment.Length);
        var network = gso.LinkLength;
        var transport = gso.TransportOffset;
        Assert.True(segment[..network].SequenceEqual(original.AsSpan(0, network)), "link header changed");
        var ip = segment[network..transport];
        var originalIp = original.AsSpan(network, gso.NetworkHeaderLength);
        if (gso.Ipv6)
        {
            Assert.Equal(segment.Length - network - 40, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
            Assert.True(ip[..4].SequenceEqual(originalIp[..4]) && ip[6..].SequenceEqual(originalIp[6..]), "IPv6 header changed beyond its length");
        }
        else
        {
            Assert.Equal(segment.Length - network, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
            Assert.Equal((ushort)(gso.Identification + index), BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
            Assert.Equal(0, Checksum(ip));
            Assert.True(ip[..2].SequenceEqual(originalIp[..2]) && ip[6..10].SequenceEqual(originalIp[6..10]) && ip[12..].SequenceEqual(originalIp[12..]),
                "IPv4 header changed beyond length, identification and checksum");
        }
        var l4 = segment[transport..];
        var originalL4 = original.AsSpan(transport, gso.TransportHeaderLength);
        Assert.True(l4[..4].SequenceEqual(originalL4[..4]), "ports changed");
        if (gso.Udp)
        {
            Assert.Equal(l4.Length, BinaryPrimitives.ReadUInt16BigEndian(l4[4..]));
            Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(l4[6..]));
            Assert.True(TransportChecksumIsValid(ip, gso.Ipv6, 17, l4), "UDP checksum wrong");
        }
        else
        {
            Assert.Equal(unchecked(gso.Sequence + (uint)(index * gso.GsoSize)), BinaryPrimitives.ReadUInt32BigEndian(l4[4..]));
            var flags = gso.Flags;
            if (!last)
            {
                flags &= unchecked((byte)~(GsoCase.Fin | GsoCase.Psh));
            }
            if (index > 0)
            {
                flags &= unchecked((byte)~GsoCase.Cwr);
            }
            Assert.Equal(flags, l4[13]);
            Assert.True(l4[8..13].SequenceEqual(originalL4[8..13]) && l4[14..16].SequenceEqual(originalL4[14..16])
                && l4[18..gso.TransportHeaderLength].SequenceEqual(originalL4[18..]), "TCP header changed beyond sequence, flags and checksum");
            Assert.True(TransportChecksumIsValid(ip, gso.Ipv6, 6, l4), "TCP checksum wrong");
        }
    }
}

/// <summary>Collects the frames a helper delivers; the test releases them.</summary>
public sealed class CollectingSink : IFrameSink
{
    public List<SkBuff> Frames { get; } = [];

    public void Deliver([TakesOwnership] SkBuff frame) => Frames.Add(frame);

    public List<byte[]> TakeBytes()
    {
        var bytes = Frames.Select(frame => frame.Data.ToArray()).ToList();
        ConsumeAll();
        return bytes;
    }

    public void ConsumeAll()
    {
        foreach (var frame in Frames)
        {
            frame.Consume();
        }
        Frames.Clear();
    }
}
