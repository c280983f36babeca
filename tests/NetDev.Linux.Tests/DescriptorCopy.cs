using System.Runtime.InteropServices;

namespace NetDev.Linux.Tests;

/// <summary>
/// A second descriptor for a TAP queue this process has open (<c>dup</c>): it stands in for the copies a child
/// forked by another thread holds until it calls exec.
/// </summary>
internal static partial class DescriptorCopy
{
    /// <summary>A copy of one of this process's descriptors attached to TAP <paramref name="name"/> (the kernel's fdinfo names it).</summary>
    public static int OfTap(string name)
    {
        foreach (var info in Directory.EnumerateFiles("/proc/self/fdinfo"))
        {
            string text;
            try
            {
                text = File.ReadAllText(info);
            }
            catch (IOException)
            {
                continue;
            }
            if (text.Contains($"iff:\t{name}\n", StringComparison.Ordinal))
            {
                var copy = Dup(int.Parse(Path.GetFileName(info)));
                Assert.True(copy >= 0, $"dup failed: errno {Marshal.GetLastPInvokeError()}");
                return copy;
            }
        }
        throw new Xunit.Sdk.XunitException($"no descriptor of this process is attached to {name}");
    }

    /// <summary>Closes a copy made by <see cref="OfTap"/>; nothing for −1.</summary>
    public static void Close(int copy)
    {
        if (copy >= 0)
        {
            CloseDescriptor(copy);
        }
    }

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseDescriptor(int fd);
}
