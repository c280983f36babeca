using System.Text;

namespace NetDev.Control;

/// <summary>
/// Names the network namespace the calling thread is in, as <c>ip netns identify</c> does: a process
/// started with <c>ip netns exec NS</c> creates its interfaces in NS without being told its name, and its
/// control endpoints must not collide with those of the same names elsewhere.
/// </summary>
/// <remarks>
/// A named namespace is an nsfs bind mount at <c>/run/netns/NAME</c> (what <c>ip netns add</c> makes), and
/// the mount table shows each such mount's root as <c>net:[inode]</c> — the same text the calling thread's
/// <c>/proc/thread-self/ns/net</c> link reads. Comparing the two needs neither a system call of its own nor
/// entering any namespace, so it needs no privilege and starts no thread.
/// </remarks>
internal static class NamespaceIdentity
{
    /// <summary>Where named network namespaces are bind-mounted.</summary>
    internal const string NamedNamespaces = "/run/netns";

    private const string MountTable = "/proc/thread-self/mountinfo";
    private const string OwnNamespace = "/proc/thread-self/ns/net";

    /// <summary>
    /// The name under <c>/run/netns</c> that refers to the calling thread's namespace, or
    /// <see langword="null"/> when none does: the host's own namespace, or an unnamed one (whose endpoints
    /// then share the host's names; a clash is refused when the endpoint is bound). When several names
    /// refer to it, the first in ordinal order.
    /// </summary>
    public static string? OfCurrentThread()
    {
        try
        {
            return new FileInfo(OwnNamespace).LinkTarget is { } own ? Find(File.ReadLines(MountTable), own) : null;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The name of the namespace <paramref name="identity"/> (<c>net:[inode]</c>) among the nsfs mounts
    /// directly under <c>/run/netns</c> that <paramref name="mountTable"/> (lines of
    /// <c>/proc/PID/mountinfo</c>) lists, or null.
    /// </summary>
    internal static string? Find(IEnumerable<string> mountTable, string identity)
    {
        string? found = null;
        foreach (var line in mountTable)
        {
            // ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTIONS
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || separator < 0 || separator + 1 >= fields.Length || fields[separator + 1] != "nsfs" || fields[3] != identity)
            {
                continue;
            }
            var mountPoint = Unescape(fields[4]);
            if (Path.GetDirectoryName(mountPoint) == NamedNamespaces && Path.GetFileName(mountPoint) is { Length: > 0 } name
                && (found is null || string.CompareOrdinal(name, found) < 0))
            {
                found = name;
            }
        }
        return found;
    }

    /// <summary>A mount table path as written: space, tab, newline and backslash are octal escapes (<c>\040</c>).</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\'))
        {
            return field;
        }
        var result = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                result.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                result.Append(field[i]);
            }
        }
        return result.ToString();
    }

    private static bool IsOctal(string field, int start) =>
        start + 3 <= field.Length && field.AsSpan(start, 3).IndexOfAnyExceptInRange('0', '7') < 0;
}
