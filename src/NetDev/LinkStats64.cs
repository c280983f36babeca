namespace NetDev;

/// <summary>
/// A device's counters, the kernel's <c>struct rtnl_link_stats64</c> fields a driver counts. The
/// framework fills the packet, byte, error and drop counters from its per-queue counters; a driver adds
/// its own in <see cref="IDeviceOperations{TSelf}.GetStats64"/>.
/// </summary>
public struct LinkStats64
{
    /// <summary>Frames received (handed to the system).</summary>
    public long RxPackets;
    /// <summary>Frames transmitted.</summary>
    public long TxPackets;
    /// <summary>Bytes received.</summary>
    public long RxBytes;
    /// <summary>Bytes transmitted.</summary>
    public long TxBytes;
    /// <summary>Receive errors.</summary>
    public long RxErrors;
    /// <summary>Transmit errors.</summary>
    public long TxErrors;
    /// <summary>Received frames dropped.</summary>
    public long RxDropped;
    /// <summary>Frames to transmit that were dropped.</summary>
    public long TxDropped;
    /// <summary>Multicast frames received.</summary>
    public long Multicast;
    /// <summary>Collisions.</summary>
    public long Collisions;
    /// <summary>Received frames with a bad length.</summary>
    public long RxLengthErrors;
    /// <summary>Receiver overruns.</summary>
    public long RxOverErrors;
    /// <summary>Received frames with a bad checksum.</summary>
    public long RxCrcErrors;
    /// <summary>Received frames with a framing error.</summary>
    public long RxFrameErrors;
    /// <summary>Receive FIFO errors.</summary>
    public long RxFifoErrors;
    /// <summary>Frames the receiver missed.</summary>
    public long RxMissedErrors;
    /// <summary>Transmissions aborted.</summary>
    public long TxAbortedErrors;
    /// <summary>Transmissions that failed for lack of carrier.</summary>
    public long TxCarrierErrors;
    /// <summary>Transmit FIFO errors.</summary>
    public long TxFifoErrors;
    /// <summary>Frames received with no protocol handler.</summary>
    public long RxNoHandler;
}
