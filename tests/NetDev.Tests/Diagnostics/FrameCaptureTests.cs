using NetDev.Diagnostics;

namespace NetDev.Tests.Diagnostics;

/// <summary>A capture sees the frames the driver sees, each way, and drops when asked; a full ring loses frames counted.</summary>
public sealed class FrameCaptureTests
{
    private static List<(CapturedFrameInfo Info, byte[] Bytes)> Drain(FrameCapture capture)
    {
        var buffer = new byte[capture.SnapLength];
        var frames = new List<(CapturedFrameInfo, byte[])>();
        while (capture.TryRead(buffer, out var info))
        {
            frames.Add((info, buffer[..info.CapturedLength]));
        }
        return frames;
    }

    [Fact]
    public void TransmittedAndReceivedFramesAreCapturedInOrderWithTheirDirection()
    {
        using var harness = MetricsTests.UpAs("capture-a");
        using var capture = FrameCapture.Start(harness.Device);
        harness.Link.SendFrame(0, "out"u8);
        var skb = harness.Device.AllocSkb();
        "in"u8.CopyTo(skb.Put(2));
        harness.Device.NetifRx(skb);

        var frames = Drain(capture);

        Assert.Collection(frames,
            frame =>
            {
                Assert.Equal(TrafficDirection.Transmit, frame.Info.Direction);
                Assert.Equal("out"u8.ToArray(), frame.Bytes);
                Assert.Null(frame.Info.DropReason);
            },
            frame =>
            {
                Assert.Equal(TrafficDirection.Receive, frame.Info.Direction);
                Assert.Equal("in"u8.ToArray(), frame.Bytes);
            });
        Assert.True(frames[0].Info.UnixNanoseconds <= frames[1].Info.UnixNanoseconds);
        Assert.InRange(frames[0].Info.UnixNanoseconds / 1_000_000_000, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
    }

    [Fact]
    public void DropsAreCapturedWithTheirReasonOnlyWhenAsked()
    {
        using var harness = MetricsTests.UpAs("capture-b");
        using var withDrops = FrameCapture.Start(harness.Device, includeDrops: true);
        using var withoutDrops = FrameCapture.Start(harness.Device);
        harness.Link.DeliverResult = DropReason.PacketTooBig;
        var skb = harness.Device.AllocSkb();
        "refused"u8.CopyTo(skb.Put(7));

        harness.Device.NetifRx(skb);

        var (info, bytes) = Assert.Single(Drain(withDrops));
        Assert.Equal(DropReason.PacketTooBig, info.DropReason);
        Assert.Equal(TrafficDirection.Receive, info.Direction);
        Assert.Equal("refused"u8.ToArray(), bytes);
        Assert.Empty(Drain(withoutDrops));
    }

    [Fact]
    public void AFullRingLosesFramesCountedAndTheDeviceGoesOn()
    {
        using var harness = MetricsTests.UpAs("capture-c");
        using var capture = FrameCapture.Start(harness.Device, ringBytes: 64 << 10);
        var frame = new byte[1000];

        for (var i = 0; i < 200; i++)
        {
            harness.Link.SendFrame(0, frame);
        }

        Assert.Equal(200, harness.Device.Queues[0].TxPackets);
        Assert.True(capture.Lost > 0);
        Assert.Equal(200, capture.Captured + capture.Lost);
        Assert.Equal(capture.Captured, Drain(capture).Count);
    }

    [Fact]
    public void TheRingWrapsAroundWithoutLosingAFrameItHadRoomFor()
    {
        using var harness = MetricsTests.UpAs("capture-d");
        using var capture = FrameCapture.Start(harness.Device, ringBytes: 64 << 10);
        var buffer = new byte[capture.SnapLength];

        for (var i = 0; i < 1000; i++)
        {
            var frame = new byte[300 + i % 7];
            frame[0] = (byte)i;
            harness.Link.SendFrame(0, frame);
            Assert.True(capture.TryRead(buffer, out var info));
            Assert.Equal(frame.Length, info.Length);
            Assert.Equal((byte)i, buffer[0]);
        }

        Assert.Equal(0, capture.Lost);
    }

    [Fact]
    public void ADetachedCaptureSeesNoMoreFrames()
    {
        using var harness = MetricsTests.UpAs("capture-e");
        var capture = FrameCapture.Start(harness.Device);
        harness.Link.SendFrame(0, "seen"u8);

        capture.Dispose();
        harness.Link.SendFrame(0, "unseen"u8);

        Assert.Single(Drain(capture));
        Assert.False(harness.Device.IsCaptured);
    }

    [Fact]
    public void ALongFrameIsCutToTheSnapLengthAndKeepsItsLength()
    {
        using var harness = MetricsTests.UpAs("capture-f");
        using var capture = FrameCapture.Start(harness.Device, snapLength: 64);

        harness.Link.SendFrame(0, new byte[1500]);

        var (info, bytes) = Assert.Single(Drain(capture));
        Assert.Equal(1500, info.Length);
        Assert.Equal(64, bytes.Length);
    }
}
