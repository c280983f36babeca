// Shared by every test project whose tests make kernel network namespaces; linked into each. Each project
// wraps it in the class its tests already use (TestNamespace, NetworkNamespace), adding what those tests need.
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace NetDev.TestSupport;

/// <summary>
/// A network namespace of one test's own, named <c>ndt-PID-HEX</c> after the process that made it. Disposing
/// kills every process still inside (<c>ip netns del</c> only removes the name: a process left inside keeps
/// the namespace, its interfaces and its sockets alive), then removes the namespace; it never throws, so a
/// failing test's own exception is the one reported. Creating one first sweeps the namespaces that test
/// runs killed before they could dispose theirs left behind.
/// </summary>
/// <remarks>
/// Invariants: <see cref="Name"/> matches <c>ndt-PID-HEX</c> with PID this process's id, so a sweep in any
/// other process can tell from the name alone whether its creator is gone. This process's own id is never
/// among the processes killed, even when a thread of it has entered the namespace.
/// </remarks>
public sealed partial class KernelNamespace : IDisposable
{
    /// <summary>What every test namespace's name starts with.</summary>
    public const string Prefix = "ndt-";

    private const string NamedNamespaces = "/run/netns";

    // A bound for a broken machine, not an expectation: a SIGKILLed process is gone in milliseconds.
    private static readonly TimeSpan ExitBound = TimeSpan.FromSeconds(10);

    private static readonly Lock SweepLock = new();

    private int _disposed;

    private KernelNamespace(string name) => Name = name;

    /// <summary>The namespace's name, as <c>ip netns</c> and <c>/run/netns</c> know it.</summary>
    public string Name { get; }

    /// <summary>Whether the namespace still has its name (a test may delete it itself, as an outsider would).</summary>
    public bool Exists => File.Exists(Path.Combine(NamedNamespaces, Name));

