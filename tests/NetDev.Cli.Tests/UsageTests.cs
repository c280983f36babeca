namespace NetDev.Cli.Tests;

/// <summary>
/// What the CLI does with wrong input and without privilege. These run inside a namespace of their own
/// too: if a check failed to stop the CLI, the interface it made would not land in the root namespace.
/// </summary>
public sealed class UsageTests
{
    [Theory]
    [InlineData("run", "dummy", "--bogus")]
    [InlineData("run", "dummy", "--queues", "0")]
    [InlineData("run", "dummy", "--queues", "257")]
    [InlineData("run", "dummy", "--queues", "many")]
    [InlineData("run", "dummy", "--count", "0")]
    [InlineData("run", "dummy", "--count", "65")]
    [InlineData("run", "dummy", "--count", "2", "--name", "single")]
    [InlineData("run", "nosuchdriver")]
    [InlineData("run")]
    [InlineData("run", "pair", "--name", "single")]
    [InlineData("run", "pair", "--queues", "0")]
    [InlineData("stats", "dummy0", "extra")]
    [InlineData("stats", "dummy0", "--bogus")]
    [InlineData("stats", "--watch", "0")]
    [InlineData("capture")]
    [InlineData("capture", "dummy0", "-c", "0")]
    [InlineData("monitor", "dummy0", "extra")]
    [InlineData("completion", "zsh")]
    [InlineData("ethtool", "-i", "-S", "dummy0")]
    [InlineData("ethtool")]
    [InlineData("list", "extra")]
    [InlineData("frobnicate")]
    public async Task BadArgumentsAreAUsageErrorWithExitTwo(params string[] arguments)
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, arguments);

        var (exitCode, stdout) = await cli.WaitForExitAsync();

        Assert.Equal(2, exitCode);
        Assert.Empty(stdout);
        Assert.Contains("Usage:", cli.Stderr);
        Assert.Equal(["lo"], await ns.LinkNamesAsync());
    }

    [Fact]
    public async Task AnInvalidInterfaceNameIsAUsageErrorWithExitTwo()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--name", "much-too-long-a-name"]);

        var (exitCode, stdout) = await cli.WaitForExitAsync();

        Assert.Equal(2, exitCode);
        Assert.Empty(stdout);
        // The message is the device's own (its wording may change); it names the culprit and the limit.
        Assert.Contains("much-too-long-a-name", cli.Stderr);
        Assert.Contains("15", cli.Stderr);
        Assert.Equal(["lo"], await ns.LinkNamesAsync());
    }

    [Fact]
    public async Task WithoutCapNetAdminItSaysSoAndExitsOne()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        // Root without CAP_NET_ADMIN: out of the bounding set (so exec cannot grant it) and the inheritable set.
        await using var cli = CliProcess.Start(ns, ["run", "dummy"], ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin", "--"]);

        var (exitCode, stdout) = await cli.WaitForExitAsync();

        Assert.Equal(1, exitCode);
        Assert.Empty(stdout);
        var message = Assert.Single(cli.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("CAP_NET_ADMIN", message);
        Assert.Equal(["lo"], await ns.LinkNamesAsync());
    }
}
