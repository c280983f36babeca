namespace NetDev;

/// <summary>The ways an <see cref="SkBuff"/> can be misused that are caught at run time.</summary>
public enum SkBuffMisuse
{
    /// <summary>A default <see cref="SkBuff"/> that never came from a pool was used.</summary>
    NotAllocated,
    /// <summary>A frame was read or changed after it was released.</summary>
    UseAfterRelease,
    /// <summary>A frame was released a second time.</summary>
    DoubleRelease,
}

/// <summary>Thrown when an <see cref="SkBuff"/> is used in a way its ownership rules forbid.</summary>
public sealed class SkBuffMisuseException : InvalidOperationException
{
    private SkBuffMisuseException(SkBuffMisuse misuse, string message) : base(message) => Misuse = misuse;

    /// <summary>Which rule was broken.</summary>
    public SkBuffMisuse Misuse { get; }

    internal static SkBuffMisuseException NotAllocated() => new(SkBuffMisuse.NotAllocated,
        "SkBuff used but never allocated: this is default(SkBuff); take frames from an SkBuffPool.");

    internal static SkBuffMisuseException UseAfterRelease(string? release) => new(SkBuffMisuse.UseAfterRelease,
        $"SkBuff used after release: the frame was released{Describe(release)} and its buffer went back to the pool.");

    internal static SkBuffMisuseException DoubleRelease(string? release) => new(SkBuffMisuse.DoubleRelease,
        $"SkBuff released twice: the frame was already released{Describe(release)}; release a frame exactly once.");

    private static string Describe(string? release) => release is null ? "" : $" by {release}";
}
