namespace NetDev.Fuzz;

/// <summary>One fuzz target: feeds <paramref name="input"/> to a parser and throws when the parser broke its contract.</summary>
/// <remarks>Any exception that leaves a target is a finding: a parser that threw where it should have
/// answered, or a <see cref="FuzzFailure"/> for an answer that contradicts the parser's documentation.
/// Outcomes the parser documents (a malformed verdict, the one exception it may throw) are caught inside
/// the target.</remarks>
public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>Every fuzz target, by the name the command line and the corpus folders use.</summary>
public static class FuzzTargets
{
    /// <summary>The targets, in the order the documentation lists them.</summary>
    public static IReadOnlyList<(string Name, FuzzTarget Run)> All { get; } =
    [
        ("tunnel", TunnelTarget.Run),
        ("tunnel-keyed", KeyedTunnelTarget.Run),
        ("frame-layout", OffloadTargets.FrameLayout),
        ("partial-checksum", OffloadTargets.PartialChecksum),
        ("gso", OffloadTargets.Gso),
        ("gro", OffloadTargets.Gro),
        ("rtnetlink", RtnetlinkTarget.Run),
        ("control", ControlTarget.Run),
    ];

    /// <summary>The target called <paramref name="name"/>, or null.</summary>
    public static FuzzTarget? Find(string name) => All.FirstOrDefault(target => target.Name == name).Run;

    /// <summary>The longest input a target looks at: past a 64 KiB frame and its offload fields nothing new is reached, and afl-fuzz stays fast.</summary>
    public const int MaxInputLength = 70_000;
}

/// <summary>A parser's answer contradicts what it documents.</summary>
public sealed class FuzzFailure(string message) : Exception(message)
{
    /// <summary>Throws a <see cref="FuzzFailure"/> with <paramref name="message"/> unless <paramref name="condition"/> holds.</summary>
    public static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzFailure(message);
        }
    }
}

/// <summary>Reads the fields a target takes from the front of its input; past the end every field reads as zero.</summary>
internal ref struct FuzzInput(ReadOnlySpan<byte> input)
{
    private ReadOnlySpan<byte> _rest = input.Length > FuzzTargets.MaxInputLength ? input[..FuzzTargets.MaxInputLength] : input;

    public readonly ReadOnlySpan<byte> Rest => _rest;

    public readonly bool IsEmpty => _rest.IsEmpty;

    public byte Byte()
    {
        if (_rest.IsEmpty)
        {
            return 0;
        }
        var value = _rest[0];
        _rest = _rest[1..];
        return value;
    }

    public ushort UInt16() => (ushort)((Byte() << 8) | Byte());

    /// <summary>The next <paramref name="count"/> bytes, or what is left.</summary>
    public ReadOnlySpan<byte> Bytes(int count)
    {
        var taken = _rest[..Math.Min(count, _rest.Length)];
        _rest = _rest[taken.Length..];
        return taken;
    }
}
