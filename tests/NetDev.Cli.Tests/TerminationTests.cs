using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace NetDev.Cli.Tests;

/// <summary>How <c>netdev run</c> ends on SIGTERM/SIGINT: under heavy traffic, and when its teardown cannot finish.</summary>
public sealed partial class TerminationTests
{
    [GeneratedRegex(@"^(?<name>\S+) tx_packets=(?<txPackets>\d+) tx_bytes=\d+ rx_packets=(?<rxPackets>\d+) rx_bytes=\d+ tx_dropped=\d+ rx_dropped=\d+ tx_errors=\d+ rx_errors=\d+$")]
    private static partial Regex StatsLine();

    [Fact]
    public async Task SigtermUnderHeavyTrafficExitsZeroWithTheCountersAndLeavesNoInterface()
    {
        Assert.SkipUnless((await Shell.RunAsync("sh", "-c", "command -v iperf3")).ExitCode == 0,
            "iperf3 is not installed (.ci/run installs it: apt-get install iperf3)");
        using var directory = new TempDirectory();
        await using var ns1 = await NetworkNamespace.CreateAsync();
        await using var ns2 = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns1,
            ["run", "pair", "--name", "ndsa", "--peer-name", "ndsb", "--netns", ns1.Name, "--peer-netns", ns2.Name, "--queues", "2"],
            controlDirectory: directory.Path);
        Assert.Equal(["ndsa", "ndsb"], await cli.ReadReadyAsync(2));
        var subnet = $"10.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(1, 255)}";
        (await ns1.IpAsync("addr", "add", $"{subnet}.1/24", "dev", "ndsa")).EnsureSuccess();
        (await ns2.IpAsync("addr", "add", $"{subnet}.2/24", "dev", "ndsb")).EnsureSuccess();

        // Four TCP streams as fast as they go, for longer than the test needs them; the namespaces' disposal
        // ends whatever is left of them.
        var server = ns2.ExecAsync("iperf3", "--server", "--one-off", "--bind", $"{subnet}.2");
        await CliProcess.WaitUntilAsync(async () => (await ns2.ExecAsync("ss", "-Hltn", "sport", "=", ":5201")).Stdout.Contains("5201"),
            "iperf3 listens");
        var client = ns1.ExecAsync("iperf3", "--client", $"{subnet}.2", "--time", "25", "--parallel", "4");
        await CliProcess.WaitUntilAsync(async () => await ns1.FindLinkAsync("ndsa") is { TxPackets: > 5_000 },
            "the streams have carried 5,000 frames");

        cli.Signal(CliProcess.SIGTERM);
        var (exitCode, rest) = await cli.WaitForExitAsync();

        Assert.True(exitCode == 0, $"exit {exitCode}; stderr: {cli.Stderr}");
        Assert.Equal("", cli.Stderr);
        var stats = rest.Select(line => StatsLine().Match(line)).ToList();
        Assert.True(stats.Count == 2 && stats.All(match => match.Success), $"not two stats lines: {string.Join(" | ", rest)}");
        Assert.Equal(["ndsa", "ndsb"], stats.Select(match => match.Groups["name"].Value));
        Assert.True(long.Parse(stats[0].Groups["txPackets"].Value) > 5_000, stats[0].Value);
        Assert.Equal(["lo"], await ns1.LinkNamesAsync());
        Assert.Equal(["lo"], await ns2.LinkNamesAsync());
        Assert.Empty(directory.FileNames);
        await ns1.KillProcessesAsync();
        await ns2.KillProcessesAsync();
        await Task.WhenAll(server, client);
    }

    [Theory]
    [InlineData(CliProcess.SIGTERM)]
    [InlineData(CliProcess.SIGINT)]
    public async Task ASecondSignalEndsAWedgedTeardownAtOnceWith130(int signal)
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--name", "ndwedge0"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();
        // The teardown's first step removes the control endpoint under the control directory's lock; a
        // process that holds that lock and does not let go wedges it there (for up to the lock timeout, 30 s).
        var holder = ns.ExecAsync("flock", directory.Path, "sleep", "25");
        await CliProcess.WaitUntilAsync(() => HoldsLockAsync(directory.Path), "the lock is held");

        cli.Signal(signal);
        await CliProcess.WaitUntilAsync(() => Task.FromResult(cli.Stderr.Contains("waiting for the lock on", StringComparison.Ordinal)),
            "the teardown says it waits for the lock");
        cli.Signal(signal);
        var (exitCode, _) = await cli.WaitForExitAsync();

        Assert.Equal(130, exitCode);
        Assert.Contains($"{(signal == CliProcess.SIGTERM ? "SIGTERM" : "SIGINT")} again; exiting without finishing the teardown", cli.Stderr);
        // The interface goes with the process's descriptors.
        await CliProcess.WaitUntilAsync(async () => (await ns.LinkNamesAsync()).SequenceEqual(["lo"]), "the interface is gone");
        await ns.KillProcessesAsync();
        await holder;
    }

    /// <summary>Whether some process holds a <c>flock</c> on <paramref name="path"/> (its inode in <c>/proc/locks</c>).</summary>
    private static async Task<bool> HoldsLockAsync(string path)
    {
        var inode = (await Shell.RunAsync("stat", "-c", "%i", path)).EnsureSuccess().Stdout.Trim();
        var locks = await File.ReadAllLinesAsync("/proc/locks");
        return locks.Any(line => line.Contains("FLOCK") && line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is var fields
            && fields.Length > 5 && fields[5].EndsWith($":{inode}", StringComparison.Ordinal));
    }
}
