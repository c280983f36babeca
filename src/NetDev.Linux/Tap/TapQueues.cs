using System.Text;

namespace NetDev.Linux.Tap;

/// <summary>Creates a TAP interface through <c>/dev/net/tun</c>: one descriptor per queue.</summary>
internal static class TapQueues
{
    private const string CloneDevice = "/dev/net/tun";

    /// <summary>
    /// Creates the interface in the calling thread's namespace and returns its resolved name and one
    /// non-blocking descriptor per queue (IFF_MULTI_QUEUE when there is more than one). The interface is
    /// not persistent: it disappears when the last descriptor is closed, also when the process dies.
    /// </summary>
    /// <remarks>The first queue is opened with IFF_TUN_EXCL, so an interface of that name that exists already
    /// (a persistent TAP, or any other device) is refused in the same step that would create it, rather than
    /// attached to and left behind; the other queues then attach to the interface just made. The name
    /// travels as UTF-8, the bytes the kernel counts.</remarks>
    /// <exception cref="NetDevException">EEXIST when the name is taken; otherwise the system's refusal.</exception>
    internal static (string Name, SafeFileDescriptor[] Queues) Create(string nameTemplate, int queueCount, bool virtioNetHeader)
    {
        var flags = (short)(Interop.IFF_TAP | Interop.IFF_NO_PI
            | (queueCount > 1 ? Interop.IFF_MULTI_QUEUE : 0)
            | (virtioNetHeader ? Interop.IFF_VNET_HDR : 0));
        var queues = new List<SafeFileDescriptor>(queueCount);
        var name = nameTemplate;
        try
        {
            for (var i = 0; i < queueCount; i++)
            {
                var exclusive = i == 0 ? Interop.IFF_TUN_EXCL : (short)0;
                var (queue, resolved) = OpenQueue(name, (short)(flags | exclusive));
                queues.Add(queue);
                name = resolved;
            }
            return (name, queues.ToArray());
        }
        catch
        {
            foreach (var queue in queues)
            {
                queue.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// Attaches <paramref name="queueCount"/> non-blocking descriptors to the persistent TAP
    /// <paramref name="name"/>, which must exist (see <see cref="PersistentTap"/>): no IFF_TUN_EXCL, and
    /// IFF_MULTI_QUEUE exactly when more than one queue is asked for, as the kernel requires it to match how
    /// the TAP was made. Needs no privilege when the TAP's owner (or group) is the caller's.
    /// </summary>
    /// <exception cref="NetDevException">The kernel refused, with a sentence saying what to do: the TAP was made
    /// for another number of queues (EINVAL), belongs to someone else (EPERM), or is in use (EBUSY).</exception>
    internal static SafeFileDescriptor[] Attach(string name, int queueCount, bool virtioNetHeader)
    {
        var flags = (short)(Interop.IFF_TAP | Interop.IFF_NO_PI
            | (queueCount > 1 ? Interop.IFF_MULTI_QUEUE : 0)
            | (virtioNetHeader ? Interop.IFF_VNET_HDR : 0));
        var queues = new List<SafeFileDescriptor>(queueCount);
        try
        {
            for (var i = 0; i < queueCount; i++)
            {
                try
                {
                    queues.Add(OpenQueue(name, flags).Queue);
                }
                catch (NetDevException error)
                {
                    throw AttachFailure(error, name, queueCount);
                }
            }
            return queues.ToArray();
        }
        catch
        {
            foreach (var queue in queues)
            {
                queue.Dispose();
            }
            throw;
        }
    }

    /// <summary>What a refused attach means, in words a person can act on.</summary>
    private static NetDevException AttachFailure(NetDevException error, string name, int queueCount) => error.Errno switch
    {
        Errno.EINVAL => new NetDevException(Errno.EINVAL, "TUNSETIFF", name,
            queueCount > 1
                ? $"it is not a multi-queue TAP, and {queueCount} queues need one (netdev create {name} --queues {queueCount})"
                : $"it is not a single-queue TAP (a multi-queue TAP takes as many queues as it was made for: attach with --queues N)"),
        Errno.EPERM or Errno.EACCES when error.Operation.StartsWith("open", StringComparison.Ordinal) => new NetDevException(error.Errno, error.Operation, name,
            $"{CloneDevice} is not open to this user (most systems make it mode 0666; here it is not)"),
        Errno.EPERM or Errno.EACCES => new NetDevException(error.Errno, "TUNSETIFF", name,
            "the TAP belongs to another user or group (make it with netdev create NAME --user USER, or ip tuntap add dev NAME mode tap user USER)"),
        Errno.EBUSY => new NetDevException(Errno.EBUSY, "TUNSETIFF", name, "another process is attached to it already"),
        _ => error,
    };

    /// <summary>
    /// Turns on the offloads of <paramref name="wanted"/> that the kernel accepts (TUNSETOFFLOAD), trying
    /// without UDP segmentation, then without segmentation at all, when a kernel refuses; returns those in force.
    /// </summary>
    internal static unsafe DeviceFeatures NegotiateOffloads(SafeFileDescriptor queue, DeviceFeatures wanted, string device)
    {
        if ((wanted & DeviceFeatures.Checksum) == 0)
        {
            // Every segmentation offload needs checksum offload; without it there is nothing to turn on.
            return DeviceFeatures.None;
        }
        DeviceFeatures[] attempts =
        [
            wanted,
            wanted & ~(DeviceFeatures.Uso4 | DeviceFeatures.Uso6),
            DeviceFeatures.Checksum,
        ];
        NetDevException? last = null;
        foreach (var attempt in attempts.Distinct())
        {
            uint flags = Interop.TUN_F_CSUM;
            if ((attempt & DeviceFeatures.Tso4) != 0) flags |= Interop.TUN_F_TSO4;
            if ((attempt & DeviceFeatures.Tso6) != 0) flags |= Interop.TUN_F_TSO6;
            if ((attempt & DeviceFeatures.TsoEcn) != 0 && (attempt & (DeviceFeatures.Tso4 | DeviceFeatures.Tso6)) != 0) flags |= Interop.TUN_F_TSO_ECN;
            if ((attempt & DeviceFeatures.Uso4) != 0) flags |= Interop.TUN_F_USO4;
            if ((attempt & DeviceFeatures.Uso6) != 0) flags |= Interop.TUN_F_USO6;
            // SAFETY: TUNSETOFFLOAD takes the flags by value in the argument; no memory is read.
            if (Interop.Ioctl(queue, Interop.TUNSETOFFLOAD, (void*)flags) == 0)
            {
                return attempt;
            }
            last = Interop.Errors.LastException("TUNSETOFFLOAD", device);
        }
        throw last!;
    }

    private static unsafe (SafeFileDescriptor Queue, string Name) OpenQueue(string name, short flags)
    {
        var queue = Interop.Open(CloneDevice, Interop.O_RDWR | Interop.O_NONBLOCK | Interop.O_CLOEXEC);
        if (queue.IsInvalid)
        {
            throw Interop.Errors.LastException($"open {CloneDevice}", name);
        }
        try
        {
            var request = default(Interop.IfReq);
            var nameBytes = Encoding.UTF8.GetBytes(name);
            if (nameBytes.Length >= Interop.IFNAMSIZ)
            {
                throw new NetDevException(Errno.EINVAL, "TUNSETIFF", name, $"the name is longer than {Interop.IFNAMSIZ - 1} bytes in UTF-8");
            }
            // SAFETY: request is a local ifreq; Name is a fixed 16-byte buffer and nameBytes is shorter than it,
            // so the copy stays inside it and leaves a terminating zero.
            nameBytes.CopyTo(new Span<byte>(request.Name, Interop.IFNAMSIZ));
            request.Flags = flags;
            // SAFETY: TUNSETIFF reads and writes one struct ifreq (40 bytes), which request is.
            if (Interop.Ioctl(queue, Interop.TUNSETIFF, &request) < 0)
            {
                if (Interop.Errors.LastErrno == Errno.EBUSY && (flags & Interop.IFF_TUN_EXCL) != 0)
                {
                    // IFF_TUN_EXCL's answer for a name in use: say what it means, not "busy".
                    throw new NetDevException(Errno.EEXIST, "TUNSETIFF", name, "an interface with this name already exists");
                }
                throw Interop.Errors.LastException("TUNSETIFF", name);
            }
            // SAFETY: the kernel wrote a NUL-terminated name of at most IFNAMSIZ bytes into request.Name.
            var resolved = new Span<byte>(request.Name, Interop.IFNAMSIZ);
            var end = resolved.IndexOf((byte)0);
            return (queue, Encoding.UTF8.GetString(end < 0 ? resolved : resolved[..end]));
        }
        catch
        {
            queue.Dispose();
            throw;
        }
    }
}
