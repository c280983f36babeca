using System.Diagnostics;

namespace NetDev.Cli.Tests;

/// <summary><c>netdev demo</c> end to end: it works, and it removes everything it made, also when interrupted.</summary>
public sealed class DemoTests
{
    [Fact]
    public async Task DemoPingsTransfersReportsAndCleansUp()
    {
        var (code, output, error) = await RunDemoAsync(["demo", "--pings", "3", "--megabytes", "8"]);
        Assert.True(code == 0, $"exit {code}; stdout:\n{output}\nstderr:\n{error}");
        Assert.Matches(@"ping\s+3 sent, 3 answered, rtt min/avg/max = [\d.]+/[\d.]+/[\d.]+ ms", output);
        Assert.Matches(@"tcp\s+8\.0 MiB in [\d.]+ s = \d+ Mbit/s, sha256 match", output);
        Assert.Matches(@"demo0\s+tx_packets=\d+ tx_bytes=\d+ rx_packets=\d+ rx_bytes=\d+ tx_dropped=0", output);
        Assert.Matches(@"demo1\s+tx_packets=\d+ tx_bytes=\d+ rx_packets=\d+ rx_bytes=\d+ tx_dropped=0", output);
        Assert.Contains("cleaned up", output);
        Assert.Empty(DemoNamespaces(ProcessIdOf(output)));
    }

    [Fact]
    public async Task InterruptedDemoRemovesEverything()
    {
        using var process = StartDemo(["demo", "--pings", "1000", "--megabytes", "64"]);
        try
        {
            await InterruptAndCheckAsync(process);
        }
        finally
        {
            await StopAndSweepAsync(process);
        }
    }

    private static async Task InterruptAndCheckAsync(Process process)
    {
        string? line;
        var output = new List<string>();
        // Interrupt once the pair exists and the pings run: the most there is to clean up.
        while ((line = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken)) is not null)
        {
            output.Add(line);
            if (line.StartsWith("pair", StringComparison.Ordinal))
            {
                break;
            }
        }
        Assert.NotNull(line);
        var pid = ProcessIdOf(string.Join('\n', output));
        Assert.NotEmpty(DemoNamespaces(pid));
        (await Shell.RunAsync("kill", "-INT", process.Id.ToString())).EnsureSuccess();
        var rest = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(CliProcess.Timeout, TestContext.Current.CancellationToken);
        Assert.Equal(130, process.ExitCode);
        Assert.Contains("cleaned up", rest);
        Assert.Contains("interrupted", error);
        Assert.Empty(DemoNamespaces(pid));
    }

    [Fact]
    public async Task NamespacesOfADemoKilledWithSigkillAreSweptByTheNextRun()
    {
        using var killed = StartDemo(["demo", "--pings", "1000", "--megabytes", "64"]);
        try
        {
            string? line;
            while ((line = await killed.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken)) is not null
                && !line.StartsWith("pair", StringComparison.Ordinal))
            {
            }
            Assert.NotNull(line);
            killed.Kill();
            await killed.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(CliProcess.Timeout, TestContext.Current.CancellationToken);
            // SIGKILL gives the demo no chance to clean up: its namespaces outlive it.
            Assert.Equal(2, DemoNamespaces(killed.Id.ToString()).Count);

            var (code, output, error) = await RunDemoAsync(["demo", "--pings", "1", "--megabytes", "1"]);

            Assert.True(code == 0, $"exit {code}; stdout:\n{output}\nstderr:\n{error}");
            // (Which run swept them is not asserted: another test's demo, running meanwhile, may have been first.)
            Assert.Empty(DemoNamespaces(killed.Id.ToString()));
        }
        finally
        {
            await StopAndSweepAsync(killed);
        }
    }

    [Fact]
    public async Task BadDemoArgumentsAreAUsageError()
    {
        var (code, output, error) = await RunDemoAsync(["demo", "--pings", "0"]);
        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.Contains("--pings", error);
    }

    private static Process StartDemo(string[] arguments)
    {
        var start = new ProcessStartInfo(CliProcess.DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CliProcess.CliAssembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return Process.Start(start)!;
    }

    private static async Task<(int Code, string Output, string Error)> RunDemoAsync(string[] arguments)
    {
        using var process = StartDemo(arguments);
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(CliProcess.Timeout, TestContext.Current.CancellationToken);
        }
        finally
        {
            await StopAndSweepAsync(process);
        }
        return (process.ExitCode, await output, await error);
    }

    /// <summary>
    /// A demo still running when the test gives up is asked to stop (it cleans up on SIGINT), then killed;
    /// whatever a killed demo could not remove is removed here, so a failing test leaves nothing behind.
    /// </summary>
    private static async Task StopAndSweepAsync(Process process)
    {
        if (!process.HasExited)
        {
            await Shell.RunAsync("kill", "-INT", process.Id.ToString());
            try
            {
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
            }
            catch (TimeoutException)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        foreach (var leftover in DemoNamespaces(process.Id.ToString()))
        {
            await Shell.RunAsync("ip", "netns", "del", Path.GetFileName(leftover));
        }
    }

    /// <summary>The demo names its namespaces after its process id, which its "namespaces" line shows.</summary>
    private static string ProcessIdOf(string output)
    {
        var match = System.Text.RegularExpressions.Regex.Match(output, @"namespaces\s+netdev-demo-(\d+)-a");
        Assert.True(match.Success, $"no namespace line in:\n{output}");
        return match.Groups[1].Value;
    }

    private static IReadOnlyList<string> DemoNamespaces(string pid) =>
        Directory.Exists("/run/netns")
            ? Directory.GetFiles("/run/netns", $"netdev-demo-{pid}-*").ToList()
            : [];
}
