using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace NetDev.Cli.Tests;

/// <summary>
/// The built <c>netdev</c> CLI running inside a namespace, started as <c>ip netns exec NS [prefix…] dotnet
/// NetDev.Cli.dll …</c>. <c>ip netns exec</c> and <c>setpriv</c> exec their command, so the process is the
/// CLI itself and a signal sent to it reaches the CLI. Disposing kills it if it still runs.
/// </summary>
public sealed partial class CliProcess : IAsyncDisposable
{
    /// <summary>How long the CLI may take to say something or to exit; a hung CLI fails the test, not the suite.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();
    private readonly Task _stdoutPump;
    private readonly Task _stderrPump;

    private CliProcess(Process process)
    {
        _process = process;
        _stdoutPump = PumpStdoutAsync();
        _stderrPump = PumpStderrAsync();
    }

    /// <summary>The CLI's assembly, copied next to the tests by the project reference.</summary>
    public static string CliAssembly => Path.Combine(AppContext.BaseDirectory, "NetDev.Cli.dll");

    /// <summary>
    /// The <c>dotnet</c> executable that runs these tests: the runtime lives in
    /// <c>DOTNET_ROOT/shared/Microsoft.NETCore.App/VERSION/</c>.
    /// </summary>
    public static string DotnetHost
    {
        get
        {
            var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
            var host = Path.Combine(root, "dotnet");
            return File.Exists(host) ? host : "dotnet";
        }
    }

    /// <summary>Everything the CLI wrote to stderr so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>The CLI's process id (<c>ip netns exec</c> execs it, so this is the CLI's own).</summary>
    public int Id => _process.Id;

    /// <summary>
    /// Starts <c>netdev <paramref name="arguments"/></c> in <paramref name="ns"/>, behind <paramref name="prefix"/> if given,
    /// with its control sockets in <paramref name="controlDirectory"/> (<c>NETDEV_RUN_DIR</c>) if given.
    /// </summary>
    public static CliProcess Start(NetworkNamespace ns, string[] arguments, string[]? prefix = null, string? controlDirectory = null)
    {
        var start = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // Without a directory of the test's own, the sockets go to a private one, removed with the process,
        // so that a CLI the test kills leaves nothing in the machine's /run/netdev.
        string? privateDirectory = null;
        if (controlDirectory is null)
        {
            privateDirectory = Directory.CreateTempSubdirectory("netdev-cli-test-").FullName;
        }
        start.Environment["NETDEV_RUN_DIR"] = controlDirectory ?? privateDirectory!;
        string[] command = ["netns", "exec", ns.Name, .. prefix ?? [], DotnetHost, CliAssembly, .. arguments];
        foreach (var argument in command)
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the CLI");
        process.StandardInput.Close();
        return new CliProcess(process) { _privateDirectory = privateDirectory };
    }

    /// <summary>
    /// Runs a short-lived <c>netdev <paramref name="arguments"/></c> (list, stats, ethtool) where the tests run:
    /// it only reads the control sockets in <paramref name="controlDirectory"/>, whatever namespace their devices are in.
    /// </summary>
    public static Task<CommandResult> RunAsync(string controlDirectory, params string[] arguments) =>
        Shell.RunAsync(new Dictionary<string, string> { ["NETDEV_RUN_DIR"] = controlDirectory }, DotnetHost, [CliAssembly, .. arguments]);

    /// <summary>The next line on stdout; fails the test if none comes in time or the CLI ends first.</summary>
    public async Task<string> ReadLineAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            if (await _stdout.Reader.WaitToReadAsync(timeout.Token) && _stdout.Reader.TryRead(out var line))
            {
                return line;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the CLI wrote no line within {Timeout.TotalSeconds} s; stderr: {Stderr}");
        }
        await _stderrPump;
        throw new InvalidOperationException($"the CLI ended without writing another line; stderr: {Stderr}");
    }

    /// <summary>Reads <paramref name="count"/> <c>ready: IFNAME</c> lines and returns the names.</summary>
    public async Task<IReadOnlyList<string>> ReadReadyAsync(int count = 1)
    {
        var names = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var line = await ReadLineAsync();
            Assert.StartsWith("ready: ", line);
            names.Add(line["ready: ".Length..]);
        }
        return names;
    }

    /// <summary>Sends <paramref name="signal"/> to the CLI.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits for the CLI to exit; returns its exit code and the lines on stdout it had not read yet.</summary>
    public async Task<(int ExitCode, IReadOnlyList<string> RemainingStdout)> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            await Task.WhenAll(_stdoutPump, _stderrPump).WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the CLI did not exit within {Timeout.TotalSeconds} s; stderr: {Stderr}");
        }
        var rest = new List<string>();
        while (_stdout.Reader.TryRead(out var line))
        {
            rest.Add(line);
        }
        return (_process.ExitCode, rest);
    }

    /// <summary>Waits, bounded by the CLI timeout, until <paramref name="condition"/> holds; no timing is asserted.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + CliProcess.Timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"gave up waiting until {what}");
            }
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (_privateDirectory is not null && Directory.Exists(_privateDirectory))
        {
            Directory.Delete(_privateDirectory, recursive: true);
        }
    }

    private string? _privateDirectory;

    private async Task PumpStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            await _stdout.Writer.WriteAsync(line);
        }
        _stdout.Writer.Complete();
    }

    private async Task PumpStderrAsync()
    {
        while (await _process.StandardError.ReadLineAsync() is { } line)
        {
            lock (_stderr)
            {
                _stderr.AppendLine(line);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
