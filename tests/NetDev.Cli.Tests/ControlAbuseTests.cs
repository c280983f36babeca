using System.Net.Sockets;
using System.Text;
using NetDev.TestSupport;

namespace NetDev.Cli.Tests;

/// <summary>
/// <c>netdev list</c> and <c>stats</c> when the control plane is abused: every place of an endpoint taken,
/// a control directory that is a symbolic link, a stale socket whose name a device binds while the CLI is
/// removing it.
/// </summary>
public sealed class ControlAbuseTests
{
    [Fact]
    public async Task AFullEndpointIsReportedWithTheServersReason()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var cli = CliProcess.Start(ns, ["run", "dummy"], controlDirectory: directory.Path);
        await cli.ReadReadyAsync();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var path = Path.Combine(directory.Path, $"dummy0@{ns.Name}.sock");
        // Eight clients that keep asking take every place, as busy tools would; none of them is ever idle.
        var holders = Enumerable.Range(0, 8).Select(_ => new Holder(path)).ToList();
        try
        {
            await Task.WhenAll(holders.Select(holder => holder.AskAsync(stop.Token)));
            var asking = holders.Select(holder => holder.KeepAskingAsync(stop.Token)).ToList();

            var stats = await CliProcess.RunAsync(directory.Path, "stats", "dummy0");

            Assert.Equal(1, stats.ExitCode);
            Assert.Equal($"netdev: dummy0@{ns.Name}: the endpoint serves 8 clients at once; try again\n", stats.Stderr);
            await stop.CancelAsync();
            await Task.WhenAll(asking.Select(task => task.ContinueWith(_ => { }, TaskScheduler.Default)));
        }
        finally
        {
            holders.ForEach(holder => holder.Dispose());
        }
    }

    [Fact]
    public async Task AControlDirectoryThatIsASymbolicLinkIsRefusedAndNothingBehindItRemoved()
    {
        using var directory = new TempDirectory();
        var target = Directory.CreateDirectory(Path.Combine(directory.Path, "target")).FullName;
        var stale = StaleSocket.Make(Path.Combine(target, "ghost0.sock"));
        var link = Path.Combine(directory.Path, "link");
        File.CreateSymbolicLink(link, target);

        var list = await CliProcess.RunAsync(link, "list");

        Assert.Equal(1, list.ExitCode);
        Assert.Equal($"netdev: cannot read {link}: {link} is refused as a control directory: it is a symbolic link\n", list.Stderr);
        Assert.True(File.Exists(stale));
    }

    [Fact]
    public async Task RemovingAStaleSocketNeverRemovesTheSocketADeviceBoundMeanwhile()
    {
        using var directory = new TempDirectory();
        await using var ns = await NetworkNamespace.CreateAsync();
        var name = $"ghost0@{ns.Name}.sock";
        StaleSocket.Make(Path.Combine(directory.Path, name));
        var trace = Path.Combine(directory.Path, "trace.txt");
        // strace holds every unlink of the listing CLI for a while after the CLI decided to remove the stale
        // socket: the widest window a device could bind the name in, every time.
        var list = Shell.RunAsync(new Dictionary<string, string> { ["NETDEV_RUN_DIR"] = directory.Path, ["DOTNET_EnableDiagnostics"] = "0" },
            "strace", "-f", "-qq", "-o", trace, "-e", "trace=unlink,unlinkat", "-e", "inject=unlink,unlinkat:delay_enter=8000000",
            CliProcess.DotnetHost, CliProcess.CliAssembly, "list");
        await CliProcess.WaitUntilAsync(() => Task.FromResult(File.Exists(trace) && File.ReadLines(trace).Any(line => line.Contains("unlink") && line.Contains(name))),
            "the listing CLI is about to remove the stale socket");

        // A device of that name starts now and binds its endpoint while the removal is held.
        await using var device = CliProcess.Start(ns, ["run", "dummy", "--name", "ghost0"], controlDirectory: directory.Path);
        await device.ReadReadyAsync();
        (await list).EnsureSuccess();

        var stats = await CliProcess.RunAsync(directory.Path, "stats", "ghost0", "--json");

        Assert.Equal(0, stats.ExitCode);
        Assert.Contains(name, directory.FileNames);
    }

    /// <summary>A client of the endpoint that asks for <c>info</c> again and again on one connection.</summary>
    private sealed class Holder(string path) : IDisposable
    {
        private static readonly byte[] Request = Encoding.UTF8.GetBytes("{\"request\": \"info\"}\n");
        private readonly Socket _socket = Connect(path);
        private readonly byte[] _buffer = new byte[4096];

        /// <summary>Asks once and reads the whole answer.</summary>
        public async Task AskAsync(CancellationToken cancel)
        {
            await _socket.SendAsync(Request, cancel);
            var line = new List<byte>();
            while (!line.Contains((byte)'\n'))
            {
                var read = await _socket.ReceiveAsync(_buffer, cancel);
                Assert.True(read > 0, "the endpoint closed a holder's connection");
                line.AddRange(_buffer.AsSpan(0, read));
            }
            Assert.StartsWith("{\"ok\":true", Encoding.UTF8.GetString([.. line]));
        }

        public async Task KeepAskingAsync(CancellationToken cancel)
        {
            while (!cancel.IsCancellationRequested)
            {
                await AskAsync(cancel);
                await Task.Delay(100, cancel);
            }
        }

        public void Dispose() => _socket.Dispose();

        private static Socket Connect(string path)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return socket;
        }
    }
}
