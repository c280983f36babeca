using CsCheck;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests;

/// <summary>The keyed format's pieces without the kernel: the replay window, sealing and opening, sessions, the key.</summary>
public sealed class TunnelKeyedUnitTests
{
    [Fact]
    public void TheWindowTakesEachNumberOnceAndReorderingInsideIt()
    {
        var window = new ReplayWindow();
        Assert.True(window.Accept(10));
        Assert.False(window.Accept(10));
        Assert.True(window.Accept(5));
        Assert.True(window.Accept(5000));
        Assert.True(window.Accept(5000 - 2047));
        Assert.False(window.IsFresh(5000 - (ulong)ReplayWindow.Size));
        Assert.True(ReplayWindow.Size >= 2048);
        // A jump far ahead forgets everything behind it.
        Assert.True(window.Accept(1_000_000));
        Assert.False(window.IsFresh(5000));
        Assert.True(window.IsFresh(1_000_000 - 1));
    }

    [Fact]
    public void TheWindowAgreesWithASetOfSeenNumbers()
    {
        // Model: a number is taken when it was not taken before and lies above highest − Size.
        Gen.Select(Gen.ULong[0, 20_000].Array[1, 400], Gen.ULong[0, 1UL << 40]).Sample((numbers, offset) =>
        {
            var window = new ReplayWindow();
            var seen = new HashSet<ulong>();
            ulong? highest = null;
            foreach (var raw in numbers)
            {
                var number = raw + offset;
                var expected = !seen.Contains(number) && (highest is not { } h || number > h || h - number < ReplayWindow.Size);
                Assert.Equal(expected, window.Accept(number));
                if (expected)
                {
                    seen.Add(number);
                    highest = highest is { } top ? Math.Max(top, number) : number;
                }
            }
        });
    }

    [Fact]
    public void ASealedDatagramOpensOnlyUnchangedAndUnderTheSameKey()
    {
        var key = TunnelKey.Generate();
        Span<byte> session = stackalloc byte[KeyedFormat.SessionIdLength];
        KeyedFormat.NewSessionId(session, DateTime.UtcNow);
        using var sender = new SessionCipher(key, session);
        using var receiver = new SessionCipher(key, session);
        using var stranger = new SessionCipher(TunnelKey.Generate(), session);
        var frame = Enumerable.Range(0, 60).Select(i => (byte)i).ToArray();
        var datagram = Datagram(sender, frame, 7);
        Assert.False(datagram.AsSpan(KeyedFormat.HeaderLength, frame.Length).SequenceEqual(frame)); // encrypted
        Assert.False(stranger.Open(datagram.ToArray()));
        for (var i = 0; i < datagram.Length; i++)
        {
            var tampered = datagram.ToArray();
            tampered[i] ^= 0x01;
            Assert.False(receiver.Open(tampered), $"a datagram changed at byte {i} opened");
        }
        Assert.True(receiver.Open(datagram));
        Assert.Equal(frame, datagram[KeyedFormat.HeaderLength..^KeyedFormat.TagLength]);
        Assert.Equal(7UL, KeyedFormat.PacketNumberOf(datagram));
    }

