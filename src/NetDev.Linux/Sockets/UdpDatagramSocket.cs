using System.Net;
using System.Net.Sockets;

namespace NetDev.Linux;

/// <summary>How a <see cref="UdpDatagramSocket"/> hands datagrams to the kernel, from the cheapest down.</summary>
public enum DatagramSendPath
{
    /// <summary>One <c>sendmsg</c> per datagram (what <c>sendto</c> does).</summary>
    Single = 0,

    /// <summary>Up to 64 datagrams per <c>sendmmsg</c>.</summary>
    Batched = 1,

    /// <summary>UDP GSO: datagrams laid back to back go out as one message with <c>UDP_SEGMENT</c>, which the
    /// kernel cuts (or a device or peer socket takes whole); several such messages per <c>sendmmsg</c>.</summary>
    Segmented = 2,
}

/// <summary>How a <see cref="UdpDatagramSocket"/> takes datagrams from the kernel, from the cheapest down.</summary>
public enum DatagramReceivePath
{
    /// <summary>One <c>recvmsg</c> per datagram (what <c>recvfrom</c> does).</summary>
    Single = 0,

    /// <summary>Many datagrams per <c>recvmmsg</c>.</summary>
    Batched = 1,

    /// <summary>UDP GRO (<c>UDP_GRO</c>) and <c>recvmmsg</c>: the kernel may hand several datagrams of one
    /// sender merged into one, with their size in a control message (<see cref="DatagramReceiveBatch.SegmentSize"/>).</summary>
    Coalesced = 2,
}

/// <summary>What one <see cref="UdpDatagramSocket.Send"/> achieved.</summary>
/// <param name="Sent">How many datagrams the kernel took, from the first on.</param>
/// <param name="Errno">0 when every datagram was taken; otherwise why the next one was not (an <see cref="NetDev.Errno"/> value).</param>
/// <param name="Calls">How many send system calls it took (refused ones included, waits for room not).</param>
public readonly record struct DatagramSendResult(int Sent, int Errno, int Calls);

/// <summary>
/// A UDP socket that moves many datagrams per system call: on send, datagrams laid back to back in one
/// buffer leave with UDP GSO (<c>UDP_SEGMENT</c>), with <c>sendmmsg</c>, or one <c>sendmsg</c> each; on
/// receive, <see cref="Receive"/> fills a <see cref="DatagramReceiveBatch"/> with <c>recvmmsg</c>, with UDP GRO
/// on, or one <c>recvmsg</c> at a time. What the kernel takes is probed at construction and again when a
/// call is refused, falling back one step at a time (the paths in force are <see cref="SendPath"/> and
/// <see cref="ReceivePath"/>).
/// </summary>
/// <remarks>
/// <para>The socket is a .NET <see cref="System.Net.Sockets.Socket"/> the caller created and bound (so binding,
/// options and namespaces work as usual); this type owns it from construction on and closes it in
/// <see cref="Dispose"/>. Its native calls take the socket's <see cref="SafeSocketHandle"/>, so a call running
/// while another thread disposes keeps the descriptor alive, and the runtime's shutdown on dispose wakes a
/// receive blocked in the kernel; a call after dispose throws <see cref="ObjectDisposedException"/>.</para>
/// <para>Sends never block without bound: every send is non-blocking, and when the kernel has no room
/// (<c>EAGAIN</c>, <c>ENOBUFS</c>) the call waits for the socket to become writable at most
/// <see cref="RetryWaitMilliseconds"/> per retry, <see cref="SendRetries"/> times, then returns what it sent and
/// the errno. Neither path allocates: send headers live on the stack, receive headers in the batch.</para>
/// <para><b>Invariants.</b> <c>_sendPath</c> and <c>_receivePath</c> only ever go down (a refused path is not tried
/// again); they are read and written as whole ints by any thread. The socket is a UDP socket over IPv4 or IPv6
/// and is owned here until <see cref="Dispose"/>.</para>
/// </remarks>
public sealed partial class UdpDatagramSocket : IDisposable
{
    /// <summary>The most datagrams the kernel cuts one UDP GSO message into (<c>UDP_MAX_SEGMENTS</c>).</summary>
    public const int MaxSegmentsPerMessage = 64;

