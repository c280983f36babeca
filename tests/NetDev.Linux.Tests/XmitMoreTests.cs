using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NetDev.Linux.Tests;

/// <summary>The queue loop tells the driver when another frame follows at once (XmitMore), in both I/O modes.</summary>
public sealed class XmitMoreTests
{
    private const ushort TestEtherType = 0x88B5;
    private const int Burst = 10;

    [Theory]
    [InlineData(IoMode.Poll)]
    [InlineData(IoMode.IoUring)]
    public void FramesThatWaitedTogetherArriveInOrderAndOnlyTheLastSaysNoMore(IoMode ioMode)
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = new Registration<RecordingDriver>(new LinuxHost(ns.Host.Options with { IoMode = ioMode }), 1, 1, driver);
        var device = registration.Device;
        device.Name = "ndmore0";
        device.Flags = DeviceFlags.NoArp;
        registration.Register();
        device.BringUp();
        var ifIndex = device.IfIndex;

        // While the queue is stopped the burst waits in the kernel; woken, the loop reads it in one go.
        device.StopQueue(0);
        NetworkNamespace.Run(ns.Name, () =>
        {
            using var socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Raw);
            var address = new SocketAddress(AddressFamily.Packet, 20);
            BinaryPrimitives.WriteUInt16BigEndian(address.Buffer.Span[2..], TestEtherType);
            BinaryPrimitives.WriteInt32LittleEndian(address.Buffer.Span[4..], ifIndex);
            for (var i = 0; i < Burst; i++)
            {
                var frame = new byte[60];
                device.MacAddress.CopyTo(frame);
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), TestEtherType);
                frame[14] = (byte)i;
                socket.SendTo(frame, SocketFlags.None, address);
            }
        });
        device.WakeQueue(0);

        Wait.Until(() => TestFrames(driver).Count == Burst, "the burst at StartXmit");
        Assert.Equal(Enumerable.Range(0, Burst).Select(i => (byte)i), TestFrames(driver).Select(frame => frame[14]));
        var more = driver.XmitMore.ToArray();
        Assert.False(more[^1], "the last frame of the batch must say no more follow");
        Assert.True(more.Count(m => m) >= Burst - 1, $"XmitMore per frame: {string.Join(",", more)}");
    }

    private static List<byte[]> TestFrames(RecordingDriver driver) =>
        [.. driver.Frames.Where(frame => frame.Length > 14 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == TestEtherType)];
}
