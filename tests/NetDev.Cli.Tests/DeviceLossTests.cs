namespace NetDev.Cli.Tests;

/// <summary>
/// <c>netdev run</c> when an outsider removes one of its devices — <c>ip link del</c>, or <c>ip netns del</c> of
/// the namespace it is in: the CLI says so in one sentence (no stack trace), removes the rest, prints every
/// device's counters and exits with <see cref="DeviceLostExitCode"/>.
/// </summary>
public sealed class DeviceLossTests
{
    /// <summary>The documented exit code of a run that ended because a device was removed from outside.</summary>
    private const int DeviceLostExitCode = 3;

    [Fact]
    public async Task DeletingOneEndOfAPairEndsTheRunWithOneSentenceAndRemovesTheOther()
    {
        using var directory = new TempDirectory();
        await using var ns1 = await NetworkNamespace.CreateAsync();
        await using var ns2 = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns1,
            ["run", "pair", "--name", "ndta", "--peer-name", "ndtb", "--netns", ns1.Name, "--peer-netns", ns2.Name],
            controlDirectory: directory.Path);
        Assert.Equal(["ndta", "ndtb"], await cli.ReadReadyAsync(2));

        (await ns1.IpAsync("link", "del", "ndta")).EnsureSuccess();

        var (exitCode, rest) = await cli.WaitForExitAsync();
        Assert.True(exitCode == DeviceLostExitCode, $"exit {exitCode}; stderr: {cli.Stderr}");
        AssertOneSentence(cli.Stderr, "ndta", "deleted");
        Assert.Equal(["ndta", "ndtb"], rest.Select(line => line.Split(' ')[0]));
        Assert.Null(await ns2.FindLinkAsync("ndtb"));
        Assert.Empty(directory.FileNames);
        Assert.DoesNotContain("ndt", (await CliProcess.RunAsync(directory.Path, "list")).Stdout);
    }

    [Fact]
    public async Task DeletingTheNamespaceOfAnEndEndsTheRunWithOneSentenceAndRemovesBothEnds()
    {
        using var directory = new TempDirectory();
        await using var ns1 = await NetworkNamespace.CreateAsync();
        await using var ns2 = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns1,
            ["run", "pair", "--name", "ndta", "--peer-name", "ndtb", "--netns", ns1.Name, "--peer-netns", ns2.Name],
            controlDirectory: directory.Path);
        Assert.Equal(["ndta", "ndtb"], await cli.ReadReadyAsync(2));

        (await Shell.RunAsync("ip", "netns", "del", ns2.Name)).EnsureSuccess();

        var (exitCode, rest) = await cli.WaitForExitAsync();
        Assert.True(exitCode == DeviceLostExitCode, $"exit {exitCode}; stderr: {cli.Stderr}");
        AssertOneSentence(cli.Stderr, "ndtb", ns2.Name);
        Assert.Equal(["ndta", "ndtb"], rest.Select(line => line.Split(' ')[0]));
        Assert.Null(await ns1.FindLinkAsync("ndta"));
        // What netdev list shows is what is true: neither end, and no socket naming the deleted namespace.
        Assert.Empty(directory.FileNames);
    }

    /// <summary>Stderr is one line that names the device and says what happened, with no exception or stack trace in it.</summary>
    private static void AssertOneSentence(string stderr, params string[] mentions)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("netdev: ", line);
        Assert.All(mentions, mention => Assert.Contains(mention, line));
        Assert.DoesNotContain("Exception", line);
        Assert.DoesNotContain(" at ", line);
    }
}
