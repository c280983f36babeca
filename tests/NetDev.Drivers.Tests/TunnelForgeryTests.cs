using System.Security.Cryptography;
using CsCheck;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests;

/// <summary>
/// Forged and tampered keyed datagrams cost no allocation: the non-throwing open accepts exactly what AES-GCM
/// decryption accepts, and the receiver uses it for new sessions and for a peer whose datagrams failed.
/// </summary>
public sealed class TunnelForgeryTests
{
    private const int TagLength = 16;

    [Fact]
    public void TheNonThrowingOpenAcceptsExactlyWhatDecryptAccepts()
    {
        // Each case: a key (128, 192 or 256 bits), nonce, plaintext and associated data, sealed by AesGcm.Encrypt,
        // then left alone (0), changed in one bit of associated data, ciphertext or tag (1), or given a random tag (2).
        var gen = Gen.Select(Gen.Int[2, 4].SelectMany(n => Gen.Byte.Array[n * 8]), Gen.Byte.Array[12],
            Gen.Byte.Array[0, 1600], Gen.Byte.Array[0, 64], Gen.Int[0, 2], Gen.Int[0, int.MaxValue], Gen.Byte.Array[TagLength]);
        gen.Sample((key, nonce, plaintext, associatedData, change, position, randomTag) =>
        {
            using var aead = new AesGcm(key, TagLength);
            var ciphertext = new byte[plaintext.Length];
            var tag = new byte[TagLength];
            aead.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
            var sealedTag = tag.ToArray();
            if (change == 1)
            {
                var bits = (associatedData.Length + ciphertext.Length + TagLength) * 8;
                FlipBit(position % bits, associatedData, ciphertext, tag);
            }
            else if (change == 2)
            {
                tag = randomTag;
            }

            var expected = new byte[ciphertext.Length];
            bool decrypted;
            try
            {
                aead.Decrypt(nonce, ciphertext, tag, expected, associatedData);
                decrypted = true;
            }
            catch (AuthenticationTagMismatchException)
            {
                decrypted = false;
            }
            var text = ciphertext.ToArray();
            var scratch = new byte[text.Length];
            var opened = AesGcmVerification.TryDecrypt(aead, nonce, text, tag, associatedData, scratch);

            Assert.Equal(decrypted, opened);
            // And both judged right: only the unchanged seal opens (a random tag equal to the real one aside).
            Assert.Equal(change == 0 || (change == 2 && randomTag.AsSpan().SequenceEqual(sealedTag)), opened);
            if (opened)
            {
                Assert.Equal(plaintext, text);
                Assert.Equal(expected, text);
            }
            else
            {
                Assert.All(text, b => Assert.Equal(0, b));
            }
        });
    }

    [Fact]
    public void ADatagramOpensWithoutExceptionExactlyAsItOpensAndNotWithAnyBitChanged()
    {
        Gen.Select(Gen.Byte.Array[TunnelKey.Length], Gen.Byte.Array[KeyedFormat.SessionIdLength], Gen.ULong, Gen.Byte.Array[0, 1500], Gen.Int[0, int.MaxValue])
            .Sample((keyBytes, session, packetNumber, frame, position) =>
            {
                var key = TunnelKey.FromBytes(keyBytes);
                using var sender = new SessionCipher(key, session);
                using var receiver = new SessionCipher(key, session);
                var datagram = Datagram(sender, frame, packetNumber);
                var scratch = new byte[frame.Length];

                var careful = datagram.ToArray();
                Assert.True(receiver.OpenWithoutException(careful, scratch));
                Assert.Equal(frame, careful[KeyedFormat.HeaderLength..^KeyedFormat.TagLength]);
                var fast = datagram.ToArray();
                Assert.True(receiver.Open(fast));
                Assert.Equal(fast, careful);

                var tampered = datagram.ToArray();
                var bit = position % (tampered.Length * 8);
                tampered[bit / 8] ^= (byte)(1 << (bit % 8));
                Assert.False(receiver.OpenWithoutException(tampered.ToArray(), scratch), $"bit {bit} changed, opened without exception");
                Assert.False(receiver.Open(tampered.ToArray()), $"bit {bit} changed, opened");
            });
    }

