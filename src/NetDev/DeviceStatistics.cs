namespace NetDev;

/// <summary>
/// A device's counters, read as one: the framework's per-queue counters (written by each queue's own
/// thread, <c>dev_lstats_add</c>) added up at the moment of reading, the drops by reason its pools
/// counted, and the driver's own (<c>GetStats64</c>, ethtool statistics). The device's owner, the CLI
/// and the control plane all read them here (<see cref="NetDevice.Statistics"/>).
/// </summary>
/// <remarks>Reading takes no lock and stops nothing: each counter is a snapshot, so a sum read while
/// frames flow may mix counters of slightly different moments, as <c>ip -s link</c> does.</remarks>
public sealed class DeviceStatistics
{
    private readonly NetDevice _device;

    internal DeviceStatistics(NetDevice device) => _device = device;

    /// <summary>The device's main counters, added up over its queues now (with the driver's own, if it has <c>GetStats64</c>).</summary>
    public DeviceStats GetStats()
    {
        var stats = GetLinkStats64();
        return new DeviceStats(stats.TxPackets, stats.TxBytes, stats.RxPackets, stats.RxBytes,
            stats.TxDropped, stats.RxDropped, stats.TxErrors, stats.RxErrors);
    }

    /// <summary>All counters (<c>rtnl_link_stats64</c>): the framework's per-queue counters added up, then the driver's <c>GetStats64</c>.</summary>
    public LinkStats64 GetLinkStats64()
    {
        var stats = default(LinkStats64);
        foreach (var queue in _device.Queues)
        {
            stats.TxPackets += queue.TxPackets;
            stats.TxBytes += queue.TxBytes;
            stats.RxPackets += queue.RxPackets;
            stats.RxBytes += queue.RxBytes;
            stats.TxDropped += queue.TxDropped;
            stats.RxDropped += queue.RxDropped;
            stats.TxErrors += queue.TxErrors;
            stats.RxErrors += queue.RxErrors;
        }
        _device.Operations.GetStats64(ref stats);
        return stats;
    }

    /// <summary>Frames dropped, per direction and <see cref="DropReason"/>, added up over the queues (reasons with no drop are left out).</summary>
    public IReadOnlyList<DropCount> GetDropCounts()
    {
        var counts = new List<DropCount>();
        foreach (var reason in Enum.GetValues<DropReason>())
        {
            var tx = _device.Queues.Sum(q => q.TxPool.DropCount(reason));
            var rx = _device.Queues.Sum(q => q.RxPool.DropCount(reason));
            if (tx > 0)
            {
                counts.Add(new DropCount(TrafficDirection.Transmit, reason, tx));
            }
            if (rx > 0)
            {
                counts.Add(new DropCount(TrafficDirection.Receive, reason, rx));
            }
        }
        return counts;
    }

    /// <summary>
    /// Named counters (<c>ethtool -S</c>): the framework's per-queue counters and drops by reason, then
    /// the driver's own.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, long>> GetEthtoolStatistics()
    {
        var statistics = new List<KeyValuePair<string, long>>();
        foreach (var queue in _device.Queues)
        {
            var i = queue.Index;
            statistics.Add(new($"tx_queue_{i}_packets", queue.TxPackets));
            statistics.Add(new($"tx_queue_{i}_bytes", queue.TxBytes));
            statistics.Add(new($"tx_queue_{i}_dropped", queue.TxDropped));
            statistics.Add(new($"tx_queue_{i}_busy", queue.BusyReturns));
            statistics.Add(new($"tx_queue_{i}_timeouts", queue.Timeouts));
            statistics.Add(new($"rx_queue_{i}_packets", queue.RxPackets));
            statistics.Add(new($"rx_queue_{i}_bytes", queue.RxBytes));
            statistics.Add(new($"rx_queue_{i}_dropped", queue.RxDropped));
        }
        foreach (var drop in GetDropCounts())
        {
            statistics.Add(new($"{Diagnostics.DiagnosticNames.Of(drop.Direction)}_drop_{Diagnostics.DiagnosticNames.Of(drop.Reason)}", drop.Count));
        }
        statistics.AddRange(_device.Operations.GetStatistics());
        return statistics;
    }
}
