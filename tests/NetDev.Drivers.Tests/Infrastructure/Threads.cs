namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>This process's threads as the kernel sees them (<c>/proc/self/task</c>), by their OS names.</summary>
public static class Threads
{
    /// <summary>The kernel's states (R, S, D, …) of this process's threads whose name is <paramref name="name"/> (cut to 15 bytes, as the kernel keeps it).</summary>
    public static IReadOnlyList<char> StatesOf(string name)
    {
        var comm = name.Length > 15 ? name[..15] : name;
        var states = new List<char>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') != comm)
                {
                    continue;
                }
                // stat is "tid (comm) S …"; the state follows the last ')'.
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                states.Add(stat[(stat.LastIndexOf(')') + 2)..][0]);
            }
            catch (IOException)
            {
                // The thread ended while being looked at.
            }
        }
        return states;
    }
}
