using System.Buffers.Binary;
using System.Text;

namespace NetDev.Linux.Netlink;

/// <summary>Builds one rtnetlink request: nlmsghdr, a family header (ifinfomsg or ifaddrmsg), then attributes.</summary>
/// <remarks><b>Invariants.</b> <c>_length</c> is the message's length so far, always 4-byte aligned
/// after each attribute; the header's length field is written by <see cref="Finish"/>.</remarks>
internal sealed class NetlinkMessageWriter
{
    private readonly byte[] _buffer = new byte[1024];
    private int _length;

    internal NetlinkMessageWriter(ushort type, ushort flags, int ifIndex, uint ifFlags = 0, uint ifChange = 0)
    {
        Type = type;
        var span = _buffer.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], flags);
        // ifinfomsg: family AF_UNSPEC, type 0, index, flags, change.
        var info = span[Rtnl.NlMsgHeaderLength..];
        BinaryPrimitives.WriteInt32LittleEndian(info[4..], ifIndex);
        BinaryPrimitives.WriteUInt32LittleEndian(info[8..], ifFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(info[12..], ifChange);
        _length = Rtnl.NlMsgHeaderLength + Rtnl.IfInfoMsgLength;
    }

    private NetlinkMessageWriter(ushort type, ushort flags, ReadOnlySpan<byte> familyHeader)
    {
        Type = type;
        var span = _buffer.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], flags);
        familyHeader.CopyTo(span[Rtnl.NlMsgHeaderLength..]);
        _length = Rtnl.NlMsgHeaderLength + Rtnl.Align(familyHeader.Length);
    }

    /// <summary>An address request (RTM_NEWADDR/RTM_DELADDR) with its <c>struct ifaddrmsg</c>.</summary>
    internal static NetlinkMessageWriter ForAddress(ushort type, ushort flags, byte family, byte prefixLength, int ifIndex)
    {
        Span<byte> header = stackalloc byte[Rtnl.IfAddrMsgLength];
        header.Clear();
        header[0] = family;
        header[1] = prefixLength;
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], ifIndex);
        return new NetlinkMessageWriter(type, flags, header);
    }

    internal ushort Type { get; }

    internal NetlinkMessageWriter Attribute(ushort type, ReadOnlySpan<byte> value)
    {
        var length = Rtnl.AttributeHeaderLength + value.Length;
        if (_length + Rtnl.Align(length) > _buffer.Length)
        {
            throw new InvalidOperationException("The netlink request does not fit its buffer.");
        }
        var span = _buffer.AsSpan(_length);
        BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], type);
        value.CopyTo(span[Rtnl.AttributeHeaderLength..]);
        span[length..Rtnl.Align(length)].Clear();
        _length += Rtnl.Align(length);
        return this;
    }

    internal NetlinkMessageWriter UInt32(ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return Attribute(type, bytes);
    }

    internal NetlinkMessageWriter String(ushort type, string value)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return Attribute(type, bytes);
    }

    internal NetlinkMessageWriter Mac(ushort type, MacAddress mac)
    {
        Span<byte> bytes = stackalloc byte[MacAddress.Length];
        mac.CopyTo(bytes);
        return Attribute(type, bytes);
    }

    /// <summary>Writes the length and sequence number and returns the finished message.</summary>
    internal ReadOnlySpan<byte> Finish(uint sequence)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_length);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(8), sequence);
        return _buffer.AsSpan(0, _length);
    }
}
