using System.Security.Cryptography;

namespace NetDev.Drivers.Tunnel;

/// <summary>
/// The tunnel's static key: 32 random bytes shared by every instance of one overlay, written as base64 the
/// way <c>wg genkey</c> writes a key (44 characters). Each run derives its own session keys from it
/// (<see cref="KeyedFormat"/>), so the static key itself never encrypts anything.
/// </summary>
/// <remarks><b>Invariants.</b> <c>_bytes</c> holds exactly <see cref="Length"/> bytes and is never handed out
/// (copies go to the key derivation only).</remarks>
public sealed class TunnelKey
{
    /// <summary>The key's length in bytes.</summary>
    public const int Length = 32;

    private readonly byte[] _bytes;

    private TunnelKey(byte[] bytes) => _bytes = bytes;

    /// <summary>A new key from the system's cryptographic random number generator.</summary>
    public static TunnelKey Generate() => new(RandomNumberGenerator.GetBytes(Length));

    /// <summary>The key in <paramref name="bytes"/> (copied).</summary>
    /// <exception cref="ArgumentException">Not <see cref="Length"/> bytes.</exception>
    public static TunnelKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"A tunnel key is {Length} bytes; this one has {bytes.Length}.", nameof(bytes));
        }
        return new TunnelKey(bytes.ToArray());
    }

    /// <summary>Reads a key written in base64 (surrounding white space allowed, as a key file has a line end).</summary>
    /// <exception cref="FormatException">Not base64 of <see cref="Length"/> bytes.</exception>
    public static TunnelKey Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = new byte[Length];
        if (!Convert.TryFromBase64String(text.Trim(), bytes, out var written) || written != Length)
        {
            throw new FormatException($"A tunnel key is {Length} bytes in base64 (44 characters, as 'netdev genkey' or 'wg genkey' print it).");
        }
        return new TunnelKey(bytes);
    }

    /// <summary>Reads the key in the file at <paramref name="path"/> (see <see cref="Parse"/>).</summary>
    /// <exception cref="FormatException">The file does not hold a key.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static TunnelKey ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (FormatException error)
        {
            throw new FormatException($"{path}: {error.Message}", error);
        }
    }

    /// <summary>The key in base64, as a key file holds it.</summary>
    public string ToBase64() => Convert.ToBase64String(_bytes);

    /// <summary>Derives the key of the session <paramref name="sessionId"/> into <paramref name="destination"/> (HKDF-SHA256).</summary>
    internal void DeriveSessionKey(ReadOnlySpan<byte> sessionId, Span<byte> destination) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _bytes, destination, sessionId, KeyedFormat.DerivationLabel);

    /// <summary>Never the key itself, so a log line cannot leak it.</summary>
    public override string ToString() => "TunnelKey(hidden)";
}
