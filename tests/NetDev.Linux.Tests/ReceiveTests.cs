using System.Buffers.Binary;
using System.Net.Sockets;

namespace NetDev.Linux.Tests;

/// <summary>Frames a driver hands to the kernel arrive in its stack, byte for byte and on the queue they were given.</summary>
public sealed class ReceiveTests
{
    private const ushort TestEtherType = 0x88B5;
    private const int SolPacket = 263;
    private const int PacketFanout = 18;
    private const int PacketFanoutByQueueMapping = 5; // PACKET_FANOUT_QM: split by the queue a frame arrived on

    [Fact]
    public void NetifRxFramesReachTheKernelOnTheirQueue()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = new Registration<RecordingDriver>(ns.Host, 2, 2, driver);
        registration.Device.Name = "ndrx0";
        registration.Register();
        registration.Device.BringUp();
        var device = registration.Device;

        // Two packet sockets in one fanout group that splits by the frame's receive queue.
        var group = Random.Shared.Next(1, 0xFFFF);
        var sockets = NetworkNamespace.Run(ns.Name, () => Enumerable.Range(0, 2).Select(_ =>
        {
            var socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness((ushort)TestEtherType));
            socket.SetRawSocketOption(SolPacket, PacketFanout, BitConverter.GetBytes(group | (PacketFanoutByQueueMapping << 16)));
            socket.ReceiveTimeout = 5000;
            return socket;
        }).ToArray());
        try
        {
            var sent = new List<byte[]>[] { [], [] };
            for (var i = 0; i < 20; i++)
            {
                var queue = i % 2;
                var skb = device.AllocSkb(queue);
                var frame = skb.Put(60 + i);
                device.MacAddress.CopyTo(frame);
                MacAddress.Parse("02:00:00:00:00:99").CopyTo(frame[6..]);
                BinaryPrimitives.WriteUInt16BigEndian(frame[12..], TestEtherType);
                frame[14] = (byte)queue;
                frame[15] = (byte)i;
                frame[16..].Fill((byte)(i * 3));
                sent[queue].Add(frame.ToArray());
                Assert.True(device.NetifRx(skb));
            }

            for (var queue = 0; queue < 2; queue++)
            {
                // skb_record_rx_queue stores queue + 1 in queue_mapping, and the fanout picks mapping % sockets.
                var socket = sockets[(queue + 1) % 2];
                var received = new List<byte[]>();
                var buffer = new byte[2048];
                while (received.Count < sent[queue].Count)
                {
                    var length = socket.Receive(buffer);
                    received.Add(buffer[..length]);
                }
                Assert.True(sent[queue].SequenceEqual(received, ByteArrays.Instance),
                    $"queue {queue}'s socket got frames (queue marker, index) {string.Join(" ", received.Select(f => $"({f[14]},{f[15]},len {f.Length})"))}; sent {string.Join(" ", sent[queue].Select(f => $"({f[14]},{f[15]},len {f.Length})"))}");
            }
            Assert.Equal(20, device.GetStats().RxPackets);
            Assert.Equal(10, device.Queues[1].RxPackets);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private sealed class ByteArrays : IEqualityComparer<byte[]>
    {
        public static readonly ByteArrays Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => obj.Length;
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public void NetifReceiveBatchFramesReachTheKernelInOrderEachWithItsOutcome(bool batchedWrites, bool offloads)
    {
        using var ns = new TestNamespace();
        var host = new LinuxHost(new LinuxHostOptions { NetworkNamespace = ns.Name, BatchedWrites = batchedWrites });
        using var registration = new Registration<RecordingDriver>(host, 1, 1, new RecordingDriver());
        var device = registration.Device;
        device.Name = "ndrxb0";
        device.Features = offloads ? DeviceFeatures.All : DeviceFeatures.None;
        registration.Register();
        device.BringUp();
        using var socket = NetworkNamespace.Run(ns.Name, () =>
        {
            var packet = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness(TestEtherType));
            packet.ReceiveTimeout = 5000;
            return packet;
        });

        // More frames than one io_uring submission takes, and one too short for Ethernet, which the TAP refuses (EINVAL).
        const int Count = 150;
        const int TooShort = 70;
        var frames = new SkBuff[Count];
        var sent = new List<byte[]>();
        for (var i = 0; i < Count; i++)
        {
            frames[i] = device.AllocSkb();
            if (i == TooShort)
            {
                frames[i].Put(10).Fill(0xEE);
                continue;
            }
            var frame = frames[i].Put(60 + i % 40);
            device.MacAddress.CopyTo(frame);
            MacAddress.Parse("02:00:00:00:00:99").CopyTo(frame[6..]);
            BinaryPrimitives.WriteUInt16BigEndian(frame[12..], TestEtherType);
            BinaryPrimitives.WriteUInt16BigEndian(frame[14..], (ushort)i);
            frame[16..].Fill((byte)(i * 7));
            sent.Add(frame.ToArray());
        }

        Assert.Equal(Count, device.NetifReceiveBatch(frames, budget: Count));

        if (batchedWrites)
        {
            Assert.True(Loop.IoUringWriter.Unavailable is null, $"batched writes fell back to one write per frame: {Loop.IoUringWriter.Unavailable?.Message}");
        }
        Assert.All(frames, skb => Assert.False(skb.IsLive));
        var received = new List<byte[]>();
        var buffer = new byte[2048];
        while (received.Count < sent.Count)
        {
            received.Add(buffer[..socket.Receive(buffer)]);
        }
        Assert.True(sent.SequenceEqual(received, ByteArrays.Instance),
            $"got frames {string.Join(" ", received.Select(f => BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(14))))}");
        var queue = device.Queues[0];
        Assert.Equal(Count - 1, queue.RxPackets);
        Assert.Equal(1, queue.RxPool.DropCount(DropReason.InvalidHeader));
        Assert.Equal(Count - 1, queue.RxPool.ConsumedCount);
    }

    [Fact]
    public void NetifRxOnADownDeviceDropsAndCounts()
    {
        using var ns = new TestNamespace();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        registration.Device.Name = "ndrx1";
        registration.Register();
        var skb = registration.Device.AllocSkb();
        skb.Put(60);
        Assert.False(registration.Device.NetifRx(skb));
        Assert.Equal(1, registration.Device.Queues[0].RxPool.DropCount(DropReason.DeviceDown));
        Assert.Equal(1, registration.Device.GetStats().RxDropped);
    }
}
