using System.Runtime.InteropServices;
using NetDev.Hosting;
using NetDev.Linux.Loop;
using NetDev.Linux.Netlink;

namespace NetDev.Linux.Tap;

/// <summary>
/// A NetDev device as a TAP interface: one descriptor and one frame source per queue, an rtnetlink
/// socket for configuration and a monitor for changes made by others.
/// </summary>
/// <remarks><b>Invariants.</b> The TAP descriptors stay open until <see cref="Dispose"/>, which deletes the
/// interface it created (RTM_DELLINK), or turns an attached TAP's carrier off, and then closes them; closing the last one removes the interface too
/// (the kernel does it, also if the process dies). A frame source holds its own
/// reference on its descriptor, so the framework ends the queues' threads first, but a late read finds the
/// descriptor still valid. Requests name the interface by its index, so they reach it after a rename;
/// <see cref="Name"/> follows the kernel's answers. An attached link (<see cref="LinuxHostOptions.Attach"/>) opened
/// queues of a persistent TAP, which closing them leaves in place.</remarks>
internal sealed partial class TapLink : IHostLink
{
    private readonly SafeFileDescriptor[] _queues;
    private readonly object _netlinkLock = new();
    private RtNetlinkSocket _requests;
    private LinkMonitor _monitor;
    private ILinkEvents? _events;
    private int _disposed;
    private int _notificationBuffer = 1 << 20;
    private LinuxHostOptions _options = new();
    private volatile string _name;

    private TapLink(string name, int ifIndex, string? networkNamespace, SafeFileDescriptor[] queues, RtNetlinkSocket requests, LinkMonitor monitor)
    {
        _name = name;
        IfIndex = ifIndex;
        NetworkNamespace = networkNamespace;
        _queues = queues;
        _requests = requests;
        _monitor = monitor;
    }

    /// <summary>The interface's name now: what it was created with, or what the kernel last said it was renamed to.</summary>
    public string Name => _name;

    public int IfIndex { get; private set; }

    public string? NetworkNamespace { get; private set; }

    public DeviceFeatures Features { get; private init; }

    /// <summary>Whether every frame on the TAP queues carries a virtio_net_hdr (IFF_VNET_HDR).</summary>
    internal bool VirtioNetHeader { get; private init; }

    /// <summary>Creates and configures the TAP interface in the options' network namespace (or the caller's).</summary>
    internal static TapLink Create(LinuxHostOptions options, LinkRequest request) =>
        Linux.NetworkNamespace.Run(options.NetworkNamespace, () => CreateHere(options, request));

    private static TapLink CreateHere(LinuxHostOptions options, LinkRequest request)
    {
        var template = request.NameTemplate;
        var networkNamespace = options.NetworkNamespace;
        var notificationBuffer = options.NotificationBufferBytes;
        var requests = RtNetlinkSocket.Open(0, template);
        RtNetlinkSocket? notifications = null;
        SafeFileDescriptor[] queues = [];
        try
        {
            // Subscribed before the interface exists, so no change to it can be missed.
            notifications = RtNetlinkSocket.Open(Rtnl.RTMGRP_LINK, template, notificationBuffer);
            var virtioNetHeader = request.Features != DeviceFeatures.None;
            string name;
            int ifIndex;
            string? privilegeNote = null;
            if (options.Attach)
            {
                (queues, var link) = AttachHere(requests, template, request.QueueCount, virtioNetHeader);
                (name, ifIndex) = (link.Name ?? template, link.IfIndex);
                privilegeNote = ConfigureAttached(requests, link, request);
            }
            else
            {
                (name, queues) = TapQueues.Create(template, request.QueueCount, virtioNetHeader);
                ifIndex = requests.GetLink(0, name).IfIndex;
                var configure = new NetlinkMessageWriter(Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, ifIndex,
                        (uint)(request.Flags & DeviceFlagSets.Changeable), (uint)DeviceFlagSets.Changeable)
                    .Mac(Rtnl.IFLA_ADDRESS, request.MacAddress)
                    .UInt32(Rtnl.IFLA_MTU, (uint)request.Mtu)
                    .UInt32(Rtnl.IFLA_TXQLEN, (uint)request.TxQueueLength)
                    .String(Rtnl.IFLA_IFALIAS, $"netdev: {request.DriverName} driver, pid {Environment.ProcessId}");
                requests.Request(configure, name);
            }
            var features = virtioNetHeader ? TapQueues.NegotiateOffloads(queues[0], request.Features, name) : DeviceFeatures.None;
            var monitor = new LinkMonitor(notifications, requests, ifIndex, name, networkNamespace);
            var tapLink = new TapLink(name, ifIndex, networkNamespace, queues, requests, monitor)
            {
                _notificationBuffer = notificationBuffer,
                _options = options,
                _attached = options.Attach,
                _logger = options.Logger,
                VirtioNetHeader = virtioNetHeader,
                Features = features,
            };
            if (privilegeNote is not null)
            {
                tapLink.NotePrivilege(privilegeNote);
            }
            return tapLink;
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

    public ITransmitSource OpenTransmitSource(int queue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)queue, (uint)_queues.Length, nameof(queue));
        var wake = new WakeSignal(Name);
        try
        {
            return CreateReader(queue) is { } reader
                ? new IoUringTransmitSource(_queues[queue], wake, reader, Name, queue)
                : new PollTransmitSource(_queues[queue], wake, Name, queue, VirtioNetHeader);
        }
        catch
        {
            wake.Dispose();
            throw;
        }
    }

