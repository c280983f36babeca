using System.Globalization;

namespace NetDev.Bench;

/// <summary>
/// CPU time spent by threads, from <c>/proc/PID/task/TID/schedstat</c> (nanoseconds on a CPU, user and
/// kernel together). Divided by frames it gives the cost of a frame on each side, a steadier figure than
/// frames/s on a machine where other work competes for the cores.
/// </summary>
internal static class CpuTime
{
    /// <summary>Nanoseconds spent by every thread of process <paramref name="pid"/>.</summary>
    public static long OfProcess(int pid) => Sum(pid, _ => true);

    /// <summary>Nanoseconds spent by this process's threads whose name starts with <paramref name="prefix"/>.</summary>
    public static long OfOwnThreads(string prefix) => Sum(Environment.ProcessId, name => name.StartsWith(prefix, StringComparison.Ordinal));

    private static long Sum(int pid, Func<string, bool> include)
    {
        long total = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (include(File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n')))
                {
                    var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                    total += long.Parse(fields[0], CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // The thread ended meanwhile; what it spent is gone with it, as it is on both sides.
            }
        }
        return total;
    }
}
