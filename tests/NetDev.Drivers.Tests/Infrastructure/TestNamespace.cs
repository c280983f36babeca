using NetDev.Linux;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>
/// A network namespace of the test's own, quiet (no IPv6 autoconfiguration or MLD traffic on the interfaces under
/// test, so every frame and every drop a test counts is one it caused; an IPv6 underlay enables it per interface)
/// with <c>lo</c> up. Disposing kills the processes left inside and removes it, also when the test failed
/// (<see cref="KernelNamespace"/>).
/// </summary>
public sealed class TestNamespace : IDisposable
{
    private readonly KernelNamespace _namespace = KernelNamespace.Create();

    public string Name => _namespace.Name;

    public LinuxHost Host => new(new LinuxHostOptions { NetworkNamespace = Name });

    public string Ip(string arguments) => Shell.Run("ip", $"-n {Name} {arguments}");

    public (int Code, string Output, string Error) Exec(string command) => Shell.TryRun("ip", $"netns exec {Name} {command}");

    public bool HasLink(string device) => Shell.TryRun("ip", $"-n {Name} link show dev {device}").Code == 0;

    public T Run<T>(Func<T> work) => NetworkNamespace.Run(Name, work);

    /// <summary>One of the kernel's counters of <paramref name="device"/> (<c>/sys/class/net/DEV/statistics/NAME</c>), read inside the namespace.</summary>
    public long Counter(string device, string name) =>
        long.Parse(Shell.Run("ip", $"netns exec {Name} cat /sys/class/net/{device}/statistics/{name}").Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Kills every process a test started inside (such as iperf3), but never the test process.</summary>
    public void KillProcesses() => _namespace.KillProcesses();

    public void Dispose() => _namespace.Dispose();
}
