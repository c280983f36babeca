using System.Net.Sockets;
using System.Text;

namespace NetDev.Cli.Tests;

/// <summary>
/// A driver without privilege: root makes a persistent TAP owned by uid 65534 in a namespace of the test's own
/// (<c>netdev create</c>), and <c>netdev run dummy --attach</c> runs there as uid 65534 with no capabilities,
/// as <c>setpriv</c> makes it; <c>netdev delete</c> removes the TAP afterwards.
/// </summary>
public sealed class NonRootTests : IDisposable
{
    private const string Nobody = "65534";

    // Where uid 65534 reads the CLI from and keeps its runtime directory; everything here goes on dispose.
    private readonly string _root = Directory.CreateTempSubdirectory("ndt-nonroot-").FullName;

    public NonRootTests()
    {
        Shell.RunAsync("chmod", "755", _root).GetAwaiter().GetResult().EnsureSuccess();
        // A copy of the CLI that uid 65534 can read wherever the repository was cloned.
        var cli = Directory.CreateDirectory(Path.Combine(_root, "cli")).FullName;
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory).Where(file => file.EndsWith(".dll", StringComparison.Ordinal) || file.EndsWith(".json", StringComparison.Ordinal)))
        {
            File.Copy(file, Path.Combine(cli, Path.GetFileName(file)));
        }
        RuntimeDirectory = Directory.CreateDirectory(Path.Combine(_root, "runtime")).FullName;
        Shell.RunAsync("chmod", "-R", "a+rX", cli).GetAwaiter().GetResult().EnsureSuccess();
        Shell.RunAsync("chown", $"{Nobody}:{Nobody}", RuntimeDirectory).GetAwaiter().GetResult().EnsureSuccess();
        Shell.RunAsync("chmod", "700", RuntimeDirectory).GetAwaiter().GetResult().EnsureSuccess();
        // /dev/net/tun is 0666 on most systems (udev makes it so); where it is not, the unprivileged process gets a
        // 0666 node of the same device bound over it in a mount namespace of its own, and the machine's stays as it is.
        TunNode = Path.Combine(_root, "tun");
        Shell.RunAsync("mknod", "-m", "666", TunNode, "c", "10", "200").GetAwaiter().GetResult().EnsureSuccess();
    }

    private string RuntimeDirectory { get; }

    private string TunNode { get; }

    private string CliCopy => Path.Combine(_root, "cli", "NetDev.Cli.dll");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task AnUnprivilegedProcessRunsADriverOnAPersistentTapAndTheTapStays()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        var subnet = $"10.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(1, 255)}";
        (await ns.ExecAsync(CliProcess.DotnetHost, CliProcess.CliAssembly, "create", "ndtp0", "--user", Nobody)).EnsureSuccess();
        (await ns.IpAsync("addr", "add", $"{subnet}.1/24", "dev", "ndtp0")).EnsureSuccess();
        (await ns.IpAsync("link", "set", "ndtp0", "up")).EnsureSuccess();

        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--attach", "ndtp0", "--verbose"], prefix: Unprivileged());
        Assert.Equal(["ndtp0"], await cli.ReadReadyAsync());

        // The dummy wants its own address and no ARP; uid 65534 may set neither, and says so once.
        await CliProcess.WaitUntilAsync(() => Task.FromResult(cli.Stderr.Contains("attached without CAP_NET_ADMIN")), "the one sentence about what stays");
        // Frames the kernel sends (ARP for a neighbour nobody answers) reach the driver.
        await ns.ExecAsync("ping", "-c", "3", "-i", "0.2", "-W", "1", $"{subnet}.2");
        // The control endpoint is the user's, under XDG_RUNTIME_DIR, and answers that user.
        Assert.Equal([$"ndtp0@{ns.Name}.sock"], Directory.GetFiles(Path.Combine(RuntimeDirectory, "netdev")).Select(Path.GetFileName));
        var stats = await RunUnprivilegedAsync(ns, "stats", "ndtp0", "--json");
        Assert.True(stats.ExitCode == 0, stats.Stderr);
        Assert.Matches("\"tx_packets\":[1-9]", stats.Stdout.Replace(" ", ""));
        // Link events need no privilege: root sets the TAP down and up, and the driver follows.
        (await ns.IpAsync("link", "set", "ndtp0", "down")).EnsureSuccess();
        await CliProcess.WaitUntilAsync(() => Task.FromResult(cli.Stderr.Contains("was set down")), "the driver to hear the TAP go down");
        (await ns.IpAsync("link", "set", "ndtp0", "up")).EnsureSuccess();
        await CliProcess.WaitUntilAsync(() => Task.FromResult(cli.Stderr.Contains("was set up")), "the driver to hear the TAP come up");

        cli.Signal(CliProcess.SIGINT);
        var (exitCode, rest) = await cli.WaitForExitAsync();

        Assert.True(exitCode == 0, cli.Stderr);
        Assert.Matches(@"^ndtp0 tx_packets=[1-9]\d* ", Assert.Single(rest));
        // Said once as a warning; what the process still may not do afterwards goes to the debug log only.
        Assert.Single(cli.Stderr.Split('\n'), line => line.Contains(" warn: ") && line.Contains("attached without CAP_NET_ADMIN"));
        Assert.DoesNotContain("   at ", cli.Stderr);
        Assert.NotNull(await ns.FindLinkAsync("ndtp0"));
        (await ns.ExecAsync(CliProcess.DotnetHost, CliProcess.CliAssembly, "delete", "ndtp0")).EnsureSuccess();
        Assert.Null(await ns.FindLinkAsync("ndtp0"));
    }

    [Fact]
    public async Task TwoUnprivilegedTunnelsOnPersistentTapsCarryPingBothWays()
    {
        await using var left = await NetworkNamespace.CreateAsync();
        await using var right = await NetworkNamespace.CreateAsync();
        var underlay = $"10.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(1, 255)}";
        var overlay = $"10.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(1, 255)}";
        (await Shell.RunAsync("ip", "-n", left.Name, "link", "add", "ndtv0", "type", "veth", "peer", "name", "ndtv1", "netns", right.Name)).EnsureSuccess();
        // Root's part, once: the underlay, and each TAP made for uid 65534 with its address, the tunnel's MTU, up.
        foreach (var (ns, veth, tap, host) in new[] { (left, "ndtv0", "ndtut0", 1), (right, "ndtv1", "ndtut1", 2) })
        {
            (await ns.IpAsync("addr", "add", $"{underlay}.{host}/24", "dev", veth)).EnsureSuccess();
            (await ns.IpAsync("link", "set", veth, "up")).EnsureSuccess();
            (await ns.ExecAsync(CliProcess.DotnetHost, CliProcess.CliAssembly, "create", tap, "--user", Nobody, "--offloads")).EnsureSuccess();
            (await ns.IpAsync("addr", "add", $"{overlay}.{host}/24", "dev", tap)).EnsureSuccess();
            (await ns.IpAsync("link", "set", tap, "mtu", "1454", "up")).EnsureSuccess();
        }

        await using var leftCli = CliProcess.Start(left, ["run", "tunnel", "--attach", "ndtut0", "--local", $"{underlay}.1:4789", "--remote", $"{underlay}.2:4789"], prefix: Unprivileged());
        await using var rightCli = CliProcess.Start(right, ["run", "tunnel", "--attach", "ndtut1", "--local", $"{underlay}.2:4789", "--remote", $"{underlay}.1:4789"], prefix: Unprivileged());
        Assert.Equal(["ndtut0"], await leftCli.ReadReadyAsync());
        Assert.Equal(["ndtut1"], await rightCli.ReadReadyAsync());

        var ping = await left.ExecAsync("ping", "-c", "3", "-W", "2", $"{overlay}.2");
        Assert.True(ping.ExitCode == 0, ping.Stdout + ping.Stderr + leftCli.Stderr + rightCli.Stderr);

        leftCli.Signal(CliProcess.SIGINT);
        rightCli.Signal(CliProcess.SIGINT);
        var (leftExit, leftRest) = await leftCli.WaitForExitAsync();
        var (rightExit, rightRest) = await rightCli.WaitForExitAsync();
        Assert.True(leftExit == 0, leftCli.Stderr);
        Assert.True(rightExit == 0, rightCli.Stderr);
        // Each end sent frames from its kernel to the peer and handed the peer's to its kernel.
        Assert.Matches(@"^ndtut0 tx_packets=[1-9]\d* tx_bytes=\d+ rx_packets=[1-9]", Assert.Single(leftRest));
        Assert.Matches(@"^ndtut1 tx_packets=[1-9]\d* tx_bytes=\d+ rx_packets=[1-9]", Assert.Single(rightRest));
        Assert.NotNull(await left.FindLinkAsync("ndtut0"));
        Assert.NotNull(await right.FindLinkAsync("ndtut1"));
    }

    [Fact]
    public async Task AttachingNeedsTheTapToExistAndToHaveBeenMadeForAsManyQueues()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        (await ns.ExecAsync(CliProcess.DotnetHost, CliProcess.CliAssembly, "create", "ndtq0", "--user", Nobody, "--queues", "2")).EnsureSuccess();

        var missing = await RunUnprivilegedAsync(ns, "run", "dummy", "--attach", "ndtnone0");
        var wrongCount = await RunUnprivilegedAsync(ns, "run", "dummy", "--attach", "ndtq0", "--queues", "3");
        var rightCount = CliProcess.Start(ns, ["run", "dummy", "--attach", "ndtq0", "--queues", "2"], prefix: Unprivileged());
        await using (rightCount)
        {
            Assert.Equal(["ndtq0"], await rightCount.ReadReadyAsync());
            rightCount.Signal(CliProcess.SIGINT);
            Assert.Equal(0, (await rightCount.WaitForExitAsync()).ExitCode);
        }

        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("netdev create ndtnone0 --user USER", missing.Stderr);
        Assert.Equal(1, wrongCount.ExitCode);
        Assert.Contains("made for 2 queues, not 3", wrongCount.Stderr);
        Assert.NotNull(await ns.FindLinkAsync("ndtq0"));
    }

    [Fact]
    public async Task RunTellsTheServiceManagerReadyOnceEveryDeviceIsUpAndStoppingAtTheEnd()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        var path = Path.Combine(_root, "notify");
        using var manager = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 60_000 };
        manager.Bind(new UnixDomainSocketEndPoint(path));

        await using var cli = CliProcess.Start(ns, ["run", "dummy", "--name", "ndtn%d", "--count", "2"], prefix: ["env", $"NOTIFY_SOCKET={path}"]);
        Assert.Equal(2, (await cli.ReadReadyAsync(2)).Count);
        Assert.Equal("READY=1", Receive(manager));
        Assert.All(await Task.WhenAll(ns.FindLinkAsync("ndtn0"), ns.FindLinkAsync("ndtn1")), link => Assert.Contains("UP", link!.Flags));
        cli.Signal(CliProcess.SIGINT);
        Assert.Equal("STOPPING=1", Receive(manager));
        Assert.Equal(0, (await cli.WaitForExitAsync()).ExitCode);
    }

    private static string Receive(Socket socket)
    {
        var buffer = new byte[512];
        return Encoding.UTF8.GetString(buffer, 0, socket.Receive(buffer));
    }

    /// <summary>
    /// What goes between <c>ip netns exec NS</c> and <c>dotnet NetDev.Cli.dll ARGS</c> to run the CLI as uid 65534
    /// with no capabilities (as .ci/run runs NetDev.Testing's tests): the 0666 node bound over /dev/net/tun in the
    /// mount namespace <c>ip netns exec</c> made, then the readable copy of the CLI, with the user's runtime directory.
    /// </summary>
    private string[] Unprivileged() =>
    [
        "sh", "-c",
        $"mount --bind '{TunNode}' /dev/net/tun && shift && exec env -u NETDEV_RUN_DIR XDG_RUNTIME_DIR='{RuntimeDirectory}' HOME='{RuntimeDirectory}' DOTNET_CLI_HOME='{RuntimeDirectory}' "
            + $"setpriv --reuid={Nobody} --regid={Nobody} --clear-groups --inh-caps=-all \"$0\" '{CliCopy}' \"$@\"",
    ];

    private Task<CommandResult> RunUnprivilegedAsync(NetworkNamespace ns, params string[] arguments) =>
        ns.ExecAsync([.. Unprivileged(), CliProcess.DotnetHost, CliProcess.CliAssembly, .. arguments]);
}
