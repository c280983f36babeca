namespace NetDev;

/// <summary>
/// A device's counters added up over its queues when read (the kernel's <c>rtnl_link_stats64</c>
/// fields a driver counts).
/// </summary>
/// <param name="TxPackets">Frames transmitted.</param>
/// <param name="TxBytes">Bytes transmitted.</param>
/// <param name="RxPackets">Frames received.</param>
/// <param name="RxBytes">Bytes received.</param>
/// <param name="TxDropped">Transmit frames dropped (any reason).</param>
/// <param name="RxDropped">Receive frames dropped (any reason).</param>
/// <param name="TxErrors">Transmit errors.</param>
/// <param name="RxErrors">Receive errors.</param>
public readonly record struct DeviceStats(
    long TxPackets,
    long TxBytes,
    long RxPackets,
    long RxBytes,
    long TxDropped,
    long RxDropped,
    long TxErrors,
    long RxErrors)
{
    /// <summary>
    /// The counters as one line, <c>tx_packets=N tx_bytes=N rx_packets=N rx_bytes=N tx_dropped=N rx_dropped=N
    /// tx_errors=N rx_errors=N</c>.
    /// </summary>
    public override string ToString() =>
        $"tx_packets={TxPackets} tx_bytes={TxBytes} rx_packets={RxPackets} rx_bytes={RxBytes} tx_dropped={TxDropped} rx_dropped={RxDropped} tx_errors={TxErrors} rx_errors={RxErrors}";
}