    /// <summary>
    /// Sweeps what killed runs left (<see cref="SweepLeftovers"/>), then makes a namespace of a new name;
    /// <paramref name="quiet"/> turns IPv6 off inside it (no autoconfiguration or MLD frames on the interfaces
    /// under test, so every frame a test counts is one it caused); <paramref name="loopbackUp"/> sets <c>lo</c> up.
    /// If setting it up fails, the namespace is removed again before the exception leaves.
    /// </summary>
    public static KernelNamespace Create(bool quiet = true, bool loopbackUp = true)
    {
        SweepLeftovers();
        var created = new KernelNamespace(NewName());
        Shell.Run("ip", "netns", "add", created.Name);
        try
        {
            if (quiet)
            {
                Shell.Run("ip", "netns", "exec", created.Name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
            }
            if (loopbackUp)
            {
                Shell.Run("ip", "-n", created.Name, "link", "set", "lo", "up");
            }
        }
        catch
        {
            created.Dispose();
            throw;
        }
        return created;
    }

    /// <summary>A name no namespace has yet, of this process: <c>ndt-PID-HEX</c>.</summary>
    public static string NewName() => $"{Prefix}{Environment.ProcessId}-{RandomNumberGenerator.GetHexString(6, lowercase: true)}";

    /// <summary>The ids of the processes inside the namespace (<c>ip netns pids</c>), this one excepted.</summary>
    public IReadOnlyList<int> ProcessIds() => ProcessesIn(Name);

    /// <summary>Kills every process inside the namespace but this one, and waits (boundedly) until they are gone.</summary>
    public void KillProcesses() => KillProcessesIn(Name);

    /// <summary>Kills the processes inside, then removes the namespace if it still has its name. Never throws.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            Remove(Name);
        }
        catch (Exception error)
        {
            // Throwing here would hide the failing test's own exception. The name carries this process's id,
            // so the first test namespace created after this process has ended sweeps it.
            Console.Error.WriteLine($"Could not remove test namespace {Name} (a later run sweeps it): {error.Message}");
        }
    }

    /// <summary>
    /// Removes every <c>ndt-PID-HEX</c> namespace whose creating process no longer exists (a run that was
    /// SIGKILLed, such as a timed-out <c>dotnet test</c>, never disposed them), killing any process left inside
    /// first; returns the names it removed.
    /// </summary>
    /// <remarks>
    /// It runs on every creation, not only the first of a process: listing <c>/run/netns</c> and looking for
    /// <c>/proc/PID</c> costs no process start, and a run that is killed while this one goes on is swept too.
    /// A namespace whose PID belongs to a live process stays, whichever process that is: it may be another
    /// test run's (a developer may run two projects at once), and a reused PID only delays the sweep until that
    /// process ends. Names of the old form <c>ndt-HEX</c> carry no PID, so nothing proves their creator dead:
    /// a run of an older checkout on the same machine makes them, and they are left alone.
    /// </remarks>
    public static IReadOnlyList<string> SweepLeftovers()
    {
        lock (SweepLock)
        {
            if (!Directory.Exists(NamedNamespaces))
            {
                return [];
            }
            var swept = new List<string>();
            foreach (var name in Directory.EnumerateFiles(NamedNamespaces, Prefix + "*").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal))
            {
                if (CreatorId(name) is not { } creator || creator == Environment.ProcessId || Directory.Exists($"/proc/{creator}"))
                {
                    continue;
                }
                try
                {
                    Remove(name);
                    swept.Add(name);
                }
                catch (Exception error) when (error is InvalidOperationException or IOException or TimeoutException or Win32Exception)
                {
                    // Another run swept it at the same time, or it resists; the test that is starting does not need it gone.
                }
            }
            return swept;
        }
    }

    /// <summary>The id of the process that made the test namespace <paramref name="name"/>, or null for a name of another form.</summary>
    public static int? CreatorId(string name) =>
        OwnedName().Match(name) is { Success: true } match && int.TryParse(match.Groups["pid"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid
            : null;

    [GeneratedRegex(@"^ndt-(?<pid>[0-9]+)-[0-9a-f]+$")]
    private static partial Regex OwnedName();

    private static void Remove(string name)
    {
        // The namespace is found by its inode once its name is gone: removing the name first means no process
        // can enter it any more (ip netns exec opens it by name), so the processes left inside are exactly those
        // the scan finds afterwards — also one that entered while another run's sweep was looking at it.
        if (InodeOf(name) is not { } inode)
        {
            return;
        }
        Shell.Run("ip", "netns", "del", name);
        var deadline = Stopwatch.StartNew();
        // Again until none is left: a process killed in the middle of starting another may leave that one behind.
        for (var pids = ProcessesInNamespace(inode); pids.Count > 0; pids = ProcessesInNamespace(inode))
        {
            if (deadline.Elapsed > ExitBound)
            {
                throw new TimeoutException($"processes {string.Join(' ', pids)} of namespace {name} outlived SIGKILL for {ExitBound.TotalSeconds} s");
            }
            foreach (var pid in pids)
            {
                Kill(pid);
            }
            Thread.Sleep(20);
        }
    }

    private static void KillProcessesIn(string name)
    {
        var deadline = Stopwatch.StartNew();
        for (var pids = ProcessesIn(name); pids.Count > 0; pids = ProcessesIn(name))
        {
            if (deadline.Elapsed > ExitBound)
            {
                throw new TimeoutException($"processes {string.Join(' ', pids)} in namespace {name} outlived SIGKILL for {ExitBound.TotalSeconds} s");
            }
            foreach (var pid in pids)
            {
                Kill(pid);
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>The inode of the namespace named <paramref name="name"/> (what <c>/proc/PID/ns/net</c> links to), or null when there is none.</summary>
    private static string? InodeOf(string name)
    {
        var path = Path.Combine(NamedNamespaces, name);
        if (!File.Exists(path))
        {
            return null;
        }
        var (code, output, error) = Shell.TryRun("stat", "-L", "-c", "%i", path);
        if (code != 0)
        {
            return File.Exists(path) ? throw new InvalidOperationException($"stat {path} exited {code}: {error.Trim()}") : null;
        }
        return output.Trim();
    }

    /// <summary>The processes (other than this one) whose network namespace is the one of inode <paramref name="inode"/>.</summary>
    private static List<int> ProcessesInNamespace(string inode)
    {
        var target = $"net:[{inode}]";
        var pids = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                if (new FileInfo(Path.Combine(directory, "ns", "net")).LinkTarget == target)
                {
                    pids.Add(pid);
                }
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                // Exited while listed, or a kernel thread without a namespace link.
            }
        }
        return pids;
    }

    private static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception error) when (error is ArgumentException or InvalidOperationException or Win32Exception)
        {
            // Exited between the listing and the kill.
        }
    }

    private static List<int> ProcessesIn(string name)
    {
        if (!File.Exists(Path.Combine(NamedNamespaces, name)))
        {
            return [];
        }
        var (code, output, error) = Shell.TryRun("ip", "netns", "pids", name);
        if (code != 0)
        {
            // Deleted by someone else since the look at /run/netns: nothing named is left to hold processes.
            return File.Exists(Path.Combine(NamedNamespaces, name))
                ? throw new InvalidOperationException($"ip netns pids {name} exited {code}: {error.Trim()}")
                : [];
        }
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pid => int.Parse(pid, CultureInfo.InvariantCulture))
            .Where(pid => pid != Environment.ProcessId)];
    }
}
