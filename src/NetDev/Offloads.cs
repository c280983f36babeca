namespace NetDev;

/// <summary>
/// Offloads a driver can take (the kernel's <c>NETIF_F_*</c> features a TAP turns on with
/// <c>TUNSETOFFLOAD</c>). With them, the system hands the driver frames whose checksum is still to be
/// filled in and TCP/UDP segments of up to 64 KiB that are still to be cut (GSO), described by
/// <see cref="SkBuff.Offload"/>; a driver that forwards frames (pair) passes them on untouched, which is
/// what makes it fast. A driver that needs wire-size frames with complete checksums asks for none.
/// </summary>
[Flags]
public enum DeviceFeatures
{
    /// <summary>No offloads: every frame is wire-size with its checksums complete.</summary>
    None = 0,
    /// <summary>Frames may come with a partial checksum to complete (<c>TUN_F_CSUM</c>, <c>NETIF_F_HW_CSUM</c>).</summary>
    Checksum = 1 << 0,
    /// <summary>TCP over IPv4 segmentation (<c>TUN_F_TSO4</c>); needs <see cref="Checksum"/>.</summary>
    Tso4 = 1 << 1,
    /// <summary>TCP over IPv6 segmentation (<c>TUN_F_TSO6</c>); needs <see cref="Checksum"/>.</summary>
    Tso6 = 1 << 2,
    /// <summary>TCP segmentation with ECN (<c>TUN_F_TSO_ECN</c>).</summary>
    TsoEcn = 1 << 3,
    /// <summary>UDP segmentation over IPv4 (<c>TUN_F_USO4</c>); needs <see cref="Checksum"/>.</summary>
    Uso4 = 1 << 4,
    /// <summary>UDP segmentation over IPv6 (<c>TUN_F_USO6</c>); needs <see cref="Checksum"/>.</summary>
    Uso6 = 1 << 5,
    /// <summary>Every offload NetDev knows.</summary>
    All = Checksum | Tso4 | Tso6 | TsoEcn | Uso4 | Uso6,
}

/// <summary>Segmentation a frame still needs (<c>VIRTIO_NET_HDR_GSO_*</c>).</summary>
public enum GsoType : byte
{
    /// <summary>A wire-size frame.</summary>
    None = 0,
    /// <summary>TCP over IPv4 to cut into <see cref="SkBuffOffload.GsoSize"/>-byte segments.</summary>
    TcpV4 = 1,
    /// <summary>UDP fragmentation offload (legacy).</summary>
    Udp = 3,
    /// <summary>TCP over IPv6 to cut into segments.</summary>
    TcpV6 = 4,
    /// <summary>UDP datagrams to cut (UDP segmentation offload).</summary>
    UdpL4 = 5,
}

/// <summary>
/// What remains to be done to a frame that travels with offloads, the fields of a <c>virtio_net_hdr</c>:
/// a checksum to complete and a segmentation to perform. All zero for a wire-size, complete frame.
/// </summary>
/// <param name="NeedsChecksum">The checksum at <see cref="ChecksumStart"/> + <see cref="ChecksumOffset"/> is partial (<c>VIRTIO_NET_HDR_F_NEEDS_CSUM</c>).</param>
/// <param name="ChecksumValid">The checksums were already verified (<c>VIRTIO_NET_HDR_F_DATA_VALID</c>).</param>
/// <param name="GsoType">The segmentation still to do.</param>
/// <param name="Ecn">The segments carry ECN (<c>VIRTIO_NET_HDR_GSO_ECN</c>).</param>
/// <param name="HeaderLength">Bytes of headers before the payload to cut (<c>hdr_len</c>).</param>
/// <param name="GsoSize">Payload bytes per segment (<c>gso_size</c>).</param>
/// <param name="ChecksumStart">Where checksumming starts, from the frame's start.</param>
/// <param name="ChecksumOffset">Where the checksum goes, from <see cref="ChecksumStart"/>.</param>
public readonly record struct SkBuffOffload(
    bool NeedsChecksum,
    bool ChecksumValid,
    GsoType GsoType,
    bool Ecn,
    ushort HeaderLength,
    ushort GsoSize,
    ushort ChecksumStart,
    ushort ChecksumOffset)
{
    /// <summary>Whether this describes a frame that needs nothing more done.</summary>
    public bool IsNone => this == default;
}
