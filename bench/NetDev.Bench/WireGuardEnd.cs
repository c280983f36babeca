using System.Globalization;
using System.Net;
using System.Text.Json;

namespace NetDev.Bench;

/// <summary>
/// One WireGuard interface in a bench namespace, run by Debian's <c>wireguard-go</c> (user space: this
/// kernel has no wireguard module) and configured with <c>wg</c> from <c>wireguard-tools</c>.
/// </summary>
/// <remarks>
/// <para>The daemon runs in the foreground (<c>WG_PROCESS_FOREGROUND=1</c>, or it forks and the bench
/// loses it) as a process of the <see cref="Sandbox"/>, so it dies with the bench; its log goes to standard
/// error, which the bench reads (a full standard output pipe would stall it). The end itself is tracked by
/// the sandbox too: disposing it — at the end of the figure or, on failure, by the sandbox — asks the daemon
/// to stop (SIGTERM, so it removes its interface and control socket), kills it if it does not, and removes
/// its control socket in the shared <c>/var/run/wireguard</c> and its key file.</para>
/// <para><b>Invariants.</b> <c>_daemon</c> is the wireguard-go process itself (the commands before it exec
/// in place), so its PID is the one whose CPU time is read; the key file exists, readable by root only,
/// until <see cref="Dispose"/>.</para>
/// </remarks>
internal sealed class WireGuardEnd : IDisposable
{
    // USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux architecture .NET runs on.
    private const long NanosecondsPerClockTick = 10_000_000;

    private readonly Sandbox _sandbox;
    private readonly string _namespace;
    private readonly string _keyFile;
    private ChildProcess? _daemon;

    private WireGuardEnd(Sandbox sandbox, string networkNamespace, string name)
    {
        _sandbox = sandbox;
        _namespace = networkNamespace;
        Name = name;
        _keyFile = Path.Combine(Path.GetTempPath(), $"ndb-{Environment.ProcessId}-{name}.key");
        using (var file = new FileStream(_keyFile, new FileStreamOptions
               {
                   Mode = FileMode.Create,
                   Access = FileAccess.Write,
                   UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
               }))
        using (var writer = new StreamWriter(file))
        {
            writer.WriteLine(Tool.Run("wg", "genkey").Trim());
        }
        PublicKey = Tool.Run("sh", "-c", "wg pubkey < \"$0\"", _keyFile).Trim();
    }

    public string Name { get; }

    public string PublicKey { get; }

    /// <summary>Starts wireguard-go with interface <paramref name="name"/> in <paramref name="networkNamespace"/>, not configured yet.</summary>
    public static WireGuardEnd Start(Sandbox sandbox, string networkNamespace, string name)
    {
        var end = sandbox.Track(new WireGuardEnd(sandbox, networkNamespace, name));
        end._daemon = sandbox.StartIn(networkNamespace, $"wireguard-go {name}",
            "sh", "-c", "WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error exec wireguard-go -f \"$0\" >&2", name);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!HasLink(networkNamespace, name))
        {
            if (end._daemon.HasExited)
            {
                throw new BenchException($"wireguard-go ended at once (exit code {end._daemon.ExitCode}): {end._daemon.Errors}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new BenchException($"wireguard-go made no interface {name} within 10 s: {end._daemon.Errors}");
            }
            sandbox.Sleep(TimeSpan.FromMilliseconds(50));
        }
        // Its CPU time is read by PID: the process must be the daemon, not a shell or wrapper in front of it.
        var command = File.ReadAllText($"/proc/{end._daemon.Id}/comm").Trim();
        if (command != "wireguard-go")
        {
            throw new BenchException($"process {end._daemon.Id} started for {name} is '{command}', not wireguard-go: its CPU time would be the wrong process's");
        }
        return end;
    }

    /// <summary>The interface's MTU (wireguard-go's default, 1420).</summary>
    public static int Mtu(string networkNamespace, string name)
    {
        using var document = JsonDocument.Parse(Tool.Ip(networkNamespace, "-j", "link", "show", "dev", name));
        return document.RootElement[0].GetProperty("mtu").GetInt32();
    }

    /// <summary>
    /// Listens on <paramref name="port"/>, takes the peer with <paramref name="peerPublicKey"/> at
    /// <paramref name="peerEndpoint"/>, allowed to send from <paramref name="peerAddress"/>, gets
    /// <paramref name="address"/>/24 and comes up.
    /// </summary>
    public void Configure(int port, string peerPublicKey, IPEndPoint peerEndpoint, IPAddress address, IPAddress peerAddress)
    {
        Tool.Run("ip", "netns", "exec", _namespace, "wg", "set", Name, "private-key", _keyFile, "listen-port", port.ToString(CultureInfo.InvariantCulture),
            "peer", peerPublicKey, "allowed-ips", $"{peerAddress}/32", "endpoint", peerEndpoint.ToString());
        Tool.Ip(_namespace, "addr", "add", $"{address}/24", "dev", Name);
        Tool.Ip(_namespace, "link", "set", "dev", Name, "up");
    }

    /// <summary>CPU time of the daemon, user and kernel, every thread (ended ones too), from <c>/proc/PID/stat</c>.</summary>
    public long CpuNanoseconds()
    {
        if (_daemon is null)
        {
            return 0;
        }
        var stat = File.ReadAllText($"/proc/{_daemon.Id}/stat");
        // The command name (field 2) is in parentheses and may hold spaces; fields count on after its ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        const int userTime = 14 - 3, systemTime = 15 - 3;
        return (long.Parse(fields[userTime], CultureInfo.InvariantCulture) + long.Parse(fields[systemTime], CultureInfo.InvariantCulture)) * NanosecondsPerClockTick;
    }

    /// <summary>Stops the daemon (SIGTERM, then SIGKILL after 5 s) and removes its control socket and key file.</summary>
    public void Dispose()
    {
        if (_daemon is { } daemon)
        {
            if (!daemon.HasExited)
            {
                try
                {
                    Tool.Run("kill", "-TERM", daemon.Id.ToString(CultureInfo.InvariantCulture));
                }
                catch (BenchException)
                {
                    // It ended between the check and the signal.
                }
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
                while (!daemon.HasExited && DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(50);
                }
            }
            _sandbox.Stop(daemon);
            _daemon = null;
        }
        File.Delete($"/var/run/wireguard/{Name}.sock");
        File.Delete(_keyFile);
    }

    private static bool HasLink(string networkNamespace, string name)
    {
        try
        {
            Tool.Ip(networkNamespace, "link", "show", "dev", name);
            return true;
        }
        catch (BenchException)
        {
            return false;
        }
    }
}
