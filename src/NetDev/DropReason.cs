namespace NetDev;

/// <summary>
/// Why a frame was dropped, as the kernel's <c>enum skb_drop_reason</c> passed to <c>kfree_skb_reason</c>.
/// Drops are counted per reason (see <see cref="SkBuffPool.DropCount(DropReason)"/>).
/// </summary>
public enum DropReason
{
    /// <summary>No specific reason was given (<c>SKB_DROP_REASON_NOT_SPECIFIED</c>).</summary>
    NotSpecified = 0,

    /// <summary>The device was down or being removed, so the frame could not be handled.</summary>
    DeviceDown,

    /// <summary>A transmit or receive queue was full.</summary>
    QueueFull,

    /// <summary>The frame was shorter than its headers say it must be.</summary>
    PacketTooSmall,

    /// <summary>The frame was larger than the device or the path can carry.</summary>
    PacketTooBig,

    /// <summary>A header was malformed or of an unsupported version.</summary>
    InvalidHeader,

    /// <summary>The frame's protocol is one the driver does not handle.</summary>
    UnhandledProtocol,

    /// <summary>No route or peer to send the frame to.</summary>
    NoRoute,

    /// <summary>The frame came from a source the driver does not accept.</summary>
    ForeignSource,

    /// <summary>The driver failed to transmit the frame because of an I/O error.</summary>
    TransmitError,

    /// <summary>A filter or policy of the driver rejected the frame.</summary>
    Filtered,
}
