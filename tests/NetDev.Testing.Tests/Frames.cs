namespace NetDev.Testing.Tests;

internal static class Frames
{
    /// <summary><paramref name="count"/> distinct frames of <see cref="TestFrames.ExperimentalEtherType"/>, of varied lengths.</summary>
    public static List<byte[]> Numbered(int count, int firstSeed = 0) =>
        [.. Enumerable.Range(firstSeed, count).Select(seed => TestFrames.Numbered(seed, payloadLength: 46 + seed % 7 * 100))];
}