    /// <summary>The most bytes one UDP GSO message carries: the largest UDP payload of an IPv4 packet.</summary>
    public const int MaxBytesPerMessage = 65507;

    /// <summary>How many datagrams one <c>sendmmsg</c> carries on the <see cref="DatagramSendPath.Batched"/> path.</summary>
    public const int MaxDatagramsPerCall = 64;

    /// <summary>How long a send waits for room each time the kernel has none.</summary>
    public const int RetryWaitMilliseconds = 5;

    /// <summary>How many times a send waits for room before it gives up and reports the errno.</summary>
    public const int SendRetries = 3;

    /// <summary>How many GSO messages one <c>sendmmsg</c> carries on the <see cref="DatagramSendPath.Segmented"/> path.</summary>
    private const int MaxMessagesPerCall = 8;

    private readonly SafeSocketHandle _handle;
    private volatile int _sendPath;
    private volatile int _receivePath;
    private volatile int _sendFallbackErrno;

    /// <summary>
    /// Takes over <paramref name="socket"/>, a bound UDP socket, and probes the fastest paths up to
    /// <paramref name="sendPath"/> and <paramref name="receivePath"/> (lower ones force a fallback, for tests
    /// and for kernels that misbehave).
    /// </summary>
    /// <exception cref="ArgumentException">Not a UDP socket over IPv4 or IPv6; the socket is closed.</exception>
    public UdpDatagramSocket(Socket socket, DatagramSendPath sendPath = DatagramSendPath.Segmented, DatagramReceivePath receivePath = DatagramReceivePath.Coalesced)
    {
        ArgumentNullException.ThrowIfNull(socket);
        try
        {
            if (socket.ProtocolType != ProtocolType.Udp || socket.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            {
                throw new ArgumentException($"A datagram socket needs a UDP socket over IP; this one is {socket.AddressFamily}/{socket.ProtocolType}.", nameof(socket));
            }
            if (!Enum.IsDefined(sendPath) || !Enum.IsDefined(receivePath))
            {
                throw new ArgumentOutOfRangeException(nameof(sendPath), "Not a defined path.");
            }
            Socket = socket;
            _handle = socket.SafeHandle;
            _sendPath = (int)(sendPath == DatagramSendPath.Segmented && !ProbeSegmentation() ? DatagramSendPath.Batched : sendPath);
            _receivePath = (int)(receivePath == DatagramReceivePath.Coalesced && !EnableCoalescing() ? DatagramReceivePath.Batched : receivePath);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The socket itself, for its addresses and options; do not read from it.</summary>
    public Socket Socket { get; }

    /// <summary>The send path in force; it goes down when the kernel refuses the one above it.</summary>
    public DatagramSendPath SendPath => (DatagramSendPath)_sendPath;

    /// <summary>The receive path in force; it goes down when the kernel refuses the one above it.</summary>
    public DatagramReceivePath ReceivePath => (DatagramReceivePath)_receivePath;

    /// <summary>The errno with which the kernel refused the last send path given up, or 0.</summary>
    public int SendFallbackErrno => _sendFallbackErrno;

    /// <summary>The bound local address and port.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)Socket.LocalEndPoint!;

    /// <summary>
    /// Sends the datagrams laid back to back in <paramref name="datagrams"/> — each
    /// <paramref name="datagramLength"/> bytes but the last, which may be shorter — to
    /// <paramref name="destination"/>, in order, with as few system calls as the path in force allows.
    /// </summary>
    /// <returns>How many datagrams went out, and 0 or the errno that stopped the rest.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="datagramLength"/> is not positive.</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    public unsafe DatagramSendResult Send(ReadOnlySpan<byte> datagrams, int datagramLength, SocketAddress destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(datagramLength, 1);
        ArgumentNullException.ThrowIfNull(destination);
        var count = (datagrams.Length + datagramLength - 1) / datagramLength;
        var sent = 0;
        var waits = 0;
        var calls = 0;
        // A GSO send the kernel refuses as EINVAL was too large for the path (datagrams above its MTU): this
        // call goes on batched, while later calls try GSO again.
        var segmentationRefused = false;
        var address = destination.Buffer.Span[..destination.Size];
        // SAFETY: both spans stay pinned for the whole loop; every call below reads only inside them.
        fixed (byte* data = datagrams)
        fixed (byte* name = address)
        {
            while (sent < count)
            {
                var path = (DatagramSendPath)_sendPath;
                if (path == DatagramSendPath.Segmented && (segmentationRefused || count - sent == 1))
                {
                    path = DatagramSendPath.Batched;
                }
                var taken = path switch
                {
                    DatagramSendPath.Segmented => SendSegmented(data, datagrams.Length, datagramLength, sent, name, address.Length),
                    DatagramSendPath.Batched => SendBatched(data, datagrams.Length, datagramLength, sent, name, address.Length),
                    _ => SendSingle(data, datagrams.Length, datagramLength, sent, name, address.Length),
                };
                calls++;
                if (taken > 0)
                {
                    sent += taken;
                    waits = 0;
                    continue;
                }
                var errno = Interop.Errors.LastErrno;
                if (errno == Errno.EINTR)
                {
                    continue;
                }
                if ((errno == Errno.EAGAIN || errno == Errno.ENOBUFS) && waits < SendRetries)
                {
                    waits++;
                    Interop.PollSocket(_handle, Interop.POLLOUT, RetryWaitMilliseconds);
                    continue;
                }
                if (path == DatagramSendPath.Segmented && errno == Errno.EINVAL)
                {
                    segmentationRefused = true;
                    continue;
                }
                if (path == DatagramSendPath.Segmented && errno is Errno.EIO or Errno.EOPNOTSUPP or Errno.ENOPROTOOPT)
                {
                    // EIO: the route's device cannot checksum what UDP GSO needs; the kernel will not do it later either.
                    FallBack(DatagramSendPath.Batched, errno);
                    continue;
                }
                if (path != DatagramSendPath.Single && errno == Errno.ENOSYS)
                {
                    FallBack(DatagramSendPath.Single, errno);
                    continue;
                }
                return new DatagramSendResult(sent, errno, calls);
            }
        }
        return new DatagramSendResult(sent, 0, calls);
    }

    /// <summary>Closes the socket.</summary>
    public void Dispose() => Socket.Dispose();

    private void FallBack(DatagramSendPath path, int errno)
    {
        if ((int)path < _sendPath)
        {
            _sendFallbackErrno = errno;
            _sendPath = (int)path;
        }
    }

    /// <summary>Sends GSO messages of up to 64 datagrams from datagram <paramref name="first"/> on; returns how many datagrams went, or 0 (errno set).</summary>
    private unsafe int SendSegmented(byte* data, int total, int datagramLength, int first, byte* name, int nameLength)
    {
        var perMessage = Math.Min(MaxSegmentsPerMessage, MaxBytesPerMessage / datagramLength);
        if (perMessage < 2 || datagramLength > ushort.MaxValue)
        {
            // Too large to carry two in one message: GSO would gain nothing.
            return SendBatched(data, total, datagramLength, first, name, nameLength);
        }
        var messages = stackalloc Interop.MultiMessageHeader[MaxMessagesPerCall];
        var vectors = stackalloc Interop.IoVec[MaxMessagesPerCall];
        var controlSpace = Interop.ControlSpace(sizeof(ushort));
        var control = stackalloc byte[MaxMessagesPerCall * controlSpace];
        var datagramsIn = stackalloc int[MaxMessagesPerCall];
        var offset = first * datagramLength;
        var count = 0;
        while (count < MaxMessagesPerCall && offset < total)
        {
            var length = Math.Min(perMessage * datagramLength, total - offset);
            datagramsIn[count] = (length + datagramLength - 1) / datagramLength;
            // SAFETY: the control bytes, vector and header written here are this frame's stackalloc'd arrays,
            // indexed below MaxMessagesPerCall; data + offset .. + length lies inside the caller's pinned span.
            var cmsg = (Interop.ControlMessageHeader*)(control + count * controlSpace);
            cmsg->Length = (nuint)Interop.ControlLength(sizeof(ushort));
            cmsg->Level = Interop.SOL_UDP;
            cmsg->Type = Interop.UDP_SEGMENT;
            *(ushort*)((byte*)cmsg + Interop.ControlAlign(sizeof(Interop.ControlMessageHeader))) = (ushort)datagramLength;
            vectors[count] = new Interop.IoVec { Base = data + offset, Length = (nuint)length };
            messages[count] = new Interop.MultiMessageHeader
            {
                Header = new Interop.MessageHeader
                {
                    Name = name,
                    NameLength = (uint)nameLength,
                    Vectors = &vectors[count],
                    VectorCount = 1,
                    Control = (byte*)cmsg,
                    ControlLength = (nuint)controlSpace,
                },
            };
            offset += length;
            count++;
        }
        // SAFETY: messages[0..count] point only at this frame's stack arrays and the caller's pinned spans.
        var taken = Interop.SendMessages(_handle, messages, (uint)count, Interop.MSG_DONTWAIT);
        if (taken <= 0)
        {
            return 0;
        }
        var sent = 0;
        for (var i = 0; i < taken; i++)
        {
            sent += datagramsIn[i];
        }
        return sent;
    }

    /// <summary>Sends up to 64 datagrams, one message each, from datagram <paramref name="first"/> on; returns how many went, or 0 (errno set).</summary>
    private unsafe int SendBatched(byte* data, int total, int datagramLength, int first, byte* name, int nameLength)
    {
        var messages = stackalloc Interop.MultiMessageHeader[MaxDatagramsPerCall];
        var vectors = stackalloc Interop.IoVec[MaxDatagramsPerCall];
        var offset = first * datagramLength;
        var count = 0;
        while (count < MaxDatagramsPerCall && offset < total)
        {
            var length = Math.Min(datagramLength, total - offset);
            // SAFETY: vectors and messages are this frame's stack arrays, indexed below MaxDatagramsPerCall;
            // data + offset .. + length lies inside the caller's pinned span.
            vectors[count] = new Interop.IoVec { Base = data + offset, Length = (nuint)length };
            messages[count] = new Interop.MultiMessageHeader
            {
                Header = new Interop.MessageHeader { Name = name, NameLength = (uint)nameLength, Vectors = &vectors[count], VectorCount = 1 },
            };
            offset += length;
            count++;
        }
        // SAFETY: messages[0..count] point only at this frame's stack arrays and the caller's pinned spans.
        var taken = Interop.SendMessages(_handle, messages, (uint)count, Interop.MSG_DONTWAIT);
        return taken < 0 ? 0 : taken;
    }

    /// <summary>Sends datagram <paramref name="first"/> alone; returns 1, or 0 (errno set).</summary>
    private unsafe int SendSingle(byte* data, int total, int datagramLength, int first, byte* name, int nameLength)
    {
        var offset = first * datagramLength;
        var vector = new Interop.IoVec { Base = data + offset, Length = (nuint)Math.Min(datagramLength, total - offset) };
        var message = new Interop.MessageHeader { Name = name, NameLength = (uint)nameLength, Vectors = &vector, VectorCount = 1 };
        // SAFETY: message and vector are locals of this frame; they point into the caller's pinned spans.
        return Interop.SendMessage(_handle, &message, Interop.MSG_DONTWAIT) < 0 ? 0 : 1;
    }

    /// <summary>Whether the kernel knows <c>UDP_SEGMENT</c> on this socket (Linux 4.18 on).</summary>
    private unsafe bool ProbeSegmentation()
    {
        var value = 0;
        var length = (uint)sizeof(int);
        // SAFETY: getsockopt writes at most length bytes into the local int.
        return Interop.GetSocketOption(_handle, Interop.SOL_UDP, Interop.UDP_SEGMENT, &value, &length) == 0;
    }

    /// <summary>Turns UDP GRO on (Linux 5.0 on); false when the kernel refuses it.</summary>
    private unsafe bool EnableCoalescing()
    {
        var on = 1;
        // SAFETY: setsockopt reads sizeof(int) bytes from the local int.
        return Interop.SetSocketOption(_handle, Interop.SOL_UDP, Interop.UDP_GRO, &on, sizeof(int)) == 0;
    }
}
