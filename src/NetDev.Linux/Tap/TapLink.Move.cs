using NetDev.Linux.Netlink;

namespace NetDev.Linux.Tap;

// Moving the interface to another network namespace: everything that can fail is tried before the one
// step that changes the system, so a refused move leaves the link as it was.
internal sealed partial class TapLink
{
    private const string MoveOperation = "move to network namespace";

    public void MoveToNetworkNamespace(string networkNamespace)
    {
        lock (_netlinkLock)
        {
            // The kernel's name, not the one remembered: it may have been renamed since the last report.
            var name = _requests.GetLink(IfIndex, Name).Name ?? Name;
            _name = name;
            using var target = Linux.NetworkNamespace.Open(networkNamespace, MoveOperation, name);
            // Sockets of the new namespace, opened through the same descriptor the kernel is given, so
            // both name one namespace; subscribed before the interface arrives, so no change is missed.
            var (requests, notifications) = Linux.NetworkNamespace.Run(target, networkNamespace, () => OpenSockets(name));
            try
            {
                RefuseTakenName(requests, name, networkNamespace);
                // The old namespace's monitor would hear the interface leave as a deletion: it stops now,
                // and listens again if the kernel refuses the move after all.
                _monitor.Stop();
                try
                {
                    // The number travels in the message; target stays open until the kernel answered.
                    var move = new NetlinkMessageWriter(Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, IfIndex)
                        .UInt32(Rtnl.IFLA_NET_NS_FD, (uint)target.Fd);
                    _requests.Request(move, name);
                }
                catch
                {
                    if (_events is { } listener)
                    {
                        _monitor.Start(listener);
                    }
                    throw;
                }
            }
            catch
            {
                notifications.Dispose();
                requests.Dispose();
                throw;
            }
            // Moved: from here on nothing may fail half way, so the link switches to the new sockets first.
            _monitor.Dispose();
            _requests.Dispose();
            _requests = requests;
            NetworkNamespace = networkNamespace;
            IfIndex = FindMoved(requests, name, IfIndex);
            _monitor = new LinkMonitor(notifications, requests, IfIndex, name, networkNamespace);
            if (_events is { } events)
            {
                _monitor.Start(events);
            }
        }
    }

    /// <summary>A request socket and a subscribed notification socket in the calling thread's namespace, or neither.</summary>
    private (RtNetlinkSocket Requests, RtNetlinkSocket Notifications) OpenSockets(string name)
    {
        var requests = RtNetlinkSocket.Open(0, name);
        try
        {
            return (requests, RtNetlinkSocket.Open(Rtnl.RTMGRP_LINK, name, _notificationBuffer));
        }
        catch
        {
            requests.Dispose();
            throw;
        }
    }

    /// <summary>Refuses a move the kernel would refuse anyway (EEXIST), before anything changed.</summary>
    private static void RefuseTakenName(RtNetlinkSocket requests, string name, string networkNamespace)
    {
        try
        {
            requests.GetLink(0, name);
        }
        catch (NetDevException error) when (error.Errno == Errno.ENODEV)
        {
            return;
        }
        throw new NetDevException(Errno.EEXIST, MoveOperation, name, $"network namespace '{networkNamespace}' already has an interface named {name}");
    }

    /// <summary>
    /// The interface's index in the namespace it just moved to. The kernel keeps the old index when it is
    /// free there; should the interface have been renamed (or the question failed) in the instant since the
    /// move, that is the one left to try, and the monitor's first report says what became of it.
    /// </summary>
    private static int FindMoved(RtNetlinkSocket requests, string name, int oldIndex)
    {
        try
        {
            return requests.GetLink(0, name).IfIndex;
        }
        catch (NetDevException)
        {
            return oldIndex;
        }
    }
}
