using NetDev.Hosting;
using NetDev.Linux.Loop;
using NetDev.Linux.Namespaces;

namespace NetDev.Linux.Netlink;

/// <summary>
/// Hears what anyone does to one interface, from rtnetlink RTM_NEWLINK notifications (no polling), and
/// reports administrative up/down changes on its own thread. When the kernel says notifications were
/// lost (ENOBUFS), it asks for the interface's current state instead of missing a change.
/// </summary>
/// <remarks>
/// <para>When the interface is deleted by someone else (RTM_DELLINK, or the state read back answers
/// ENODEV) or, for a device in a named namespace, that namespace is deleted (<see cref="NamespaceWatch"/>),
/// it reports it once through <see cref="ILinkEvents.OnHostError"/> as a <see cref="NetDevException"/> with
/// ENODEV (see <see cref="Deleted"/>) and its thread ends: there is nothing left to watch.</para>
/// <para>A notification is only a trigger: the monitor then reads the interface's current state, so a
/// burst of changes (its own echoes included) is judged by where it ended, not by each step. The interface
/// is followed by its index, so a rename is one more change: the monitor takes the new name for its
/// messages and its thread, and reports it in <see cref="Hosting.LinkState.Name"/>.</para>
/// <para><b>Invariants.</b> <c>_last</c> and <c>_device</c> are touched only by the monitor thread after
/// <see cref="Start"/>, one thread at a time (<see cref="Stop"/> joins it before another <see cref="Start"/>);
/// events are delivered one at a time from that thread. While it runs, that thread holds one long-lived
/// reference on the notification socket and the wake descriptor, whose raw values it polls (and on the
/// namespace watch's, if there is one).</para></remarks>
internal sealed class LinkMonitor : IDisposable
{
    private readonly RtNetlinkSocket _notifications;
    private readonly RtNetlinkSocket _requests;
    private readonly WakeSignal _wake;
    private readonly NamespaceWatch? _namespace;
    private readonly int _ifIndex;
    private string _device;
    private ILinkEvents? _events;
    private Thread? _thread;
    private volatile bool _stopping;
    private Hosting.LinkState? _last;
    private static long s_overflows;

    /// <summary>How often, in this process, a monitor's socket overflowed (ENOBUFS) and it read the state afresh.</summary>
    internal static long Overflows => Interlocked.Read(ref s_overflows);

