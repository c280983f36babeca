namespace NetDev.Cli.Tests;

/// <summary>A control directory of the test's own (NETDEV_RUN_DIR), removed with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ndt-ctl-{Guid.NewGuid():N}");

    /// <summary>The names of the files in the directory, in order.</summary>
    public IReadOnlyList<string> FileNames => [.. Directory.EnumerateFiles(Path).Select(System.IO.Path.GetFileName).OfType<string>().Order()];

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
