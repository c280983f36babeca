namespace NetDev.Linux.Control;

/// <summary>
/// Names the network namespace the calling thread is in, as <c>ip netns identify</c> does: a process
/// started with <c>ip netns exec NS</c> creates its interfaces in NS without being told its name, and its
/// control endpoints must not collide with those of the same names elsewhere.
/// </summary>
internal static class NamespaceIdentity
{
    /// <summary>
    /// The name under <c>/run/netns</c> that refers to the calling thread's namespace, or
    /// <see langword="null"/> when none does: the host's own namespace, or an unnamed one (whose endpoints
    /// then share the host's names; a clash is refused when the endpoint is bound).
    /// </summary>
    public static string? OfCurrentThread()
    {
        var own = LinkTarget();
        if (own is null || !Directory.Exists(NetworkNamespace.Directory))
        {
            return null;
        }
        foreach (var path in Directory.EnumerateFiles(NetworkNamespace.Directory))
        {
            var name = Path.GetFileName(path);
            string? identity;
            try
            {
                // A namespace file opened by path reads back as its path, not as net:[inode]; a thread that
                // entered the namespace sees the inode in its own /proc entry, as this one does.
                identity = NetworkNamespace.Run(name, LinkTarget);
            }
            catch (NetDevException)
            {
                // An entry being deleted, or not a namespace: it cannot be ours.
                continue;
            }
            if (identity == own)
            {
                return name;
            }
        }
        return null;
    }

    /// <summary>The calling thread's network namespace as the kernel shows it, <c>net:[inode]</c>, or null if unreadable.</summary>
    private static string? LinkTarget()
    {
        try
        {
            return new FileInfo("/proc/thread-self/ns/net").LinkTarget;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
