using System.Buffers.Binary;

namespace NetDev.Linux.Tap;

/// <summary>
/// The <c>struct virtio_net_hdr</c> a TAP with IFF_VNET_HDR puts before every frame (10 bytes, in the
/// machine's byte order as tun uses it unless told otherwise), to and from <see cref="SkBuffOffload"/>.
/// </summary>
internal static class VirtioNetHeader
{
    internal const int Length = 10;

    private const byte NeedsChecksum = 1;
    private const byte DataValid = 2;
    private const byte GsoEcn = 0x80;

    internal static SkBuffOffload Read(ReadOnlySpan<byte> header)
    {
        var flags = header[0];
        var gso = header[1];
        return new SkBuffOffload(
            NeedsChecksum: (flags & NeedsChecksum) != 0,
            ChecksumValid: (flags & DataValid) != 0,
            GsoType: (GsoType)(gso & ~GsoEcn),
            Ecn: (gso & GsoEcn) != 0,
            HeaderLength: BinaryPrimitives.ReadUInt16LittleEndian(header[2..]),
            GsoSize: BinaryPrimitives.ReadUInt16LittleEndian(header[4..]),
            ChecksumStart: BinaryPrimitives.ReadUInt16LittleEndian(header[6..]),
            ChecksumOffset: BinaryPrimitives.ReadUInt16LittleEndian(header[8..]));
    }

    internal static void Write(in SkBuffOffload offload, Span<byte> header)
    {
        header[0] = (byte)((offload.NeedsChecksum ? NeedsChecksum : 0) | (offload.ChecksumValid ? DataValid : 0));
        header[1] = (byte)((byte)offload.GsoType | (offload.Ecn ? GsoEcn : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], offload.HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], offload.GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], offload.ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], offload.ChecksumOffset);
    }
}
