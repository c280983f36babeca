using System.Text.Json;
using NetDev.Tests.Shared;

namespace NetDev.Cli.Tests;

/// <summary>
/// The commands for scripts and people: capture (pcapng tshark reads), monitor, stats for every device and its
/// rates, --json everywhere, and bash completion; against devices <c>netdev run</c> serves in namespaces of the test's own.
/// </summary>
public sealed class ObservabilityCommandTests
{
    /// <summary>Gives dummy0 in <paramref name="ns"/> an address and a neighbour, so that datagrams to 10.215.1.2 leave through it.</summary>
    private static async Task RouteThroughDummy(NetworkNamespace ns)
    {
        (await ns.IpAsync("addr", "add", "10.215.1.1/24", "dev", "dummy0")).EnsureSuccess();
        (await ns.IpAsync("neigh", "add", "10.215.1.2", "lladdr", "02:00:00:00:00:02", "dev", "dummy0", "nud", "permanent")).EnsureSuccess();
    }

    /// <summary>Sends datagrams through dummy0 until <paramref name="done"/> completes, and returns its result.</summary>
    private static async Task<T> SendWhile<T>(NetworkNamespace ns, Task<T> done)
    {
        var deadline = DateTime.UtcNow + CliProcess.Timeout;
        while (!done.IsCompleted && DateTime.UtcNow < deadline)
        {
            (await ns.ExecAsync("bash", "-c", "echo captured > /dev/udp/10.215.1.2/9")).EnsureSuccess();
            await Task.WhenAny(done, Task.Delay(200, TestContext.Current.CancellationToken));
        }
        return await done;
    }

    [Fact]
    public async Task CaptureWritesPcapngThatTsharkReadsWithTheDirectionOfEachFrame()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();
        await RouteThroughDummy(ns);
        var file = Path.Combine(directory.Path, "capture.pcapng");

        var capture = await SendWhile(ns, CliProcess.RunAsync(directory.Path, "capture", "dummy0", "-c", "3", "-w", file));

