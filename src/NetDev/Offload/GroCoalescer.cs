using System.Buffers.Binary;

namespace NetDev.Offload;

/// <summary>
/// Receive coalescing (the kernel's GRO) for a driver that receives wire-size frames: consecutive
/// in-order TCP segments of one flow are merged into one frame of up to 64 KiB that carries a
/// segmentation offload (<see cref="SkBuffOffload.GsoType"/>, <see cref="SkBuffOffload.GsoSize"/> the
/// segments' payload size), so the system's stack handles one large frame instead of dozens of small ones.
/// </summary>
/// <remarks>
/// <para>Use: one coalescer per receive thread, <see cref="Receive"/> for every frame of a batch, then
/// <see cref="Flush"/> at the batch's end. Frames come out through the <see cref="IFrameSink"/> in an order
/// that keeps every flow's own order (frames of different flows may pass each other).</para>
/// <para>A TCP segment joins the frame held for its flow when everything but what must differ is the same
/// as in the held frame's headers — link header, IP header (addresses, TOS or traffic class, TTL or hop
/// limit, DF, options), TCP ports, acknowledgement number, window, header length and options — and:
/// its sequence number follows the held data; its IPv4 identification is the next one; it carries ACK and
/// nothing else but PSH; it has payload and not more than the held frame's first segment; its checksums
/// are right (or the frame says they were checked, <see cref="SkBuffOffload.ChecksumValid"/>); and the
/// result stays within 65535 bytes of IP packet and the held buffer's room. A segment shorter than the
/// first, or with PSH, ends its frame: the merged frame goes out at once. Any other frame of a held flow
/// first sends the held one out, so nothing is reordered; frames that are not TCP over IP pass straight
/// through.</para>
/// <para>A merged frame leaves with its IP length and IPv4 header checksum recomputed, PSH if its last
/// segment had it, and a partial TCP checksum (the pseudo-header sum over the merged length, with
/// <see cref="SkBuffOffload.NeedsChecksum"/>, <see cref="SkBuffOffload.ChecksumStart"/> at the TCP header
/// and <see cref="SkBuffOffload.ChecksumOffset"/> 16), which is what the kernel expects of a GSO frame
/// written to a TAP. A held frame of one segment leaves untouched. Only hand merged frames to a device
/// whose <see cref="NetDevice.Features"/> in force include TSO for that IP version — the constructor takes
/// those features and leaves the other version alone — since without offloads the system gets no
/// segmentation fields and would drop them.</para>
/// <para>Merging copies each joining segment's payload onto the end of the held frame's buffer (a driver
/// receives into buffers of <see cref="NetDevice.MaxFrameLength"/>, room enough with TSO on) and consumes
/// the segment, so nothing is allocated per frame.</para>
/// <para><b>Invariants.</b> The first <c>_held</c> entries of <c>_flows</c> each own exactly one live
/// frame, in the order their flows were first held; no other entry owns one. For each, the frame's
/// headers are those of the flow's first segment with PSH possibly set, its payload is the segments'
/// payloads in order, <c>NextSequence</c> is the sequence number right after it, and it is not
/// <c>Closed</c> (a closed frame is delivered at once). Used only by the thread that owns the coalescer.</para>
/// </remarks>
public sealed class GroCoalescer
{
    /// <summary>How many flows are held at once by default (the kernel's <c>MAX_GRO_SKBS</c>).</summary>
    public const int DefaultMaxFlows = 8;

    private readonly IFrameSink _sink;
    private readonly bool _tcpV4;
    private readonly bool _tcpV6;
    private readonly HeldFlow[] _flows;
    private int _held;

