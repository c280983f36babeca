using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace NetDev.Bench;

/// <summary>
/// The AEAD figure: seal and open throughput of AES-256-GCM (what the keyed tunnel uses, <c>SessionCipher</c>)
/// and ChaCha20-Poly1305 (what WireGuard uses), both from System.Security.Cryptography (OpenSSL here), in
/// one thread, on a keyed tunnel datagram's shape: a 1,400-byte frame with the 28-byte keyed header as
/// associated data and a 16-byte tag. The figure behind <c>SessionCipher</c>'s choice; no target.
/// </summary>
/// <remarks>
/// <para>Sealing is in place with a new nonce each time, as the tunnel seals; opening reads one sealed
/// datagram into a second buffer again and again (in place it would decrypt what it decrypted before and
/// fail). Each window runs for a fixed time in the bench's main thread; runs alternate the two ciphers
/// (the order swapped each run). Both figures come from the thread's CPU time (<c>/proc/thread-self/schedstat</c>),
/// which other work on the shared machine disturbs far less than wall-clock time: MB/s is frame bytes (10^6)
/// per CPU second, ns per datagram the CPU time over the datagrams (the same measurement, both ways up).</para>
/// </remarks>
internal sealed class AeadFigure(BenchContext context)
{
    private const int FrameLength = 1400;
    private const int HeaderLength = 28;
    private const int TagLength = 16;
    private const int NonceLength = 12;

