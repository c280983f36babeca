using System.Text.Json;

namespace NetDev.Linux.Tests;

/// <summary>
/// A network namespace of the test's own, quiet (no IPv6 autoconfiguration traffic on the interfaces under test)
/// with <c>lo</c> up. Disposing kills the processes left inside and removes it, also when the test failed
/// (<see cref="KernelNamespace"/>).
/// </summary>
public sealed class TestNamespace : IDisposable
{
    private readonly KernelNamespace _namespace = KernelNamespace.Create();

    public string Name => _namespace.Name;

    public LinuxHost Host => new(new LinuxHostOptions { NetworkNamespace = Name });

    /// <summary>The kernel's own view of interface <paramref name="device"/> (<c>ip -d -j link show</c>), or null if absent.</summary>
    public JsonElement? Link(string device)
    {
        var (code, output, _) = Shell.TryRun("ip", $"-n {Name} -d -j link show dev {device}");
        if (code != 0)
        {
            return null;
        }
        using var document = JsonDocument.Parse(output);
        return document.RootElement[0].Clone();
    }

    /// <summary>The interface's real transmit queues, as sysfs inside the namespace lists them.</summary>
    public int RealTxQueues(string device)
    {
        var output = Shell.Run("ip", $"netns exec {Name} ls /sys/class/net/{device}/queues");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(entry => entry.StartsWith("tx-", StringComparison.Ordinal));
    }

    public string Ip(string arguments) => Shell.Run("ip", $"-n {Name} {arguments}");

    /// <summary>One of the kernel's counters of <paramref name="device"/> (<c>/sys/class/net/DEV/statistics/NAME</c>), read inside the namespace.</summary>
    public long Counter(string device, string name) =>
        long.Parse(Shell.Run("ip", $"netns exec {Name} cat /sys/class/net/{device}/statistics/{name}").Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Kills every process a test started inside, but never the test process.</summary>
    public void KillProcesses() => _namespace.KillProcesses();

    public void Dispose() => _namespace.Dispose();
}
