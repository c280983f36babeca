namespace NetDev.Offload;

/// <summary>
/// Completes the partial checksum of a frame that travels with checksum offload
/// (<see cref="SkBuffOffload.NeedsChecksum"/>, the kernel's <c>CHECKSUM_PARTIAL</c>): what a NIC does
/// before a frame leaves, and the kernel's <c>skb_checksum_help</c>.
/// </summary>
/// <remarks>
/// The system leaves the sum of the pseudo-header in the checksum field and says where checksumming
/// starts (<see cref="SkBuffOffload.ChecksumStart"/>, the transport header) and where the result goes
/// (<see cref="SkBuffOffload.ChecksumOffset"/> further on). The checksum is the complement of the sum
/// from the start to the end of the frame, field included, so no header needs to be parsed.
/// </remarks>
public static class PartialChecksum
{
    /// <summary>
    /// Computes and stores the checksum <paramref name="skb"/>'s offload fields ask for, and clears
    /// <see cref="SkBuffOffload.NeedsChecksum"/>. A frame that needs no checksum is left as it is.
    /// The frame is borrowed: the caller still owns it.
    /// </summary>
    /// <returns>
    /// <see cref="OffloadResult.Done"/>; <see cref="OffloadResult.Malformed"/> when the checksum field lies
    /// outside the frame or at an odd distance from the start; <see cref="OffloadResult.Unsupported"/> for
    /// a frame that still needs segmentation (<see cref="GsoSegmenter"/> completes each segment's checksum).
    /// Nothing is changed unless the result is <see cref="OffloadResult.Done"/>.
    /// </returns>
    public static OffloadResult Complete(SkBuff skb)
    {
        var offload = skb.Offload;
        if (!offload.NeedsChecksum)
        {
            return OffloadResult.Done;
        }
        if (offload.GsoType != GsoType.None)
        {
            return OffloadResult.Unsupported;
        }
        if (!TryComplete(skb.Data, offload.ChecksumStart, offload.ChecksumOffset))
        {
            return OffloadResult.Malformed;
        }
        skb.Offload = offload with { NeedsChecksum = false };
        return OffloadResult.Done;
    }

    /// <summary>Writes the checksum of <paramref name="frame"/> from <paramref name="start"/> on into the field <paramref name="offset"/> bytes further.</summary>
    internal static bool TryComplete(Span<byte> frame, int start, int offset)
    {
        // The field must sit on a word boundary of the summed range, or the sum would land byte-swapped.
        if ((offset & 1) != 0 || start + offset + sizeof(ushort) > frame.Length)
        {
            return false;
        }
        var checksum = (ushort)~InternetChecksum.Fold(InternetChecksum.Accumulate(frame[start..], 0));
        // As skb_checksum_help: a computed 0 is sent as its other one's complement form, since UDP
        // reads a 0 as "no checksum"; for TCP both forms are the same value.
        InternetChecksum.WriteNative(frame.Slice(start + offset, sizeof(ushort)), checksum == 0 ? (ushort)0xFFFF : checksum);
        return true;
    }
}
