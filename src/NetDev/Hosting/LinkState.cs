namespace NetDev.Hosting;

/// <summary>What a host knows of an interface's state in the system, as an rtnetlink RTM_NEWLINK says it.</summary>
/// <param name="AdminUp">Administratively up (<c>IFF_UP</c>).</param>
/// <param name="Mtu">The MTU.</param>
/// <param name="MacAddress">The Ethernet address.</param>
/// <param name="Flags">The interface flags (<c>IFF_*</c>), including up.</param>
/// <param name="Carrier">Whether the carrier is on.</param>
/// <param name="TxQueueLength">The transmit queue length.</param>
public sealed record LinkState(bool AdminUp, int Mtu, MacAddress MacAddress, DeviceFlags Flags, bool Carrier, int TxQueueLength)
{
    /// <summary>
    /// The interface's name (<c>IFLA_IFNAME</c>), when the host reports it; <see langword="null"/> when it
    /// does not, and the device keeps the name it has. A different name means someone renamed the
    /// interface (<c>ip link set dev OLD name NEW</c>), and the device takes it.
    /// </summary>
    public string? Name { get; init; }
}

/// <summary>A change to make to an interface; <see langword="null"/> members stay as they are.</summary>
public sealed record LinkConfiguration
{
    /// <summary>A new MTU.</summary>
    public int? Mtu { get; init; }

    /// <summary>A new Ethernet address.</summary>
    public MacAddress? MacAddress { get; init; }

    /// <summary>New values for the flags in <see cref="FlagMask"/>.</summary>
    public DeviceFlags Flags { get; init; }

    /// <summary>Which flags to change (<c>ifi_change</c>); none when <see cref="DeviceFlags.None"/>.</summary>
    public DeviceFlags FlagMask { get; init; }

    /// <summary>A new transmit queue length.</summary>
    public int? TxQueueLength { get; init; }

    /// <summary>A new interface alias (<c>IFLA_IFALIAS</c>).</summary>
    public string? Alias { get; init; }

    /// <summary>Carrier on or off (<c>netif_carrier_on/off</c>).</summary>
    public bool? Carrier { get; init; }
}
