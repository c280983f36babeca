using System.Diagnostics;

namespace NetDev.Cli.Tests;

/// <summary>What a finished command left: its exit code and everything it wrote.</summary>
public sealed record CommandResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Throws unless the command exited 0, with everything it said in the message.</summary>
    public CommandResult EnsureSuccess() => ExitCode == 0
        ? this
        : throw new InvalidOperationException($"'{Command}' exited {ExitCode}: {Stderr.Trim()} {Stdout.Trim()}");
}

/// <summary>Runs short-lived system commands (ip, setpriv, bash) with a bound on how long they may take.</summary>
public static class Shell
{
    /// <summary>How long any helper command may take before it is killed and the test fails.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    public static Task<CommandResult> RunAsync(string file, params string[] arguments) =>
        RunAsync(new Dictionary<string, string>(), file, arguments);

    /// <summary>Runs <paramref name="file"/> with <paramref name="environment"/> added to this process's environment.</summary>
    public static async Task<CommandResult> RunAsync(IReadOnlyDictionary<string, string> environment, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        var command = $"{file} {string.Join(' ', arguments)}";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start '{command}'");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{command}' did not finish within {CommandTimeout.TotalSeconds} s");
        }
        return new CommandResult(command, process.ExitCode, await stdout, await stderr);
    }
}