    /// <summary>Makes a coalescer that hands its frames to <paramref name="sink"/>.</summary>
    /// <param name="sink">Takes every frame that comes out, merged or not.</param>
    /// <param name="features">
    /// The offloads in force on the device the frames go to: TCP over IPv4 is merged only with
    /// <see cref="DeviceFeatures.Tso4"/>, TCP over IPv6 only with <see cref="DeviceFeatures.Tso6"/>, and
    /// nothing without <see cref="DeviceFeatures.Checksum"/>.
    /// </param>
    /// <param name="maxFlows">How many flows are held at once; a new flow beyond them sends the oldest out.</param>
    public GroCoalescer(IFrameSink sink, DeviceFeatures features, int maxFlows = DefaultMaxFlows)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFlows, 1);
        _sink = sink;
        var checksum = (features & DeviceFeatures.Checksum) != 0;
        _tcpV4 = checksum && (features & DeviceFeatures.Tso4) != 0;
        _tcpV6 = checksum && (features & DeviceFeatures.Tso6) != 0;
        _flows = new HeldFlow[maxFlows];
        for (var i = 0; i < _flows.Length; i++)
        {
            _flows[i] = new HeldFlow();
        }
    }

    /// <summary>Whether the coalescer merges anything at all with the features it was given.</summary>
    public bool IsEnabled => _tcpV4 || _tcpV6;

    /// <summary>How many frames are held, waiting for more segments or for <see cref="Flush"/>.</summary>
    public int HeldCount => _held;

    /// <summary>How many segments were merged into a frame held before them (each one frame fewer for the system).</summary>
    public long MergedSegments { get; private set; }

    /// <summary>How many merged frames (of two segments or more) went out.</summary>
    public long MergedFrames { get; private set; }

    /// <summary>
    /// Takes one received frame: merges it into the frame held for its flow, holds it for the segments to
    /// come, or hands it (after any held frame of its flow) to the sink. Ownership passes with the call.
    /// </summary>
    public void Receive([TakesOwnership] SkBuff skb)
    {
        var frame = skb.Data;
        if (!IsEnabled || FrameLayout.TryParse(frame, out var layout) != OffloadResult.Done || layout.TransportProtocol != FrameLayout.Tcp)
        {
            // No flow of it can be held.
            _sink.Deliver(skb);
            return;
        }
        var flowIndex = FindFlow(frame, layout);
        var payloadLength = 0;
        var candidate = (layout.IsIpv6 ? _tcpV6 : _tcpV4) && skb.Offload.GsoType == GsoType.None
            && IsCandidate(skb.Offload, frame, layout, out payloadLength);
        if (flowIndex >= 0 && candidate && _flows[flowIndex].CanAppend(frame, layout, payloadLength))
        {
            Append(flowIndex, frame, layout, payloadLength);
            // Its payload now travels in the held frame: delivered, as far as this frame is concerned.
            skb.Consume();
            return;
        }
        if (flowIndex >= 0)
        {
            DeliverHeld(flowIndex);
        }
        var push = (frame[layout.TransportOffset + 13] & SegmentPlan.Psh) != 0;
        if (!candidate || push)
        {
            // Nothing could join it: it goes out now, behind whatever was held of its flow.
            _sink.Deliver(skb);
            return;
        }
        if (_held == _flows.Length)
        {
            DeliverHeld(0);
        }
        _flows[_held++].Hold(skb, frame, layout, payloadLength);
    }

    /// <summary>
    /// Merges <paramref name="frame"/>, a received frame that is not in a frame buffer of its own (one
    /// datagram of many read at once), into the frame held for its flow when it continues it exactly, as
    /// <see cref="Receive"/> would: its payload is copied onto the held frame. Nothing else happens: on
    /// false, hand the frame to <see cref="Receive"/> in a buffer of its own, which keeps the flow's order.
    /// </summary>
    /// <param name="frame">The frame, borrowed for the call; its checksums are checked (nothing vouches for it).</param>
    /// <returns>Whether the frame's payload joined a held frame.</returns>
    public bool TryMerge(ReadOnlySpan<byte> frame)
    {
        if (_held == 0 || FrameLayout.TryParse(frame, out var layout) != OffloadResult.Done || layout.TransportProtocol != FrameLayout.Tcp
            || !(layout.IsIpv6 ? _tcpV6 : _tcpV4))
        {
            return false;
        }
        var flowIndex = FindFlow(frame, layout);
        if (flowIndex < 0 || !IsCandidate(default, frame, layout, out var payloadLength) || !_flows[flowIndex].CanAppend(frame, layout, payloadLength))
        {
            return false;
        }
        Append(flowIndex, frame, layout, payloadLength);
        return true;
    }

    /// <summary>Hands every held frame to the sink, oldest first (the end of a receive batch, the kernel's <c>napi_gro_flush</c>).</summary>
    public void Flush()
    {
        while (_held > 0)
        {
            DeliverHeld(0);
        }
    }

    /// <summary>
    /// Whether a frame (its <paramref name="frame"/>, with <paramref name="offload"/>) may take part in a merge at all: a whole, unfragmented packet whose
    /// checksums are right, a TCP segment with payload and only ACK (and PSH) set.
    /// </summary>
    private static bool IsCandidate(in SkBuffOffload offload, ReadOnlySpan<byte> frame, FrameLayout layout, out int payloadLength)
    {
        payloadLength = frame.Length - layout.HeaderLength;
        var ip = frame[layout.NetworkOffset..layout.TransportOffset];
        var tcp = frame[layout.TransportOffset..];
        if (payloadLength <= 0 || (tcp[13] & ~SegmentPlan.Psh) != SegmentPlan.Ack)
        {
            return false;
        }
        // The IP length must account for exactly the frame: padding or a cut frame is not merged.
        if (layout.IsIpv6)
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) != frame.Length - layout.NetworkOffset - FrameLayout.Ipv6HeaderLength)
            {
                return false;
            }
        }
        else if (BinaryPrimitives.ReadUInt16BigEndian(ip[2..]) != frame.Length - layout.NetworkOffset || !InternetChecksum.IsValid(ip))
        {
            return false;
        }
        if (offload.ChecksumValid || offload.NeedsChecksum)
        {
            // Checked by whoever delivered it, or made on this host and not yet summed.
            return true;
        }
        // A corrupt segment merged into a frame with a partial checksum would be believed; one left alone
        // is dropped and counted by the stack.
        var sum = InternetChecksum.PseudoHeader(ip, layout.IsIpv6, FrameLayout.Tcp, tcp.Length);
        return InternetChecksum.Fold(InternetChecksum.Accumulate(tcp, sum)) == 0xFFFF;
    }

    private int FindFlow(ReadOnlySpan<byte> frame, FrameLayout layout)
    {
        for (var i = 0; i < _held; i++)
        {
            if (_flows[i].IsSameFlow(frame, layout))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Copies the payload of <paramref name="frame"/>, which <see cref="HeldFlow.CanAppend"/> accepted, onto the frame held at <paramref name="flowIndex"/>.</summary>
    private void Append(int flowIndex, ReadOnlySpan<byte> frame, FrameLayout layout, int payloadLength)
    {
        var flow = _flows[flowIndex];
        var pushed = (frame[layout.TransportOffset + 13] & SegmentPlan.Psh) != 0;
        frame[layout.HeaderLength..].CopyTo(flow.Frame.Put(payloadLength));
        flow.Appended(payloadLength, pushed);
        MergedSegments++;
        if (flow.Closed)
        {
            DeliverHeld(flowIndex);
        }
    }

    /// <summary>Finishes the held frame at <paramref name="index"/>, hands it to the sink and closes the gap it leaves.</summary>
    private void DeliverHeld(int index)
    {
        var flow = _flows[index];
        if (flow.Segments > 1)
        {
            MergedFrames++;
        }
        var skb = flow.Release();
        Array.Copy(_flows, index + 1, _flows, index, _held - index - 1);
        _flows[--_held] = flow;
        _sink.Deliver(skb);
    }

    /// <summary>
    /// One flow's held frame and what the next segment must look like to join it.
    /// </summary>
    /// <remarks><b>Invariants.</b> <see cref="Frame"/> is live and owned here between <see cref="Hold"/> and
    /// <see cref="Release"/>, and <see cref="Layout"/> is its layout; outside that span it is default.</remarks>
    private sealed class HeldFlow
    {
        public SkBuff Frame;
        public FrameLayout Layout;
        public uint NextSequence;
        public ushort NextIdentification;
        public int SegmentSize;
        public int Segments;
        public bool Closed;

        public void Hold([TakesOwnership] SkBuff skb, ReadOnlySpan<byte> frame, FrameLayout layout, int payloadLength)
        {
            Frame = skb;
            Layout = layout;
            var ip = frame[layout.NetworkOffset..];
            var tcp = frame[layout.TransportOffset..];
            NextSequence = unchecked(BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]) + (uint)payloadLength);
            NextIdentification = layout.IsIpv6 ? (ushort)0 : unchecked((ushort)(BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) + 1));
            SegmentSize = payloadLength;
            Segments = 1;
            Closed = false;
        }

        /// <summary>Whether <paramref name="frame"/> is of this flow: same link header, IP version, addresses and ports.</summary>
        public bool IsSameFlow(ReadOnlySpan<byte> frame, FrameLayout layout)
        {
            var held = Frame.Data;
            var heldLayout = Layout;
            if (layout.NetworkOffset != heldLayout.NetworkOffset || layout.IsIpv6 != heldLayout.IsIpv6)
            {
                return false;
            }
            var addresses = layout.IsIpv6 ? new Range(8, 40) : new Range(12, 20);
            return frame[..layout.NetworkOffset].SequenceEqual(held[..layout.NetworkOffset])
                && frame[layout.NetworkOffset..][addresses].SequenceEqual(held[layout.NetworkOffset..][addresses])
                && frame.Slice(layout.TransportOffset, 4).SequenceEqual(held.Slice(heldLayout.TransportOffset, 4));
        }

        /// <summary>Whether a candidate segment of this flow continues the held frame exactly (see the class remarks).</summary>
        public bool CanAppend(ReadOnlySpan<byte> frame, FrameLayout layout, int payloadLength)
        {
            if (Closed || layout != Layout || payloadLength > SegmentSize)
            {
                return false;
            }
            var held = Frame.Data;
            if (Frame.Tailroom < payloadLength || held.Length - layout.NetworkOffset - (layout.IsIpv6 ? FrameLayout.Ipv6HeaderLength : 0) + payloadLength > FrameLayout.LargestIpPacket)
            {
                return false;
            }
            var network = layout.NetworkOffset;
            var transport = layout.TransportOffset;
            var tcp = frame[transport..];
            if (BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]) != NextSequence)
            {
                return false;
            }
            if (layout.IsIpv6)
            {
                // Version, traffic class, flow label; then next header, hop limit, addresses, extension headers.
                if (!Same(frame, held, network, 4) || !Same(frame, held, network + 6, transport - network - 6))
                {
                    return false;
                }
            }
            else
            {
                if (BinaryPrimitives.ReadUInt16BigEndian(frame[(network + 4)..]) != NextIdentification)
                {
                    return false;
                }
                // Version, header length, TOS; then flags, fragment offset, TTL, protocol; then addresses and options.
                if (!Same(frame, held, network, 2) || !Same(frame, held, network + 6, 4) || !Same(frame, held, network + 12, transport - network - 12))
                {
                    return false;
                }
            }
            // Ports, then acknowledgement number and data offset, then window, urgent pointer and options.
            // The flags may differ only by PSH, which the held frame cannot have yet.
            return Same(frame, held, 0, network)
                && Same(frame, held, transport, 4)
                && Same(frame, held, transport + 8, 5)
                && (tcp[13] & ~SegmentPlan.Psh) == held[transport + 13]
                && Same(frame, held, transport + 14, 2)
                && Same(frame, held, transport + 18, layout.HeaderLength - transport - 18);
        }

        public void Appended(int payloadLength, bool pushed)
        {
            NextSequence = unchecked(NextSequence + (uint)payloadLength);
            NextIdentification = unchecked((ushort)(NextIdentification + 1));
            Segments++;
            if (pushed)
            {
                Frame.Data[Layout.TransportOffset + 13] |= SegmentPlan.Psh;
            }
            Closed = pushed || payloadLength < SegmentSize;
        }

        /// <summary>Gives up the held frame, finished: as it came for one segment, else a GSO frame with a partial checksum.</summary>
        public SkBuff Release()
        {
            var skb = Frame;
            Frame = default;
            if (Segments > 1)
            {
                var layout = Layout;
                var frame = skb.Data;
                var ip = frame[layout.NetworkOffset..layout.TransportOffset];
                var tcp = frame[layout.TransportOffset..];
                if (layout.IsIpv6)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(frame.Length - layout.NetworkOffset - FrameLayout.Ipv6HeaderLength));
                }
                else
                {
                    BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - layout.NetworkOffset));
                    SegmentPlan.WriteIpv4HeaderChecksum(ip[..((ip[0] & 0x0F) * 4)]);
                }
                // CHECKSUM_PARTIAL: the field holds the pseudo-header's sum, which the system completes (or trusts).
                InternetChecksum.WriteNative(tcp[FrameLayout.TcpChecksumOffset..],
                    InternetChecksum.Fold(InternetChecksum.PseudoHeader(ip, layout.IsIpv6, FrameLayout.Tcp, tcp.Length)));
                skb.Offload = new SkBuffOffload(
                    NeedsChecksum: true,
                    ChecksumValid: false,
                    GsoType: layout.IsIpv6 ? GsoType.TcpV6 : GsoType.TcpV4,
                    Ecn: false,
                    HeaderLength: (ushort)layout.HeaderLength,
                    GsoSize: (ushort)SegmentSize,
                    ChecksumStart: (ushort)layout.TransportOffset,
                    ChecksumOffset: FrameLayout.TcpChecksumOffset);
            }
            Layout = default;
            Segments = 0;
            return skb;
        }

        private static bool Same(ReadOnlySpan<byte> frame, ReadOnlySpan<byte> held, int offset, int length) =>
            frame.Slice(offset, length).SequenceEqual(held.Slice(offset, length));
    }
}
