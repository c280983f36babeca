using Microsoft.Extensions.Logging;
using NetDev.Hosting;
using NetDev.Linux.Netlink;

namespace NetDev.Linux.Tap;

/// <summary>
/// Attaching to a persistent TAP (<see cref="LinuxHostOptions.Attach"/>): the interface exists and is
/// someone else's to configure, so what needs CAP_NET_ADMIN is asked for only where it differs, and a
/// refusal is said once and is not an error.
/// </summary>
internal sealed partial class TapLink
{
    private bool _attached;
    private ILogger? _logger;
    private int _privilegeNoted;

    /// <summary>Opens the queues of the existing TAP <paramref name="name"/>, checking first that it exists and was made for as many queues.</summary>
    private static (SafeFileDescriptor[] Queues, LinkMessage Link) AttachHere(RtNetlinkSocket requests, string name, int queueCount, bool virtioNetHeader)
    {
        if (name.Contains('%'))
        {
            throw new NetDevException(Errno.EINVAL, "attach", name, "attaching names one existing interface, and a template with %d names none");
        }
        LinkMessage link;
        try
        {
            link = requests.GetLink(0, name);
        }
        catch (NetDevException error) when (error.Errno == Errno.ENODEV)
        {
            throw new NetDevException(Errno.ENODEV, "attach", name,
                $"there is no interface to attach to; as root, make it with netdev create {name} --user USER (or ip tuntap add dev {name} mode tap user USER)");
        }
        if (PersistentTap.QueuesOf(link.Alias) is { } made && made != queueCount)
        {
            throw new NetDevException(Errno.EINVAL, "attach", name,
                $"the TAP was made for {made} {(made == 1 ? "queue" : "queues")}, not {queueCount}; attach with --queues {made}");
        }
        return (TapQueues.Attach(name, queueCount, virtioNetHeader), link);
    }

    /// <summary>
    /// Asks for what <paramref name="request"/> wants that <paramref name="link"/> does not have yet (MTU,
    /// address, flags, queue length); returns the sentence to say when that needs a privilege the caller
    /// lacks, or null when nothing differed or the kernel agreed.
    /// </summary>
    private static string? ConfigureAttached(RtNetlinkSocket requests, LinkMessage link, LinkRequest request)
    {
        var changeable = (uint)DeviceFlagSets.Changeable;
        var flags = (uint)request.Flags & changeable;
        var flagMask = (flags ^ link.Flags) & changeable;
        var configure = new NetlinkMessageWriter(Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, link.IfIndex, flags & flagMask, flagMask);
        var differences = new List<string>();
        if (link.Mtu != request.Mtu)
        {
            configure.UInt32(Rtnl.IFLA_MTU, (uint)request.Mtu);
            differences.Add($"MTU {link.Mtu}");
        }
        if (link.MacAddress != request.MacAddress)
        {
            configure.Mac(Rtnl.IFLA_ADDRESS, request.MacAddress);
            differences.Add($"address {link.MacAddress}");
        }
        if (flagMask != 0)
        {
            differences.Add($"flags {(DeviceFlags)(link.Flags & changeable)}");
        }
        if (link.TxQueueLength != request.TxQueueLength)
        {
            configure.UInt32(Rtnl.IFLA_TXQLEN, (uint)request.TxQueueLength);
            differences.Add($"queue length {link.TxQueueLength}");
        }
        if (differences.Count == 0)
        {
            return null;
        }
        try
        {
            requests.Request(configure, link.Name);
            return null;
        }
        catch (NetDevException error) when (error.IsPermissionDenied)
        {
            var down = link.IsUp ? "" : $", and it is down until root runs ip link set dev {link.Name} up";
            return $"{link.Name}: attached without CAP_NET_ADMIN, so its {string.Join(", ", differences)} stay as the system has them and the device takes them{down}; as root, change them with ip link set dev {link.Name} …";
        }
    }

    /// <summary>Says <paramref name="sentence"/> if nothing was said yet about what this process may not change; later refusals go to the debug log.</summary>
    private void NotePrivilege(string sentence)
    {
        if (Interlocked.Exchange(ref _privilegeNoted, 1) == 0)
        {
            _logger?.LogWarning("{Sentence}", sentence);
        }
        else
        {
            _logger?.LogDebug("{Sentence}", sentence);
        }
    }
}
