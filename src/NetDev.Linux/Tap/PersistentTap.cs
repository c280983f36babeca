using System.Globalization;
using System.Runtime.InteropServices;
using NetDev.Linux.Netlink;
using NetDev.Linux.Tap;

namespace NetDev.Linux;

/// <summary>What <see cref="PersistentTap.Create"/> makes.</summary>
public sealed record PersistentTapOptions
{
    /// <summary>The user (uid) who may attach to the TAP without any privilege; <see langword="null"/> for root alone.</summary>
    public int? OwnerUid { get; init; }

    /// <summary>The group (gid) whose members may attach to the TAP; <see langword="null"/> for none.</summary>
    public int? OwnerGid { get; init; }

    /// <summary>How many queues a driver attaches with, 1 to 256: more than one makes a multi-queue TAP (IFF_MULTI_QUEUE).</summary>
    public int Queues
    {
        get;
        init => field = value is >= 1 and <= 256 ? value : throw new ArgumentOutOfRangeException(nameof(Queues), value, "a TAP has 1 to 256 queues");
    } = 1;

    /// <summary>Whether the TAP is made with IFF_VNET_HDR, for drivers that take offloads (a driver still turns them on when it attaches).</summary>
    public bool Offloads { get; init; }

    /// <summary>The named network namespace to make the TAP in; <see langword="null"/> for the caller's.</summary>
    public string? NetworkNamespace { get; init; }
}

/// <summary>
/// Persistent TAP interfaces, the way to run a driver without privilege: root makes the TAP once, owned
/// by a user (<see cref="Create"/>, like <c>ip tuntap add dev NAME mode tap user USER</c>), and that user's
/// processes attach drivers to it with <see cref="LinuxHostOptions.Attach"/>, needing no capability. The
/// TAP stays when they exit; <see cref="Delete"/> removes it.
/// </summary>
/// <remarks>The queue count is recorded in the TAP's alias (<c>netdev: persistent TAP, N queues</c>), because
/// the kernel keeps no count for a multi-queue TAP: attaching compares it with what it asks for.</remarks>
public static class PersistentTap
{
    private const string AliasPrefix = "netdev: persistent TAP, ";

    /// <summary>Makes the persistent TAP <paramref name="name"/>; needs CAP_NET_ADMIN.</summary>
    /// <exception cref="NetDevException">The kernel refused: the name exists already (EEXIST), no privilege (EPERM), …</exception>
    public static void Create(string name, PersistentTapOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(options);
        if (name.Contains('%'))
        {
            throw new ArgumentException($"'{name}': a persistent TAP needs a name of its own, not a template.", nameof(name));
        }
        NetworkNamespace.Run(options.NetworkNamespace, () => CreateHere(name, options));
    }

    /// <summary>Removes the persistent TAP <paramref name="name"/> made by <see cref="Create"/>; a process attached to it loses it. Needs CAP_NET_ADMIN.</summary>
    /// <exception cref="NetDevException">No such interface (ENODEV), not one <see cref="Create"/> made (EINVAL), no privilege.</exception>
    public static void Delete(string name, string? networkNamespace = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        NetworkNamespace.Run(networkNamespace, () =>
        {
            using var requests = RtNetlinkSocket.Open(0, name);
            var link = requests.GetLink(0, name);
            if (QueuesOf(link.Alias) is null)
            {
                throw new NetDevException(Errno.EINVAL, "RTM_DELLINK", name,
                    "netdev create did not make this interface, so netdev delete leaves it alone (ip link del removes any interface)");
            }
            requests.Request(new NetlinkMessageWriter(Rtnl.RTM_DELLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, link.IfIndex), name);
            return 0;
        });
    }

    /// <summary>The uid and gid of <paramref name="user"/>, a user name or a number.</summary>
    /// <exception cref="NetDevException">There is no such user (ENOENT).</exception>
    public static (int Uid, int Gid) LookUpUser(string user)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        var entry = Interop.GetPwNam(user);
        if (entry != 0)
        {
            return (Marshal.ReadInt32(entry, Interop.PasswdUidOffset), Marshal.ReadInt32(entry, Interop.PasswdGidOffset));
        }
        if (int.TryParse(user, NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
        {
            // A uid with no name (65534 in a container without nobody in its passwd): its own number as group.
            return (uid, uid);
        }
        throw new NetDevException(Errno.ENOENT, "getpwnam", null, $"there is no user called '{user}'");
    }

    /// <summary>The queue count recorded in a TAP's alias by <see cref="Create"/>, or null when the alias is not one of ours.</summary>
    internal static int? QueuesOf(string? alias)
    {
        if (alias is null || !alias.StartsWith(AliasPrefix, StringComparison.Ordinal))
        {
            return null;
        }
        var rest = alias.AsSpan(AliasPrefix.Length);
        var end = rest.IndexOf(' ');
        return end > 0 && int.TryParse(rest[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var queues) ? queues : null;
    }

    private static int CreateHere(string name, PersistentTapOptions options)
    {
        var queues = TapQueues.Create(name, options.Queues, options.Offloads).Queues;
        var persistent = false;
        try
        {
            using var requests = RtNetlinkSocket.Open(0, name);
            if (options.OwnerUid is { } uid)
            {
                Set(queues[0], Interop.TUNSETOWNER, uid, name);
            }
            if (options.OwnerGid is { } gid)
            {
                Set(queues[0], Interop.TUNSETGROUP, gid, name);
            }
            Set(queues[0], Interop.TUNSETPERSIST, 1, name);
            persistent = true;
            var ifIndex = requests.GetLink(0, name).IfIndex;
            var alias = $"{AliasPrefix}{options.Queues} {(options.Queues == 1 ? "queue" : "queues")}{(options.Offloads ? ", offloads" : "")}";
            requests.Request(new NetlinkMessageWriter(Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, ifIndex)
                .String(Rtnl.IFLA_IFALIAS, alias), name);
            return ifIndex;
        }
        catch
        {
            if (persistent)
            {
                // One error path: the TAP goes with the descriptors, as if never made.
                TrySet(queues[0], Interop.TUNSETPERSIST, 0);
            }
            throw;
        }
        finally
        {
            foreach (var queue in queues)
            {
                queue.Dispose();
            }
        }
    }

    private static unsafe void Set(SafeFileDescriptor queue, uint request, int value, string name)
    {
        // SAFETY: TUNSETOWNER, TUNSETGROUP and TUNSETPERSIST take their value in the argument itself; no memory is read.
        if (Interop.Ioctl(queue, request, (void*)(nint)value) < 0)
        {
            throw Interop.Errors.LastException(request switch
            {
                Interop.TUNSETOWNER => "TUNSETOWNER",
                Interop.TUNSETGROUP => "TUNSETGROUP",
                _ => "TUNSETPERSIST",
            }, name);
        }
    }

    private static unsafe void TrySet(SafeFileDescriptor queue, uint request, int value)
    {
        // SAFETY: as in Set: the value is the argument; nothing is read through it.
        _ = Interop.Ioctl(queue, request, (void*)(nint)value);
    }
}
