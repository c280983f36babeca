using System.Diagnostics;
using System.Text;

namespace NetDev.Bench;

/// <summary>
/// A program the bench started and keeps running (a baseline, a traffic generator, an iperf3 server):
/// its standard error is kept for the failure message, its standard output read line by line on request.
/// </summary>
/// <remarks><b>Invariants.</b> The process is started by <see cref="Sandbox"/>, which kills it at the end
/// if nobody stopped it earlier; <see cref="Stop"/> may be called any number of times.</remarks>
internal sealed class ChildProcess
{
    private readonly Process _process;
    private readonly StringBuilder _errors = new();
    private bool _stopped;

    private ChildProcess(Process process, string what)
    {
        _process = process;
        What = what;
    }

    /// <summary>What the process is, for messages.</summary>
    public string What { get; }

    public int Id => _process.Id;

    public bool HasExited => _stopped || _process.HasExited;

    /// <summary>The exit code, once <see cref="HasExited"/> (before <see cref="Stop"/>).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <paramref name="file"/>; call from a thread that lives until the end (baselines die with the thread that started them).</summary>
    public static ChildProcess Start(string file, IEnumerable<string> arguments, string what, bool writableInput = false)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = writableInput,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var child = new ChildProcess(process, what);
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is { } text)
            {
                lock (child._errors)
                {
                    child._errors.AppendLine(text);
                }
            }
        };
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>What the process wrote on standard error so far.</summary>
    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString().Trim();
            }
        }
    }

    /// <summary>Waits for the line <paramref name="expected"/> on standard output (the baselines say "ready").</summary>
    public void WaitForLine(string expected, TimeSpan timeout, CancellationToken cancellation)
    {
        var reading = _process.StandardOutput.ReadLineAsync(cancellation).AsTask();
        try
        {
            if (!reading.Wait(timeout, cancellation))
            {
                throw new BenchException($"{What} did not say '{expected}' within {timeout.TotalSeconds:0} s. {Errors}");
            }
        }
        catch (AggregateException error) when (error.InnerException is OperationCanceledException)
        {
            throw error.InnerException;
        }
        var line = reading.Result;
        if (line != expected)
        {
            _process.WaitForExit(1000);
            throw new BenchException($"{What} failed to start: {(line is null ? "it ended" : $"it said '{line}'")}. {Errors}".Trim());
        }
    }

    /// <summary>Writes one line to the process's standard input.</summary>
    public void WriteLine(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits for the process to end and returns its standard output; throws if it failed.</summary>
    public string WaitForOutput(TimeSpan timeout, CancellationToken cancellation)
    {
        var output = _process.StandardOutput.ReadToEndAsync(cancellation);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(timeout);
        try
        {
            _process.WaitForExitAsync(limit.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new BenchException($"{What} did not end within {timeout.TotalSeconds:0} s.");
        }
        var text = output.GetAwaiter().GetResult();
        _process.WaitForExit(); // lets the standard error reader finish
        if (_process.ExitCode != 0)
        {
            throw new BenchException($"{What} failed (exit code {_process.ExitCode}): {Errors}");
        }
        return text;
    }

    /// <summary>The process's peak resident set size (VmHWM) in KiB, or null once it has ended.</summary>
    public long? PeakResidentKiB() => ProcStatus.ReadKiB($"/proc/{_process.Id}/status", "VmHWM:");

    /// <summary>
    /// Kills the process (and anything it started), waits for it and closes its pipes (a soak starts
    /// hundreds of processes, whose pipes must not wait for a finalizer); harmless once it has ended.
    /// </summary>
    public void Stop()
    {
        if (_stopped)
        {
            return;
        }
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // It ended between the check and the kill.
        }
        _stopped = true;
        // Process.Dispose closes only the streams nobody was handed; standard output was, by the waits here.
        _process.StandardOutput.Dispose();
        if (_process.StartInfo.RedirectStandardInput)
        {
            _process.StandardInput.Dispose();
        }
        _process.Dispose();
    }
}

/// <summary>Reads fields of <c>/proc/*/status</c>.</summary>
internal static class ProcStatus
{
    public static long? ReadKiB(string path, string field)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // The process ended.
        }
        return null;
    }
}

/// <summary>A failure of the bench itself (a tool missing, a baseline that did not start), told to the user as it is.</summary>
internal sealed class BenchException(string message, Exception? inner = null) : Exception(message, inner);
