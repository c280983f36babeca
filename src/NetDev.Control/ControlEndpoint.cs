using System.Text;

namespace NetDev.Control;

/// <summary>
/// Where a running device answers control requests: a Unix socket in the control directory named after
/// the interface and its network namespace, <c>IFNAME.sock</c> in the host's own namespace and
/// <c>IFNAME@NETNS.sock</c> elsewhere, so devices of the same name in different namespaces never collide.
/// </summary>
/// <remarks>
/// In a file name <c>%</c> and <c>@</c> inside a name are written <c>%25</c> and <c>%40</c>, so the one
/// unescaped <c>@</c> always separates the interface from the namespace (interface names may contain
/// <c>@</c> too).
/// </remarks>
/// <param name="Name">The interface name.</param>
/// <param name="NetworkNamespace">The network namespace's name, or <see langword="null"/> for the host's own.</param>
/// <param name="Path">The socket's path.</param>
public sealed record ControlEndpoint(string Name, string? NetworkNamespace, string Path)
{
    /// <summary>The file name extension of every control socket.</summary>
    public const string Extension = ".sock";

    /// <summary>How the CLI names the device: <c>NAME</c> in the host's own namespace, <c>NAME@NETNS</c> elsewhere.</summary>
    public string DisplayName => NetworkNamespace is null ? Name : $"{Name}@{NetworkNamespace}";

    /// <summary>The endpoint of interface <paramref name="name"/> in <paramref name="networkNamespace"/> under <paramref name="directory"/>.</summary>
    public static ControlEndpoint For(string directory, string name, string? networkNamespace)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var fileName = Escape(name) + (networkNamespace is null ? "" : "@" + Escape(networkNamespace)) + Extension;
        return new ControlEndpoint(name, networkNamespace, System.IO.Path.Combine(directory, fileName));
    }

    /// <summary>The endpoint a socket path names, or <see langword="null"/> if the file name is not one of a control socket.</summary>
    public static ControlEndpoint? FromPath(string path)
    {
        var fileName = System.IO.Path.GetFileName(path);
        if (!fileName.EndsWith(Extension, StringComparison.Ordinal))
        {
            return null;
        }
        var stem = fileName[..^Extension.Length];
        var separator = stem.IndexOf('@');
        var name = Unescape(separator < 0 ? stem : stem[..separator]);
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }
        if (separator < 0)
        {
            return new ControlEndpoint(name, null, path);
        }
        var networkNamespace = Unescape(stem[(separator + 1)..]);
        return string.IsNullOrEmpty(networkNamespace) ? null : new ControlEndpoint(name, networkNamespace, path);
    }

    /// <summary>Whether <paramref name="device"/>, as a user writes it (<c>NAME</c> or <c>NAME@NETNS</c>), names this endpoint.</summary>
    public bool Matches(string device) => device == Name || device == DisplayName;

    private static string Escape(string part) => part.Replace("%", "%25", StringComparison.Ordinal).Replace("@", "%40", StringComparison.Ordinal);

    private static string? Unescape(string part)
    {
        var result = new StringBuilder(part.Length);
        for (var i = 0; i < part.Length; i++)
        {
            if (part[i] != '%')
            {
                result.Append(part[i]);
            }
            else if (part.AsSpan(i).StartsWith("%25"))
            {
                result.Append('%');
                i += 2;
            }
            else if (part.AsSpan(i).StartsWith("%40"))
            {
                result.Append('@');
                i += 2;
            }
            else
            {
                // Not written by Escape: some other file.
                return null;
            }
        }
        return result.ToString();
    }
}
