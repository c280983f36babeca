using System.Buffers.Binary;
using NetDev.Linux.Netlink;

namespace NetDev.Linux.Tests;

/// <summary>
/// The rtnetlink parser on messages the kernel does not send but a parser must survive, each one an input
/// the rtnetlink fuzz target (tests/NetDev.Fuzz) found to throw: no kernel is needed.
/// </summary>
public sealed class NetlinkParserTests
{
    [Fact]
    public void ANotificationTooShortToNameAnInterfaceIsSkipped()
    {
        // A bare RTM_NEWLINK header with no ifinfomsg, then a whole one for interface 7.
        var received = Message(Rtnl.RTM_NEWLINK, []).Concat(Message(Rtnl.RTM_NEWLINK, IfInfo(7))).ToArray();
        var messages = new List<(ushort Type, LinkMessage Link)>();

        RtNetlinkSocket.ParseNotifications(received, messages);

        var (type, link) = Assert.Single(messages);
        Assert.Equal(Rtnl.RTM_NEWLINK, type);
        Assert.Equal(7, link.IfIndex);
    }

    [Fact]
    public void AnErrorMessageTooShortForItsCodeIsANetDevException()
    {
        var error = Assert.Throws<NetDevException>(() => RtNetlinkSocket.ThrowIfError([0xEA, 0xFF], "RTM_NEWLINK", "nd0"));

        Assert.Equal("RTM_NEWLINK", error.Operation);
        Assert.Equal("nd0", error.Device);
    }

    [Theory]
    [InlineData(30, 1u, DeviceFlags.Promisc)]    // IFLA_PROMISCUITY: a bridge took the interface as a port
    [InlineData(61, 2u, DeviceFlags.AllMulti)]   // IFLA_ALLMULTI
    [InlineData(30, 0u, DeviceFlags.None)]
    public void APromiscuityOrAllmultiCountSetsTheReceiveModeAsTheKernelAppliesIt(ushort attribute, uint count, DeviceFlags expected)
    {
        // ifi_flags say Up only: the count alone makes the interface promiscuous (or all-multicast) in the kernel's dev->flags.
        var ifinfo = IfInfo(7);
        BinaryPrimitives.WriteUInt32LittleEndian(ifinfo.AsSpan(8), (uint)DeviceFlags.Up);
        var value = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(value, count);

        var link = LinkMessage.Parse([.. ifinfo, .. Attribute(attribute, value)]);

        Assert.NotNull(link);
        Assert.Equal(DeviceFlags.Up | expected, link.ToLinkState().Flags);
    }

    private static byte[] Attribute(ushort type, byte[] value)
    {
        var attribute = new byte[Rtnl.AttributeHeaderLength + value.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(attribute, (ushort)attribute.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(attribute.AsSpan(2), type);
        value.CopyTo(attribute, Rtnl.AttributeHeaderLength);
        return attribute;
    }

    private static byte[] Message(ushort type, byte[] payload)
    {
        var message = new byte[Rtnl.NlMsgHeaderLength + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)message.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), type);
        payload.CopyTo(message, Rtnl.NlMsgHeaderLength);
        return message;
    }

    private static byte[] IfInfo(int ifIndex)
    {
        var ifinfo = new byte[Rtnl.IfInfoMsgLength];
        BinaryPrimitives.WriteInt32LittleEndian(ifinfo.AsSpan(4), ifIndex);
        return ifinfo;
    }
}
