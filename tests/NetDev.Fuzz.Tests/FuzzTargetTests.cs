using CsCheck;

namespace NetDev.Fuzz.Tests;

/// <summary>
/// The fuzz targets of tests/NetDev.Fuzz inside the normal test suite: every seed and every input of a
/// fixed finding still passes, and for a bounded time each target gets seeds mutated the way afl-fuzz
/// mutates them, and plain random bytes. A failure prints the shrunk input as base64, ready to check in
/// under tests/NetDev.Fuzz/regressions/TARGET/ with the fix.
/// </summary>
public sealed class FuzzTargetTests
{
    /// <summary>Seconds each generated run takes at most: the suite stays fast, afl-fuzz goes deeper.</summary>
    private const int Seconds = 2;

    public static TheoryData<string> Targets => [.. FuzzTargets.All.Select(target => target.Name)];

    [Fact]
    public void EveryTargetHasASeedCorpus()
    {
        foreach (var (name, _) in FuzzTargets.All)
        {
            Assert.True(Inputs("corpus", name).Length > 0, $"the {name} target has no seeds");
        }
    }

    [Fact]
    public void TheSeedsReachTheCuttingAndTheMerging()
    {
        // A corpus that never gets past the parsers' refusals would leave the interesting paths unfuzzed.
        Assert.True(Inputs("corpus", "gso").Max(file => OffloadTargets.CutSegments(File.ReadAllBytes(file))) > 1, "no gso seed is cut into segments");
        Assert.True(Inputs("corpus", "gro").Sum(file => OffloadTargets.MergeSegments(File.ReadAllBytes(file))) > 0, "no gro seed merges segments");
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void EverySeedAndEveryFixedFindingPasses(string target)
    {
        var run = FuzzTargets.Find(target)!;
        foreach (var file in Inputs("corpus", target).Concat(Inputs("regressions", target)))
        {
            var input = File.ReadAllBytes(file);
            var error = Record.Exception(() => run(input));
            Assert.True(error is null, $"{target}: {Path.GetFileName(file)} fails: {error}");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void MutatedSeedsKeepTheParsersContract(string target)
    {
        var run = FuzzTargets.Find(target)!;
        var seeds = Inputs("corpus", target).Select(File.ReadAllBytes).ToArray();
        Gen.Select(Gen.Int[0, seeds.Length - 1], Mutation.Gen.Array[1, 8])
            .Select((seed, mutations) => Mutation.Apply(seeds[seed], mutations))
            .Sample(input => run(input), time: Seconds, print: Convert.ToBase64String);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void RandomBytesKeepTheParsersContract(string target)
    {
        var run = FuzzTargets.Find(target)!;
        Gen.Byte.Array[0, 600].Sample(input => run(input), time: Seconds, print: Convert.ToBase64String);
    }

    private static string[] Inputs(string folder, string target)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, folder, target);
        return Directory.Exists(directory) ? [.. Directory.GetFiles(directory).Order(StringComparer.Ordinal)] : [];
    }
}

/// <summary>One change to an input, as afl-fuzz's havoc stage makes them: a byte flipped or set, a cut, an insertion, a range repeated or removed.</summary>
internal readonly record struct Mutation(int Kind, int Position, int Length, byte Value)
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x06, 0x11, 0x40, 0x45, 0x60];

    public static Gen<Mutation> Gen { get; } = CsCheck.Gen.Select(CsCheck.Gen.Int[0, 5], CsCheck.Gen.Int[0, int.MaxValue], CsCheck.Gen.Int[1, 64], CsCheck.Gen.Byte)
        .Select((kind, position, length, value) => new Mutation(kind, position, length, value));

    public static byte[] Apply(byte[] seed, Mutation[] mutations)
    {
        var bytes = seed.ToList();
        foreach (var mutation in mutations)
        {
            mutation.ApplyTo(bytes);
        }
        return [.. bytes];
    }

    private void ApplyTo(List<byte> bytes)
    {
        var at = bytes.Count == 0 ? 0 : Position % bytes.Count;
        var length = Math.Min(Length, bytes.Count - at);
        switch (Kind)
        {
            case 0 when bytes.Count > 0:
                bytes[at] ^= (byte)(1 << (Value & 7));
                break;
            case 1 when bytes.Count > 0:
                bytes[at] = Interesting[Value % Interesting.Length];
                break;
            case 2:
                bytes.RemoveRange(at, bytes.Count - at);
                break;
            case 3:
                bytes.InsertRange(at, Enumerable.Repeat(Value, Length));
                break;
            case 4:
                bytes.InsertRange(at, bytes.GetRange(at, length));
                break;
            case 5:
                bytes.RemoveRange(at, length);
                break;
        }
    }
}