    [Fact]
    public void EveryBitOfHeaderFrameAndTagMatters()
    {
        var key = TunnelKey.Generate();
        var session = TunnelKeyedUnitTests.NewSession(DateTime.UtcNow);
        using var sender = new SessionCipher(key, session);
        using var receiver = new SessionCipher(key, session);
        var frame = RandomNumberGenerator.GetBytes(64);
        var datagram = Datagram(sender, frame, 12345);
        var scratch = new byte[frame.Length];
        for (var bit = 0; bit < datagram.Length * 8; bit++)
        {
            var tampered = datagram.ToArray();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(receiver.OpenWithoutException(tampered, scratch), $"a datagram with bit {bit} changed opened");
            Assert.All(tampered[KeyedFormat.HeaderLength..^KeyedFormat.TagLength], b => Assert.Equal(0, b));
        }
        Assert.True(receiver.OpenWithoutException(datagram, scratch));
        Assert.Equal(frame, datagram[KeyedFormat.HeaderLength..^KeyedFormat.TagLength]);
    }

    [Fact]
    public void AFloodOfTamperedCurrentSessionDatagramsIsRefusedWithoutAllocating()
    {
        const int Flood = 10_000;
        var key = TunnelKey.Generate();
        var clock = new ManualClock();
        using var receiver = new KeyedReceiver(key, 1, clock);
        using var sender = new KeyedSender(key, TunnelKeyedUnitTests.NewSession(DateTime.UtcNow), 0);
        var frame = RandomNumberGenerator.GetBytes(1400);
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, TunnelKeyedUnitTests.Seal(sender, frame)));
        Assert.Equal(1, receiver.VerifiedSlowly); // the new session's first datagram
        Assert.Equal(0, receiver.SuspectPeriods);

        // Genuine datagrams of the session (fresh packet numbers), each changed in one bit of its frame or tag,
        // as one who sniffed the session id and flips bits would send them; built before anything is measured.
        var tampered = new byte[Flood + 200][];
        for (var i = 0; i < tampered.Length; i++)
        {
            var datagram = TunnelKeyedUnitTests.Seal(sender, frame);
            var bit = (i * 7919) % ((datagram.Length - KeyedFormat.HeaderLength) * 8);
            datagram[KeyedFormat.HeaderLength + bit / 8] ^= (byte)(1 << (bit % 8));
            tampered[i] = datagram;
        }

        // Warm-up: the first failure takes the one exception and makes the peer suspect; the next ones run the
        // slow path's code and grow its scratch buffer, past tiered compilation's call counts (whose background
        // tier-up can allocate on the calling thread as it starts).
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(KeyedVerdict.AuthenticationFailed, receiver.Open(0, tampered[Flood + i]));
        }
        Assert.Equal(1, receiver.SuspectPeriods);
        var slowBefore = receiver.VerifiedSlowly;

        var failed = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Flood; i++)
        {
            if (receiver.Open(0, tampered[i]) == KeyedVerdict.AuthenticationFailed)
            {
                failed++;
            }
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Flood, failed);
        Assert.Equal(0, allocated);
        Assert.Equal(1, receiver.SuspectPeriods);
        Assert.Equal(slowBefore + Flood, receiver.VerifiedSlowly);

        // A genuine datagram during the suspect period is accepted (opened without exception)...
        var genuine = TunnelKeyedUnitTests.Seal(sender, frame);
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, genuine));
        Assert.Equal(frame, genuine[KeyedFormat.HeaderLength..^KeyedFormat.TagLength]);
        Assert.Equal(slowBefore + Flood + 1, receiver.VerifiedSlowly);
        // ...and once the interval passed without failures, the one-pass open is back.
        clock.Advance(KeyedReceiver.SuspectInterval);
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, TunnelKeyedUnitTests.Seal(sender, frame)));
        Assert.Equal(slowBefore + Flood + 1, receiver.VerifiedSlowly);
        Assert.Equal(1, receiver.SessionsStarted);
    }

    [Fact]
    public void ASuspectPeriodLastsAsLongAsFailuresKeepComing()
    {
        var key = TunnelKey.Generate();
        var clock = new ManualClock();
        using var receiver = new KeyedReceiver(key, 1, clock);
        using var sender = new KeyedSender(key, TunnelKeyedUnitTests.NewSession(DateTime.UtcNow), 0);
        var frame = new byte[100];
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, TunnelKeyedUnitTests.Seal(sender, frame)));
        for (var i = 0; i < 10; i++)
        {
            var forged = TunnelKeyedUnitTests.Seal(sender, frame);
            forged[^1] ^= 0x01;
            Assert.Equal(KeyedVerdict.AuthenticationFailed, receiver.Open(0, forged));
            clock.Advance(KeyedReceiver.SuspectInterval / 2);
        }
        Assert.Equal(1, receiver.SuspectPeriods);
        var slow = receiver.VerifiedSlowly;
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, TunnelKeyedUnitTests.Seal(sender, frame)));
        Assert.Equal(slow + 1, receiver.VerifiedSlowly);

        clock.Advance(KeyedReceiver.SuspectInterval);
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, TunnelKeyedUnitTests.Seal(sender, frame)));
        Assert.Equal(slow + 1, receiver.VerifiedSlowly);
        var late = TunnelKeyedUnitTests.Seal(sender, frame);
        late[KeyedFormat.HeaderLength] ^= 0x01;
        Assert.Equal(KeyedVerdict.AuthenticationFailed, receiver.Open(0, late));
        Assert.Equal(2, receiver.SuspectPeriods);
    }

    [Fact]
    public void ForgedNewSessionsAreJudgedWithoutAllocatingOnceTheirCipherExists()
    {
        // One forged session id, tried again every interval: the candidate's cipher is made once, and its
        // failures after that cost nothing (a new id each time would cost a key derivation, as documented).
        var clock = new ManualClock();
        using var receiver = new KeyedReceiver(TunnelKey.Generate(), 1, clock);
        using var forger = new KeyedSender(TunnelKey.Generate(), TunnelKeyedUnitTests.NewSession(DateTime.UtcNow), 0);
        var datagrams = Enumerable.Range(0, 1200).Select(_ => TunnelKeyedUnitTests.Seal(forger, new byte[1400])).ToArray();
        // Warm past tiered compilation's call counts (30 calls, then a background tier-up whose start can
        // allocate on the calling thread), so only the steady state is measured.
        for (var i = 0; i < 200; i++)
        {
            clock.Advance(KeyedReceiver.NewSessionInterval);
            Assert.Equal(KeyedVerdict.NewSessionFailed, receiver.Open(0, datagrams[1000 + i]));
        }
        var failed = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            clock.Advance(KeyedReceiver.NewSessionInterval);
            if (receiver.Open(0, datagrams[i]) == KeyedVerdict.NewSessionFailed)
            {
                failed++;
            }
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1000, failed);
        Assert.Equal(0, receiver.SuspectPeriods);
        Assert.False(receiver.HasSession(0));
    }

    private static void FlipBit(int bit, byte[] first, byte[] second, byte[] third)
    {
        var index = bit / 8;
        var mask = (byte)(1 << (bit % 8));
        if (index < first.Length)
        {
            first[index] ^= mask;
        }
        else if (index < first.Length + second.Length)
        {
            second[index - first.Length] ^= mask;
        }
        else
        {
            third[index - first.Length - second.Length] ^= mask;
        }
    }

    private static byte[] Datagram(SessionCipher cipher, ReadOnlySpan<byte> frame, ulong packetNumber)
    {
        var datagram = new byte[KeyedFormat.Overhead + frame.Length];
        frame.CopyTo(datagram.AsSpan(KeyedFormat.HeaderLength));
        cipher.Seal(datagram, packetNumber);
        return datagram;
    }
}
