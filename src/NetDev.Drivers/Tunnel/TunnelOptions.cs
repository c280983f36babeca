namespace NetDev.Drivers.Tunnel;

/// <summary>What a tunnel does beyond carrying frames to its peers: the key, and its forwarding database.</summary>
/// <remarks>Immutable once given to a driver (init-only properties).</remarks>
public sealed class TunnelOptions
{
    /// <summary>
    /// The static key shared by every instance of the overlay; with it every datagram is authenticated and
    /// encrypted (<see cref="KeyedFormat"/>) and anything that does not authenticate is dropped. Without it
    /// (null, the default) the tunnel is unauthenticated, like VXLAN: for trusted networks only.
    /// </summary>
    public TunnelKey? Key { get; init; }

    /// <summary>How many MAC addresses the forwarding database holds (with more than one peer).</summary>
    public int FdbCapacity { get; init; } = TunnelFdb.DefaultCapacity;

    /// <summary>How long a learned MAC address stays without a frame from it; a bridge's 300 s by default.</summary>
    public TimeSpan FdbAgeing { get; init; } = TunnelFdb.DefaultAgeing;

    /// <summary>The clock of the forwarding database and of the new-session limit; the system's when null.</summary>
    public TimeProvider? Time { get; init; }
}
