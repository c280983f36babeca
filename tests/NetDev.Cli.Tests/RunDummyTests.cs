using System.Text.RegularExpressions;

namespace NetDev.Cli.Tests;

/// <summary>
/// <c>netdev run dummy</c> end to end against the kernel: each test makes its own namespace, runs the
/// built CLI in it, and looks at the interfaces with <c>ip</c>.
/// </summary>
public sealed partial class RunDummyTests
{
    [GeneratedRegex(@"^(?<name>\S+) tx_packets=(?<txPackets>\d+) tx_bytes=(?<txBytes>\d+) rx_packets=\d+ rx_bytes=\d+ tx_dropped=\d+ rx_dropped=\d+ tx_errors=\d+ rx_errors=\d+$")]
    private static partial Regex StatsLine();

    [Fact]
    public async Task ReadyNamesAnUpNoArpNonMulticastInterfaceWithALocalAddress()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"]);

        var name = Assert.Single(await cli.ReadReadyAsync());

        Assert.Equal("dummy0", name);
        var link = await ns.FindLinkAsync(name);
        Assert.NotNull(link);
        Assert.Contains("UP", link.Flags);
        Assert.Contains("NOARP", link.Flags);
        Assert.DoesNotContain("MULTICAST", link.Flags);
        Assert.True(link.IsLocallyAdministeredUnicast, $"{link.Address} is not a locally administered unicast address");
    }

    [Fact]
    public async Task ExplicitNameIsUsed()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--name", "ndtdum7"]);

        Assert.Equal(["ndtdum7"], await cli.ReadReadyAsync());
        Assert.NotNull(await ns.FindLinkAsync("ndtdum7"));
    }

    [Theory]
    [InlineData(null, "dummy")]
    [InlineData("ndtv%d", "ndtv")]
    public async Task CountTwoMakesTwoNumberedInterfaces(string? template, string prefix)
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--count", "2", .. template is null ? Array.Empty<string>() : ["--name", template]]);

        var names = await cli.ReadReadyAsync(2);

        Assert.Equal([$"{prefix}0", $"{prefix}1"], names.Order());
        foreach (var name in names)
        {
            Assert.NotNull(await ns.FindLinkAsync(name));
        }
        cli.Signal(CliProcess.SIGINT);
        var (exitCode, rest) = await cli.WaitForExitAsync();
        Assert.Equal(0, exitCode);
        Assert.Equal([$"{prefix}0", $"{prefix}1"], rest.Select(line => StatsLine().Match(line).Groups["name"].Value).Order());
    }

    [Fact]
    public async Task QueuesTwoGivesTheInterfaceTwoQueuesEachWay()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--queues", "2"]);

        var name = Assert.Single(await cli.ReadReadyAsync());

        // sysfs lists the queues in use (real_num_tx/rx_queues), not the most a multi-queue TAP could have.
        var queues = (await ns.ExecAsync("ls", $"/sys/class/net/{name}/queues")).EnsureSuccess().Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["rx-0", "rx-1", "tx-0", "tx-1"], queues.Order());
        cli.Signal(CliProcess.SIGINT);
        Assert.Equal(0, (await cli.WaitForExitAsync()).ExitCode);
    }

    [Theory]
    [InlineData(CliProcess.SIGINT)]
    [InlineData(CliProcess.SIGTERM)]
    public async Task SignalTearsDownPrintsStatsAndExitsZero(int signal)
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"]);
        var name = Assert.Single(await cli.ReadReadyAsync());

        cli.Signal(signal);
        var (exitCode, rest) = await cli.WaitForExitAsync();

        Assert.Equal(0, exitCode);
        var line = Assert.Single(rest);
        var stats = StatsLine().Match(line);
        Assert.True(stats.Success, $"'{line}' is not a stats line");
        Assert.Equal(name, stats.Groups["name"].Value);
        Assert.Null(await ns.FindLinkAsync(name));
        Assert.Equal("", cli.Stderr);
    }

    [Fact]
    public async Task UdpDatagramsSentOnTheInterfaceAreCountedByTheDriver()
    {
        const int datagrams = 5;
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"]);
        var name = Assert.Single(await cli.ReadReadyAsync());
        var subnet = $"10.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(1, 255)}";
        (await ns.IpAsync("addr", "add", $"{subnet}.1/24", "dev", name)).EnsureSuccess();

        // NOARP: the kernel sends to 10.x.y.2 at once, with no neighbour to wait for.
        (await ns.ExecAsync("bash", "-c", $"for i in $(seq {datagrams}); do echo hello$i > /dev/udp/{subnet}.2/9; done")).EnsureSuccess();
        await WaitUntilDriverReadAsync(ns, name, datagrams);
        cli.Signal(CliProcess.SIGINT);
        var (exitCode, rest) = await cli.WaitForExitAsync();

        Assert.Equal(0, exitCode);
        var stats = StatsLine().Match(Assert.Single(rest));
        Assert.True(stats.Success, $"'{rest[0]}' is not a stats line");
        Assert.True(long.Parse(stats.Groups["txPackets"].Value) >= datagrams, rest[0]);
        // Each datagram is at least an Ethernet, an IPv4 and a UDP header and "helloN\n".
        Assert.True(long.Parse(stats.Groups["txBytes"].Value) >= datagrams * (14 + 20 + 8 + 7), rest[0]);
    }

    /// <summary>
    /// The TAP counts a frame as transmitted when the driver's loop reads it, so once the kernel counts
    /// <paramref name="frames"/> they have all reached the driver, and a signal after that cannot race them.
    /// Bounded by the CLI timeout; nothing about how long it took is asserted.
    /// </summary>
    private static async Task WaitUntilDriverReadAsync(NetworkNamespace ns, string name, int frames)
    {
        var deadline = DateTime.UtcNow + CliProcess.Timeout;
        while ((await ns.FindLinkAsync(name))?.TxPackets is not { } count || count < frames)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{name}: the kernel never counted {frames} frames read by the driver");
            }
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }
}
