using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NetDev.Linux.Tests;

public sealed class FrameTests
{
    [Fact]
    public void UdpDatagramsRoutedThroughTheDeviceReachStartXmitByteForByte()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = Register(ns, driver, "ndudp0", queues: 1);
        ns.Ip("addr add 10.200.0.1/24 dev ndudp0");

        var payloads = Enumerable.Range(0, 20).Select(i => Enumerable.Range(0, 50 + i * 37).Select(b => (byte)(b * 7 + i)).ToArray()).ToList();
        NetworkNamespace.Run(ns.Name, () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            foreach (var payload in payloads)
            {
                socket.SendTo(payload, new IPEndPoint(IPAddress.Parse("10.200.0.2"), 9999));
            }
        });

        Wait.Until(() => UdpPayloads(driver, 9999).Count >= payloads.Count, "all datagrams at StartXmit");
        Assert.Equal(payloads, UdpPayloads(driver, 9999));
        var frames = driver.Frames.ToArray();
        var stats = registration.Device.GetStats();
        Assert.Equal(frames.Length, stats.TxPackets);
        Assert.Equal(frames.Sum(f => (long)f.Length), stats.TxBytes);
        Assert.Equal(0, stats.TxDropped);
    }

    [Fact]
    public void RawFramesFromAnAfPacketSocketReachStartXmitUnchanged()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = Register(ns, driver, "ndraw0", queues: 1);
        var ifIndex = registration.Device.IfIndex;

        var frames = Enumerable.Range(0, 10).Select(i => EthernetFrames.Marked(registration.Device.MacAddress, length: 60 + i * 100, seed: i)).ToList();
        NetworkNamespace.Run(ns.Name, () =>
        {
            using var socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Raw);
            var address = EthernetFrames.PacketAddress(ifIndex);
            foreach (var frame in frames)
            {
                socket.SendTo(frame, SocketFlags.None, address);
            }
        });

        Wait.Until(() => driver.Frames.Count(EthernetFrames.IsMarked) >= frames.Count, "all raw frames at StartXmit");
        Assert.Equal(frames, driver.Frames.Where(EthernetFrames.IsMarked).ToList());
        Assert.Equal(driver.Frames.Count, registration.Device.GetStats().TxPackets);
    }

    [Fact]
    public void FramesOfManyFlowsAreServedByMoreThanOneQueue()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = Register(ns, driver, "ndmq1", queues: 4);
        ns.Ip("addr add 10.201.0.1/24 dev ndmq1");
        NetworkNamespace.Run(ns.Name, () =>
        {
            for (var flow = 0; flow < 64; flow++)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                socket.Bind(new IPEndPoint(IPAddress.Any, 20000 + flow));
                socket.SendTo(new byte[32], new IPEndPoint(IPAddress.Parse("10.201.0.2"), 30000 + flow));
            }
        });
        Wait.Until(() => UdpPayloads(driver, port: null).Count >= 64, "64 flows at StartXmit");
        Assert.True(driver.FrameQueues.Distinct().Count() > 1, "frames of 64 flows all arrived on one queue");
        var perQueue = registration.Device.Queues.Select(q => q.TxPackets).ToArray();
        Assert.Equal(driver.Frames.Count, perQueue.Sum());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AfterAnMtuRaiseLargeFramesArriveWholeAndAreCountedAsTheKernelCountsThem(bool raisedByOthers)
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        using var _ = registration;
        registration.Device.Name = "ndmtu0";
        registration.Device.Flags = DeviceFlags.NoArp;
        registration.Device.MaxMtu = 9000;
        registration.Register();
        registration.Device.BringUp();
        var device = registration.Device;
        var small = EthernetFrames.Marked(device.MacAddress, length: 100, seed: 1);
        Send(ns, device.IfIndex, small);   // the queue's buffers are in use at the old size now
        Wait.Until(() => driver.Frames.Count(EthernetFrames.IsMarked) == 1, "the first frame");

        if (raisedByOthers)
        {
            ns.Ip("link set dev ndmtu0 mtu 9000");   // the device hears of it only after the kernel has it
        }
        else
        {
            device.Mtu = 9000;
        }
        var large = EthernetFrames.Marked(device.MacAddress, length: 8042, seed: 2);
        var tagged = EthernetFrames.Tagged(EthernetFrames.Marked(device.MacAddress, length: 9000 + NetDevice.EthernetHeaderLength, seed: 3), (EthernetFrames.Vlan, (ushort)7));
        Send(ns, device.IfIndex, large, tagged);

        Wait.Until(() => driver.Frames.Count(EthernetFrames.IsMarked) == 3, "the large frames");
        Assert.Equal([small, large, tagged], driver.Frames.Where(EthernetFrames.IsMarked).ToList());
        Assert.Equal(ns.Counter("ndmtu0", "tx_bytes"), device.GetStats().TxBytes);
        Assert.Equal(0, device.GetStats().TxDropped);
    }

    internal static Registration<RecordingDriver> Register(TestNamespace ns, RecordingDriver driver, string name, int queues)
    {
        var registration = new Registration<RecordingDriver>(ns.Host, queues, queues, driver);
        registration.Device.Name = name;
        registration.Device.Flags = DeviceFlags.NoArp;
        registration.Register();
        registration.Device.BringUp();
        return registration;
    }

    /// <summary>Sends <paramref name="frames"/> as they are through interface <paramref name="ifIndex"/> (AF_PACKET).</summary>
    private static void Send(TestNamespace ns, int ifIndex, params byte[][] frames) => NetworkNamespace.Run(ns.Name, () =>
    {
        using var socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Raw);
        foreach (var frame in frames)
        {
            socket.SendTo(frame, SocketFlags.None, EthernetFrames.PacketAddress(ifIndex));
        }
    });

    /// <summary>The UDP payloads among the captured IPv4 frames, to <paramref name="port"/> (any port when null).</summary>
    private static List<byte[]> UdpPayloads(RecordingDriver driver, int? port)
    {
        var payloads = new List<byte[]>();
        foreach (var frame in driver.Frames)
        {
            if (frame.Length < 14 + 20 + 8 || BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) != 0x0800 || frame[14 + 9] != 17)
            {
                continue;
            }
            var ipHeader = (frame[14] & 0x0F) * 4;
            var udp = frame.AsSpan(14 + ipHeader);
            if (port is { } p && BinaryPrimitives.ReadUInt16BigEndian(udp[2..]) != p)
            {
                continue;
            }
            var udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
            payloads.Add(udp[8..udpLength].ToArray());
        }
        return payloads;
    }
}
