namespace NetDev.Control;

/// <summary>
/// The directory of control sockets (<c>/run/netdev</c> by default for root, <see cref="ForCurrentUser"/> for
/// others): one socket per running device, readable by the directory's owner only (the directory is mode 0700,
/// each socket 0600).
/// </summary>
/// <remarks>
/// The directory must be a real directory of the effective user's: a symbolic link, or a directory that
/// belongs to someone else, is refused by the server (which then serves no endpoint) and by the client
/// (which then lists nothing and removes nothing), so that neither chmods, binds in or removes from a
/// place it was pointed at.
/// </remarks>
public static class ControlDirectory
{
    /// <summary>The default control directory for root.</summary>
    public const string Default = "/run/netdev";

    /// <summary>
    /// The control directory of the effective user: <see cref="Default"/> for root; for anyone else, who may
    /// not write under <c>/run</c>, <c>$XDG_RUNTIME_DIR/netdev</c> (the user's own runtime directory, which
    /// the session manager makes), or <c>netdev-UID</c> in the temporary directory when that is not set.
    /// </summary>
    /// <remarks><c>netdev list</c> run by another user looks in that user's directory, so it sees only its own
    /// devices; <c>NETDEV_RUN_DIR</c> names one directory for both sides.</remarks>
    public static string ForCurrentUser
    {
        get
        {
            if (!OperatingSystem.IsLinux())
            {
                return Default;
            }
            var user = Interop.GetEuid();
            if (user == 0)
            {
                return Default;
            }
            return Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime && Path.IsPathRooted(runtime)
                ? Path.Combine(runtime, "netdev")
                : Path.Combine(Path.GetTempPath(), $"netdev-{user}");
        }
    }

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Every control socket in <paramref name="directory"/>, by its name alone: a socket left by a dead
    /// process is among them until <see cref="ControlClient.ConnectOrRemoveStale"/> finds it so. Empty when
    /// the directory does not exist.
    /// </summary>
    /// <exception cref="IOException">The directory is refused (a symbolic link, or someone else's), or cannot be read.</exception>
    public static IReadOnlyList<ControlEndpoint> List(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        try
        {
            // Only to check it: the listing itself needs no descriptor, and nothing is changed on the way.
            DirectoryHandle.Open(directory).Dispose();
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
        return [.. Directory.EnumerateFiles(directory, "*" + ControlEndpoint.Extension)
            .Select(ControlEndpoint.FromPath)
            .OfType<ControlEndpoint>()
            .OrderBy(endpoint => endpoint.NetworkNamespace ?? "", StringComparer.Ordinal)
            .ThenBy(endpoint => endpoint.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Creates <paramref name="directory"/> if needed, opens it (refusing a symbolic link or someone else's
    /// directory) and makes it the owner's alone (0700).
    /// </summary>
    /// <exception cref="IOException">The directory is refused, or cannot be made or opened.</exception>
    internal static DirectoryHandle Prepare(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Control endpoints exist on Linux only.");
        }
        // A link to an existing directory counts as existing here, so nothing is made through it; Open refuses it.
        Directory.CreateDirectory(directory, OwnerOnly);
        var handle = DirectoryHandle.Open(directory);
        try
        {
            // An existing directory keeps its mode through CreateDirectory; sockets are no one else's business.
            handle.SetMode(OwnerOnly);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}
