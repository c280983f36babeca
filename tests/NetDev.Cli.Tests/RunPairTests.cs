using System.Text.RegularExpressions;

namespace NetDev.Cli.Tests;

/// <summary><c>netdev run pair</c> end to end: two ends in two namespaces of the test's own, ping across, teardown.</summary>
public sealed partial class RunPairTests
{
    [GeneratedRegex(@"^(?<name>\S+) tx_packets=(?<txPackets>\d+) tx_bytes=\d+ rx_packets=(?<rxPackets>\d+) rx_bytes=\d+ tx_dropped=\d+ rx_dropped=\d+ tx_errors=\d+ rx_errors=\d+$")]
    private static partial Regex StatsLine();

    [Fact]
    public async Task PingCrossesThePairAndSigintPrintsBothEndsStatsAndRemovesThem()
    {
        using var directory = new TempDirectory();
        await using var ns1 = await NetworkNamespace.CreateAsync();
        await using var ns2 = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns1,
            ["run", "pair", "--name", "ndta", "--peer-name", "ndtb", "--netns", ns1.Name, "--peer-netns", ns2.Name, "--queues", "2"],
            controlDirectory: directory.Path);

        Assert.Equal(["ndta", "ndtb"], await cli.ReadReadyAsync(2));
        Assert.Contains("UP", (await ns1.FindLinkAsync("ndta"))!.Flags);
        Assert.Contains("UP", (await ns2.FindLinkAsync("ndtb"))!.Flags);
        Assert.Equal([$"ndta@{ns1.Name}.sock", $"ndtb@{ns2.Name}.sock"], directory.FileNames.Order());
        var subnet = $"10.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(1, 255)}";
        (await ns1.IpAsync("addr", "add", $"{subnet}.1/24", "dev", "ndta")).EnsureSuccess();
        (await ns2.IpAsync("addr", "add", $"{subnet}.2/24", "dev", "ndtb")).EnsureSuccess();

        var ping = await ns1.ExecAsync("ping", "-c", "3", "-W", "2", $"{subnet}.2");

        Assert.True(ping.ExitCode == 0, ping.Stdout + ping.Stderr);
        Assert.Contains("3 received", ping.Stdout);
        cli.Signal(CliProcess.SIGINT);
        var (exitCode, rest) = await cli.WaitForExitAsync();
        Assert.Equal(0, exitCode);
        Assert.Equal(2, rest.Count);
        var stats = rest.Select(line => StatsLine().Match(line)).ToList();
        Assert.All(stats, match => Assert.True(match.Success, $"'{match.Value}' is not a stats line: {string.Join(" | ", rest)}"));
        Assert.Equal(["ndta", "ndtb"], stats.Select(match => match.Groups["name"].Value));
        // Three echo requests went each way at least (ARP too); what one end sent the other received.
        Assert.All(stats, match => Assert.True(long.Parse(match.Groups["txPackets"].Value) >= 3, match.Value));
        Assert.Equal(stats[0].Groups["txPackets"].Value, stats[1].Groups["rxPackets"].Value);
        Assert.Equal(stats[1].Groups["txPackets"].Value, stats[0].Groups["rxPackets"].Value);
        Assert.Null(await ns1.FindLinkAsync("ndta"));
        Assert.Null(await ns2.FindLinkAsync("ndtb"));
        Assert.Empty(directory.FileNames);
        Assert.Equal("", cli.Stderr);
    }

    [Fact]
    public async Task InOneNamespaceTheDefaultTemplateNumbersBothEnds()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "pair"]);

        Assert.Equal(["pair0", "pair1"], await cli.ReadReadyAsync(2));
        cli.Signal(CliProcess.SIGTERM);
        Assert.Equal(0, (await cli.WaitForExitAsync()).ExitCode);
        Assert.Equal(["lo"], await ns.LinkNamesAsync());
    }

    [Fact]
    public async Task InTwoNamespacesThePeerTakesTheSameName()
    {
        await using var ns1 = await NetworkNamespace.CreateAsync();
        await using var ns2 = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns1, ["run", "pair", "--name", "wire", "--peer-netns", ns2.Name]);

        Assert.Equal(["wire", "wire"], await cli.ReadReadyAsync(2));
        Assert.NotNull(await ns1.FindLinkAsync("wire"));
        Assert.NotNull(await ns2.FindLinkAsync("wire"));
        cli.Signal(CliProcess.SIGINT);
        Assert.Equal(0, (await cli.WaitForExitAsync()).ExitCode);
    }

    [Fact]
    public async Task ANamespaceThatDoesNotExistIsAnErrorWithExitOneAndNothingLeft()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "pair", "--name", "ndta", "--peer-netns", $"{ns.Name}-missing"]);

        var (exitCode, stdout) = await cli.WaitForExitAsync();

        Assert.Equal(1, exitCode);
        Assert.Empty(stdout);
        Assert.Contains($"{ns.Name}-missing", cli.Stderr);
        Assert.Equal(["lo"], await ns.LinkNamesAsync());
    }

    [Fact]
    public async Task ACliKilledWithSigkillLeavesNoInterfaceBehind()
    {
        await using var ns1 = await NetworkNamespace.CreateAsync();
        await using var ns2 = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns1, ["run", "pair", "--name", "ndta", "--peer-name", "ndtb", "--peer-netns", ns2.Name]);
        await cli.ReadReadyAsync(2);

        cli.Signal(CliProcess.SIGKILL);
        await cli.WaitForExitAsync();

        // A TAP that is not persistent goes with the last descriptor to it, which the kernel closes as the process dies.
        await CliProcess.WaitUntilAsync(async () => (await ns1.LinkNamesAsync()).SequenceEqual(["lo"]) && (await ns2.LinkNamesAsync()).SequenceEqual(["lo"]),
            "both ends are removed");
    }
}