    public void Run()
    {
        context.Log("== aead");
        var key = RandomNumberGenerator.GetBytes(32);
        using var aesGcm = new AesGcm(key, TagLength);
        using var chaCha = new ChaCha20Poly1305(key);
        Cipher[] ciphers =
        [
            new("AES-256-GCM",
                (nonce, text, tag, header) => aesGcm.Encrypt(nonce, text, text, tag, header),
                (nonce, sealedText, tag, plain, header) => aesGcm.Decrypt(nonce, sealedText, tag, plain, header)),
            new("ChaCha20-Poly1305",
                (nonce, text, tag, header) => chaCha.Encrypt(nonce, text, text, tag, header),
                (nonce, sealedText, tag, plain, header) => chaCha.Decrypt(nonce, sealedText, tag, plain, header)),
        ];
        // Short windows: the figure is one thread's arithmetic, steady within a second or two.
        var window = TimeSpan.FromSeconds(Math.Min(2, context.Options.Window.TotalSeconds));
        var seal = ciphers.ToDictionary(cipher => cipher, _ => new List<Measurement>());
        var open = ciphers.ToDictionary(cipher => cipher, _ => new List<Measurement>());
        var loads = new List<string>();
        for (var run = 0; run < context.Options.Runs; run++)
        {
            foreach (var cipher in run % 2 == 0 ? ciphers : Enumerable.Reverse(ciphers))
            {
                seal[cipher].Add(Measure(duration => Seal(cipher, duration), window));
                open[cipher].Add(Measure(duration => Open(cipher, duration), window));
            }
            loads.Add(Machine.LoadAverage());
            context.Log($"   aead run {run + 1}: " + string.Join(", ", ciphers.Select(cipher =>
                $"{cipher.Name} seal {MegabytesPerSecond(seal[cipher][^1].BytesPerSecond)}, open {MegabytesPerSecond(open[cipher][^1].BytesPerSecond)}")) + $"; load {loads[^1]}");
        }

        var (aes, chacha) = (ciphers[0], ciphers[1]);
        var note = $"AES-256-GCM is what the keyed tunnel seals with (SessionCipher), for this figure; 1,400-byte frame, 28-byte header as associated data, " +
            $"one thread; load average after each aead run: {string.Join("; ", loads)}";
        var results = context.Results;
        results.Add(new Comparison("AEAD seal, MB per CPU second, AES-256-GCM", chacha.Name, MegabytesPerSecond,
            seal[aes].Select(m => m.BytesPerSecond).ToList(), seal[chacha].Select(m => m.BytesPerSecond).ToList(), null, note));
        results.Add(new Comparison("AEAD open, MB per CPU second, AES-256-GCM", chacha.Name, MegabytesPerSecond,
            open[aes].Select(m => m.BytesPerSecond).ToList(), open[chacha].Select(m => m.BytesPerSecond).ToList(), null, note));
        results.Add(new Comparison("AEAD seal, CPU ns per datagram, AES-256-GCM", chacha.Name, Units.Nanoseconds,
            seal[aes].Select(m => m.CpuNanosecondsPerDatagram).ToList(), seal[chacha].Select(m => m.CpuNanosecondsPerDatagram).ToList(), null, note));
        results.Add(new Comparison("AEAD open, CPU ns per datagram, AES-256-GCM", chacha.Name, Units.Nanoseconds,
            open[aes].Select(m => m.CpuNanosecondsPerDatagram).ToList(), open[chacha].Select(m => m.CpuNanosecondsPerDatagram).ToList(), null, note));
        foreach (var cipher in ciphers)
        {
            results.AddDetail($"AEAD {cipher.Name}: bytes allocated per datagram, seal [{string.Join(", ", seal[cipher].Select(m => m.AllocatedPerDatagram.ToString("0.####", CultureInfo.InvariantCulture)))}], " +
                $"open [{string.Join(", ", open[cipher].Select(m => m.AllocatedPerDatagram.ToString("0.####", CultureInfo.InvariantCulture)))}]");
        }
    }

    private static string MegabytesPerSecond(double bytesPerSecond) => (bytesPerSecond / 1e6).ToString("#,0", CultureInfo.InvariantCulture) + " MB/s";

    /// <summary>Runs <paramref name="work"/> (which returns the datagrams it handled) for <paramref name="window"/> after a short warm-up of the same work, counting the thread's CPU time and allocations.</summary>
    private static Measurement Measure(Func<TimeSpan, long> work, TimeSpan window)
    {
        work(TimeSpan.FromMilliseconds(200));
        var cpuBefore = ThreadCpuNanoseconds();
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var datagrams = work(window);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var cpu = ThreadCpuNanoseconds() - cpuBefore;
        return new Measurement(datagrams * (double)FrameLength * 1e9 / cpu, (double)cpu / datagrams, (double)allocated / datagrams);
    }

    private long Seal(Cipher cipher, TimeSpan window)
    {
        var datagram = new byte[HeaderLength + FrameLength + TagLength];
        RandomNumberGenerator.Fill(datagram);
        Span<byte> nonce = stackalloc byte[NonceLength];
        nonce.Clear();
        var header = datagram.AsSpan(0, HeaderLength);
        var frame = datagram.AsSpan(HeaderLength, FrameLength);
        var tag = datagram.AsSpan(HeaderLength + FrameLength, TagLength);
        ulong packetNumber = 0;
        var deadline = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            // Checking the clock once per 64 datagrams keeps it out of the figure.
            for (var i = 0; i < 64; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], ++packetNumber);
                cipher.Seal(nonce, frame, tag, header);
            }
            context.Cancellation.ThrowIfCancellationRequested();
        }
        return (long)packetNumber;
    }

    private long Open(Cipher cipher, TimeSpan window)
    {
        var datagram = new byte[HeaderLength + FrameLength + TagLength];
        var plain = new byte[FrameLength];
        RandomNumberGenerator.Fill(datagram);
        Span<byte> nonce = stackalloc byte[NonceLength];
        nonce.Clear();
        var header = datagram.AsSpan(0, HeaderLength);
        var frame = datagram.AsSpan(HeaderLength, FrameLength);
        var tag = datagram.AsSpan(HeaderLength + FrameLength, TagLength);
        cipher.Seal(nonce, frame, tag, header);
        long opened = 0;
        var deadline = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            for (var i = 0; i < 64; i++)
            {
                cipher.Open(nonce, frame, tag, plain, header);
            }
            opened += 64;
            context.Cancellation.ThrowIfCancellationRequested();
        }
        return opened;
    }

    private static long ThreadCpuNanoseconds() =>
        long.Parse(File.ReadAllText("/proc/thread-self/schedstat").Split(' ')[0], CultureInfo.InvariantCulture);

    private delegate void SealStep(ReadOnlySpan<byte> nonce, Span<byte> text, Span<byte> tag, ReadOnlySpan<byte> header);

    private delegate void OpenStep(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedText, ReadOnlySpan<byte> tag, Span<byte> plain, ReadOnlySpan<byte> header);

    private sealed record Cipher(string Name, SealStep Seal, OpenStep Open);

    private readonly record struct Measurement(double BytesPerSecond, double CpuNanosecondsPerDatagram, double AllocatedPerDatagram);
}
