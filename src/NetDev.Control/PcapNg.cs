using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using NetDev.Diagnostics;

namespace NetDev.Control;

/// <summary>
/// The pcapng blocks a capture is written in (the IETF draft <c>draft-ietf-opsawg-pcapng</c>, as tshark and
/// Wireshark read it): one section header, one Ethernet interface with nanosecond timestamps, an enhanced packet
/// block per frame — its direction in <c>epb_flags</c>, a drop's reason as a comment — and interface statistics
/// at the end. Little-endian throughout.
/// </summary>
public static class PcapNg
{
    /// <summary>The section header block's type.</summary>
    public const uint SectionHeaderType = 0x0A0D0D0A;

    /// <summary>The interface description block's type.</summary>
    public const uint InterfaceDescriptionType = 1;

    /// <summary>The interface statistics block's type.</summary>
    public const uint InterfaceStatisticsType = 5;

    /// <summary>The enhanced packet block's type.</summary>
    public const uint EnhancedPacketType = 6;

    /// <summary>Every block starts with its type and total length, 4 bytes each.</summary>
    public const int BlockHeaderLength = 8;

    private const ushort LinkTypeEthernet = 1;
    private const ushort OptionEnd = 0;
    private const ushort OptionComment = 1;
    private const ushort ApplicationOption = 4;
    private const ushort InterfaceNameOption = 2;
    private const ushort TimestampResolutionOption = 9;
    private const ushort FlagsOption = 2;
    private const ushort StatisticsReceivedOption = 4;
    private const ushort StatisticsOsDropOption = 7;
    private const ushort StatisticsDeliveredOption = 8;
    private const uint FlagInbound = 1;
    private const uint FlagOutbound = 2;

    /// <summary>The section header and the one interface, <paramref name="interfaceName"/>, whose frames follow.</summary>
    public static void WriteHeader(IBufferWriter<byte> output, string interfaceName, int snapLength)
    {
        ArgumentNullException.ThrowIfNull(output);
        var header = new Block(output, SectionHeaderType);
        header.UInt32(0x1A2B3C4D);
        header.UInt16(1);
        header.UInt16(0);
        header.Int64(-1);
        header.Option(ApplicationOption, Encoding.UTF8.GetBytes("NetDev"));
        header.End();

        var description = new Block(output, InterfaceDescriptionType);
        description.UInt16(LinkTypeEthernet);
        description.UInt16(0);
        description.UInt32((uint)snapLength);
        description.Option(InterfaceNameOption, Encoding.UTF8.GetBytes(interfaceName));
        description.Option(TimestampResolutionOption, [9]);
        description.End();
    }

    /// <summary>One frame: inbound when the device handed it to the system, outbound when the system sent it; a dropped one says why in a comment.</summary>
    public static void WritePacket(IBufferWriter<byte> output, in CapturedFrameInfo frame, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(output);
        var block = new Block(output, EnhancedPacketType);
        block.UInt32(0);
        block.Timestamp(frame.UnixNanoseconds);
        block.UInt32((uint)bytes.Length);
        block.UInt32((uint)frame.Length);
        block.Padded(bytes);
        Span<byte> flags = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(flags, frame.Direction == TrafficDirection.Receive ? FlagInbound : FlagOutbound);
        block.Option(FlagsOption, flags);
        if (frame.DropReason is { } reason)
        {
            block.Option(OptionComment, Encoding.UTF8.GetBytes(DropComment(reason, frame.Queue)));
        }
        block.End();
    }

    /// <summary>The comment a dropped frame carries: <c>dropped: packet_too_small (queue 0)</c>.</summary>
    public static string DropComment(DropReason reason, int queue) => $"dropped: {DiagnosticNames.Of(reason)} (queue {queue})";

    /// <summary>What the capture saw: frames offered (<c>isb_ifrecv</c>), lost to a full ring (<c>isb_osdrop</c>), written (<c>isb_usrdeliv</c>).</summary>
    public static void WriteStatistics(IBufferWriter<byte> output, long unixNanoseconds, long captured, long lost)
    {
        ArgumentNullException.ThrowIfNull(output);
        var block = new Block(output, InterfaceStatisticsType);
        block.UInt32(0);
        block.Timestamp(unixNanoseconds);
        Span<byte> value = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(value, (ulong)(captured + lost));
        block.Option(StatisticsReceivedOption, value);
        BinaryPrimitives.WriteUInt64LittleEndian(value, (ulong)lost);
        block.Option(StatisticsOsDropOption, value);
        BinaryPrimitives.WriteUInt64LittleEndian(value, (ulong)captured);
        block.Option(StatisticsDeliveredOption, value);
        block.End();
    }

    /// <summary>Reads an interface statistics block's <c>isb_osdrop</c>: frames the capture lost; null when the block has none.</summary>
    public static long? ReadLost(ReadOnlySpan<byte> statisticsBlock)
    {
        // Type, length, interface id, timestamp: 20 bytes before the options; the trailing length after them.
        var options = statisticsBlock[20..^4];
        while (options.Length >= 4)
        {
            var code = BinaryPrimitives.ReadUInt16LittleEndian(options);
            var length = BinaryPrimitives.ReadUInt16LittleEndian(options[2..]);
            if (code == OptionEnd || options.Length < 4 + length)
            {
                break;
            }
            if (code == StatisticsOsDropOption && length == 8)
            {
                return (long)BinaryPrimitives.ReadUInt64LittleEndian(options[4..]);
            }
            options = options[(4 + ((length + 3) & ~3))..];
        }
        return null;
    }

    /// <summary>A block being written: its length is filled in at <see cref="End"/>.</summary>
    /// <remarks><b>Invariants.</b> Everything written goes to <c>_body</c>; <see cref="End"/> is called once.</remarks>
    private readonly ref struct Block
    {
        private readonly IBufferWriter<byte> _output;
        private readonly uint _type;
        private readonly ArrayBufferWriter<byte> _body;

        public Block(IBufferWriter<byte> output, uint type)
        {
            _output = output;
            _type = type;
            _body = new ArrayBufferWriter<byte>(256);
        }

        public void UInt16(ushort value)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(_body.GetSpan(2), value);
            _body.Advance(2);
        }

        public void UInt32(uint value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_body.GetSpan(4), value);
            _body.Advance(4);
        }

        public void Int64(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_body.GetSpan(8), value);
            _body.Advance(8);
        }

        /// <summary>A 64-bit timestamp in the interface's units (nanoseconds), high half first.</summary>
        public void Timestamp(long unixNanoseconds)
        {
            UInt32((uint)((ulong)unixNanoseconds >> 32));
            UInt32((uint)unixNanoseconds);
        }

        public void Padded(ReadOnlySpan<byte> bytes)
        {
            _body.Write(bytes);
            var padding = (4 - bytes.Length % 4) % 4;
            _body.GetSpan(padding)[..padding].Clear();
            _body.Advance(padding);
        }

        public void Option(ushort code, ReadOnlySpan<byte> value)
        {
            UInt16(code);
            UInt16((ushort)value.Length);
            Padded(value);
        }

        public void End()
        {
            UInt16(OptionEnd);
            UInt16(0);
            var total = (uint)(BlockHeaderLength + _body.WrittenCount + 4);
            var span = _output.GetSpan((int)total);
            BinaryPrimitives.WriteUInt32LittleEndian(span, _type);
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], total);
            _body.WrittenSpan.CopyTo(span[BlockHeaderLength..]);
            BinaryPrimitives.WriteUInt32LittleEndian(span[(BlockHeaderLength + _body.WrittenCount)..], total);
            _output.Advance((int)total);
        }
    }
}
