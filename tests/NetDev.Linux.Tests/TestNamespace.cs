using System.Text.Json;

namespace NetDev.Linux.Tests;

/// <summary>A network namespace of the test's own, removed on dispose (also when the test failed).</summary>
public sealed class TestNamespace : IDisposable
{
    public TestNamespace()
    {
        Name = $"ndt-{Guid.NewGuid().ToString("N")[..10]}";
        Shell.Run("ip", $"netns add {Name}");
        // Quiet namespace: no IPv6 autoconfiguration traffic on the interfaces under test.
        Shell.Run("ip", $"netns exec {Name} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
        Shell.Run("ip", $"-n {Name} link set lo up");
    }

    public string Name { get; }

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

    public void Dispose() => Shell.TryRun("ip", $"netns del {Name}");
}