    /// <summary>A monitor of interface <paramref name="ifIndex"/>, which lives in named namespace <paramref name="networkNamespace"/> (null: an unnamed one, not watched).</summary>
    internal LinkMonitor(RtNetlinkSocket notifications, RtNetlinkSocket requests, int ifIndex, string device, string? networkNamespace)
    {
        _notifications = notifications;
        _requests = requests;
        _ifIndex = ifIndex;
        _device = device;
        _wake = new WakeSignal(device);
        try
        {
            _namespace = networkNamespace is null ? null : new NamespaceWatch(networkNamespace, device);
        }
        catch
        {
            _wake.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What the monitor reports when the interface was deleted under it: ENODEV, which the TAP queues'
    /// sources report too when they notice first.
    /// </summary>
    internal static NetDevException Deleted(string device) =>
        new(Errno.ENODEV, "RTM_DELLINK", device, "the interface was deleted by someone else");

    /// <summary>Starts (or, after <see cref="Stop"/>, starts again) reporting to <paramref name="events"/> on a thread of its own.</summary>
    internal void Start(ILinkEvents events)
    {
        if (_thread is not null)
        {
            // Stopped from its own thread (a handler that moved the device), which has not ended yet.
            throw new InvalidOperationException($"The link monitor of {_device} is still running.");
        }
        _events = events;
        _stopping = false;
        _thread = new Thread(Run) { IsBackground = true, Name = $"netdev {_device} events" };
        _thread.Start();
        // Anything that happened between creation and now is caught up with.
        _wake.Signal();
    }

    /// <summary>
    /// Stops reporting and waits for the thread to end, but keeps the socket subscribed: notifications
    /// queue up meanwhile, and a later <see cref="Start"/> reads the state afresh anyway.
    /// </summary>
    internal void Stop()
    {
        _stopping = true;
        _wake.Signal();
        if (_thread is { } thread && thread != Thread.CurrentThread)
        {
            thread.Join();
            _thread = null;
        }
    }

    public void Dispose()
    {
        Stop();
        _wake.Dispose();
        _namespace?.Dispose();
        _notifications.Dispose();
    }

    private unsafe void Run()
    {
        bool socketReferenced = false, wakeReferenced = false, namespaceReferenced = false;
        try
        {
            var socketFd = _notifications.Descriptor.Hold(ref socketReferenced);
            var wakeFd = _wake.Descriptor.Hold(ref wakeReferenced);
            var namespaceFd = _namespace?.Descriptor.Hold(ref namespaceReferenced) ?? -1;
            var fds = stackalloc Interop.PollFd[3];
            var resync = true;
            while (!_stopping)
            {
                if (resync)
                {
                    resync = false;
                    // The name may have gone before the watch began; afterwards the watch hears it go.
                    if (_namespace is { IsGone: true } || !Report())
                    {
                        ReportDeleted();
                        return;
                    }
                }
                fds[0] = new Interop.PollFd { Fd = socketFd, Events = Interop.POLLIN };
                fds[1] = new Interop.PollFd { Fd = wakeFd, Events = Interop.POLLIN };
                fds[2] = new Interop.PollFd { Fd = namespaceFd, Events = Interop.POLLIN };
                // SAFETY: fds points at three PollFd on this stack frame; poll reads and writes exactly those
                // (the third, ignored by the kernel when its descriptor is -1, only with a namespace watch).
                if (Interop.Poll(fds, 3, -1) < 0)
                {
                    if (Interop.Errors.LastErrno == Errno.EINTR)
                    {
                        continue;
                    }
                    throw Interop.Errors.LastException("poll", _device);
                }
                if ((fds[1].ReturnedEvents & Interop.POLLIN) != 0)
                {
                    _wake.Clear(wakeFd);
                    resync = !_stopping;
                }
                if ((fds[2].ReturnedEvents & Interop.POLLIN) != 0 && _namespace!.ReadRemoved(namespaceFd) && !_stopping)
                {
                    ReportDeleted();
                    return;
                }
                if ((fds[0].ReturnedEvents & Interop.POLLIN) == 0 || _stopping)
                {
                    continue;
                }
                var messages = _notifications.ReceiveNotifications(_device);
                if (messages is null)
                {
                    Interlocked.Increment(ref s_overflows);
                    resync = true;
                    continue;
                }
                var changed = false;
                foreach (var (type, link) in messages)
                {
                    if (link.IfIndex != _ifIndex)
                    {
                        continue;
                    }
                    if (type == Rtnl.RTM_DELLINK)
                    {
                        ReportDeleted();
                        return;
                    }
                    changed = true;
                }
                if (changed && !Report())
                {
                    ReportDeleted();
                    return;
                }
            }
        }
        catch (NetDevException error) when (error.Errno == Errno.ENODEV && _stopping)
        {
            // The interface went away during teardown; nothing to report.
        }
        catch (Exception error)
        {
            if (!_stopping)
            {
                _events!.OnHostError(error);
            }
        }
        finally
        {
            _namespace?.Descriptor.ReleaseHold(ref namespaceReferenced);
            _wake.Descriptor.ReleaseHold(ref wakeReferenced);
            _notifications.Descriptor.ReleaseHold(ref socketReferenced);
        }
    }

    /// <summary>Reads the interface's state and reports it if it changed; false when the interface is gone (ENODEV).</summary>
    private bool Report()
    {
        LinkMessage link;
        try
        {
            link = _requests.GetLink(_ifIndex, _device);
        }
        catch (NetDevException error) when (error.Errno == Errno.ENODEV)
        {
            return false;
        }
        if (link.Name is { } name && name != _device)
        {
            _device = name;
            Thread.CurrentThread.Name = $"netdev {name} events";
        }
        var state = link.ToLinkState();
        if (state != _last)
        {
            _last = state;
            _events!.OnLinkChanged(state);
        }
        return true;
    }

    /// <summary>Tells the device it lost its interface — deleted, or its namespace deleted — unless it is being torn down anyway.</summary>
    private void ReportDeleted()
    {
        if (_stopping)
        {
            return;
        }
        _events!.OnHostError(_namespace is { IsGone: true } watch
            ? new NetDevException(Errno.ENODEV, $"watch {NetworkNamespace.Directory}", _device, $"its network namespace {watch.Name} was deleted by someone else")
            : Deleted(_device));
    }
}
