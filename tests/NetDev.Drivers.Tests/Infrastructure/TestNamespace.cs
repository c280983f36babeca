using NetDev.Linux;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>A network namespace of the test's own, removed on dispose (also when the test failed).</summary>
public sealed class TestNamespace : IDisposable
{
    public TestNamespace()
    {
        Name = $"ndt-{Guid.NewGuid().ToString("N")[..10]}";
        Shell.Run("ip", $"netns add {Name}");
        try
        {
            // Quiet by default: no IPv6 autoconfiguration or MLD traffic on the interfaces under test, so
            // every frame and every drop a test counts is one it caused. An IPv6 underlay enables it per interface.
            Shell.Run("ip", $"netns exec {Name} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
            Shell.Run("ip", $"-n {Name} link set lo up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name { get; }

    public LinuxHost Host => new(new LinuxHostOptions { NetworkNamespace = Name });

    public string Ip(string arguments) => Shell.Run("ip", $"-n {Name} {arguments}");

    public (int Code, string Output, string Error) Exec(string command) => Shell.TryRun("ip", $"netns exec {Name} {command}");

    public bool HasLink(string device) => Shell.TryRun("ip", $"-n {Name} link show dev {device}").Code == 0;

    public T Run<T>(Func<T> work) => NetworkNamespace.Run(Name, work);

    /// <summary>One of the kernel's counters of <paramref name="device"/> (<c>/sys/class/net/DEV/statistics/NAME</c>), read inside the namespace.</summary>
    public long Counter(string device, string name) =>
        long.Parse(Shell.Run("ip", $"netns exec {Name} cat /sys/class/net/{device}/statistics/{name}").Trim(), System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose() => Shell.TryRun("ip", $"netns del {Name}");
}
