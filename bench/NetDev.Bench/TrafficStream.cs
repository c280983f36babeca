using System.Globalization;

namespace NetDev.Bench;

/// <summary>
/// Traffic the soak keeps going over one link: an iperf3 client (with a one-test server of its own) or a
/// command such as a ping flood, run in segments and started again whenever a segment ends — also when it
/// ended early because a flap or a fault broke it, which the soak counts but does not stop for.
/// </summary>
/// <remarks><b>Invariants.</b> Used from the bench's main thread only (processes die with the thread that
/// started them); while running, <c>_client</c> is set, and <c>_server</c> too for iperf3.</remarks>
internal sealed class TrafficStream(BenchContext context, string clientNamespace, string? serverNamespace, string what, int port, string[] arguments)
{
    private ChildProcess? _client;
    private ChildProcess? _server;

    public string What => what;

    /// <summary>Segments started.</summary>
    public int Runs { get; private set; }

    /// <summary>Segments that ended with a failure (a broken connection, a server that went away).</summary>
    public int Failures { get; private set; }

    /// <summary>Starts a segment of <paramref name="length"/> if none runs; counts how the last one ended.</summary>
    public void KeepRunning(TimeSpan length)
    {
        if (_client is { } client)
        {
            if (!client.HasExited)
            {
                return;
            }
            if (client.ExitCode != 0)
            {
                Failures++;
            }
            Stop();
        }
        var seconds = Math.Max(1, (int)length.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var sandbox = context.Sandbox;
        if (serverNamespace is null)
        {
            _client = sandbox.StartIn(clientNamespace, what, [.. arguments, "-w", seconds]);
        }
        else
        {
            var portText = port.ToString(CultureInfo.InvariantCulture);
            _server = sandbox.StartIn(serverNamespace, $"iperf3 server of {what}", "iperf3", "-s", "-1", "-p", portText);
            IperfServer.WaitForListener(sandbox, serverNamespace, port, _server);
            _client = sandbox.StartIn(clientNamespace, what, ["iperf3", .. arguments, "-p", portText, "-t", seconds, "-i", "0"]);
        }
        Runs++;
    }

    /// <summary>Ends the segment that runs, if any.</summary>
    public void Stop()
    {
        foreach (var process in new[] { _client, _server })
        {
            if (process is not null)
            {
                context.Sandbox.Stop(process);
            }
        }
        _client = null;
        _server = null;
    }
}

/// <summary>What the iperf3 users of the bench share.</summary>
internal static class IperfServer
{
    /// <summary>Waits until <paramref name="server"/> listens on TCP <paramref name="port"/> in <paramref name="networkNamespace"/>.</summary>
    public static void WaitForListener(Sandbox sandbox, string networkNamespace, int port, ChildProcess server)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (server.HasExited)
            {
                throw new BenchException($"the iperf3 server ended: {server.Errors}");
            }
            if (Tool.Run("ip", "netns", "exec", networkNamespace, "ss", "-Hltn", $"sport = :{port}").Trim().Length > 0)
            {
                return;
            }
            sandbox.Sleep(TimeSpan.FromMilliseconds(50));
        }
        throw new BenchException("the iperf3 server did not start listening within 5 s.");
    }
}
