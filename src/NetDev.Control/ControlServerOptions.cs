namespace NetDev.Control;

/// <summary>Options of a device's <see cref="ControlServer"/>.</summary>
public sealed record ControlServerOptions
{
    /// <summary>
    /// Where the endpoint's socket goes (the directory that <c>netdev list</c>, <c>stats</c> and
    /// <c>ethtool</c> read), <see cref="ControlDirectory.ForCurrentUser"/> by default (<c>/run/netdev</c> for
    /// root). The directory is made mode 0700 and each socket 0600: its owner's alone.
    /// </summary>
    public string Directory { get; init; } = ControlDirectory.ForCurrentUser;

    /// <summary>
    /// Whether <see cref="ControlServer.Start"/> serves an endpoint at all (true by default): an owner can
    /// turn the control plane off in its configuration, as <c>netdev run … --no-control</c> does, without
    /// a code path of its own.
    /// </summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// How long a client may take to send a whole request line (10 s by default): one that sends nothing,
    /// or a byte now and then, is closed then, so clients that do nothing cannot hold the endpoint's places.
    /// </summary>
    public TimeSpan IdleTimeout
    {
        get;
        init => field = Positive(value);
    } = TimeSpan.FromSeconds(10);

    /// <summary>How long a client may take to read an answer (5 s by default) before it is closed.</summary>
    public TimeSpan WriteTimeout
    {
        get;
        init => field = Positive(value);
    } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long binding the endpoint, or removing it at teardown, waits for another process that holds the
    /// control directory's lock (30 s by default). A NetDev process holds it for a few system calls; one that
    /// holds it longer is stopped or stuck. Past a second the wait is logged as a warning; past this timeout
    /// binding fails (the device runs without its endpoint, as when the directory is refused) and the teardown
    /// goes on without removing the socket file, which the next server of that name takes over.
    /// </summary>
    public TimeSpan LockTimeout
    {
        get;
        init => field = Positive(value);
    } = DirectoryHandle.DefaultLockTimeout;

    private static TimeSpan Positive(TimeSpan value, [System.Runtime.CompilerServices.CallerMemberName] string name = "") =>
        value > TimeSpan.Zero && value.TotalMilliseconds <= int.MaxValue
            ? value
            : throw new ArgumentOutOfRangeException(name, value, "a timeout is positive and at most 24 days");
}
