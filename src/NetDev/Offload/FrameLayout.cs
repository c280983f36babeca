using System.Buffers.Binary;

namespace NetDev.Offload;

/// <summary>What an offload helper made of a frame.</summary>
public enum OffloadResult
{
    /// <summary>The work is done (the checksum written, the segments made).</summary>
    Done,

    /// <summary>
    /// The frame contradicts itself or its <see cref="SkBuff.Offload"/>: headers cut short or with
    /// impossible lengths, a segmentation type that is not the packet's protocol, a checksum position
    /// outside the frame, a segment size of zero. Nothing was changed; drop it as
    /// <see cref="DropReason.InvalidHeader"/>.
    /// </summary>
    Malformed,

    /// <summary>
    /// A well-formed frame the helpers do not handle: legacy UDP fragmentation offload
    /// (<see cref="GsoType.Udp"/>), a packet that is already an IP fragment, an IPv6 extension header
    /// other than hop-by-hop, routing and destination options, or headers longer than
    /// <see cref="GsoSegmenter.MaxHeaderLength"/>. Nothing was changed; drop it as
    /// <see cref="DropReason.UnhandledProtocol"/>.
    /// </summary>
    Unsupported,
}

/// <summary>
/// Where the headers of an Ethernet frame carrying TCP or UDP over IP lie, from the frame's first byte.
/// </summary>
/// <remarks><b>Invariants.</b> Made only by <see cref="TryParse"/>, which checked every offset against the
/// frame: <c>NetworkOffset &lt; TransportOffset &lt; HeaderLength ≤ frame length</c>,
/// <c>HeaderLength ≤ GsoSegmenter.MaxHeaderLength</c>, and the IP packet is at most 65535 bytes long.</remarks>
internal readonly record struct FrameLayout(int NetworkOffset, bool IsIpv6, int TransportOffset, byte TransportProtocol, int HeaderLength)
{
    internal const byte Tcp = 6;
    internal const byte Udp = 17;
    internal const int Ipv6HeaderLength = 40;
    internal const int UdpHeaderLength = 8;
    internal const int TcpChecksumOffset = 16;
    internal const int UdpChecksumOffset = 6;
    internal const int LargestIpPacket = 65535;

    private const ushort EtherTypeIpv4 = 0x0800;
    private const ushort EtherTypeIpv6 = 0x86DD;
    private const ushort EtherTypeVlan = 0x8100;
    private const ushort EtherTypeQinQ = 0x88A8;
    private const int MaxVlanTags = 2;
    private const byte HopByHop = 0;
    private const byte Routing = 43;
    private const byte DestinationOptions = 60;

    /// <summary>Where the transport checksum field lies, from the transport header's start.</summary>
    public int ChecksumOffset => TransportProtocol == Tcp ? TcpChecksumOffset : UdpChecksumOffset;

    /// <summary>
    /// Finds the IP and transport headers of <paramref name="frame"/>: Ethernet with up to two VLAN tags,
    /// IPv4 with options or IPv6 with hop-by-hop, routing and destination options headers, then TCP or UDP.
    /// </summary>
    public static OffloadResult TryParse(ReadOnlySpan<byte> frame, out FrameLayout layout)
    {
        layout = default;
        var offset = NetDevice.EthernetHeaderLength;
        if (frame.Length < offset)
        {
            return OffloadResult.Malformed;
        }
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset - 2)..]);
        for (var tags = 0; etherType is EtherTypeVlan or EtherTypeQinQ; tags++)
        {
            if (tags == MaxVlanTags)
            {
                return OffloadResult.Unsupported;
            }
            offset += 4;
            if (frame.Length < offset)
            {
                return OffloadResult.Malformed;
            }
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset - 2)..]);
        }
        var network = offset;
        byte protocol;
        int transport;
        bool isIpv6;
        switch (etherType)
        {
            case EtherTypeIpv4:
            {
                if (frame.Length < network + 20 || frame[network] >> 4 != 4)
                {
                    return OffloadResult.Malformed;
                }
                var headerLength = (frame[network] & 0x0F) * 4;
                if (headerLength < 20 || frame.Length < network + headerLength)
                {
                    return OffloadResult.Malformed;
                }
                // More-fragments or an offset: the transport header is not (all) here.
                if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(network + 6)..]) & 0x3FFF) != 0)
                {
                    return OffloadResult.Unsupported;
                }
                isIpv6 = false;
                protocol = frame[network + 9];
                transport = network + headerLength;
                break;
            }
            case EtherTypeIpv6:
            {
                if (frame.Length < network + Ipv6HeaderLength || frame[network] >> 4 != 6)
                {
                    return OffloadResult.Malformed;
                }
                isIpv6 = true;
                protocol = frame[network + 6];
                transport = network + Ipv6HeaderLength;
                while (protocol is HopByHop or Routing or DestinationOptions)
                {
                    if (frame.Length < transport + 8)
                    {
                        return OffloadResult.Malformed;
                    }
                    protocol = frame[transport];
                    transport += (frame[transport + 1] + 1) * 8;
                }
                break;
            }
            default:
                return OffloadResult.Unsupported;
        }
        int end;
        switch (protocol)
        {
            case Tcp:
                if (frame.Length < transport + 20)
                {
                    return OffloadResult.Malformed;
                }
                var dataOffset = (frame[transport + 12] >> 4) * 4;
                if (dataOffset < 20)
                {
                    return OffloadResult.Malformed;
                }
                end = transport + dataOffset;
                break;
            case Udp:
                end = transport + UdpHeaderLength;
                break;
            default:
                return OffloadResult.Unsupported;
        }
        if (end > frame.Length)
        {
            return OffloadResult.Malformed;
        }
        if (end > GsoSegmenter.MaxHeaderLength)
        {
            return OffloadResult.Unsupported;
        }
        // Neither IPv4's total length nor IPv6's payload length can describe a longer packet.
        var ipLength = frame.Length - network - (isIpv6 ? Ipv6HeaderLength : 0);
        if (ipLength > LargestIpPacket)
        {
            return OffloadResult.Malformed;
        }
        layout = new FrameLayout(network, isIpv6, transport, protocol, end);
        return OffloadResult.Done;
    }
}
