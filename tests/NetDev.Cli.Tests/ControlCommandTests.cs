using System.Text.Json;
using System.Text.RegularExpressions;

namespace NetDev.Cli.Tests;

/// <summary>
/// <c>netdev list</c>, <c>stats</c> and <c>ethtool</c> against devices that <c>netdev run</c> processes
/// serve in namespaces of the test's own, with a control directory of the test's own (NETDEV_RUN_DIR).
/// </summary>
public sealed partial class ControlCommandTests
{
    [GeneratedRegex(@"\s{2,}")]
    private static partial Regex ColumnGap();

    [Fact]
    public async Task ListShowsEachRunningDeviceWithItsNamespaceAndProcess()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--queues", "2"], controlDirectory: directory.Path);
        Assert.Equal(["dummy0"], await cli.ReadReadyAsync());

        var list = (await CliProcess.RunAsync(directory.Path, "list")).EnsureSuccess();

        var rows = Rows(list.Stdout);
        Assert.Equal(["NAME", "NETNS", "IFINDEX", "DRIVER", "STATE", "HEALTH", "MTU", "QUEUES", "PID", "ERRORS", "LAST_ERROR"], rows[0]);
        var ifindex = (await ns.ExecAsync("cat", "/sys/class/net/dummy0/ifindex")).EnsureSuccess().Stdout.Trim();
        Assert.Equal(["dummy0", ns.Name, ifindex, "dummy", "up", "ok", "1500", "2/2", cli.Id.ToString(), "0", "-"], Assert.Single(rows.Skip(1)));
        Assert.Equal("", list.Stderr);
    }

    [Fact]
    public async Task ListWithNoDeviceShowsTheHeaderOnly()
    {
        using var directory = new TempDirectory();

        var list = (await CliProcess.RunAsync(directory.Path, "list")).EnsureSuccess();

        Assert.Equal(["NAME"], Rows(list.Stdout).Select(row => row[0]));
    }

    [Fact]
    public async Task StatsJsonHasTheDocumentedFields()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--queues", "2"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();

        var plain = (await CliProcess.RunAsync(directory.Path, "stats", "dummy0", "--json")).EnsureSuccess();
        var withQueues = (await CliProcess.RunAsync(directory.Path, "stats", "dummy0", "--json", "--queues")).EnsureSuccess();

        using var document = JsonDocument.Parse(withQueues.Stdout);
        var root = document.RootElement;
        Assert.Equal(["name", "netns", "ifindex", "stats64", "drops", "queues", "health"], root.EnumerateObject().Select(p => p.Name));
        var health = root.GetProperty("health");
        Assert.Equal(["state", "errors", "last_error"], health.EnumerateObject().Select(p => p.Name));
        Assert.Equal("ok", health.GetProperty("state").GetString());
        Assert.Equal("dummy0", root.GetProperty("name").GetString());
        Assert.Equal(ns.Name, root.GetProperty("netns").GetString());
        Assert.Equal(JsonValueKind.Number, root.GetProperty("ifindex").ValueKind);
        string[] stats64 =
        [
            "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped",
            "multicast", "collisions", "rx_length_errors", "rx_over_errors", "rx_crc_errors", "rx_frame_errors",
            "rx_fifo_errors", "rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors", "rx_no_handler",
        ];
        Assert.Equal(stats64, root.GetProperty("stats64").EnumerateObject().Select(p => p.Name));
        Assert.All(root.GetProperty("stats64").EnumerateObject(), p => Assert.True(p.Value.GetInt64() >= 0));
        Assert.Equal(JsonValueKind.Array, root.GetProperty("drops").ValueKind);
        var queues = root.GetProperty("queues").EnumerateArray().ToList();
        Assert.Equal(2, queues.Count);
        string[] queueFields =
        [
            "index", "tx_packets", "tx_bytes", "tx_errors", "tx_dropped", "tx_busy", "tx_timeouts", "tx_stopped",
            "rx_packets", "rx_bytes", "rx_errors", "rx_dropped",
        ];
        Assert.All(queues, queue => Assert.Equal(queueFields, queue.EnumerateObject().Select(p => p.Name)));
        Assert.Equal([0, 1], queues.Select(queue => queue.GetProperty("index").GetInt32()));
        Assert.All(queues, queue => Assert.Equal(JsonValueKind.False, queue.GetProperty("tx_stopped").ValueKind));

        using var withoutQueues = JsonDocument.Parse(plain.Stdout);
        Assert.False(withoutQueues.RootElement.TryGetProperty("queues", out _));
    }

    [Fact]
    public async Task StatsCountWhatWasSentAndDropsByReasonShow()
    {
        using var directory = new TempDirectory();
        await using var ns1 = await NetworkNamespace.CreateAsync();
        await using var ns2 = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns1, ["run", "pair", "--name", "ndta", "--peer-name", "ndtb", "--netns", ns1.Name, "--peer-netns", ns2.Name],
            controlDirectory: directory.Path);
        await cli.ReadReadyAsync(2);
        // With the peer down, what the first end sends is dropped, as veth drops it: a transmit drop, DeviceDown.
        (await ns2.IpAsync("link", "set", "ndtb", "down")).EnsureSuccess();
        await CliProcess.WaitUntilAsync(async () => Rows((await CliProcess.RunAsync(directory.Path, "list")).EnsureSuccess().Stdout)
            .Any(row => row is ["ndtb", _, _, _, "down", ..]), "the driver saw ndtb go down");
        (await ns1.IpAsync("addr", "add", "10.214.1.1/24", "dev", "ndta")).EnsureSuccess();
        (await ns1.IpAsync("neigh", "add", "10.214.1.2", "lladdr", "02:00:00:00:00:02", "dev", "ndta", "nud", "permanent")).EnsureSuccess();
        (await ns1.ExecAsync("bash", "-c", "for i in 1 2 3; do echo lost$i > /dev/udp/10.214.1.2/9; done")).EnsureSuccess();

        var stats = default(JsonElement);
        await CliProcess.WaitUntilAsync(async () =>
        {
            var result = (await CliProcess.RunAsync(directory.Path, "stats", "ndta", "--json")).EnsureSuccess();
            using var document = JsonDocument.Parse(result.Stdout);
            stats = document.RootElement.Clone();
            return stats.GetProperty("stats64").GetProperty("tx_dropped").GetInt64() >= 3;
        }, "ndta counted three drops");

        var drop = Assert.Single(stats.GetProperty("drops").EnumerateArray());
        Assert.Equal("tx", drop.GetProperty("direction").GetString());
        Assert.Equal("device_down", drop.GetProperty("reason").GetString());
        Assert.True(drop.GetProperty("count").GetInt64() >= 3);
        var text = (await CliProcess.RunAsync(directory.Path, "stats", "ndta")).EnsureSuccess().Stdout;
        Assert.StartsWith($"ndta@{ns1.Name}: ifindex ", text);
        Assert.Matches(@"\n\s+tx\s+device_down\s+\d+\n", text);
    }

    [Fact]
    public async Task EthtoolPrintsAsEthtoolDoes()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--queues", "2"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();

        var driver = (await CliProcess.RunAsync(directory.Path, "ethtool", "-i", "dummy0")).EnsureSuccess().Stdout;
        var statistics = (await CliProcess.RunAsync(directory.Path, "ethtool", "-S", "dummy0")).EnsureSuccess().Stdout;
        var ring = (await CliProcess.RunAsync(directory.Path, "ethtool", "-g", "dummy0")).EnsureSuccess().Stdout;
        var timestamping = (await CliProcess.RunAsync(directory.Path, "ethtool", "-T", "dummy0")).EnsureSuccess().Stdout;
        var settings = (await CliProcess.RunAsync(directory.Path, "ethtool", "dummy0")).EnsureSuccess().Stdout;

        Assert.StartsWith("driver: dummy\nversion: ", driver);
        Assert.Contains($"\nbus-info: netdev:pid{cli.Id}\n", driver);
        Assert.StartsWith("NIC statistics:\n", statistics);
        Assert.Matches(@"\n     tx_queue_1_packets: \d+\n", statistics);
        Assert.Equal(
            "Ring parameters for dummy0:\nPre-set maximums:\nRX:\t\t\t1000\nRX Mini:\t\tn/a\nRX Jumbo:\t\tn/a\nTX:\t\t\t1000\n"
            + "Current hardware settings:\nRX:\t\t\t1000\nRX Mini:\t\tn/a\nRX Jumbo:\t\tn/a\nTX:\t\t\t1000\n", ring);
        Assert.StartsWith("Time stamping parameters for dummy0:\nCapabilities:\n\tsoftware-transmit\n\tsoftware-receive\n\tsoftware-system-clock\nPTP Hardware Clock: none\n", timestamping);
        Assert.StartsWith("Settings for dummy0:\n\tSpeed: Unknown!\n", settings);
        Assert.Contains("\tLink detected: yes\n", settings);
    }

    [Theory]
    [InlineData("stats", "nosuch0")]
    [InlineData("stats", "dummy0@nosuchns")]
    [InlineData("ethtool", "-i", "nosuch0")]
    [InlineData("ethtool", "nosuch0")]
    public async Task AnUnknownDeviceIsAClearErrorWithExitOne(params string[] arguments)
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();

        var result = await CliProcess.RunAsync(directory.Path, arguments);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains($"no running NetDev device is called '{arguments[^1]}'", result.Stderr);
    }

    [Fact]
    public async Task ANameInSeveralNamespacesMustBeGivenWithItsNamespace()
    {
        using var directory = new TempDirectory();
        await using var ns1 = await NetworkNamespace.CreateAsync();
        await using var ns2 = await NetworkNamespace.CreateAsync();
        await using var first = CliProcess.Start(ns1, ["run", "dummy"], controlDirectory: directory.Path);
        await using var second = CliProcess.Start(ns2, ["run", "dummy"], controlDirectory: directory.Path);
        await first.ReadReadyAsync();
        await second.ReadReadyAsync();

        var ambiguous = await CliProcess.RunAsync(directory.Path, "stats", "dummy0");
        var named = (await CliProcess.RunAsync(directory.Path, "stats", $"dummy0@{ns2.Name}", "--json")).EnsureSuccess();
        var list = (await CliProcess.RunAsync(directory.Path, "list")).EnsureSuccess();

        Assert.Equal(1, ambiguous.ExitCode);
        Assert.Contains($"dummy0@{ns1.Name}", ambiguous.Stderr);
        Assert.Contains($"dummy0@{ns2.Name}", ambiguous.Stderr);
        Assert.Equal(ns2.Name, JsonDocument.Parse(named.Stdout).RootElement.GetProperty("netns").GetString());
        Assert.Equal(new[] { (ns1.Name, first.Id.ToString()), (ns2.Name, second.Id.ToString()) }.Order(),
            Rows(list.Stdout).Skip(1).Select(row => (row[1], row[8])).Order());
    }

    [Fact]
    public async Task TheSocketOfAKilledCliIsRemovedAndNeverListed()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var killed = CliProcess.Start(ns, ["run", "dummy", "--name", "ndtdead"], controlDirectory: directory.Path);
        await using var alive = CliProcess.Start(ns, ["run", "dummy", "--name", "ndtlive"], controlDirectory: directory.Path);
        await killed.ReadReadyAsync();
        await alive.ReadReadyAsync();
        killed.Signal(CliProcess.SIGKILL);
        await killed.WaitForExitAsync();
        Assert.Contains($"ndtdead@{ns.Name}.sock", directory.FileNames);

        var list = (await CliProcess.RunAsync(directory.Path, "list")).EnsureSuccess();
        var stats = await CliProcess.RunAsync(directory.Path, "stats", "ndtdead");

        Assert.Equal(["ndtlive"], Rows(list.Stdout).Skip(1).Select(row => row[0]));
        Assert.Equal([$"ndtlive@{ns.Name}.sock"], directory.FileNames);
        Assert.Equal(1, stats.ExitCode);
    }

    [Fact]
    public async Task AStaleSocketFileIsRemovedByList()
    {
        using var directory = new TempDirectory();
        NetDev.TestSupport.StaleSocket.Make(Path.Combine(directory.Path, "ghost0@nowhere.sock"));
        Assert.Equal(["ghost0@nowhere.sock"], directory.FileNames);

        var list = (await CliProcess.RunAsync(directory.Path, "list")).EnsureSuccess();

        Assert.Single(Rows(list.Stdout));
        Assert.Empty(directory.FileNames);
    }

    [Fact]
    public async Task RunWithNoControlServesNoEndpoint()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "--no-control", "dummy"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();

        Assert.Empty(directory.FileNames);
        cli.Signal(CliProcess.SIGINT);
        Assert.Equal(0, (await cli.WaitForExitAsync()).ExitCode);
    }

    [Fact]
    public async Task TheEndpointIsRemovedWhenTheCliStops()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();
        Assert.Equal([$"dummy0@{ns.Name}.sock"], directory.FileNames);

        cli.Signal(CliProcess.SIGTERM);

        Assert.Equal(0, (await cli.WaitForExitAsync()).ExitCode);
        Assert.Empty(directory.FileNames);
    }

    [Fact]
    public async Task ListShowsThatTheNamespaceOfARunningDeviceWasDeleted()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        // A device of this process (a library user's, which keeps serving after the loss), not a netdev run, which would exit.
        using var registration = new Registration<NetDev.Drivers.Dummy.DummyDriver>(
            new NetDev.Linux.LinuxHost(new NetDev.Linux.LinuxHostOptions { NetworkNamespace = ns.Name }), 1, 1, new NetDev.Drivers.Dummy.DummyDriver());
        registration.Device.Name = "ndtl0";
        registration.Register();
        using var server = NetDev.Control.ControlServer.Start(registration.Device, new NetDev.Control.ControlServerOptions { Directory = directory.Path });

        (await Shell.RunAsync("ip", "netns", "del", ns.Name)).EnsureSuccess();

        var list = (await CliProcess.RunAsync(directory.Path, "list")).EnsureSuccess();
        var row = Assert.Single(Rows(list.Stdout).Skip(1));
        Assert.Equal(["ndtl0", $"{ns.Name} (deleted)"], row[..2]);
    }

    /// <summary>The cells of each line of a table the CLI printed (columns are two or more spaces apart).</summary>
    internal static IReadOnlyList<string[]> Rows(string output) =>
        [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => ColumnGap().Split(line.Trim()))];
}
