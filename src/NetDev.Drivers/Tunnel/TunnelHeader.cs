using System.Buffers.Binary;

namespace NetDev.Drivers.Tunnel;

/// <summary>
/// The 4-byte header in front of every frame the tunnel carries, so a receiver can tell a tunnel datagram
/// from anything else that reaches its port, and so the format can change later without ambiguity.
/// </summary>
/// <remarks>
/// <para>Layout (network byte order; docs/tunnel.md has the same table):</para>
/// <list type="table">
/// <listheader><term>Offset</term><description>Field</description></listheader>
/// <item><term>0–1</term><description>Magic, <c>0x4E 0x44</c> (ASCII "ND"): a datagram without it is not ours.</description></item>
/// <item><term>2</term><description>Version, <see cref="CurrentVersion"/> (1). A receiver drops versions it does not know.</description></item>
/// <item><term>3</term><description>Payload type, <see cref="TunnelPayloadType.Ethernet"/> (0): the rest of the datagram is one whole Ethernet frame, without FCS.</description></item>
/// </list>
/// <para>There is no length field: UDP keeps datagram boundaries, so the frame is the rest of the datagram.
/// There is no checksum of its own either: the UDP checksum covers the datagram.</para>
/// </remarks>
/// <param name="Magic">The magic number; <see cref="ExpectedMagic"/> in every valid header.</param>
/// <param name="Version">The format version.</param>
/// <param name="Type">What follows the header.</param>
public readonly record struct TunnelHeader(ushort Magic, byte Version, TunnelPayloadType Type)
{
    /// <summary>The header's size in bytes.</summary>
    public const int Length = 4;

    /// <summary>The magic number, ASCII "ND", as the first two bytes read big-endian.</summary>
    public const ushort ExpectedMagic = 0x4E44;

    /// <summary>The only version this implementation writes and accepts.</summary>
    public const byte CurrentVersion = 1;

    /// <summary>The version of the keyed format (<see cref="KeyedFormat"/>): authenticated and encrypted datagrams.</summary>
    public const byte KeyedVersion = 2;

    /// <summary>The header of a datagram that carries an Ethernet frame, as this implementation sends it.</summary>
    public static TunnelHeader Ethernet => new(ExpectedMagic, CurrentVersion, TunnelPayloadType.Ethernet);

    /// <summary>Writes the header into the first <see cref="Length"/> bytes of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="Length"/>.</exception>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Length)
        {
            throw new ArgumentException($"A tunnel header needs {Length} bytes; the destination has {destination.Length}.", nameof(destination));
        }
        BinaryPrimitives.WriteUInt16BigEndian(destination, Magic);
        destination[2] = Version;
        destination[3] = (byte)Type;
    }

    /// <summary>
    /// Reads the header at the start of <paramref name="datagram"/> without judging it; see <see cref="Check(ReadOnlySpan{byte})"/>.
    /// </summary>
    /// <returns><see langword="false"/> when the datagram is shorter than a header.</returns>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out TunnelHeader header)
    {
        if (datagram.Length < Length)
        {
            header = default;
            return false;
        }
        header = new TunnelHeader(BinaryPrimitives.ReadUInt16BigEndian(datagram), datagram[2], (TunnelPayloadType)datagram[3]);
        return true;
    }

    /// <summary>
    /// Judges the header at the start of <paramref name="datagram"/>: whether this implementation can take
    /// the datagram, and if not, what is wrong with it first (length, then magic, then version, then type).
    /// </summary>
    public static TunnelHeaderStatus Check(ReadOnlySpan<byte> datagram) => Check(datagram, CurrentVersion);

    /// <summary>
    /// Judges the header as <see cref="Check(ReadOnlySpan{byte})"/> does, for a receiver that takes version
    /// <paramref name="version"/> only (<see cref="CurrentVersion"/> unkeyed, <see cref="KeyedVersion"/> keyed).
    /// </summary>
    public static TunnelHeaderStatus Check(ReadOnlySpan<byte> datagram, byte version)
    {
        if (!TryRead(datagram, out var header))
        {
            return TunnelHeaderStatus.TooShort;
        }
        if (header.Magic != ExpectedMagic)
        {
            return TunnelHeaderStatus.BadMagic;
        }
        if (header.Version != version)
        {
            return TunnelHeaderStatus.UnsupportedVersion;
        }
        return header.Type == TunnelPayloadType.Ethernet ? TunnelHeaderStatus.Valid : TunnelHeaderStatus.UnknownType;
    }

    /// <summary>The header as <c>magic=0x4E44 version=1 type=Ethernet</c>.</summary>
    public override string ToString() => $"magic=0x{Magic:X4} version={Version} type={Type}";
}

/// <summary>What follows a <see cref="TunnelHeader"/> (its type byte).</summary>
public enum TunnelPayloadType : byte
{
    /// <summary>One whole Ethernet frame (destination, source, EtherType, payload; no FCS).</summary>
    Ethernet = 0,
}

/// <summary>The verdict of <see cref="TunnelHeader.Check(ReadOnlySpan{byte}, byte)"/> on a received datagram.</summary>
public enum TunnelHeaderStatus
{
    /// <summary>A header of the version asked for, of an Ethernet frame: the datagram can be taken.</summary>
    Valid,

    /// <summary>The datagram is shorter than a header.</summary>
    TooShort,

    /// <summary>The first two bytes are not the magic number: not a tunnel datagram.</summary>
    BadMagic,

    /// <summary>A tunnel datagram of a version this implementation does not know.</summary>
    UnsupportedVersion,

    /// <summary>A tunnel datagram of a payload type this implementation does not carry.</summary>
    UnknownType,
}
