using NetDev.Hosting;
using NetDev.Linux.Loop;
using NetDev.Linux.Netlink;

namespace NetDev.Linux.Tap;

/// <summary>
/// A NetDev device as a TAP interface: one descriptor and one dedicated loop per queue, an rtnetlink
/// socket for configuration and a monitor for changes made by others.
/// </summary>
/// <remarks><b>Invariants.</b> The TAP descriptors stay open until <see cref="Dispose"/> has ended every
/// loop; closing the last one removes the interface (the kernel does it, also if the process dies).
/// <c>_loops</c> is set once by <see cref="Start"/> and not changed afterwards.</remarks>
internal sealed class TapLink : IHostLink
{
    // Flags a TAP user may change through RTM_NEWLINK (dev_change_flags).
    private const DeviceFlags ChangeableFlags = DeviceFlags.NoArp | DeviceFlags.Multicast | DeviceFlags.Promisc | DeviceFlags.AllMulti;

    private readonly SafeFileDescriptor[] _queues;
    private readonly RtNetlinkSocket _requests;
    private readonly LinkMonitor _monitor;
    private QueueLoop[] _loops = [];
    private int _disposed;

    private TapLink(string name, int ifIndex, SafeFileDescriptor[] queues, RtNetlinkSocket requests, LinkMonitor monitor)
    {
        Name = name;
        IfIndex = ifIndex;
        _queues = queues;
        _requests = requests;
        _monitor = monitor;
    }

    public string Name { get; }

    public int IfIndex { get; }

    /// <summary>Creates and configures the TAP interface in <paramref name="networkNamespace"/> (or the caller's).</summary>
    internal static TapLink Create(string? networkNamespace, LinkRequest request) =>
        NetworkNamespace.Run(networkNamespace, () => CreateHere(request));

    private static TapLink CreateHere(LinkRequest request)
    {
        var template = request.NameTemplate;
        var requests = RtNetlinkSocket.Open(0, template);
        RtNetlinkSocket? notifications = null;
        SafeFileDescriptor[] queues = [];
        try
        {
            // Subscribed before the interface exists, so no change to it can be missed.
            notifications = RtNetlinkSocket.Open(Rtnl.RTMGRP_LINK, template);
            if (!template.Contains('%'))
            {
                RefuseExisting(requests, template);
            }
            (var name, queues) = TapQueues.Create(template, request.QueueCount);
            var ifIndex = requests.GetLink(0, name).IfIndex;
            var configure = new NetlinkMessageWriter(Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, ifIndex,
                    (uint)(request.Flags & ChangeableFlags), (uint)ChangeableFlags)
                .Mac(Rtnl.IFLA_ADDRESS, request.MacAddress)
                .UInt32(Rtnl.IFLA_MTU, (uint)request.Mtu)
                .UInt32(Rtnl.IFLA_TXQLEN, (uint)request.TxQueueLength)
                .String(Rtnl.IFLA_IFALIAS, $"netdev: {request.DriverName} driver, pid {Environment.ProcessId}");
            requests.Request(configure, name);
            var monitor = new LinkMonitor(notifications, requests, ifIndex, name);
            return new TapLink(name, ifIndex, queues, requests, monitor);
        }
        catch
        {
            foreach (var queue in queues)
            {
                queue.Dispose();
            }
            notifications?.Dispose();
            requests.Dispose();
            throw;
        }
    }

    private static void RefuseExisting(RtNetlinkSocket requests, string name)
    {
        try
        {
            requests.GetLink(0, name);
        }
        catch (NetDevException error) when (error.Errno == ErrnoNames.ENODEV)
        {
            return;
        }
        // TUNSETIFF would attach to an existing persistent TAP of that name; a new device must not.
        throw new NetDevException(ErrnoNames.EEXIST, "TUNSETIFF", name, "an interface with this name already exists");
    }

    public void Start(IReadOnlyList<DeviceQueue> queues, ILinkEvents events)
    {
        if (queues.Count != _queues.Length)
        {
            throw new ArgumentException($"{Name} has {_queues.Length} TAP queues but {queues.Count} device queues were given.", nameof(queues));
        }
        var loops = new QueueLoop[queues.Count];
        for (var i = 0; i < loops.Length; i++)
        {
            loops[i] = new QueueLoop(queues[i], _queues[i], new WakeSignal(Name), events, Name);
        }
        _loops = loops;
        foreach (var loop in loops)
        {
            loop.Start();
        }
        _monitor.Start(events, initiallyUp: false);
    }

    public void SetAdminUp(bool up)
    {
        var request = new NetlinkMessageWriter(Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, IfIndex,
            up ? (uint)DeviceFlags.Up : 0, (uint)DeviceFlags.Up);
        _requests.Request(request, Name);
    }

    public void RunOnQueue(int queue, Action action)
    {
        if (_loops.Length == 0)
        {
            action();
            return;
        }
        _loops[queue].Run(action);
    }

    public void NotifyQueue(int queue)
    {
        if (_loops.Length > 0)
        {
            _loops[queue].Notify();
        }
    }

    public unsafe DropReason? DeliverToSystem(int queue, SkBuff skb)
    {
        var tap = _queues[queue];
        var referenced = false;
        try
        {
            tap.DangerousAddRef(ref referenced);
            var frame = skb.Data;
            nint written;
            // SAFETY: frame lies in the pinned buffer of a live SkBuff the caller owns; write reads frame.Length bytes.
            // The reference taken above keeps the descriptor open during the call.
            fixed (byte* bytes = frame)
            {
                written = Interop.Write(tap.Fd, bytes, (nuint)frame.Length);
            }
            if (written >= 0)
            {
                return null;
            }
            return Interop.Errors.LastErrno switch
            {
                Interop.Errno.EAGAIN => DropReason.QueueFull,
                Interop.Errno.EIO or Interop.Errno.EBADFD => DropReason.DeviceDown,
                Interop.Errno.EINVAL => DropReason.InvalidHeader,
                _ => DropReason.TransmitError,
            };
        }
        catch (ObjectDisposedException)
        {
            return DropReason.DeviceDown;
        }
        finally
        {
            if (referenced)
            {
                tap.DangerousRelease();
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _monitor.Dispose();
        foreach (var loop in _loops)
        {
            loop.Dispose();
        }
        foreach (var queue in _queues)
        {
            queue.Dispose();
        }
        _requests.Dispose();
    }
}
