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

    /// <summary>
    /// The frame came without the authentication the driver requires, or was not looked at because the
    /// driver limits how often it tries to authenticate a new sender session (a keyed tunnel receiving a
    /// plain datagram, or a flood of datagrams of unknown sessions).
    /// </summary>
    Unauthenticated,

    /// <summary>
    /// The frame's authentication did not verify: it was forged, altered on the way, or sealed with another
    /// key. Nothing of it was delivered.
    /// </summary>
    AuthenticationFailed,

    /// <summary>
    /// The frame authenticated but was received before (its packet number already seen, older than the
    /// replay window, or of a sender session that an earlier one replaced): a replay or a late duplicate.
    /// </summary>
    Replayed,
}
