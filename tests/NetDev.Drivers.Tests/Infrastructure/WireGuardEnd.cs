using System.Diagnostics;
using System.Net;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>
/// A WireGuard interface in a test namespace, run by Debian's <c>wireguard-go</c> (this kernel has no
/// wireguard module) and configured with <c>wg</c>. Disposing stops the daemon, which removes its interface
/// and its control socket in <c>/var/run/wireguard</c>.
/// </summary>
public sealed class WireGuardEnd : IDisposable
{
    private readonly Process _daemon;
    private readonly string _keyFile;

    private WireGuardEnd(TestNamespace ns, string name)
    {
        Namespace = ns;
        Name = name;
        PrivateKey = Shell.Run("wg", "genkey").Trim();
        PublicKey = Shell.Run("sh", $"-c \"echo {PrivateKey} | wg pubkey\"").Trim();
        _keyFile = Path.Combine(Path.GetTempPath(), $"{name}.key");
        File.WriteAllText(_keyFile, PrivateKey);
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(_keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        // In the foreground, so that this process owns it and can stop it; the environment variable also
        // spares the banner that says the kernel module would do.
        var start = new ProcessStartInfo("ip", $"netns exec {ns.Name} wireguard-go -f {name}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["WG_PROCESS_FOREGROUND"] = "1";
        _daemon = Process.Start(start) ?? throw new InvalidOperationException("wireguard-go did not start");
        try
        {
            Wait.Until(() => ns.HasLink(name) || _daemon.HasExited, $"wireguard-go to make {name}");
            if (_daemon.HasExited)
            {
                Assert.Fail($"wireguard-go ended at once: {_daemon.StandardError.ReadToEnd()}");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Whether <c>wireguard-go</c> and <c>wg</c> are installed (.ci/run installs them).</summary>
    public static bool IsAvailable => Shell.TryRun("sh", "-c \"command -v wireguard-go && command -v wg\"").Code == 0;

    public TestNamespace Namespace { get; }

    public string Name { get; }

    public string PrivateKey { get; }

    public string PublicKey { get; }

    /// <summary>Starts interface <paramref name="name"/> in <paramref name="ns"/>, with a key of its own, not configured yet.</summary>
    public static WireGuardEnd Start(TestNamespace ns, string name) => new(ns, name);

    /// <summary>
    /// Listens on <paramref name="port"/>, takes <paramref name="peer"/> (reached at <paramref name="peerEndpoint"/>,
    /// allowed to send from <paramref name="peerAddress"/>), gets <paramref name="address"/>/24 and comes up.
    /// </summary>
    public void Configure(int port, WireGuardEnd peer, IPEndPoint peerEndpoint, IPAddress address, IPAddress peerAddress)
    {
        var (code, output, error) = Namespace.Exec(
            $"wg set {Name} private-key {_keyFile} listen-port {port} peer {peer.PublicKey} allowed-ips {peerAddress}/32 endpoint {peerEndpoint}");
        Assert.True(code == 0, $"wg set {Name} failed: {error} {output}");
        Namespace.Ip($"addr add {address}/24 dev {Name}");
        Namespace.Ip($"link set {Name} up");
    }

    public void Dispose()
    {
        if (!_daemon.HasExited)
        {
            // SIGTERM lets it remove its socket and interface; SIGKILL if it does not go.
            Shell.TryRun("kill", $"-TERM {_daemon.Id}");
            if (!_daemon.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _daemon.Kill(entireProcessTree: true);
                _daemon.WaitForExit();
            }
        }
        _daemon.Dispose();
        File.Delete(_keyFile);
        File.Delete($"/var/run/wireguard/{Name}.sock");
    }
}
