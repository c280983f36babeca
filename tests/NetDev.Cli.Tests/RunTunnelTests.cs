namespace NetDev.Cli.Tests;

/// <summary><c>netdev run tunnel</c> end to end: two instances in two namespaces joined by a kernel veth.</summary>
public sealed class RunTunnelTests
{
    [Theory]
    [InlineData("none")]
    [InlineData("segmentation")]
    [InlineData("coalescing")]
    public async Task TwoTunnelInstancesCarryPingBetweenNamespaces(string offloads)
    {
        using var directory = new TempDirectory();
        await using var left = await NetworkNamespace.CreateAsync();
        await using var right = await NetworkNamespace.CreateAsync();
        var underlay = $"10.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(1, 255)}";
        var overlay = $"10.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(1, 255)}";
        (await Shell.RunAsync("ip", "-n", left.Name, "link", "add", "ndtu0", "type", "veth", "peer", "name", "ndtu1", "netns", right.Name)).EnsureSuccess();
        (await left.IpAsync("addr", "add", $"{underlay}.1/24", "dev", "ndtu0")).EnsureSuccess();
        (await right.IpAsync("addr", "add", $"{underlay}.2/24", "dev", "ndtu1")).EnsureSuccess();
        (await left.IpAsync("link", "set", "ndtu0", "up")).EnsureSuccess();
        (await right.IpAsync("link", "set", "ndtu1", "up")).EnsureSuccess();

        await using var leftCli = CliProcess.Start(left,
            ["run", "tunnel", "--name", "ndtt0", "--local", $"{underlay}.1:4789", "--remote", $"{underlay}.2:4789", "--offloads", offloads], controlDirectory: directory.Path);
        await using var rightCli = CliProcess.Start(right,
            ["run", "tunnel", "--name", "ndtt1", "--local", $"{underlay}.2:4789", "--remote", $"{underlay}.1:4789", "--offloads", offloads], controlDirectory: directory.Path);
        Assert.Equal(["ndtt0"], await leftCli.ReadReadyAsync());
        Assert.Equal(["ndtt1"], await rightCli.ReadReadyAsync());
        (await left.IpAsync("addr", "add", $"{overlay}.1/24", "dev", "ndtt0")).EnsureSuccess();
        (await right.IpAsync("addr", "add", $"{overlay}.2/24", "dev", "ndtt1")).EnsureSuccess();

        var ping = await left.ExecAsync("ping", "-c", "3", "-W", "2", $"{overlay}.2");
        Assert.True(ping.ExitCode == 0, ping.Stdout + ping.Stderr);

        leftCli.Signal(CliProcess.SIGINT);
        rightCli.Signal(CliProcess.SIGINT);
        var (leftExit, leftRest) = await leftCli.WaitForExitAsync();
        var (rightExit, _) = await rightCli.WaitForExitAsync();
        Assert.Equal(0, leftExit);
        Assert.Equal(0, rightExit);
        Assert.Matches(@"^ndtt0 tx_packets=\d+ tx_bytes=\d+ rx_packets=\d+ rx_bytes=\d+ tx_dropped=0 rx_dropped=\d+ tx_errors=0 rx_errors=\d+$", Assert.Single(leftRest));
        Assert.Null(await left.FindLinkAsync("ndtt0"));
        Assert.Null(await right.FindLinkAsync("ndtt1"));
    }

    [Theory]
    [InlineData("--local", "10.0.0.1")]
    [InlineData("--local", "not-an-address:80")]
    [InlineData("--remote", "10.0.0.1:0")]
    public async Task BadEndpointsAreUsageErrors(string option, string value)
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        string[] arguments = option == "--local"
            ? ["run", "tunnel", "--local", value, "--remote", "10.0.0.2:4789"]
            : ["run", "tunnel", "--local", "10.0.0.1:4789", "--remote", value];
        await using var cli = CliProcess.Start(ns, arguments);
        var (exitCode, _) = await cli.WaitForExitAsync();
        Assert.Equal(2, exitCode);
        Assert.Contains("is not an address with a port", cli.Stderr);
    }

    [Fact]
    public async Task UnknownOffloadModeIsAUsageError()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "tunnel", "--local", "10.0.0.1:4789", "--remote", "10.0.0.2:4789", "--offloads", "turbo"]);
        var (exitCode, _) = await cli.WaitForExitAsync();
        Assert.Equal(2, exitCode);
        Assert.Contains("turbo", cli.Stderr);
    }

    [Fact]
    public async Task MissingRemoteIsAUsageError()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "tunnel", "--local", "10.0.0.1:4789"]);
        var (exitCode, _) = await cli.WaitForExitAsync();
        Assert.Equal(2, exitCode);
        Assert.Contains("--remote", cli.Stderr);
    }
}
