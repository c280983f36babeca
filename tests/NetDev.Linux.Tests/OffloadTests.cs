using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NetDev.Linux.Tests;

public sealed class OffloadTests
{
    [Fact]
    public void OffloadsAskedForAreTurnedOnInTheKernel()
    {
        using var ns = new TestNamespace();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        registration.Device.Name = "ndoff0";
        registration.Device.Features = DeviceFeatures.All;
        registration.Register();
        Assert.Equal(DeviceFeatures.All, registration.Device.Features);
        var features = Shell.Run("ip", $"netns exec {ns.Name} ethtool -k ndoff0");
        Assert.Contains("tcp-segmentation-offload: on", features);
    }

    /// <summary>
    /// The virtio-net header is read with the frame in one read, whichever way the frame lands: straight into a
    /// pooled buffer that holds 64 KiB segments (segmentation offloads), or into the source's landing buffer and
    /// then copied into an MTU-sized one (checksum offload alone).
    /// </summary>
    [Theory]
    [InlineData(DeviceFeatures.Checksum, false)]
    [InlineData(DeviceFeatures.All, true)]
    public void AFrameAndItsVirtioNetHeaderArriveTogetherReadInPlaceOrLanded(DeviceFeatures features, bool buffersHoldAnyFrame)
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        var device = registration.Device;
        device.Name = "ndcsum0";
        device.Flags = DeviceFlags.NoArp;
        device.Features = features;
        registration.Register();
        device.BringUp();
        Assert.Equal(buffersHoldAnyFrame, device.Queues[0].TxPool.BufferSize >= SkBuffPool.DefaultHeadroom + NetDevice.GsoMaxFrameLength);
        ns.Ip("addr add 10.98.0.1/24 dev ndcsum0");
        ns.Ip("neigh add 10.98.0.2 lladdr 02:00:00:00:00:02 dev ndcsum0");

        var payload = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        NetworkNamespace.Run(ns.Name, () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.SendTo(payload, new IPEndPoint(IPAddress.Parse("10.98.0.2"), 9999));
        });

        int index = -1;
        Wait.Until(() => (index = driver.Frames.ToList().FindIndex(IsTheDatagram)) >= 0, "the datagram at StartXmit");
        Wait.Until(() => driver.Offloads.Count > index, "its offload state");
        var frame = driver.Frames.ElementAt(index);
        var offload = driver.Offloads.ElementAt(index);
        Assert.Equal(14 + 20 + 8 + payload.Length, frame.Length);
        Assert.Equal(payload, frame[(14 + 20 + 8)..]);
        // The kernel left the UDP checksum to the device: it starts at the UDP header, the sum 6 bytes into it.
        Assert.True(offload.NeedsChecksum, "the kernel left no checksum to complete");
        Assert.Equal(14 + 20, offload.ChecksumStart);
        Assert.Equal(6, offload.ChecksumOffset);
        Assert.Equal(GsoType.None, offload.GsoType);
    }

    private static bool IsTheDatagram(byte[] frame) =>
        frame.Length >= 14 + 20 + 8
        && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == 0x0800
        && frame[14 + 9] == 17
        && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(14 + 20 + 2)) == 9999;
}
