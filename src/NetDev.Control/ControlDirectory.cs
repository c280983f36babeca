namespace NetDev.Control;

/// <summary>
/// The directory of control sockets (<c>/run/netdev</c> by default): one socket per running device,
/// readable by root only (the directory is mode 0700, each socket 0600).
/// </summary>
public static class ControlDirectory
{
    /// <summary>The default control directory.</summary>
    public const string Default = "/run/netdev";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Every control socket in <paramref name="directory"/>, by its name alone: a socket left by a dead
    /// process is among them until <see cref="ControlClient.ConnectOrRemoveStale"/> finds it so. Empty when
    /// the directory does not exist.
    /// </summary>
    public static IReadOnlyList<ControlEndpoint> List(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
        {
            return [];
        }
        return [.. Directory.EnumerateFiles(directory, "*" + ControlEndpoint.Extension)
            .Select(ControlEndpoint.FromPath)
            .OfType<ControlEndpoint>()
            .OrderBy(endpoint => endpoint.NetworkNamespace ?? "", StringComparer.Ordinal)
            .ThenBy(endpoint => endpoint.Name, StringComparer.Ordinal)];
    }

    /// <summary>Creates <paramref name="directory"/> if needed and makes it the owner's alone (0700).</summary>
    internal static void Prepare(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Control endpoints exist on Linux only.");
        }
        Directory.CreateDirectory(directory, OwnerOnly);
        // An existing directory keeps its mode through CreateDirectory; sockets are no one else's business.
        if (File.GetUnixFileMode(directory) != OwnerOnly)
        {
            File.SetUnixFileMode(directory, OwnerOnly);
        }
    }
}
