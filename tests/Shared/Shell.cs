// Shared by the test projects that run system commands (ip, sysctl) around the kernel tests; linked into each.
global using NetDev.TestSupport;

using System.Diagnostics;

namespace NetDev.TestSupport;

/// <summary>Runs short-lived system commands with a bound on how long they may take.</summary>
public static class Shell
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs the command and returns what it wrote; throws with everything it said unless it exited 0.</summary>
    public static string Run(string file, string arguments)
    {
        var (code, output, error) = TryRun(file, arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} exited {code}: {error.Trim()} {output.Trim()}");
        }
        return output;
    }

    /// <summary>Runs the command and returns its exit code and output, whatever the code.</summary>
    public static (int Code, string Output, string Error) TryRun(string file, string arguments)
    {
        return Wait(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }, $"{file} {arguments}");
    }

    /// <summary>Runs the command with each argument passed as it is (no splitting, no quoting); throws unless it exited 0.</summary>
    public static string Run(string file, params string[] arguments)
    {
        var (code, output, error) = TryRun(file, arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {code}: {error.Trim()} {output.Trim()}");
        }
        return output;
    }

    /// <summary>Runs the command with each argument passed as it is; returns its exit code and output, whatever the code.</summary>
    public static (int Code, string Output, string Error) TryRun(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return Wait(start, $"{file} {string.Join(' ', arguments)}");
    }

    private static (int Code, string Output, string Error) Wait(ProcessStartInfo start, string command)
    {
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(CommandTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} did not finish in {CommandTimeout.TotalSeconds} s");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
