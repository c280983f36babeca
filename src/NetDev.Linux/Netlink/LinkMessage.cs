using System.Buffers.Binary;
using System.Text;

namespace NetDev.Linux.Netlink;

/// <summary>What an RTM_NEWLINK message (an answer or a notification) says about one interface.</summary>
/// <remarks>
/// <see cref="Flags"/> are <c>ifi_flags</c>, which carry <c>IFF_PROMISC</c> and <c>IFF_ALLMULTI</c> only as
/// the user set them; a bridge or a packet socket that asks for promiscuity only raises the counts
/// (<see cref="Promiscuity"/>, <see cref="AllMultiCount"/>). The receive mode a kernel driver sees in
/// <c>dev->flags</c> is either.
/// </remarks>
internal sealed record LinkMessage(
    int IfIndex,
    string? Name,
    uint Flags,
    int? Mtu,
    MacAddress? MacAddress,
    int? TxQueueLength,
    string? Alias,
    int? NumTxQueues,
    bool? Carrier,
    uint? Promiscuity = null,
    uint? AllMultiCount = null)
{
    internal bool IsUp => (Flags & (uint)DeviceFlags.Up) != 0;

    /// <summary><see cref="Flags"/> with <c>IFF_PROMISC</c> and <c>IFF_ALLMULTI</c> as the kernel applies them: set by the user or counted by others (a bridge port is promiscuous).</summary>
    internal DeviceFlags ReceiveModeFlags => (DeviceFlags)Flags
        | (Promiscuity > 0 ? DeviceFlags.Promisc : DeviceFlags.None)
        | (AllMultiCount > 0 ? DeviceFlags.AllMulti : DeviceFlags.None);

    /// <summary>The state the core compares with what it knows; missing attributes read as their defaults.</summary>
    internal Hosting.LinkState ToLinkState() => new(
        IsUp,
        Mtu ?? 0,
        MacAddress ?? NetDev.MacAddress.Zero,
        ReceiveModeFlags,
        Carrier ?? true,
        TxQueueLength ?? 0)
    {
        Name = Name,
    };

    /// <summary>
    /// Parses the payload of an RTM_NEWLINK/RTM_DELLINK message (after the nlmsghdr): <see langword="null"/>
    /// when it is shorter than struct ifinfomsg, which names the interface. Attributes cut short or of the
    /// wrong size are left out; nothing in the payload makes it throw.
    /// </summary>
    internal static LinkMessage? Parse(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < Rtnl.IfInfoMsgLength)
        {
            return null;
        }
        var index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        string? name = null, alias = null;
        int? mtu = null, txqlen = null, numTx = null;
        uint? promiscuity = null, allMulti = null;
        MacAddress? mac = null;
        bool? carrier = null;
        var attributes = payload[Rtnl.IfInfoMsgLength..];
        while (attributes.Length >= Rtnl.AttributeHeaderLength)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(attributes);
            var type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(attributes[2..]) & 0x3FFF);
            if (length < Rtnl.AttributeHeaderLength || length > attributes.Length)
            {
                break;
            }
            var value = attributes[Rtnl.AttributeHeaderLength..length];
            switch (type)
            {
                case Rtnl.IFLA_IFNAME:
                    name = CString(value);
                    break;
                case Rtnl.IFLA_IFALIAS:
                    alias = CString(value);
                    break;
                case Rtnl.IFLA_MTU when value.Length >= 4:
                    mtu = BinaryPrimitives.ReadInt32LittleEndian(value);
                    break;
                case Rtnl.IFLA_TXQLEN when value.Length >= 4:
                    txqlen = BinaryPrimitives.ReadInt32LittleEndian(value);
                    break;
                case Rtnl.IFLA_NUM_TX_QUEUES when value.Length >= 4:
                    numTx = BinaryPrimitives.ReadInt32LittleEndian(value);
                    break;
                case Rtnl.IFLA_ADDRESS when value.Length == NetDev.MacAddress.Length:
                    mac = NetDev.MacAddress.FromBytes(value);
                    break;
                case Rtnl.IFLA_PROMISCUITY when value.Length >= 4:
                    promiscuity = BinaryPrimitives.ReadUInt32LittleEndian(value);
                    break;
                case Rtnl.IFLA_ALLMULTI when value.Length >= 4:
                    allMulti = BinaryPrimitives.ReadUInt32LittleEndian(value);
                    break;
                case Rtnl.IFLA_CARRIER when value.Length >= 1:
                    carrier = value[0] != 0;
                    break;
            }
            var step = Rtnl.Align(length);
            if (step >= attributes.Length)
            {
                break;
            }
            attributes = attributes[step..];
        }
        return new LinkMessage(index, name, flags, mtu, mac, txqlen, alias, numTx, carrier, promiscuity, allMulti);
    }

    private static string CString(ReadOnlySpan<byte> value)
    {
        var end = value.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? value : value[..end]);
    }
}
