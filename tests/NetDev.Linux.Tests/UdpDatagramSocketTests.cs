using System.Net;
using System.Net.Sockets;

namespace NetDev.Linux.Tests;

/// <summary>
/// <see cref="UdpDatagramSocket"/> on loopback: datagrams laid back to back leave with as many system calls as
/// the path promises and arrive whole, in order, from the right sender; UDP GRO hands a GSO send over as one
/// message with its segment size; truncation is seen; each path can be forced.
/// </summary>
public sealed class UdpDatagramSocketTests
{
    private const int Stride = 100;
    private const int Datagrams = 11;
    private const int LastLength = 50;

    [Theory]
    [InlineData(DatagramSendPath.Segmented, 1)]
    [InlineData(DatagramSendPath.Batched, 1)]
    [InlineData(DatagramSendPath.Single, Datagrams)]
    public void BackToBackDatagramsLeaveInTheCallsThePathPromisesAndArriveInOrder(DatagramSendPath path, int calls)
    {
        using var receiver = Open(DatagramSendPath.Segmented, DatagramReceivePath.Batched);
        using var sender = Open(path, DatagramReceivePath.Batched);
        Assert.Equal(path, sender.SendPath);
        var packed = Packed();

        var result = sender.Send(packed, Stride, receiver.LocalEndPoint.Serialize());

        Assert.Equal(new DatagramSendResult(Datagrams, 0, calls), result);
        var arrived = ReceiveAll(receiver, new DatagramReceiveBatch(16, 2048), sender.LocalEndPoint.Serialize(), expectSegments: false);
        Assert.Equal(Expected(packed), arrived);
    }

    [Fact]
    public void UdpGroHandsAGsoSendOverAsOneMessageWithItsSegmentSize()
    {
        using var receiver = Open(DatagramSendPath.Segmented, DatagramReceivePath.Coalesced);
        using var sender = Open(DatagramSendPath.Segmented, DatagramReceivePath.Coalesced);
        Assert.Equal(DatagramReceivePath.Coalesced, receiver.ReceivePath);
        var packed = Packed();

        Assert.Equal(0, sender.Send(packed, Stride, receiver.LocalEndPoint.Serialize()).Errno);

        var batch = new DatagramReceiveBatch(4);
        Assert.Equal(1, receiver.Receive(batch, out var errno));
        Assert.Equal(0, errno);
        Assert.Equal(Stride, batch.SegmentSize(0));
        Assert.Equal(packed, batch.Datagram(0).ToArray());
        Assert.True(batch.IsFrom(0, sender.LocalEndPoint.Serialize()));
        Assert.False(batch.IsFrom(0, receiver.LocalEndPoint.Serialize()));
        Assert.Equal(sender.LocalEndPoint, batch.SourceEndPoint(0, AddressFamily.InterNetwork));
    }

    [Fact]
    public void WithoutGroTheKernelCutsAGsoSendAndEachDatagramArrivesOnItsOwn()
    {
        using var receiver = Open(DatagramSendPath.Segmented, DatagramReceivePath.Single);
        using var sender = Open(DatagramSendPath.Segmented, DatagramReceivePath.Single);
        var packed = Packed();

        Assert.Equal(0, sender.Send(packed, Stride, receiver.LocalEndPoint.Serialize()).Errno);

        var batch = new DatagramReceiveBatch(8, 2048);
        var arrived = new List<byte[]>();
        while (arrived.Count < Datagrams)
        {
            // The single path takes one datagram per call, whatever waits behind it.
            Assert.Equal(1, receiver.Receive(batch, out _));
            Assert.Equal(0, batch.SegmentSize(0));
            arrived.Add(batch.Datagram(0).ToArray());
        }
        Assert.Equal(Expected(packed), arrived);
    }

    [Fact]
    public void ATruncatedDatagramReportsItsRealLength()
    {
        using var receiver = Open(DatagramSendPath.Segmented, DatagramReceivePath.Batched);
        using var sender = Open(DatagramSendPath.Single, DatagramReceivePath.Batched);
        var datagram = new byte[300];
        Random.Shared.NextBytes(datagram);

        Assert.Equal(0, sender.Send(datagram, datagram.Length, receiver.LocalEndPoint.Serialize()).Errno);

        var batch = new DatagramReceiveBatch(2, slotLength: 64);
        Assert.Equal(1, receiver.Receive(batch, out _));
        Assert.Equal(300, batch.ReceivedLength(0));
        Assert.Equal(datagram[..64], batch.Datagram(0).ToArray());
    }

    [Fact]
    public void AnUnreachableDestinationIsReportedAsAnErrnoAfterWhatWasSent()
    {
        using var sender = Open(DatagramSendPath.Segmented, DatagramReceivePath.Batched);
        // Port 0 is nobody's: the kernel refuses to send there (EINVAL), on every path.
        var nowhere = new IPEndPoint(IPAddress.Loopback, 0).Serialize();

        var result = sender.Send(Packed(), Stride, nowhere);

        Assert.Equal(0, result.Sent);
        Assert.Equal(Errno.EINVAL, result.Errno);
    }

    [Fact]
    public void ASocketThatIsNotUdpIsRefusedAndClosed()
    {
        var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.Throws<ArgumentException>(() => new UdpDatagramSocket(tcp));
        Assert.Throws<ObjectDisposedException>(() => tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0)));
    }

    [Fact]
    public void AReceiveAfterDisposeThrows()
    {
        var socket = Open(DatagramSendPath.Segmented, DatagramReceivePath.Coalesced);
        socket.Dispose();
        Assert.Throws<ObjectDisposedException>(() => socket.Receive(new DatagramReceiveBatch(1), out _));
    }

    private static UdpDatagramSocket Open(DatagramSendPath sendPath, DatagramReceivePath receivePath)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.ReceiveBufferSize = 1 << 20;
        // A datagram that never arrives fails the test instead of hanging it (SO_RCVTIMEO holds for recvmmsg too).
        socket.ReceiveTimeout = 5000;
        return new UdpDatagramSocket(socket, sendPath, receivePath);
    }

    /// <summary>Ten 100-byte datagrams and a 50-byte one, back to back, each filled with its own index.</summary>
    private static byte[] Packed()
    {
        var packed = new byte[(Datagrams - 1) * Stride + LastLength];
        for (var i = 0; i < packed.Length; i++)
        {
            packed[i] = (byte)(i / Stride + 1);
        }
        return packed;
    }

    private static List<byte[]> Expected(byte[] packed) => packed.Chunk(Stride).ToList();

    private static List<byte[]> ReceiveAll(UdpDatagramSocket receiver, DatagramReceiveBatch batch, SocketAddress from, bool expectSegments)
    {
        var arrived = new List<byte[]>();
        while (arrived.Count < Datagrams)
        {
            var count = receiver.Receive(batch, out var errno);
            Assert.True(count > 0, $"receive failed: errno {errno}");
            for (var i = 0; i < count; i++)
            {
                Assert.True(batch.IsFrom(i, from));
                Assert.Equal(expectSegments, batch.SegmentSize(i) != 0);
                arrived.Add(batch.Datagram(i).ToArray());
            }
        }
        return arrived;
    }
}