    public void Start(ILinkEvents events)
    {
        _events = events;
        lock (_netlinkLock)
        {
            _monitor.Start(events);
        }
    }

    /// <summary>The io_uring reader of queue <paramref name="queue"/>, or null when the queue polls (by choice or as the fallback).</summary>
    private IoUringReader? CreateReader(int queue)
    {
        var mode = IoModes.Resolve(_options.IoMode);
        if (mode == IoMode.Poll)
        {
            return null;
        }
        try
        {
            return IoUringReader.Create(VirtioNetHeader, Name, queue);
        }
        catch (NetDevException) when (mode == IoMode.Auto)
        {
            // No io_uring here (ENOSYS, EPERM from kernel.io_uring_disabled, a memlock limit): poll instead.
            return null;
        }
    }

    public void SetAdminUp(bool up)
    {
        lock (_netlinkLock)
        {
            // An attached TAP may be up already (root set it up): asking again would need a privilege for nothing.
            if (_attached && _requests.GetLink(IfIndex, Name).IsUp == up)
            {
                return;
            }
            var request = new NetlinkMessageWriter(Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, IfIndex,
                up ? (uint)DeviceFlags.Up : 0, (uint)DeviceFlags.Up);
            try
            {
                _requests.Request(request, Name);
            }
            catch (NetDevException error) when (error.Errno == Errno.ENODEV && !up)
            {
                // Deleted by someone else (the monitor reports that): an interface that is gone is down, as asked.
            }
            catch (NetDevException error) when (_attached && error.IsPermissionDenied)
            {
                // Not this process's to change: the device follows whatever state root gives the interface.
                NotePrivilege($"{Name}: attached without CAP_NET_ADMIN, so it stays {(up ? "down" : "up")} until root runs ip link set dev {Name} {(up ? "up" : "down")}; frames flow while it is up");
            }
        }
    }

    public LinkState? QueryState()
    {
        lock (_netlinkLock)
        {
            var link = _requests.GetLink(IfIndex, Name);
            // Renamed by someone else (ip link set dev OLD name NEW): the index stays, the name follows.
            _name = link.Name ?? _name;
            return link.ToLinkState();
        }
    }

    public void Configure(LinkConfiguration change)
    {
        if (change.Carrier is { } carrier)
        {
            SetCarrier(carrier);
        }
        var mask = change.FlagMask & DeviceFlagSets.Changeable;
        if (change.Mtu is null && change.MacAddress is null && change.TxQueueLength is null && change.Alias is null && mask == DeviceFlags.None)
        {
            return;
        }
        lock (_netlinkLock)
        {
            var request = new NetlinkMessageWriter(Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, IfIndex,
                (uint)(change.Flags & mask), (uint)mask);
            if (change.Mtu is { } mtu)
            {
                request.UInt32(Rtnl.IFLA_MTU, (uint)mtu);
            }
            if (change.MacAddress is { } mac)
            {
                request.Mac(Rtnl.IFLA_ADDRESS, mac);
            }
            if (change.TxQueueLength is { } length)
            {
                request.UInt32(Rtnl.IFLA_TXQLEN, (uint)length);
            }
            if (change.Alias is { } alias)
            {
                request.String(Rtnl.IFLA_IFALIAS, alias);
            }
            _requests.Request(request, Name);
        }
    }

    private unsafe void SetCarrier(bool carrier)
    {
        var value = carrier ? 1 : 0;
        // SAFETY: TUNSETCARRIER reads one int through the pointer, and value is a local int.
        if (Interop.Ioctl(_queues[0], Interop.TUNSETCARRIER, &value) < 0)
        {
            throw Interop.Errors.LastException("TUNSETCARRIER", Name);
        }
    }

