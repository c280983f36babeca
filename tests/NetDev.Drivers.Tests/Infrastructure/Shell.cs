using System.Diagnostics;

namespace NetDev.Drivers.Tests.Infrastructure;

public static class Shell
{
    public static string Run(string file, string arguments)
    {
        var (code, output, error) = TryRun(file, arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} exited {code}: {error.Trim()} {output.Trim()}");
        }
        return output;
    }

    public static (int Code, string Output, string Error) TryRun(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments} did not finish in 60 s");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}

public static class Wait
{
    /// <summary>Waits until <paramref name="condition"/> holds; fails the test if it never does within a generous bound.</summary>
    public static void Until(Func<bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Gave up waiting for: {what}");
            }
            Thread.Sleep(20);
        }
    }
}
