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
        await using var run = await RunningPair.StartAsync();
        var (directory, ns1, ns2, cli) = (run.Directory, run.First, run.Second, run.Cli);

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
        await using var run = await RunningPair.StartAsync();
        var (directory, ns1, ns2, cli) = (run.Directory, run.First, run.Second, run.Cli);

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

    /// <summary><c>netdev run pair</c> with ndta in one namespace and ndtb in another, both ready; all removed on dispose.</summary>
    private sealed class RunningPair : IAsyncDisposable
    {
        private RunningPair(TempDirectory directory, NetworkNamespace first, NetworkNamespace second, CliProcess cli) =>
            (Directory, First, Second, Cli) = (directory, first, second, cli);

        public TempDirectory Directory { get; }

        public NetworkNamespace First { get; }

        public NetworkNamespace Second { get; }

        public CliProcess Cli { get; }

        public static async Task<RunningPair> StartAsync()
        {
            var directory = new TempDirectory();
            var first = await NetworkNamespace.CreateAsync();
            var second = await NetworkNamespace.CreateAsync();
            var cli = CliProcess.Start(first,
                ["run", "pair", "--name", "ndta", "--peer-name", "ndtb", "--netns", first.Name, "--peer-netns", second.Name],
                controlDirectory: directory.Path);
            var run = new RunningPair(directory, first, second, cli);
            try
            {
                Assert.Equal(["ndta", "ndtb"], await cli.ReadReadyAsync(2));
                return run;
            }
            catch
            {
                await run.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            // The CLI first: the namespaces go once no process keeps them.
            await Cli.DisposeAsync();
            await Second.DisposeAsync();
            await First.DisposeAsync();
            Directory.Dispose();
        }
    }
}