    public unsafe DropReason? DeliverToSystem(int queue, SkBuff skb)
    {
        var tap = _queues[queue];
        try
        {
            var frame = skb.Data;
            nint written;
            if (VirtioNetHeader && skb.Headroom >= Tap.VirtioNetHeader.Length)
            {
                // The header goes into the headroom, right in front of the frame: one range, one plain write
                // (cheaper for the kernel than writev).
                // SAFETY: frame lies in the pinned buffer of a live SkBuff the caller owns, with at least Length
                // bytes of free headroom in front of it in the same buffer; write reads the header and the frame.
                fixed (byte* bytes = &MemoryMarshal.GetReference(frame))
                {
                    var header = bytes - Tap.VirtioNetHeader.Length;
                    Tap.VirtioNetHeader.Write(skb.Offload, new Span<byte>(header, Tap.VirtioNetHeader.Length));
                    written = Interop.Write(tap, header, (nuint)(Tap.VirtioNetHeader.Length + frame.Length));
                }
            }
            else if (VirtioNetHeader)
            {
                var header = stackalloc byte[Tap.VirtioNetHeader.Length];
                Tap.VirtioNetHeader.Write(skb.Offload, new Span<byte>(header, Tap.VirtioNetHeader.Length));
                var vectors = stackalloc Interop.IoVec[2];
                // SAFETY: header is on this stack frame and frame lies in the pinned buffer of a live SkBuff the
                // caller owns; writev reads exactly the two lengths given.
                fixed (byte* bytes = frame)
                {
                    vectors[0] = new Interop.IoVec { Base = header, Length = Tap.VirtioNetHeader.Length };
                    vectors[1] = new Interop.IoVec { Base = bytes, Length = (nuint)frame.Length };
                    written = Interop.WriteV(tap, vectors, 2);
                }
            }
            else
            {
                // SAFETY: frame lies in the pinned buffer of a live SkBuff the caller owns; write reads frame.Length bytes.
                fixed (byte* bytes = frame)
                {
                    written = Interop.Write(tap, bytes, (nuint)frame.Length);
                }
            }
            return written >= 0 ? null : WriteFailure(Interop.Errors.LastErrno);
        }
        catch (ObjectDisposedException)
        {
            // The marshaller could not take its reference: the link is being torn down.
            return DropReason.DeviceDown;
        }
    }

    /// <summary>
    /// Writes the batch with one <c>io_uring_enter</c> per <see cref="IoUringWriter.MaxBatch"/> frames
    /// (<see cref="LinuxHostOptions.BatchedWrites"/>), each frame still its own write; leaves it all to the
    /// device's frame-by-frame path when batched writes are off or unavailable.
    /// </summary>
    public int DeliverBatchToSystem(int queue, ReadOnlySpan<SkBuff> frames, Span<DropReason?> outcomes)
    {
        var tap = _queues[queue];
        var referenced = false;
        try
        {
            // The submission entries carry the raw descriptor, which no marshaller guards: one reference covers the batch.
            tap.DangerousAddRef(ref referenced);
            var writer = frames.Length > 1 && _options.BatchedWrites ? IoUringWriter.ForCurrentThread(tap.Fd, Name) : null;
            if (writer is null)
            {
                return 0;
            }
            writer.Write(tap.Fd, frames, VirtioNetHeader, outcomes);
        }
        catch (ObjectDisposedException)
        {
            // Closed before any write was submitted.
            outcomes[..frames.Length].Fill(DropReason.DeviceDown);
        }
        finally
        {
            if (referenced)
            {
                tap.DangerousRelease();
            }
        }
        return frames.Length;
    }

    /// <summary>
    /// Removes the interface this link created before its descriptors close. Closing the last descriptor
    /// removes it too, but only once every reference is gone: a child forked by another thread holds copies
    /// until it calls exec (or for its whole life if it never does), and the interface would outlive the
    /// device by that long — a new registration of the same name would meet EEXIST.
    /// </summary>
    private void DeleteOwnInterface()
    {
        try
        {
            // The index names the interface only while it is still ours in this namespace: one moved away
            // by someone else leaves its index free for another, so the name must match as well.
            if (_requests.GetLink(IfIndex, null).Name != Name)
            {
                return;
            }
            _requests.Request(new NetlinkMessageWriter(Rtnl.RTM_DELLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, IfIndex), Name);
        }
        catch (NetDevException)
        {
            // Gone already (ENODEV), or its namespace cannot be reached: closing the descriptors is left.
        }
    }

    /// <summary>
    /// Turns the carrier of the user's TAP off before its queues close. Closing the last queue does that too,
    /// but, as for <see cref="DeleteOwnInterface"/>, only once a forked child's copies are closed as well.
    /// </summary>
    private void LeaveAttachedTapWithoutCarrier()
    {
        try
        {
            SetCarrier(false);
        }
        catch (NetDevException)
        {
            // The TAP is gone or refuses (a kernel without TUNSETCARRIER): closing the queues is left.
        }
    }

    /// <summary>Why the system did not take a frame, from the errno of its write.</summary>
    internal static DropReason WriteFailure(int errno) => errno switch
    {
        Errno.EAGAIN => DropReason.QueueFull,
        Errno.EIO or Errno.EBADFD => DropReason.DeviceDown,
        Errno.EINVAL => DropReason.InvalidHeader,
        _ => DropReason.TransmitError,
    };

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        lock (_netlinkLock)
        {
            _monitor.Dispose();
            if (_attached)
            {
                LeaveAttachedTapWithoutCarrier();
            }
            else
            {
                DeleteOwnInterface();
            }
        }
        foreach (var queue in _queues)
        {
            queue.Dispose();
        }
        lock (_netlinkLock)
        {
            _requests.Dispose();
        }
        // The threads that wrote batches to this link have ended by now (the queues' and the driver's own):
        // their writer rings close here rather than whenever a finalizer would have run.
        IoUringWriter.ReleaseEnded();
    }
}
