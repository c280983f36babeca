namespace NetDev.Drivers.Tunnel;

/// <summary>What a tunnel device does with the system's checksum and segmentation offloads.</summary>
public enum TunnelOffloads
{
    /// <summary>
    /// No offloads: the system hands the device wire-size frames with complete checksums and the driver
    /// sends them as they are. The system's stack then cuts and checksums every TCP segment itself.
    /// </summary>
    None,

    /// <summary>
    /// The device takes every offload (<see cref="DeviceFeatures.All"/>): the system hands it frames of up
    /// to 64 KiB with partial checksums, and the driver completes the checksums and cuts the frames into
    /// wire-size segments, one datagram each. Received frames are handed on as they come.
    /// </summary>
    Segmentation,

    /// <summary>
    /// As <see cref="Segmentation"/>, and the receive thread also merges consecutive TCP segments of a
    /// flow into frames of up to 64 KiB before handing them to the system (receive coalescing, GRO), so
    /// the system's stack handles fewer, larger frames. The device's receive counters then count the
    /// merged frames; the driver's own <c>tunnel_rx_datagrams</c> still counts datagrams.
    /// The default: the receiving stack then handles one frame per 64 KiB instead of one per datagram, which
    /// is most of the tunnel's TCP throughput (docs/tunnel.md, "Measuring throughput").
    /// </summary>
    SegmentationAndCoalescing,
}