    [Fact]
    public void TheReceiverTakesEachDatagramOnceAndRefusesOldSessionsAfterARestart()
    {
        var key = TunnelKey.Generate();
        var clock = new ManualClock();
        using var receiver = new KeyedReceiver(key, 1, clock);
        var frame = new byte[60];
        var first = NewSession(DateTime.UtcNow);
        using var run1 = new KeyedSender(key, first, 0);
        var d0 = Seal(run1, frame);
        var d1 = Seal(run1, frame);
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, d1.ToArray()));
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, d0.ToArray()));   // reordered, inside the window
        Assert.Equal(KeyedVerdict.Replayed, receiver.Open(0, d0.ToArray()));
        Assert.Equal(1, receiver.SessionsStarted);

        // The peer restarts: a later session replaces the first once it authenticates...
        using var run2 = new KeyedSender(key, NewSession(DateTime.UtcNow.AddSeconds(1)), 0);
        clock.Advance(KeyedReceiver.NewSessionInterval);
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, Seal(run2, frame)));
        Assert.Equal(2, receiver.SessionsStarted);
        // ...and the first run's datagrams, replayed, do not bring it back.
        Assert.Equal(KeyedVerdict.StaleSession, receiver.Open(0, Seal(run1, frame)));
    }

    [Fact]
    public void ForgedSessionsAreTriedAtMostOncePerIntervalAndNeverTakeOver()
    {
        var key = TunnelKey.Generate();
        var clock = new ManualClock();
        using var receiver = new KeyedReceiver(key, 1, clock);
        using var wrongKey = new KeyedSender(TunnelKey.Generate(), NewSession(DateTime.UtcNow), 0);
        var frame = new byte[60];
        Assert.Equal(KeyedVerdict.NewSessionFailed, receiver.Open(0, Seal(wrongKey, frame)));
        Assert.Equal(KeyedVerdict.SessionLimited, receiver.Open(0, Seal(wrongKey, frame)));
        clock.Advance(KeyedReceiver.NewSessionInterval);
        Assert.Equal(KeyedVerdict.NewSessionFailed, receiver.Open(0, Seal(wrongKey, frame)));
        Assert.False(receiver.HasSession(0));

        using var genuine = new KeyedSender(key, NewSession(DateTime.UtcNow), 0);
        clock.Advance(KeyedReceiver.NewSessionInterval);
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, Seal(genuine, frame)));
        // With a session in place, a forged datagram of it costs a failed open, no new session.
        var forged = Seal(genuine, frame);
        forged[^1] ^= 0x80;
        Assert.Equal(KeyedVerdict.AuthenticationFailed, receiver.Open(0, forged));
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, Seal(genuine, frame)));
    }

    [Fact]
    public void OpeningTheCurrentSessionAllocatesNothing()
    {
        var key = TunnelKey.Generate();
        using var receiver = new KeyedReceiver(key, 1);
        using var sender = new KeyedSender(key, NewSession(DateTime.UtcNow), 0);
        var buffers = Enumerable.Range(0, 2000).Select(_ => Seal(sender, new byte[1400])).ToArray();
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, buffers[0]));
        Assert.Equal(KeyedVerdict.Accepted, receiver.Open(0, buffers[1]));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 2; i < buffers.Length; i++)
        {
            receiver.Open(0, buffers[i]);
        }
        for (var i = 2; i < buffers.Length; i++)
        {
            receiver.Open(0, buffers[i]); // replayed
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void KeysReadAsWgGenkeyWritesThem()
    {
        var key = TunnelKey.Generate();
        var text = key.ToBase64();
        Assert.Equal(44, text.Length);
        Assert.Equal(text, TunnelKey.Parse(text + "\n").ToBase64());
        Assert.Throws<FormatException>(() => TunnelKey.Parse("not a key"));
        Assert.Throws<FormatException>(() => TunnelKey.Parse(Convert.ToBase64String(new byte[16])));
        Assert.DoesNotContain(text, key.ToString());
    }

    internal static byte[] NewSession(DateTime start)
    {
        var session = new byte[KeyedFormat.SessionIdLength];
        KeyedFormat.NewSessionId(session, start);
        return session;
    }

    internal static byte[] Seal(KeyedSender sender, ReadOnlySpan<byte> frame)
    {
        var datagram = new byte[KeyedFormat.Overhead + frame.Length];
        frame.CopyTo(datagram.AsSpan(KeyedFormat.HeaderLength));
        Assert.True(sender.TrySeal(datagram));
        return datagram;
    }

    private static byte[] Datagram(SessionCipher cipher, ReadOnlySpan<byte> frame, ulong packetNumber)
    {
        var datagram = new byte[KeyedFormat.Overhead + frame.Length];
        frame.CopyTo(datagram.AsSpan(KeyedFormat.HeaderLength));
        cipher.Seal(datagram, packetNumber);
        return datagram;
    }
}

/// <summary>A clock the test moves.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
