using Microsoft.Extensions.Logging;
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
    /// How each queue's thread reads the frames the system transmits: <see cref="IoMode.Auto"/> by default.
    /// </summary>
    public IoMode IoMode { get; init; } = IoMode.Auto;

    /// <summary>
    /// Whether a batch of received frames (<see cref="NetDevice.NetifReceiveBatch(ReadOnlySpan{SkBuff}, int)"/>) is written to the TAP
    /// with one <c>io_uring_enter</c> for up to 64 frames rather than one <c>write</c> each (true by
    /// default). Each frame is still its own write with its own outcome, in order. Where io_uring or its
    /// non-blocking TAP writes are unavailable, frames are written one by one either way.
    /// </summary>
    public bool BatchedWrites { get; init; } = true;

    /// <summary>
    /// Whether a device attaches to an existing persistent TAP of its name (see <see cref="PersistentTap"/>)
    /// instead of creating an interface (false by default: creation is exclusive, and a name in use is
    /// refused). Attaching needs no privilege when the TAP is the caller's: the interface's MTU, address,
    /// flags and up/down state stay as the system has them where changing them needs CAP_NET_ADMIN, which
    /// <see cref="Logger"/> hears once in one sentence, and the device takes the system's values. When the
    /// device goes, the TAP stays.
    /// </summary>
    public bool Attach { get; init; }

    /// <summary>Where the host says what it could not do for an attached device (<see cref="Attach"/>); nowhere when null.</summary>
    public ILogger? Logger { get; init; }
}

/// <summary>How a queue's thread of the <see cref="LinuxHost"/> reads frames from its TAP queue.</summary>
public enum IoMode
{
    /// <summary>
    /// The faster way this machine offers, as measured for this release (see <see cref="IoUring"/>); the
    /// environment variable <c>NETDEV_IO_MODE</c> (<c>poll</c> or <c>io_uring</c>) forces one for a run.
    /// Falls back to <see cref="Poll"/> when io_uring is not available.
    /// </summary>
    Auto,

    /// <summary><c>poll</c> on the TAP and wake descriptors, then one <c>read</c> (or <c>readv</c>) per frame.</summary>
    Poll,

    /// <summary>
    /// io_uring: many reads wait in the kernel at once, each into its own pooled buffer, and one
    /// <c>io_uring_enter</c> re-arms them and collects the frames. Creating the device fails when the kernel
    /// refuses io_uring (ENOSYS, or EPERM while <c>kernel.io_uring_disabled</c> is set).
    /// </summary>
    IoUring,
}

/// <summary>Turns <see cref="IoMode.Auto"/> into a concrete choice.</summary>
internal static class IoModes
{
    /// <summary>The environment variable that forces the mode <see cref="IoMode.Auto"/> stands for.</summary>
    internal const string EnvironmentVariable = "NETDEV_IO_MODE";

    /// <summary>What <see cref="IoMode.Auto"/> means when nothing forces it: the mode that measured faster.</summary>
    internal const IoMode AutoDefault = IoMode.Poll;

    /// <summary>
    /// The mode to use: <paramref name="requested"/> unless it is <see cref="IoMode.Auto"/>, which becomes
    /// what <c>NETDEV_IO_MODE</c> says, else <see cref="AutoDefault"/> (still <see cref="IoMode.Auto"/> when
    /// that is io_uring, so a missing io_uring falls back to polling).
    /// </summary>
    internal static IoMode Resolve(IoMode requested)
    {
        if (requested != IoMode.Auto)
        {
            return requested;
        }
        return Environment.GetEnvironmentVariable(EnvironmentVariable)?.Trim().ToLowerInvariant() switch
        {
            "poll" => IoMode.Poll,
            "io_uring" or "iouring" or "uring" => IoMode.IoUring,
            null or "" or "auto" => AutoDefault == IoMode.IoUring ? IoMode.Auto : IoMode.Poll,
            var other => throw new NetDevException(Errno.EINVAL, EnvironmentVariable, null,
                $"'{other}' is not an I/O mode; use poll or io_uring"),
        };
    }
}

/// <summary>
/// The Linux host: every device is a TAP interface made through <c>/dev/net/tun</c>
/// (IFF_TAP | IFF_NO_PI, IFF_MULTI_QUEUE with one descriptor per queue), configured over rtnetlink,
/// with one dedicated thread per queue and one that hears link changes. Needs root or CAP_NET_ADMIN, except
/// to attach to a persistent TAP of the caller's (<see cref="LinuxHostOptions.Attach"/>).
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
    public string Name => (Options.NetworkNamespace is { } ns ? $"linux (netns {ns})" : "linux") + (Options.Attach ? ", attached" : "");

    /// <inheritdoc/>
    public IHostLink CreateLink(LinkRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return TapLink.Create(Options, request);
    }
}
