using System.Buffers.Binary;

namespace NetDev.Offload;

/// <summary>
/// How a GSO frame is cut: its layout, how many segments of how many payload bytes, and the values the
/// first segment's headers start from (TCP sequence number, IPv4 identification).
/// </summary>
/// <remarks><b>Invariants.</b> Made only by <see cref="TryCreate"/> from a frame it checked:
/// <c>SegmentSize ≥ 1</c>, <c>Count ≥ 1</c>, <c>Count = max(1, ⌈PayloadLength / SegmentSize⌉)</c>, and the
/// layout's invariants hold for the frame.</remarks>
internal readonly struct SegmentPlan
{
    internal const byte Fin = 0x01;
    internal const byte Syn = 0x02;
    internal const byte Rst = 0x04;
    internal const byte Psh = 0x08;
    internal const byte Ack = 0x10;
    internal const byte Urg = 0x20;
    internal const byte Ece = 0x40;
    internal const byte Cwr = 0x80;

    private SegmentPlan(FrameLayout layout, int segmentSize, int payloadLength, uint firstSequence, ushort firstIdentification)
    {
        Layout = layout;
        SegmentSize = segmentSize;
        PayloadLength = payloadLength;
        Count = payloadLength == 0 ? 1 : (payloadLength + segmentSize - 1) / segmentSize;
        FirstSequence = firstSequence;
        FirstIdentification = firstIdentification;
    }

    public FrameLayout Layout { get; }

    /// <summary>Payload bytes per segment but the last (<c>gso_size</c>).</summary>
    public int SegmentSize { get; }

    /// <summary>Payload bytes of the whole frame, after its headers.</summary>
    public int PayloadLength { get; }

    public int Count { get; }

    public uint FirstSequence { get; }

    public ushort FirstIdentification { get; }

    /// <summary>Where segment <paramref name="index"/>'s payload starts in the original frame.</summary>
    public int PayloadOffset(int index) => Layout.HeaderLength + index * SegmentSize;

    /// <summary>Payload bytes of segment <paramref name="index"/>: <see cref="SegmentSize"/>, or what is left for the last.</summary>
    public int PayloadLengthOf(int index) => Math.Min(SegmentSize, PayloadLength - index * SegmentSize);

    /// <summary>Checks that <paramref name="frame"/> is the segmentation <paramref name="offload"/> describes, and plans it.</summary>
    public static OffloadResult TryCreate(ReadOnlySpan<byte> frame, in SkBuffOffload offload, out SegmentPlan plan)
    {
        plan = default;
        var result = FrameLayout.TryParse(frame, out var layout);
        if (result != OffloadResult.Done)
        {
            return result;
        }
        var expected = offload.GsoType switch
        {
            GsoType.TcpV4 or GsoType.TcpV6 => FrameLayout.Tcp,
            GsoType.UdpL4 => FrameLayout.Udp,
            _ => (byte)0,
        };
        if (expected == 0)
        {
            return offload.GsoType == GsoType.Udp ? OffloadResult.Unsupported : OffloadResult.Malformed;
        }
        var familyMatches = offload.GsoType switch
        {
            GsoType.TcpV4 => !layout.IsIpv6,
            GsoType.TcpV6 => layout.IsIpv6,
            _ => true,
        };
        if (layout.TransportProtocol != expected || !familyMatches || offload.GsoSize == 0)
        {
            return OffloadResult.Malformed;
        }
        // The system's checksum position must agree with the headers found; a frame whose offload fields
        // point elsewhere is not what it claims to be.
        if (offload.NeedsChecksum && (offload.ChecksumStart != layout.TransportOffset || offload.ChecksumOffset != layout.ChecksumOffset))
        {
            return OffloadResult.Malformed;
        }
        var sequence = layout.TransportProtocol == FrameLayout.Tcp ? BinaryPrimitives.ReadUInt32BigEndian(frame[(layout.TransportOffset + 4)..]) : 0;
        var identification = layout.IsIpv6 ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(frame[(layout.NetworkOffset + 4)..]);
        plan = new SegmentPlan(layout, offload.GsoSize, frame.Length - layout.HeaderLength, sequence, identification);
        return OffloadResult.Done;
    }

    /// <summary>
    /// Turns <paramref name="segment"/> — a copy of the original headers followed by segment
    /// <paramref name="index"/>'s payload, nothing else — into a complete wire-size frame: IP lengths,
    /// IPv4 identification and header checksum, TCP sequence number and flags or UDP length, and the
    /// transport checksum.
    /// </summary>
    public void Finish(Span<byte> segment, int index)
    {
        var layout = Layout;
        var ip = segment[layout.NetworkOffset..layout.TransportOffset];
        if (layout.IsIpv6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(segment.Length - layout.NetworkOffset - FrameLayout.Ipv6HeaderLength));
        }
        else
        {
            var ipv4 = ip[..((ip[0] & 0x0F) * 4)];
            BinaryPrimitives.WriteUInt16BigEndian(ipv4[2..], (ushort)(segment.Length - layout.NetworkOffset));
            // Each segment is a packet of its own, numbered on from the first, as the kernel's GSO does.
            BinaryPrimitives.WriteUInt16BigEndian(ipv4[4..], unchecked((ushort)(FirstIdentification + index)));
            WriteIpv4HeaderChecksum(ipv4);
        }
        var transport = segment[layout.TransportOffset..];
        ulong sum;
        if (layout.TransportProtocol == FrameLayout.Tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(transport[4..], unchecked(FirstSequence + (uint)(index * SegmentSize)));
            var flags = transport[13];
            if (index != Count - 1)
            {
                // The end of the data (FIN) and the push of it (PSH) belong to its last byte.
                flags &= unchecked((byte)~(Fin | Psh));
            }
            if (index != 0)
            {
                // Congestion window reduced is said once, by the first segment (RFC 3168 with TSO).
                flags &= unchecked((byte)~Cwr);
            }
            transport[13] = flags;
            transport[FrameLayout.TcpChecksumOffset] = 0;
            transport[FrameLayout.TcpChecksumOffset + 1] = 0;
            sum = InternetChecksum.PseudoHeader(ip, layout.IsIpv6, FrameLayout.Tcp, transport.Length);
            InternetChecksum.WriteNative(transport[FrameLayout.TcpChecksumOffset..], (ushort)~InternetChecksum.Fold(InternetChecksum.Accumulate(transport, sum)));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(transport[4..], (ushort)transport.Length);
            transport[FrameLayout.UdpChecksumOffset] = 0;
            transport[FrameLayout.UdpChecksumOffset + 1] = 0;
            sum = InternetChecksum.PseudoHeader(ip, layout.IsIpv6, FrameLayout.Udp, transport.Length);
            var checksum = (ushort)~InternetChecksum.Fold(InternetChecksum.Accumulate(transport, sum));
            // 0 would mean "no checksum" to UDP (and is forbidden over IPv6): send its other form.
            InternetChecksum.WriteNative(transport[FrameLayout.UdpChecksumOffset..], checksum == 0 ? (ushort)0xFFFF : checksum);
        }
    }

    /// <summary>Computes and writes an IPv4 header's checksum over <paramref name="header"/> (options included).</summary>
    internal static void WriteIpv4HeaderChecksum(Span<byte> header)
    {
        header[10] = 0;
        header[11] = 0;
        InternetChecksum.WriteNative(header[10..], (ushort)~InternetChecksum.Fold(InternetChecksum.Accumulate(header, 0)));
    }
}
