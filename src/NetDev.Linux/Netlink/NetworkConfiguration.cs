using System.Net;
using System.Net.Sockets;
using NetDev.Linux.Netlink;

namespace NetDev.Linux;

/// <summary>
/// What a program around NetDev devices needs to configure interfaces, over rtnetlink (no <c>ip</c>
/// command): add an address, bring an interface (such as <c>lo</c>) up. Each call works in a named
/// network namespace, or in the caller's when it is <see langword="null"/>.
/// </summary>
public static class NetworkConfiguration
{
    /// <summary>Adds <paramref name="address"/>/<paramref name="prefixLength"/> to interface <paramref name="device"/> (<c>ip addr add</c>).</summary>
    /// <exception cref="NetDevException">No such interface, the address exists, or the system refused.</exception>
    public static void AddAddress(string? networkNamespace, string device, IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        var family = address.AddressFamily switch
        {
            AddressFamily.InterNetwork => (byte)2,
            AddressFamily.InterNetworkV6 => (byte)10,
            _ => throw new ArgumentException($"{address} is neither IPv4 nor IPv6.", nameof(address)),
        };
        var maxPrefix = family == 2 ? 32 : 128;
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, maxPrefix);
        NetworkNamespace.Run(networkNamespace, () =>
        {
            using var socket = RtNetlinkSocket.Open(0, device);
            var ifIndex = socket.GetLink(0, device).IfIndex;
            var bytes = address.GetAddressBytes();
            var request = NetlinkMessageWriter.ForAddress(Rtnl.RTM_NEWADDR,
                    Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK | Rtnl.NLM_F_CREATE | Rtnl.NLM_F_EXCL, family, (byte)prefixLength, ifIndex)
                .Attribute(Rtnl.IFA_LOCAL, bytes)
                .Attribute(Rtnl.IFA_ADDRESS, bytes);
            socket.Request(request, device);
        });
    }

    /// <summary>Sets interface <paramref name="device"/> administratively up (<c>ip link set dev X up</c>).</summary>
    /// <exception cref="NetDevException">No such interface, or the system refused.</exception>
    public static void SetUp(string? networkNamespace, string device)
    {
        NetworkNamespace.Run(networkNamespace, () =>
        {
            using var socket = RtNetlinkSocket.Open(0, device);
            var ifIndex = socket.GetLink(0, device).IfIndex;
            socket.Request(new NetlinkMessageWriter(Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, ifIndex,
                (uint)DeviceFlags.Up, (uint)DeviceFlags.Up), device);
        });
    }
}
