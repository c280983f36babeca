using System.Buffers.Binary;

namespace NetDev.Linux.Netlink;

/// <summary>
/// An rtnetlink socket, bound to the network namespace it was opened in. Used either for requests
/// (<see cref="Request"/>, <see cref="GetLink"/>) or, opened with a group, for notifications.
/// </summary>
/// <remarks><b>Invariants.</b> Requests are serialised by <c>_requestLock</c>, so one reply is read per
/// request and sequence numbers match; the receive buffer is only touched under that lock (request
/// sockets) or by the one monitoring thread (notification sockets).</remarks>
internal sealed class RtNetlinkSocket : IDisposable
{
    private const int ReceiveBufferSize = 64 * 1024;

    private readonly SafeFileDescriptor _fd;
    private readonly byte[] _receiveBuffer = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize, pinned: true);
    private readonly object _requestLock = new();
    private uint _sequence = (uint)Environment.TickCount;

    private RtNetlinkSocket(SafeFileDescriptor fd) => _fd = fd;

    internal SafeFileDescriptor Descriptor => _fd;

    /// <summary>Opens a socket in the calling thread's network namespace, subscribed to <paramref name="groups"/>.</summary>
    internal static unsafe RtNetlinkSocket Open(uint groups, string? device, int receiveBufferBytes = 1 << 20)
    {
        var handle = Interop.Socket(Interop.AF_NETLINK, Interop.SOCK_RAW | Interop.SOCK_CLOEXEC, Interop.NETLINK_ROUTE);
        if (handle.IsInvalid)
        {
            throw Interop.Errors.LastException("socket(AF_NETLINK)", device);
        }
        try
        {
            var address = new Interop.SockAddrNetlink { Family = Interop.AF_NETLINK, Groups = groups };
            // SAFETY: address is a local of the exact sockaddr_nl layout; bind reads sizeof(address) bytes of it.
            if (Interop.Bind(handle, &address, (uint)sizeof(Interop.SockAddrNetlink)) < 0)
            {
                throw Interop.Errors.LastException("bind(AF_NETLINK)", device);
            }
            if (groups != 0)
            {
                // A larger buffer makes ENOBUFS (missed notifications) rarer; the monitor resynchronises when it happens anyway.
                var size = receiveBufferBytes;
                // SAFETY: size is a local int; setsockopt reads sizeof(int) bytes of it.
                _ = Interop.SetSocketOption(handle, Interop.SOL_SOCKET, Interop.SO_RCVBUF, &size, sizeof(int));
            }
            return new RtNetlinkSocket(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="message"/> with an acknowledgement requested and throws if the kernel refuses.</summary>
    internal void Request(NetlinkMessageWriter message, string? device)
    {
        lock (_requestLock)
        {
            var sequence = ++_sequence;
            Send(message.Finish(sequence), Rtnl.MessageName(message.Type), device);
            foreach (var (type, payload) in ReceiveReplies(sequence, Rtnl.MessageName(message.Type), device))
            {
                if (type == Rtnl.NLMSG_ERROR)
                {
                    ThrowIfError(payload, Rtnl.MessageName(message.Type), device);
                    return;
                }
            }
        }
    }

    /// <summary>Asks the kernel for interface <paramref name="ifIndex"/> (or <paramref name="name"/> when the index is 0).</summary>
    internal LinkMessage GetLink(int ifIndex, string? name)
    {
        var request = new NetlinkMessageWriter(Rtnl.RTM_GETLINK, Rtnl.NLM_F_REQUEST, ifIndex);
        if (ifIndex == 0 && name is not null)
        {
            request.String(Rtnl.IFLA_IFNAME, name);
        }
        lock (_requestLock)
        {
            var sequence = ++_sequence;
            Send(request.Finish(sequence), "RTM_GETLINK", name);
            foreach (var (type, payload) in ReceiveReplies(sequence, "RTM_GETLINK", name))
            {
                if (type == Rtnl.NLMSG_ERROR)
                {
                    ThrowIfError(payload, "RTM_GETLINK", name);
                }
                else if (type == Rtnl.RTM_NEWLINK)
                {
                    return LinkMessage.Parse(payload) ?? throw new NetDevException(0, "RTM_GETLINK", name, "the kernel's answer is shorter than an interface header");
                }
            }
        }
        throw new NetDevException(0, "RTM_GETLINK", name, "the kernel sent no link in its answer");
    }

    /// <summary>
    /// Reads what is waiting on a notification socket without blocking: the link messages, or
    /// <see langword="null"/> when notifications were lost (ENOBUFS) and the caller must resynchronise.
    /// </summary>
    internal unsafe List<(ushort Type, LinkMessage Link)>? ReceiveNotifications(string? device)
    {
        var messages = new List<(ushort, LinkMessage)>();
        while (true)
        {
            nint received;
            // SAFETY: _receiveBuffer is pinned and outlives the call; recv writes at most its length.
            fixed (byte* buffer = _receiveBuffer)
            {
                received = Interop.Receive(_fd, buffer, (nuint)_receiveBuffer.Length, Interop.MSG_DONTWAIT);
            }
            if (received < 0)
            {
                var errno = Interop.Errors.LastErrno;
                switch (errno)
                {
                    case Errno.EAGAIN:
                        return messages;
                    case Errno.EINTR:
                        continue;
                    case Errno.ENOBUFS:
                        return null;
                    default:
                        throw Interop.Errors.Exception(errno, "recv(rtnetlink notifications)", device);
                }
            }
            ParseNotifications(_receiveBuffer.AsSpan(0, (int)received), messages);
        }
    }

    /// <summary>Adds the link messages (RTM_NEWLINK, RTM_DELLINK) in what one <c>recv</c> on a notification socket returned to <paramref name="messages"/>.</summary>
    internal static void ParseNotifications(ReadOnlySpan<byte> received, List<(ushort Type, LinkMessage Link)> messages)
    {
        foreach (var message in Split(received))
        {
            // A link message too short to name its interface cannot concern the device: it is skipped.
            if (message.Type is Rtnl.RTM_NEWLINK or Rtnl.RTM_DELLINK && LinkMessage.Parse(message.Payload) is { } link)
            {
                messages.Add((message.Type, link));
            }
        }
    }

    public void Dispose() => _fd.Dispose();

    private unsafe void Send(ReadOnlySpan<byte> message, string operation, string? device)
    {
        while (true)
        {
            nint sent;
            // SAFETY: message is pinned by fixed for the duration of the call, which reads message.Length bytes.
            fixed (byte* bytes = message)
            {
                sent = Interop.Send(_fd, bytes, (nuint)message.Length, 0);
            }
            if (sent >= 0)
            {
                return;
            }
            if (Interop.Errors.LastErrno != Errno.EINTR)
            {
                throw Interop.Errors.LastException(operation, device);
            }
        }
    }

    /// <summary>Reads replies to <paramref name="sequence"/> until an acknowledgement, an error, or a complete answer.</summary>
    private unsafe List<(ushort Type, byte[] Payload)> ReceiveReplies(uint sequence, string operation, string? device)
    {
        var replies = new List<(ushort, byte[])>();
        while (true)
        {
            nint received;
            // SAFETY: _receiveBuffer is pinned and outlives the call; recv writes at most its length.
            fixed (byte* buffer = _receiveBuffer)
            {
                received = Interop.Receive(_fd, buffer, (nuint)_receiveBuffer.Length, 0);
            }
            if (received < 0)
            {
                if (Interop.Errors.LastErrno == Errno.EINTR)
                {
                    continue;
                }
                throw Interop.Errors.LastException(operation, device);
            }
            var done = false;
            foreach (var message in Split(_receiveBuffer.AsSpan(0, (int)received)))
            {
                if (message.Sequence != sequence)
                {
                    continue;
                }
                replies.Add((message.Type, message.Payload));
                done |= message.Type is Rtnl.NLMSG_ERROR or Rtnl.NLMSG_DONE || (message.Flags & Rtnl.NLM_F_MULTI) == 0;
            }
            if (done)
            {
                return replies;
            }
        }
    }

    /// <summary>Throws the error an NLMSG_ERROR message's payload carries; an acknowledgement (error 0) passes.</summary>
    internal static void ThrowIfError(ReadOnlySpan<byte> payload, string operation, string? device)
    {
        if (payload.Length < sizeof(int))
        {
            throw new NetDevException(0, operation, device, "the kernel's error message is too short to hold its error code");
        }
        var error = BinaryPrimitives.ReadInt32LittleEndian(payload);
        if (error < 0)
        {
            throw Interop.Errors.Exception(-error, operation, device);
        }
    }

    /// <summary>The whole netlink messages in what one <c>recv</c> returned; a cut or impossible header ends the list.</summary>
    internal static List<NetlinkMessage> Split(ReadOnlySpan<byte> received)
    {
        var messages = new List<NetlinkMessage>();
        var offset = 0;
        while (offset + Rtnl.NlMsgHeaderLength <= received.Length)
        {
            var span = received[offset..];
            var messageLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(span);
            if (messageLength < Rtnl.NlMsgHeaderLength || messageLength > span.Length)
            {
                break;
            }
            messages.Add(new NetlinkMessage(
                BinaryPrimitives.ReadUInt16LittleEndian(span[4..]),
                BinaryPrimitives.ReadUInt16LittleEndian(span[6..]),
                BinaryPrimitives.ReadUInt32LittleEndian(span[8..]),
                span[Rtnl.NlMsgHeaderLength..messageLength].ToArray()));
            offset += Rtnl.Align(messageLength);
        }
        return messages;
    }

    internal readonly record struct NetlinkMessage(ushort Type, ushort Flags, uint Sequence, byte[] Payload);
}
