using NetDev.Hosting;
using NetDev.Linux.Loop;

namespace NetDev.Linux.Netlink;

/// <summary>
/// Hears what anyone does to one interface, from rtnetlink RTM_NEWLINK notifications (no polling), and
/// reports administrative up/down changes on its own thread. When the kernel says notifications were
/// lost (ENOBUFS), it asks for the interface's current state instead of missing a change.
/// </summary>
/// <remarks>A notification is only a trigger: the monitor then reads the interface's current state, so a
/// burst of changes (its own echoes included) is judged by where it ended, not by each step. The interface
/// is followed by its index, so a rename is one more change: the monitor takes the new name for its
/// messages and its thread, and reports it in <see cref="Hosting.LinkState.Name"/>.
/// <b>Invariants.</b> <c>_last</c> and <c>_device</c> are touched only by the monitor thread after
/// <see cref="Start"/>, one thread at a time (<see cref="Stop"/> joins it before another <see cref="Start"/>);
/// events are delivered one at a time from that thread. While it runs, that thread holds one long-lived
/// reference on the notification socket and the wake descriptor, whose raw values it polls.</remarks>
internal sealed class LinkMonitor : IDisposable
{
    private readonly RtNetlinkSocket _notifications;
    private readonly RtNetlinkSocket _requests;
    private readonly WakeSignal _wake;
    private readonly int _ifIndex;
    private string _device;
    private ILinkEvents? _events;
    private Thread? _thread;
    private volatile bool _stopping;
    private Hosting.LinkState? _last;
    private static long s_overflows;

    /// <summary>How often, in this process, a monitor's socket overflowed (ENOBUFS) and it read the state afresh.</summary>
    internal static long Overflows => Interlocked.Read(ref s_overflows);

    internal LinkMonitor(RtNetlinkSocket notifications, RtNetlinkSocket requests, int ifIndex, string device)
    {
        _notifications = notifications;
        _requests = requests;
        _ifIndex = ifIndex;
        _device = device;
        _wake = new WakeSignal(device);
    }

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
        _notifications.Dispose();
    }

    private unsafe void Run()
    {
        bool socketReferenced = false, wakeReferenced = false;
        try
        {
            var socketFd = _notifications.Descriptor.Hold(ref socketReferenced);
            var wakeFd = _wake.Descriptor.Hold(ref wakeReferenced);
            var fds = stackalloc Interop.PollFd[2];
            var resync = true;
            while (!_stopping)
            {
                if (resync)
                {
                    resync = false;
                    Report();
                }
                fds[0] = new Interop.PollFd { Fd = socketFd, Events = Interop.POLLIN };
                fds[1] = new Interop.PollFd { Fd = wakeFd, Events = Interop.POLLIN };
                // SAFETY: fds points at two PollFd on this stack frame; poll reads and writes exactly those two.
                if (Interop.Poll(fds, 2, -1) < 0)
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
                        _events!.OnHostError(new NetDevException(Errno.ENODEV, "RTM_DELLINK", _device, "the interface was deleted by someone else"));
                        return;
                    }
                    changed = true;
                }
                if (changed)
                {
                    Report();
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
            _wake.Descriptor.ReleaseHold(ref wakeReferenced);
            _notifications.Descriptor.ReleaseHold(ref socketReferenced);
        }
    }

    private void Report()
    {
        var link = _requests.GetLink(_ifIndex, _device);
        if (link.Name is { } name && name != _device)
        {
            _device = name;
            Thread.CurrentThread.Name = $"netdev {name} events";
        }
        var state = link.ToLinkState();
        if (state == _last)
        {
            return;
        }
        _last = state;
        _events!.OnLinkChanged(state);
    }
}
