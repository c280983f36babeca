using System.Buffers.Binary;
using System.Security.Cryptography;

namespace NetDev.Drivers.Tunnel;

/// <summary>
/// The keyed datagram (header version <see cref="TunnelHeader.KeyedVersion"/>): the plain header's first four
/// bytes, the sender's session id and a packet number, then the frame encrypted with AES-256-GCM, then the
/// 16-byte authentication tag. docs/tunnel.md has the same table and the reasons.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Offset</term><description>Field</description></listheader>
/// <item><term>0–3</term><description>magic <c>ND</c>, version 2, type 0 (Ethernet), as in <see cref="TunnelHeader"/>.</description></item>
/// <item><term>4–19</term><description>session id: the sender's start time (8 bytes, 100 ns ticks since 0001-01-01 UTC) and 8 random bytes.
/// It is the HKDF salt of the session key, so every run of every sender encrypts under a key of its own.</description></item>
/// <item><term>20–27</term><description>packet number: the sending lane (its transmit queue) in the top byte, a counter of that lane in the other 56 bits.
/// The AEAD nonce is 4 zero bytes and these 8: unique per datagram inside a session.</description></item>
/// <item><term>28–(n−17)</term><description>the Ethernet frame, encrypted.</description></item>
/// <item><term>last 16</term><description>the AES-GCM tag over the header (associated data) and the encrypted frame.</description></item>
/// </list>
/// </remarks>
public static class KeyedFormat
{
    /// <summary>The keyed header's length: the plain 4 bytes, the session id and the packet number.</summary>
    public const int HeaderLength = TunnelHeader.Length + SessionIdLength + sizeof(ulong);

    /// <summary>The authentication tag's length.</summary>
    public const int TagLength = 16;

    /// <summary>What a keyed datagram adds to the frame: header and tag.</summary>
    public const int Overhead = HeaderLength + TagLength;

    /// <summary>The session id's length: start time and random bytes.</summary>
    public const int SessionIdLength = 16;

    /// <summary>How many lanes (transmit queues) a sender may number its datagrams in.</summary>
    public const int LaneCount = 256;

    /// <summary>The largest counter of one lane; a lane that reaches it stops sending rather than reuse a nonce.</summary>
    public const ulong MaxCounter = (1UL << LaneShift) - 1;

    internal const int SessionIdOffset = TunnelHeader.Length;
    internal const int PacketNumberOffset = SessionIdOffset + SessionIdLength;
    private const int LaneShift = 56;
    private const int NonceLength = 12;

    /// <summary>The HKDF "info" of every session key, so the key cannot be confused with one derived for something else.</summary>
    internal static ReadOnlySpan<byte> DerivationLabel => "netdev tunnel v2 session key"u8;

    /// <summary>A new session id: the current time, then 8 random bytes.</summary>
    public static void NewSessionId(Span<byte> destination, DateTime now)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, now.ToUniversalTime().Ticks);
        RandomNumberGenerator.Fill(destination.Slice(sizeof(long), SessionIdLength - sizeof(long)));
    }

    /// <summary>The start time a session id carries (its first 8 bytes), which orders the sessions of one peer.</summary>
    public static long StartTicks(ReadOnlySpan<byte> sessionId) => BinaryPrimitives.ReadInt64BigEndian(sessionId);

    /// <summary>The packet number of <paramref name="counter"/> in <paramref name="lane"/>.</summary>
    public static ulong PacketNumber(int lane, ulong counter) => ((ulong)lane << LaneShift) | counter;

    /// <summary>The lane a packet number belongs to.</summary>
    public static int LaneOf(ulong packetNumber) => (int)(packetNumber >> LaneShift);

    /// <summary>The counter inside its lane.</summary>
    public static ulong CounterOf(ulong packetNumber) => packetNumber & MaxCounter;

    /// <summary>Writes the header of a keyed datagram into the first <see cref="HeaderLength"/> bytes of <paramref name="destination"/>.</summary>
    public static void WriteHeader(Span<byte> destination, ReadOnlySpan<byte> sessionId, ulong packetNumber)
    {
        new TunnelHeader(TunnelHeader.ExpectedMagic, TunnelHeader.KeyedVersion, TunnelPayloadType.Ethernet).WriteTo(destination);
        sessionId[..SessionIdLength].CopyTo(destination[SessionIdOffset..]);
        BinaryPrimitives.WriteUInt64BigEndian(destination[PacketNumberOffset..], packetNumber);
    }

    /// <summary>The session id of a datagram at least <see cref="HeaderLength"/> long.</summary>
    public static ReadOnlySpan<byte> SessionIdOf(ReadOnlySpan<byte> datagram) => datagram.Slice(SessionIdOffset, SessionIdLength);

    /// <summary>The packet number of a datagram at least <see cref="HeaderLength"/> long.</summary>
    public static ulong PacketNumberOf(ReadOnlySpan<byte> datagram) => BinaryPrimitives.ReadUInt64BigEndian(datagram[PacketNumberOffset..]);

    internal static void Nonce(ReadOnlySpan<byte> datagram, Span<byte> nonce)
    {
        nonce[..(NonceLength - sizeof(ulong))].Clear();
        datagram.Slice(PacketNumberOffset, sizeof(ulong)).CopyTo(nonce[(NonceLength - sizeof(ulong))..]);
    }

    internal const int NonceSize = NonceLength;
}
