using System.Security.Cryptography;

namespace NetDev.Drivers.Tunnel;

/// <summary>
/// The AEAD of one session: AES-256-GCM under the key HKDF derives from the static key and the session id.
/// Seals and opens keyed datagrams (<see cref="KeyedFormat"/>) in place.
/// </summary>
/// <remarks>
/// <para>AES-GCM rather than ChaCha20-Poly1305 because the machines this runs on have AES-NI, VAES and
/// PCLMULQDQ, where .NET's AES-GCM (OpenSSL) seals and opens a tunnel datagram in less CPU time than its
/// ChaCha20-Poly1305, 0.6–0.9× of it in the runs so far (bench/: <c>aead</c> measures both).</para>
/// <para>Two ways to open: <see cref="Open"/>, one decryption, for datagrams expected to be genuine; and
/// <see cref="OpenWithoutException"/>, which accepts exactly the same datagrams without the exception a bad tag
/// costs <see cref="Open"/>, for datagrams that may well be forged (<see cref="KeyedReceiver"/> decides which).</para>
/// <para><b>Invariants.</b> <c>_aead</c> is keyed with the session key of <see cref="SessionId"/> for the
/// cipher's life; the derived key bytes live only on the stack of the constructor. One thread at a time:
/// the AEAD object is not safe for concurrent use, so each transmit queue and the receive thread have their own.</para>
/// </remarks>
public sealed class SessionCipher : IDisposable
{
    private readonly AesGcm _aead;
    private readonly byte[] _sessionId;

    /// <summary>Derives the key of session <paramref name="sessionId"/> from <paramref name="key"/>.</summary>
    public SessionCipher(TunnelKey key, ReadOnlySpan<byte> sessionId)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (sessionId.Length != KeyedFormat.SessionIdLength)
        {
            throw new ArgumentException($"A session id is {KeyedFormat.SessionIdLength} bytes.", nameof(sessionId));
        }
        _sessionId = sessionId.ToArray();
        Span<byte> sessionKey = stackalloc byte[32];
        key.DeriveSessionKey(sessionId, sessionKey);
        _aead = new AesGcm(sessionKey, KeyedFormat.TagLength);
        CryptographicOperations.ZeroMemory(sessionKey);
    }

    /// <summary>The session this cipher seals and opens.</summary>
    public ReadOnlySpan<byte> SessionId => _sessionId;

    /// <summary>Whether <paramref name="sessionId"/> is this cipher's session.</summary>
    public bool IsSession(ReadOnlySpan<byte> sessionId) => sessionId.SequenceEqual(_sessionId);

    /// <summary>
    /// Seals <paramref name="datagram"/>: writes the header with <paramref name="packetNumber"/> into its
    /// first <see cref="KeyedFormat.HeaderLength"/> bytes, encrypts the frame that follows in place and writes
    /// the tag into its last <see cref="KeyedFormat.TagLength"/> bytes.
    /// </summary>
    public void Seal(Span<byte> datagram, ulong packetNumber)
    {
        KeyedFormat.WriteHeader(datagram, _sessionId, packetNumber);
        Span<byte> nonce = stackalloc byte[KeyedFormat.NonceSize];
        KeyedFormat.Nonce(datagram, nonce);
        var frame = datagram[KeyedFormat.HeaderLength..^KeyedFormat.TagLength];
        _aead.Encrypt(nonce, frame, frame, datagram[^KeyedFormat.TagLength..], datagram[..KeyedFormat.HeaderLength]);
    }

    /// <summary>
    /// Opens <paramref name="datagram"/> (at least <see cref="KeyedFormat.Overhead"/> bytes, of this session):
    /// on success the frame between header and tag is decrypted in place; on failure it is zeroed. One AES-GCM
    /// pass, but a bad tag costs the exception the runtime throws (an allocation and its unwinding), so use
    /// <see cref="OpenWithoutException"/> where failures are expected.
    /// </summary>
    /// <returns>false when the tag does not authenticate header and frame under this session's key.</returns>
    public bool Open(Span<byte> datagram)
    {
        Span<byte> nonce = stackalloc byte[KeyedFormat.NonceSize];
        KeyedFormat.Nonce(datagram, nonce);
        var frame = datagram[KeyedFormat.HeaderLength..^KeyedFormat.TagLength];
        try
        {
            _aead.Decrypt(nonce, frame, datagram[^KeyedFormat.TagLength..], frame, datagram[..KeyedFormat.HeaderLength]);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            // The runtime offers no non-throwing decrypt; KeyedReceiver switches a failing peer to OpenWithoutException.
            return false;
        }
    }

    /// <summary>
    /// Opens <paramref name="datagram"/> as <see cref="Open"/> does — the same datagrams accepted, the same frame,
    /// zeroed on failure — but judges the tag without the runtime's exception: two AES-GCM encryptions and a
    /// constant-time comparison of tags, so a failure allocates nothing. About twice the cost of <see cref="Open"/>
    /// on success.
    /// </summary>
    /// <param name="datagram">At least <see cref="KeyedFormat.Overhead"/> bytes, of this session.</param>
    /// <param name="scratch">At least the frame's length (the datagram's less <see cref="KeyedFormat.Overhead"/>), apart from the datagram; its contents afterwards are the received ciphertext.</param>
    /// <returns>false when the tag does not authenticate header and frame under this session's key.</returns>
    public bool OpenWithoutException(Span<byte> datagram, Span<byte> scratch)
    {
        Span<byte> nonce = stackalloc byte[KeyedFormat.NonceSize];
        KeyedFormat.Nonce(datagram, nonce);
        var frame = datagram[KeyedFormat.HeaderLength..^KeyedFormat.TagLength];
        return AesGcmVerification.TryDecrypt(_aead, nonce, frame, datagram[^KeyedFormat.TagLength..], datagram[..KeyedFormat.HeaderLength], scratch);
    }

    /// <summary>Releases the AEAD's native state.</summary>
    public void Dispose() => _aead.Dispose();
}