        capture.EnsureSuccess();
        Assert.Equal("netdev: 3 frame(s) captured\n", capture.Stderr);
        var fields = (await Shell.RunAsync("tshark", "-r", file, "-T", "fields", "-e", "frame.packet_flags_direction", "-e", "udp.dstport")).EnsureSuccess();
        var rows = fields.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, rows.Length);
        // Outbound (2): the system sent them through the device.
        Assert.All(rows, row => Assert.Matches(@"^0x0+2\t(9)?$", row));
        Assert.Contains(rows, row => row.EndsWith("\t9", StringComparison.Ordinal));
        var parsed = PcapNgReader.Parse(await File.ReadAllBytesAsync(file, TestContext.Current.CancellationToken));
        Assert.Equal(3, parsed.Packets.Count);
        Assert.Equal(0UL, parsed.Statistics[7]);
    }

    [Fact]
    public async Task CaptureToStandardOutputPipesIntoTshark()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();
        await RouteThroughDummy(ns);
        var pipeline = $"'{CliProcess.DotnetHost}' '{CliProcess.CliAssembly}' capture dummy0 -c 2 --drops | tshark -r - -T fields -e udp.dstport";

        var result = await SendWhile(ns, Shell.RunAsync(new Dictionary<string, string> { ["NETDEV_RUN_DIR"] = directory.Path }, "bash", "-c", pipeline));

        result.EnsureSuccess();
        Assert.Equal(2, result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task CaptureOfAnUnknownDeviceSaysSoAndACountOfNoneIsAUsageError()
    {
        using var directory = new TempDirectory();

        var unknown = await CliProcess.RunAsync(directory.Path, "capture", "nosuch0");
        var zero = await CliProcess.RunAsync(directory.Path, "capture", "nosuch0", "-c", "0");

        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no running NetDev device is called 'nosuch0'", unknown.Stderr);
        Assert.Equal(2, zero.ExitCode);
        Assert.Contains("--count takes a number of frames", zero.Stderr);
    }

    [Fact]
    public async Task JsonOnListStatsOfEveryDeviceAndEthtool()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--count", "2"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync(2);

        using var list = JsonDocument.Parse((await CliProcess.RunAsync(directory.Path, "list", "--json")).EnsureSuccess().Stdout);
        using var stats = JsonDocument.Parse((await CliProcess.RunAsync(directory.Path, "stats", "--json")).EnsureSuccess().Stdout);
        var text = (await CliProcess.RunAsync(directory.Path, "stats")).EnsureSuccess().Stdout;
        using var statistics = JsonDocument.Parse((await CliProcess.RunAsync(directory.Path, "ethtool", "-S", "dummy0", "--json")).EnsureSuccess().Stdout);
        using var driver = JsonDocument.Parse((await CliProcess.RunAsync(directory.Path, "ethtool", "-i", "dummy0", "--json")).EnsureSuccess().Stdout);
        using var ring = JsonDocument.Parse((await CliProcess.RunAsync(directory.Path, "ethtool", "-g", "dummy0", "--json")).EnsureSuccess().Stdout);
        using var timestamping = JsonDocument.Parse((await CliProcess.RunAsync(directory.Path, "ethtool", "-T", "dummy0", "--json")).EnsureSuccess().Stdout);
        using var settings = JsonDocument.Parse((await CliProcess.RunAsync(directory.Path, "ethtool", "dummy0", "--json")).EnsureSuccess().Stdout);

        Assert.Equal(["dummy0", "dummy1"], list.RootElement.EnumerateArray().Select(info => info.GetProperty("name").GetString()).Order());
        Assert.All(list.RootElement.EnumerateArray(), info => Assert.Equal("ok", info.GetProperty("health").GetProperty("state").GetString()));
        Assert.Equal(["dummy0", "dummy1"], stats.RootElement.EnumerateArray().Select(report => report.GetProperty("name").GetString()).Order());
        Assert.Contains($"dummy0@{ns.Name}: ifindex ", text);
        Assert.Contains($"dummy1@{ns.Name}: ifindex ", text);
        Assert.Contains(statistics.RootElement.GetProperty("statistics").EnumerateArray(), counter => counter.GetProperty("name").GetString() == "tx_queue_0_packets");
        Assert.Equal("dummy", driver.RootElement.GetProperty("driver").GetString());
        Assert.Equal(1000, ring.RootElement.GetProperty("tx").GetInt32());
        Assert.Equal(JsonValueKind.Array, timestamping.RootElement.GetProperty("capabilities").ValueKind);
        Assert.True(settings.RootElement.GetProperty("link_detected").GetBoolean());
    }

    [Fact]
    public async Task RunWithJsonSaysReadyAndEndsWithTheStatsObject()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--json"]);
        using var ready = JsonDocument.Parse(await cli.ReadLineAsync());
        Assert.Equal("dummy0", ready.RootElement.GetProperty("ready").GetString());

        cli.Signal(CliProcess.SIGINT);
        var (exitCode, rest) = await cli.WaitForExitAsync();

        Assert.Equal(0, exitCode);
        using var counters = JsonDocument.Parse(Assert.Single(rest));
        Assert.Equal("dummy0", counters.RootElement.GetProperty("name").GetString());
        Assert.Equal(ns.Name, counters.RootElement.GetProperty("netns").GetString());
        Assert.True(counters.RootElement.GetProperty("stats64").TryGetProperty("rx_dropped", out _));
    }

    [Fact]
    public async Task StatsWatchPrintsRatesUntilInterrupted()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();
        await using var watch = CliProcess.Start(ns, ["stats", "--watch", "0.2", "--json"], controlDirectory: directory.Path);

        using var rates = JsonDocument.Parse(await watch.ReadLineAsync());
        watch.Signal(CliProcess.SIGINT);
        var (exitCode, _) = await watch.WaitForExitAsync();

        Assert.Equal(0, exitCode);
        Assert.Equal("dummy0", rates.RootElement.GetProperty("name").GetString());
        string[] fields =
        [
            "name", "netns", "rx_packets_per_second", "rx_bits_per_second", "tx_packets_per_second", "tx_bits_per_second",
            "rx_dropped_per_second", "tx_dropped_per_second", "rx_errors_per_second", "tx_errors_per_second",
        ];
        Assert.Equal(fields, rates.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task MonitorStreamsTheLinkStateAndItsChanges()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();
        await using var monitor = CliProcess.Start(ns, ["monitor"], controlDirectory: directory.Path);

        var first = await monitor.ReadLineAsync();
        (await ns.IpAsync("link", "set", "dummy0", "mtu", "1400")).EnsureSuccess();
        var second = await monitor.ReadLineAsync();
        cli.Signal(CliProcess.SIGINT);
        var gone = await monitor.ReadLineAsync();
        monitor.Signal(CliProcess.SIGINT);
        var (exitCode, _) = await monitor.WaitForExitAsync();

        Assert.Equal($"dummy0@{ns.Name}: link up carrier on mtu 1500", first);
        Assert.Equal($"dummy0@{ns.Name}: link up carrier on mtu 1400", second);
        Assert.Equal($"dummy0@{ns.Name}: gone", gone);
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task BashCompletionCompletesCommandsAndRunningDevices()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();

        var script = (await CliProcess.RunAsync(directory.Path, "completion", "bash")).EnsureSuccess().Stdout;
        var commands = (await CliProcess.RunAsync(directory.Path, "complete", "--", "netdev ca")).EnsureSuccess().Stdout;
        var devices = (await CliProcess.RunAsync(directory.Path, "complete", "--", "netdev stats ")).EnsureSuccess().Stdout;
        var zsh = await CliProcess.RunAsync(directory.Path, "completion", "zsh");

        Assert.Contains("complete -o default -F _netdev_complete netdev", script);
        Assert.Equal(["capture"], commands.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"dummy0@{ns.Name}", devices.Split('\n'));
        Assert.Equal(2, zsh.ExitCode);
        // The script runs in bash as it is meant to: sourced, then asked at a cursor.
        var asked = (await Shell.RunAsync(new Dictionary<string, string> { ["NETDEV_RUN_DIR"] = directory.Path }, "bash", "-c",
            $"netdev() {{ '{CliProcess.DotnetHost}' '{CliProcess.CliAssembly}' \"$@\"; }}; source <(netdev completion bash); "
            + "COMP_LINE='netdev mon'; COMP_POINT=10; COMP_WORDS=(netdev mon); COMP_CWORD=1; _netdev_complete; echo \"${COMPREPLY[@]}\"")).EnsureSuccess();
        Assert.Equal("monitor\n", asked.Stdout);
    }
}
