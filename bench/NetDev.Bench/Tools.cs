using System.Diagnostics;

namespace NetDev.Bench;

/// <summary>Short-lived commands (ip, gcc, apt-get), run to completion.</summary>
internal static class Tool
{
    /// <summary>Runs <paramref name="file"/> and returns its standard output; throws with its standard error if it fails.</summary>
    public static string Run(string file, params string[] arguments) => Run(file, arguments, TimeSpan.FromSeconds(60));

    public static string Run(string file, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new BenchException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new BenchException($"'{file} {string.Join(' ', info.ArgumentList)}' did not end within {timeout.TotalSeconds:0} s.");
        }
        var (text, errorText) = (output.Result, errors.Result);
        // Disposing the process leaves streams it handed out open until a finalizer runs: a soak runs
        // thousands of these, and counts descriptors.
        process.StandardOutput.Dispose();
        process.StandardError.Dispose();
        if (process.ExitCode != 0)
        {
            throw new BenchException($"'{file} {string.Join(' ', info.ArgumentList)}' failed (exit code {process.ExitCode}): {errorText.Trim()}");
        }
        return text;
    }

    /// <summary>Whether <paramref name="command"/> is on the PATH.</summary>
    public static bool Exists(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, command)));

    /// <summary>Runs <c>ip</c> inside namespace <paramref name="networkNamespace"/>.</summary>
    public static string Ip(string networkNamespace, params string[] arguments) => Run("ip", ["-n", networkNamespace, .. arguments], TimeSpan.FromSeconds(30));
}

/// <summary>
/// What the suite needs from the machine: the commands it runs and the headers the C baselines include.
/// Missing ones are installed with apt-get (Debian's packages); if that is not possible, the bench says
/// exactly what is missing and stops.
/// </summary>
internal static class Requirements
{
    // wireguard-go and wg only for the keyed figures (their baseline).
    private static readonly (string What, Func<bool> Present, string Package)[] ForWireGuard =
    [
        ("wireguard-go", () => Tool.Exists("wireguard-go"), "wireguard-go"),
        ("wg", () => Tool.Exists("wg"), "wireguard-tools"),
    ];

    private static readonly (string What, Func<bool> Present, string Package)[] Needed =
    [
        ("ip", () => Tool.Exists("ip"), "iproute2"),
        ("ping", () => Tool.Exists("ping"), "iputils-ping"),
        ("setpriv", () => Tool.Exists("setpriv"), "util-linux"),
        ("setsid", () => Tool.Exists("setsid"), "util-linux"),
        ("iperf3", () => Tool.Exists("iperf3"), "iperf3"),
        ("gcc", () => Tool.Exists("gcc"), "gcc"),
        ("C library headers", () => File.Exists("/usr/include/stdio.h"), "libc6-dev"),
        ("Linux headers (linux/if_tun.h)", () => File.Exists("/usr/include/linux/if_tun.h"), "linux-libc-dev"),
    ];

    public static void Ensure(TextWriter log, bool wireGuard = false)
    {
        var needed = wireGuard ? [.. Needed, .. ForWireGuard] : Needed;
        if (!Environment.IsPrivilegedProcess)
        {
            throw new BenchException("the bench makes network namespaces and TAP devices: run it as root (sudo bench/run).");
        }
        if (!File.Exists("/dev/net/tun"))
        {
            throw new BenchException("/dev/net/tun is missing: the kernel has no TUN/TAP support here (modprobe tun).");
        }
        var missing = needed.Where(need => !need.Present()).ToList();
        if (missing.Count == 0)
        {
            return;
        }
        var packages = missing.Select(need => need.Package).Distinct().ToArray();
        log.WriteLine($"bench: installing {string.Join(", ", packages)} (missing: {string.Join(", ", missing.Select(need => need.What))})");
        if (!Tool.Exists("apt-get"))
        {
            throw new BenchException($"missing: {string.Join(", ", missing.Select(need => $"{need.What} (Debian package {need.Package})"))}; install them and run again.");
        }
        try
        {
            Tool.Run("apt-get", ["update", "-qq"], TimeSpan.FromMinutes(5));
            var environment = Environment.GetEnvironmentVariable("DEBIAN_FRONTEND");
            Environment.SetEnvironmentVariable("DEBIAN_FRONTEND", "noninteractive");
            Tool.Run("apt-get", ["install", "-y", "-qq", .. packages], TimeSpan.FromMinutes(10));
            Environment.SetEnvironmentVariable("DEBIAN_FRONTEND", environment);
        }
        catch (BenchException error)
        {
            throw new BenchException($"could not install {string.Join(", ", packages)}: {error.Message}");
        }
        var stillMissing = needed.Where(need => !need.Present()).Select(need => need.What).ToList();
        if (stillMissing.Count > 0)
        {
            throw new BenchException($"still missing after apt-get install: {string.Join(", ", stillMissing)}.");
        }
    }
}

/// <summary>The C baselines of bench/baseline, compiled with gcc into the bench's artifacts at every run.</summary>
internal sealed class Baselines
{
    private Baselines(string directory) => Directory = directory;

    public string Directory { get; }

    /// <summary>Reads a TAP in a loop (tx baseline).</summary>
    public string TapRead => Path.Combine(Directory, "tapread");

    /// <summary>Writes a frame to a TAP in a loop (rx baseline).</summary>
    public string TapWrite => Path.Combine(Directory, "tapwrite");

    /// <summary>Makes the kernel transmit 60-byte frames on an interface (traffic of the tx figures, both sides).</summary>
    public string TapGen => Path.Combine(Directory, "tapgen");

    /// <summary>Relays frames between two TAPs (pair baseline).</summary>
    public string TapRelay => Path.Combine(Directory, "taprelay");

    /// <summary>One end of the least-work TAP + UDP tunnel (reference of the tunnel figures).</summary>
    public string TapUdp => Path.Combine(Directory, "tapudp");

    /// <summary>The compiler's version, for the report.</summary>
    public string CompilerVersion { get; private init; } = "";

    public static Baselines Build(string sourceDirectory, string outputDirectory)
    {
        System.IO.Directory.CreateDirectory(outputDirectory);
        foreach (var program in new[] { "tapread", "tapwrite", "tapgen", "taprelay", "tapudp" })
        {
            Tool.Run("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", Path.Combine(outputDirectory, program), Path.Combine(sourceDirectory, program + ".c")],
                TimeSpan.FromMinutes(2));
        }
        return new Baselines(outputDirectory) { CompilerVersion = "gcc " + Tool.Run("gcc", "-dumpfullversion").Trim() + " -O2" };
    }
}
