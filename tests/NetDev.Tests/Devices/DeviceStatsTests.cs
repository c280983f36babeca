using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>Counters live per queue and are added up only when read.</summary>
public sealed class DeviceStatsTests
{
    [Fact]
    public void GetStatsAddsUpEveryQueuesCounters()
    {
        using var harness = DeviceHarness.Up(txQueues: 3, rxQueues: 3);
        var device = harness.Device;
        harness.Driver.OnStartXmit = (dev, skb) =>
        {
            if (skb.Length > 100)
            {
                dev.Queues[skb.QueueIndex].CountTxError();
                skb.Drop(DropReason.PacketTooBig);
                return TxResult.Ok;
            }
            dev.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        };

        harness.Link.SendFrame(0, new byte[10]);
        harness.Link.SendFrame(1, new byte[20]);
        harness.Link.SendFrame(2, new byte[30]);
        harness.Link.SendFrame(2, new byte[40]);
        harness.Link.SendFrame(1, new byte[200]);
        Receive(device, queue: 0, bytes: 50);
        Receive(device, queue: 2, bytes: 70);
        harness.Link.DeliverResult = DropReason.QueueFull;
        Receive(device, queue: 1, bytes: 60);
        device.Queues[2].CountRxError();

        Assert.Equal(new DeviceStats(
            TxPackets: 4, TxBytes: 100,
            RxPackets: 2, RxBytes: 120,
            TxDropped: 1, RxDropped: 1,
            TxErrors: 1, RxErrors: 1), device.GetStats());
        Assert.Equal(2, device.Queues[2].TxPackets);
        Assert.Equal(70, device.Queues[2].TxBytes);
        Assert.Equal(1, device.Queues[1].TxErrors);
    }

    [Fact]
    public void AFreshDeviceCountsNothing()
    {
        using var harness = DeviceHarness.Unregistered(txQueues: 4, rxQueues: 2);

        Assert.Equal(default, harness.Device.GetStats());
    }

    [Fact]
    public void StatsPrintAsOneLine()
    {
        var stats = new DeviceStats(1, 2, 3, 4, 5, 6, 7, 8);

        Assert.Equal("tx_packets=1 tx_bytes=2 rx_packets=3 rx_bytes=4 tx_dropped=5 rx_dropped=6 tx_errors=7 rx_errors=8", stats.ToString());
    }

    private static void Receive(NetDevice device, int queue, int bytes)
    {
        var skb = device.AllocSkb(queue);
        skb.Put(bytes);
        device.NetifRx(skb);
    }
}
