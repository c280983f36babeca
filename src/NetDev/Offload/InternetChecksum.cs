using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NetDev.Offload;

/// <summary>
/// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of a
/// message's 16-bit words, as IPv4, TCP and UDP use it.
/// </summary>
/// <remarks>
/// <para>The one's complement sum does not depend on byte order (RFC 1071, section 2(B)), so the bytes
/// are added as the machine's native words, 32 bits at a time (a vector of them where the hardware has
/// one) into a 64-bit accumulator, and the folded result is written back as a native word: it lands in
/// the frame in network byte order without a swap. Only values that are not read from the frame (a
/// protocol number, a length) are turned into native words first, with <see cref="NetworkWord"/>.</para>
/// <para>A partial sum ("accumulator") is only ever extended with data that starts at an even offset from
/// where the sum started, which is what keeps the words aligned to the message's 16-bit words.</para>
/// </remarks>
public static class InternetChecksum
{
    /// <summary>
    /// The checksum of <paramref name="data"/> as a header field holds it, in host byte order (so
    /// <c>BinaryPrimitives.WriteUInt16BigEndian</c> puts it in place). A message that contains its own
    /// correct checksum sums to 0 here (see <see cref="IsValid"/>).
    /// </summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => FromNative((ushort)~Fold(Accumulate(data, 0)));

    /// <summary>Whether <paramref name="data"/>, which contains its checksum field, sums to all ones (its checksum is right).</summary>
    public static bool IsValid(ReadOnlySpan<byte> data) => Fold(Accumulate(data, 0)) == 0xFFFF;

    /// <summary>
    /// Adds <paramref name="data"/> to the partial sum <paramref name="sum"/> as native 32-bit words (the
    /// last bytes padded with zeros). Adding a 64-bit accumulator never overflows for messages under 16 GiB.
    /// </summary>
    internal static ulong Accumulate(ReadOnlySpan<byte> data, ulong sum)
    {
        var words = MemoryMarshal.Cast<byte, uint>(data);
        var index = 0;
        if (Vector.IsHardwareAccelerated && words.Length >= 2 * Vector<uint>.Count)
        {
            var vectors = MemoryMarshal.Cast<uint, Vector<uint>>(words);
            var low = Vector<ulong>.Zero;
            var high = Vector<ulong>.Zero;
            foreach (var vector in vectors)
            {
                Vector.Widen(vector, out var first, out var second);
                low += first;
                high += second;
            }
            sum += Vector.Sum(low + high);
            index = vectors.Length * Vector<uint>.Count;
        }
        ulong even = 0;
        ulong odd = 0;
        for (; index + 1 < words.Length; index += 2)
        {
            even += words[index];
            odd += words[index + 1];
        }
        if (index < words.Length)
        {
            even += words[index];
        }
        sum += even + odd;
        var tail = data[(words.Length * sizeof(uint))..];
        if (tail.Length >= 2)
        {
            sum += MemoryMarshal.Read<ushort>(tail);
            tail = tail[2..];
        }
        if (tail.Length == 1)
        {
            // The odd last byte is the high-order byte of a word padded with zero: first in memory.
            sum += BitConverter.IsLittleEndian ? tail[0] : (uint)tail[0] << 8;
        }
        return sum;
    }

    /// <summary>Folds a partial sum into 16 bits with end-around carries; the result is a native word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>A 16-bit value as the native word the same value has in a frame (network byte order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint NetworkWord(ushort value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    /// <summary>A native word read from a frame as the 16-bit value it stands for.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort FromNative(ushort word) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(word) : word;

    /// <summary>Writes a native word (a folded sum or its complement) into a checksum field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WriteNative(Span<byte> field, ushort word) => MemoryMarshal.Write(field, in word);

    /// <summary>
    /// The pseudo-header's sum for a TCP or UDP checksum: source and destination addresses, protocol and
    /// transport length (RFC 768, RFC 793, RFC 8200 section 8.1).
    /// </summary>
    /// <param name="ipHeader">The IP header, from its first byte.</param>
    /// <param name="isIpv6">Whether it is an IPv6 header.</param>
    /// <param name="protocol">The transport protocol (6 TCP, 17 UDP).</param>
    /// <param name="transportLength">Bytes from the transport header's start to the packet's end.</param>
    internal static ulong PseudoHeader(ReadOnlySpan<byte> ipHeader, bool isIpv6, byte protocol, int transportLength)
    {
        // Both are 32-bit fields in IPv6's pseudo-header; the upper half of the length is zero below 64 KiB,
        // which the callers ensure.
        var addresses = isIpv6 ? ipHeader.Slice(8, 32) : ipHeader.Slice(12, 8);
        return Accumulate(addresses, NetworkWord(protocol) + (ulong)NetworkWord((ushort)transportLength));
    }
}
