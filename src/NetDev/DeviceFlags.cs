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

/// <summary>The sets of <see cref="DeviceFlags"/> that have a rule of their own, each defined once.</summary>
public static class DeviceFlagSets
{
    /// <summary>
    /// The flags that can change on a live interface, by the device's owner or by others (<c>ip link set</c>):
    /// <see cref="DeviceFlags.NoArp"/>, <see cref="DeviceFlags.Multicast"/>, <see cref="DeviceFlags.Promisc"/>
    /// and <see cref="DeviceFlags.AllMulti"/>, what the kernel's <c>dev_change_flags</c> lets user space change
    /// on a TAP. <see cref="DeviceFlags.Up"/> has its own operations; <see cref="DeviceFlags.Broadcast"/>
    /// comes with the link type.
    /// </summary>
    public const DeviceFlags Changeable = DeviceFlags.NoArp | DeviceFlags.Multicast | DeviceFlags.Promisc | DeviceFlags.AllMulti;

    /// <summary>
    /// The flags a device takes over from what its host reports: the <see cref="Changeable"/> ones and
    /// <see cref="DeviceFlags.Broadcast"/>, which no one can change on a live interface but which the
    /// device shows as the system has it.
    /// </summary>
    public const DeviceFlags Mirrored = Changeable | DeviceFlags.Broadcast;
}
