using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text.Json;

// The kernel tests run on Linux only, where file modes exist.
[assembly: SupportedOSPlatform("linux")]

namespace NetDev.Control.Tests;

/// <summary>
/// A network namespace of the test's own, quiet (no IPv6 autoconfiguration frames to count) with <c>lo</c> up.
/// Disposing kills the processes left inside and removes it, also when the test failed (<see cref="KernelNamespace"/>).
/// </summary>
public sealed class TestNamespace : IDisposable
{
    private readonly KernelNamespace _namespace = KernelNamespace.Create();

    public string Name => _namespace.Name;

    /// <summary>Runs <c>ip -n NS</c> with <paramref name="arguments"/>.</summary>
    public string Ip(params string[] arguments) => Shell.Run("ip", ["-n", Name, .. arguments]);

    /// <summary>Runs <paramref name="arguments"/> inside the namespace.</summary>
    public string Exec(params string[] arguments) => Shell.Run("ip", ["netns", "exec", Name, .. arguments]);

    /// <summary>The kernel's view of <paramref name="device"/> (<c>ip -j -s link show</c>), or null when it does not exist.</summary>
    public JsonElement? Link(string device)
    {
        var (code, output, _) = Shell.TryRun("ip", "-n", Name, "-j", "-s", "link", "show", "dev", device);
        if (code != 0)
        {
            return null;
        }
        using var document = JsonDocument.Parse(output);
        return document.RootElement[0].Clone();
    }

    public void Dispose() => _namespace.Dispose();
}

/// <summary>A temporary control directory, removed with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ndt-ctl-{Guid.NewGuid():N}");

    public IReadOnlyList<string> FileNames => [.. Directory.EnumerateFiles(Path).Select(System.IO.Path.GetFileName).OfType<string>().Order()];

    public void Dispose() => Directory.Delete(Path, recursive: true);
}



/// <summary>Control endpoints whose socket a dead process left.</summary>
public static class StaleEndpoint
{
    /// <summary>Leaves a socket file nobody listens on at <paramref name="endpoint"/>'s path, and returns the endpoint.</summary>
    public static ControlEndpoint Stale(ControlEndpoint endpoint)
    {
        StaleSocket.Make(endpoint.Path);
        return endpoint;
    }
}
