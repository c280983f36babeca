namespace NetDev.Linux.Netlink;

/// <summary>rtnetlink constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h).</summary>
internal static class Rtnl
{
    internal const int NlMsgHeaderLength = 16;
    internal const int IfInfoMsgLength = 16;
    internal const int IfAddrMsgLength = 8;
    internal const int AttributeHeaderLength = 4;

    internal const ushort NLMSG_ERROR = 2;
    internal const ushort NLMSG_DONE = 3;
    internal const ushort RTM_NEWLINK = 16;
    internal const ushort RTM_DELLINK = 17;
    internal const ushort RTM_GETLINK = 18;
    internal const ushort RTM_NEWADDR = 20;

    internal const ushort NLM_F_REQUEST = 0x1;
    internal const ushort NLM_F_MULTI = 0x2;
    internal const ushort NLM_F_ACK = 0x4;
    internal const ushort NLM_F_DUMP = 0x300;
    internal const ushort NLM_F_EXCL = 0x200;
    internal const ushort NLM_F_CREATE = 0x400;

    internal const ushort IFA_ADDRESS = 1;
    internal const ushort IFA_LOCAL = 2;

    internal const uint RTMGRP_LINK = 0x1;

    internal const ushort IFLA_ADDRESS = 1;
    internal const ushort IFLA_IFNAME = 3;
    internal const ushort IFLA_MTU = 4;
    internal const ushort IFLA_TXQLEN = 13;
    internal const ushort IFLA_OPERSTATE = 16;
    internal const ushort IFLA_IFALIAS = 20;
    internal const ushort IFLA_NET_NS_FD = 28;
    internal const ushort IFLA_PROMISCUITY = 30;
    internal const ushort IFLA_NUM_TX_QUEUES = 31;
    internal const ushort IFLA_NUM_RX_QUEUES = 32;
    internal const ushort IFLA_CARRIER = 33;
    internal const ushort IFLA_ALLMULTI = 61;

    internal static int Align(int length) => (length + 3) & ~3;

    internal static string MessageName(ushort type) => type switch
    {
        RTM_NEWLINK => "RTM_NEWLINK",
        RTM_DELLINK => "RTM_DELLINK",
        RTM_GETLINK => "RTM_GETLINK",
        RTM_NEWADDR => "RTM_NEWADDR",
        _ => $"netlink message {type}",
    };
}
