namespace NetDev;

/// <summary>
/// Interface flags, with the values of the kernel's <c>IFF_*</c> constants (<c>include/uapi/linux/if.h</c>).
/// </summary>
[Flags]
public enum DeviceFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>Administratively up (<c>IFF_UP</c>).</summary>
    Up = 0x1,
    /// <summary>Has a valid broadcast address (<c>IFF_BROADCAST</c>).</summary>
    Broadcast = 0x2,
    /// <summary>Operationally running (<c>IFF_RUNNING</c>); read-only.</summary>
    Running = 0x40,
    /// <summary>No ARP: neighbours are not resolved (<c>IFF_NOARP</c>).</summary>
    NoArp = 0x80,
    /// <summary>Receives all frames (<c>IFF_PROMISC</c>).</summary>
    Promisc = 0x100,
    /// <summary>Receives all multicast frames (<c>IFF_ALLMULTI</c>).</summary>
    AllMulti = 0x200,
    /// <summary>Supports multicast (<c>IFF_MULTICAST</c>).</summary>
    Multicast = 0x1000,
}
