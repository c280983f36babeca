namespace NetDev.Control;

/// <summary>Options of a device's <see cref="ControlServer"/>.</summary>
public sealed record ControlServerOptions
{
    /// <summary>
    /// Where the endpoint's socket goes (the directory that <c>netdev list</c>, <c>stats</c> and
    /// <c>ethtool</c> read), <see cref="ControlDirectory.Default"/> by default. The directory is made
    /// mode 0700 and each socket 0600: root's alone.
    /// </summary>
    public string Directory { get; init; } = ControlDirectory.Default;

    /// <summary>
    /// Whether <see cref="ControlServer.Start"/> serves an endpoint at all (true by default): an owner can
    /// turn the control plane off in its configuration, as <c>netdev run … --no-control</c> does, without
    /// a code path of its own.
    /// </summary>
    public bool Enabled { get; init; } = true;
}
