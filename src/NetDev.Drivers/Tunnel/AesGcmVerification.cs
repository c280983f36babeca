using System.Security.Cryptography;

namespace NetDev.Drivers.Tunnel;

/// <summary>
/// AES-GCM decryption that reports a bad tag by returning false, not by the exception
/// <see cref="AesGcm.Decrypt(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte}, Span{byte}, ReadOnlySpan{byte})"/>
/// throws (the runtime has no non-throwing decrypt), built from two encryptions: so a flood of forged datagrams
/// costs no allocation and no unwinding, at the price of a second pass over the data.
/// </summary>
/// <remarks>
/// <para>Why it is exact (NIST SP 800-38D, section 7): for a 96-bit nonce, J0 = nonce ‖ 0^31 ‖ 1; encryption is
/// C = GCTR(inc32(J0), P) and its tag GHASH over (A, C) masked with E(J0); decryption computes P = GCTR(inc32(J0), C)
/// and compares the tag GHASH over (A, C) gives. GCTR with the same counter blocks is the same keystream both ways,
/// so encrypting C yields P' = C ⊕ keystream, the plaintext decryption would give; encrypting P' yields C again
/// (into a scratch buffer) and, alongside it, exactly the tag of (A, C): the one decryption checks. Comparing it with
/// the received tag in constant time therefore accepts what decryption accepts, and P' is then the plaintext.</para>
/// <para>Encrypting twice under one nonce does not weaken anything here: neither output leaves this method except
/// P' after the tag matched (the plaintext, which decryption would have given too). The first pass's tag and the
/// computed tag — a valid tag for whatever ciphertext was received, so a forgery if it leaked — are zeroed, and on
/// a mismatch so is P' (it is received ciphertext xor keystream).</para>
/// </remarks>
internal static class AesGcmVerification
{
    private const int LargestTag = 16;

    /// <summary>
    /// Decrypts <paramref name="text"/> in place if <paramref name="tag"/> authenticates it and
    /// <paramref name="associatedData"/> under <paramref name="nonce"/>; otherwise zeroes it. No exception, no allocation.
    /// </summary>
    /// <param name="aead">The key; the tag length it was made with must be <paramref name="tag"/>'s.</param>
    /// <param name="nonce">A 96-bit nonce.</param>
    /// <param name="text">The ciphertext, and on success the plaintext.</param>
    /// <param name="tag">The received tag.</param>
    /// <param name="associatedData">The authenticated, unencrypted data.</param>
    /// <param name="scratch">At least <paramref name="text"/>'s length, not overlapping it: receives the re-encrypted ciphertext.</param>
    /// <returns>Whether the tag matched, as <see cref="AesGcm.Decrypt(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte}, Span{byte}, ReadOnlySpan{byte})"/> would judge it.</returns>
    public static bool TryDecrypt(AesGcm aead, ReadOnlySpan<byte> nonce, Span<byte> text, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> associatedData, Span<byte> scratch)
    {
        if (scratch.Length < text.Length || tag.Length > LargestTag)
        {
            throw new ArgumentException("The scratch buffer must be as long as the text, and a GCM tag is at most 16 bytes.", nameof(scratch));
        }
        Span<byte> discardedTag = stackalloc byte[LargestTag];
        Span<byte> expectedTag = stackalloc byte[LargestTag];
        discardedTag = discardedTag[..tag.Length];
        expectedTag = expectedTag[..tag.Length];
        // Pass 1, in place: C becomes C xor keystream = P'. Its tag is of P' taken as a ciphertext: meaningless here.
        aead.Encrypt(nonce, text, text, discardedTag, associatedData);
        // Pass 2: P' encrypts back to C (into the scratch) with the tag GCM gives (A, C) under this nonce.
        aead.Encrypt(nonce, text, scratch[..text.Length], expectedTag, associatedData);
        var authentic = CryptographicOperations.FixedTimeEquals(expectedTag, tag);
        CryptographicOperations.ZeroMemory(discardedTag);
        CryptographicOperations.ZeroMemory(expectedTag);
        if (!authentic)
        {
            CryptographicOperations.ZeroMemory(text);
        }
        return authentic;
    }
}
