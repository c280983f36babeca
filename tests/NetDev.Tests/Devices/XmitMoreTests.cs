using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>DeviceQueue.XmitMore: what the host says about the next frame, as the driver sees it inside StartXmit.</summary>
public sealed class XmitMoreTests
{
    private static (DeviceHarness Harness, List<bool> Seen) Harness()
    {
        var harness = DeviceHarness.Up();
        var seen = new List<bool>();
        harness.Driver.OnStartXmit = (device, skb) =>
        {
            seen.Add(device.Queues[skb.QueueIndex].XmitMore);
            skb.Consume();
            return TxResult.Ok;
        };
        return (harness, seen);
    }

    private static SkBuff Frame(DeviceQueue queue)
    {
        var skb = queue.TxPool.Rent();
        skb.Put(60);
        return skb;
    }

    [Fact]
    public void TheDriverSeesWhatTheHostSaidAndNothingAfterwards()
    {
        var (harness, seen) = Harness();
        using var _ = harness;
        var queue = harness.Device.Queues[0];

        queue.Engine.Dispatch(Frame(queue), more: true);
        queue.Engine.Dispatch(Frame(queue), more: true);
        queue.Engine.Dispatch(Frame(queue), more: false);
        queue.Engine.Dispatch(Frame(queue), more: false);

        Assert.Equal([true, true, false, false], seen);
        Assert.False(queue.XmitMore);
    }

    [Fact]
    public void AQueueTheDriverStopsSaysNoMoreSoTheDriverFlushes()
    {
        var harness = DeviceHarness.Up();
        using var _ = harness;
        var seen = new List<(bool Before, bool After)>();
        harness.Driver.OnStartXmit = (device, skb) =>
        {
            var queue = device.Queues[skb.QueueIndex];
            var before = queue.XmitMore;
            queue.Stop();
            seen.Add((before, queue.XmitMore));
            skb.Consume();
            return TxResult.Ok;
        };
        var queue = harness.Device.Queues[0];

        queue.Engine.Dispatch(Frame(queue), more: true);

        Assert.Equal([(true, false)], seen);
    }

    [Fact]
    public void AFrameRetriedAfterBusyGoesWithNoMore()
    {
        var (harness, seen) = Harness();
        using var _ = harness;
        var queue = harness.Device.Queues[0];
        var busyOnce = true;
        var consume = harness.Driver.OnStartXmit;
        harness.Driver.OnStartXmit = (device, skb) =>
        {
            if (busyOnce)
            {
                busyOnce = false;
                seen.Add(device.Queues[0].XmitMore);
                return TxResult.Busy;
            }
            return consume(device, skb);
        };

        queue.Engine.Dispatch(Frame(queue), more: true);
        queue.Engine.RetryPending();

        Assert.Equal([true, false], seen);
        Assert.Equal(0, queue.TxPool.Outstanding);
    }
}
