using System.Diagnostics.CodeAnalysis;
namespace NetDev;

/// <summary>
/// Optional ethtool operations of a driver (the kernel's <c>struct ethtool_ops</c>; the seed series'
/// <c>get_ts_info</c>). The kernel answers real <c>ethtool</c> for a TAP itself, so NetDev serves these
/// through its control plane (<c>netdev ethtool</c>). Every member has a sensible default.
/// </summary>
/// <typeparam name="TSelf">The driver class.</typeparam>
public interface IEthtoolOperations<[DynamicallyAccessedMembers(DriverReflection.Members)] TSelf> where TSelf : class, IDeviceOperations<TSelf>
{
    /// <summary>Driver name, version and bus (<c>get_drvinfo</c>, <c>ethtool -i</c>).</summary>
    DriverInfo GetDriverInfo(NetDevice<TSelf> device) => DriverInfo.For(device);

    /// <summary>Timestamping capabilities (<c>get_ts_info</c>, <c>ethtool -T</c>).</summary>
    TimestampingInfo GetTsInfo(NetDevice<TSelf> device) => TimestampingInfo.Software;

    /// <summary>Link speed, duplex and autonegotiation (<c>get_link_ksettings</c>, <c>ethtool IFNAME</c>).</summary>
    LinkSettings GetLinkSettings(NetDevice<TSelf> device) => LinkSettings.Unknown;

    /// <summary>Ring sizes (<c>get_ringparam</c>, <c>ethtool -g</c>).</summary>
    RingParameters GetRingParameters(NetDevice<TSelf> device) => RingParameters.For(device);

    /// <summary>The driver's own named counters (<c>get_ethtool_stats</c>, <c>ethtool -S</c>), appended to the framework's.</summary>
    IEnumerable<KeyValuePair<string, long>> GetStatistics(NetDevice<TSelf> device) => [];
}

/// <summary>What <c>ethtool -i</c> shows.</summary>
/// <param name="Driver">The driver's name.</param>
/// <param name="Version">The driver's version.</param>
/// <param name="FirmwareVersion">Firmware version, if any.</param>
/// <param name="BusInfo">Where the device sits; for a NetDev device, the process serving it.</param>
public sealed record DriverInfo(string Driver, string Version, string FirmwareVersion, string BusInfo)
{
    /// <summary>The default: the device's driver name, NetDev's version, and the serving process as bus.</summary>
    public static DriverInfo For(NetDevice device) =>
        new(device.DriverName, typeof(NetDevice).Assembly.GetName().Version?.ToString(3) ?? "0.0.0", "N/A", $"netdev:pid{Environment.ProcessId}");
}

/// <summary>Timestamping capabilities, as <c>struct ethtool_ts_info</c> (<c>SOF_TIMESTAMPING_*</c>).</summary>
/// <param name="Capabilities">Which timestamps the device gives.</param>
/// <param name="PhcIndex">The PTP hardware clock, or -1 for none.</param>
public sealed record TimestampingInfo(TimestampingCapabilities Capabilities, int PhcIndex)
{
    /// <summary>Software transmit and receive timestamps, no hardware clock (what <c>skb_tx_timestamp</c> gives).</summary>
    public static TimestampingInfo Software { get; } = new(
        TimestampingCapabilities.SoftwareTransmit | TimestampingCapabilities.SoftwareReceive | TimestampingCapabilities.Software, -1);
}

/// <summary>Timestamping capability bits, with the values of the kernel's <c>SOF_TIMESTAMPING_*</c>.</summary>
[Flags]
public enum TimestampingCapabilities
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary><c>SOF_TIMESTAMPING_TX_HARDWARE</c>.</summary>
    HardwareTransmit = 1 << 0,
    /// <summary><c>SOF_TIMESTAMPING_TX_SOFTWARE</c>.</summary>
    SoftwareTransmit = 1 << 1,
    /// <summary><c>SOF_TIMESTAMPING_RX_HARDWARE</c>.</summary>
    HardwareReceive = 1 << 2,
    /// <summary><c>SOF_TIMESTAMPING_RX_SOFTWARE</c>.</summary>
    SoftwareReceive = 1 << 3,
    /// <summary><c>SOF_TIMESTAMPING_SOFTWARE</c>.</summary>
    Software = 1 << 4,
    /// <summary><c>SOF_TIMESTAMPING_RAW_HARDWARE</c>.</summary>
    RawHardware = 1 << 6,
}

/// <summary>Duplex mode.</summary>
public enum Duplex
{
    /// <summary>Unknown.</summary>
    Unknown,
    /// <summary>Half duplex.</summary>
    Half,
    /// <summary>Full duplex.</summary>
    Full,
}

/// <summary>Link settings as <c>ethtool IFNAME</c> shows them.</summary>
/// <param name="SpeedMbps">Speed in Mb/s, or null when unknown.</param>
/// <param name="Duplex">Duplex mode.</param>
/// <param name="Autonegotiation">Whether autonegotiation is on.</param>
/// <param name="Port">The port type, such as "Other" or "Twisted Pair".</param>
public sealed record LinkSettings(int? SpeedMbps, Duplex Duplex, bool Autonegotiation, string Port)
{
    /// <summary>What a virtual device says: speed and duplex unknown, no autonegotiation.</summary>
    public static LinkSettings Unknown { get; } = new(null, Duplex.Unknown, false, "Other");
}

/// <summary>Ring sizes as <c>ethtool -g</c> shows them.</summary>
/// <param name="RxMax">Largest receive ring.</param>
/// <param name="TxMax">Largest transmit ring.</param>
/// <param name="Rx">Current receive ring.</param>
/// <param name="Tx">Current transmit ring.</param>
public sealed record RingParameters(int RxMax, int TxMax, int Rx, int Tx)
{
    /// <summary>The default: the transmit ring is the system's queue (txqueuelen) in front of each queue.</summary>
    public static RingParameters For(NetDevice device) => new(device.TxQueueLength, device.TxQueueLength, device.TxQueueLength, device.TxQueueLength);
}
