using System.Runtime.InteropServices;

namespace NetDev.Bench;

/// <summary>What the machine is, for the report: the figures mean little without it.</summary>
internal static class Machine
{
    public static IReadOnlyList<(string What, string Value)> Describe(Baselines baselines, string repository)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(line => line.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        var memory = ProcStatus.ReadKiB("/proc/meminfo", "MemTotal:") is { } kib ? $"{kib / 1024.0 / 1024:0.0} GiB" : "unknown";
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(line => line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1].Trim('"') ?? "unknown"
            : "unknown";
        return
        [
            ("nproc", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("CPU", cpu),
            ("memory", memory),
            ("kernel", File.ReadAllText("/proc/sys/kernel/osrelease").Trim()),
            ("OS", os),
            (".NET", RuntimeInformation.FrameworkDescription + (System.Runtime.GCSettings.IsServerGC ? ", server GC" : ", workstation GC")),
            ("C baselines", baselines.CompilerVersion),
            ("iperf3", Tool.Run("iperf3", "--version").Split('\n')[0].Trim()),
            ("NetDev", Revision(repository)),
        ];
    }

    /// <summary>The commit measured, and whether src/ had uncommitted changes on top of it.</summary>
    private static string Revision(string repository)
    {
        try
        {
            var commit = Tool.Run("git", "-C", repository, "rev-parse", "--short", "HEAD").Trim();
            var changed = Tool.Run("git", "-C", repository, "status", "--porcelain", "--", "src").Trim().Length > 0;
            return $"commit {commit}{(changed ? ", with uncommitted changes in src/" : "")}";
        }
        catch (Exception error) when (error is BenchException or System.ComponentModel.Win32Exception)
        {
            return "unknown (not a git checkout)";
        }
    }

    /// <summary>The 1, 5 and 15 minute load averages: how busy the machine was besides the bench.</summary>
    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
}
