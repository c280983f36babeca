using NetDev.Hosting;
using NetDev.Linux.Tap;

namespace NetDev.Linux;

/// <summary>Options of the <see cref="LinuxHost"/>.</summary>
public sealed record LinuxHostOptions
{
    /// <summary>
    /// The named network namespace (as under <c>/run/netns</c>, what <c>ip netns add</c> makes) to create
    /// interfaces in; <see langword="null"/> for the namespace of the calling process.
    /// </summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>
    /// The receive buffer of the socket that hears link changes (SO_RCVBUF), 1 MiB by default. When
    /// it overflows the host reads the interface's state afresh, so no change is missed; tests make it
    /// tiny to prove that.
    /// </summary>
    public int NotificationBufferBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Where each device serves its control endpoint (a Unix socket that <c>netdev list</c>, <c>stats</c>
    /// and <c>ethtool</c> talk to), <see cref="Control.ControlDirectory.Default"/> by default. The directory
    /// is made mode 0700 and each socket 0600: root's alone.
    /// </summary>
    public string ControlDirectory { get; init; } = Control.ControlDirectory.Default;

    /// <summary>Whether each device serves a control endpoint (true by default).</summary>
    public bool ServeControlEndpoint { get; init; } = true;
}

/// <summary>
/// The Linux host: every device is a TAP interface made through <c>/dev/net/tun</c>
/// (IFF_TAP | IFF_NO_PI, IFF_MULTI_QUEUE with one descriptor per queue), configured over rtnetlink,
/// with one dedicated thread per queue and one that hears link changes. Needs root or CAP_NET_ADMIN.
/// </summary>
/// <example>
/// <code>
/// using var registration = new Registration&lt;MyDriver&gt;(new LinuxHost(), 1, 1, new MyDriver());
/// registration.Register();
/// registration.Device.BringUp();
/// </code>
/// </example>
public sealed class LinuxHost : INetDeviceHost
{
    /// <summary>Creates a host with <paramref name="options"/> (defaults when omitted).</summary>
    public LinuxHost(LinuxHostOptions? options = null) => Options = options ?? new LinuxHostOptions();

    /// <summary>The host's options.</summary>
    public LinuxHostOptions Options { get; }

    /// <inheritdoc/>
    public string Name => Options.NetworkNamespace is { } ns ? $"linux (netns {ns})" : "linux";

    /// <inheritdoc/>
    public IHostLink CreateLink(LinkRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return TapLink.Create(Options, request);
    }
}
