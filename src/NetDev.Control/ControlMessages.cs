using System.Text.Json;
using System.Text.Json.Serialization;

namespace NetDev.Control;

/// <summary>
/// The requests a control endpoint answers, as written in the <c>request</c> field of a request line
/// (see docs/control-plane.md).
/// </summary>
public static class ControlRequests
{
    /// <summary>The device's identity and state: <see cref="DeviceInfoReport"/>.</summary>
    public const string Info = "info";

    /// <summary>The device's counters: <see cref="DeviceStatsReport"/>; <c>"queues": true</c> adds each queue's.</summary>
    public const string Stats = "stats";

    /// <summary>Driver name, version and bus (<c>ethtool -i</c>): <see cref="NetDev.DriverInfo"/>.</summary>
    public const string DriverInfo = "driver-info";

    /// <summary>Named counters (<c>ethtool -S</c>): <see cref="StatisticsReport"/>.</summary>
    public const string Statistics = "statistics";

    /// <summary>Ring sizes (<c>ethtool -g</c>): <see cref="NetDev.RingParameters"/>.</summary>
    public const string RingParameters = "ring-parameters";

    /// <summary>Speed, duplex, autonegotiation (<c>ethtool IFNAME</c>): <see cref="LinkSettingsReport"/>.</summary>
    public const string LinkSettings = "link-settings";

    /// <summary>Timestamping capabilities (<c>ethtool -T</c>): <see cref="TimestampingReport"/>.</summary>
    public const string Timestamping = "timestamping";

    /// <summary>Every request, in the order the documentation lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Info, Stats, DriverInfo, Statistics, RingParameters, LinkSettings, Timestamping];
}

/// <summary>What <c>info</c> answers: who the device is and its state.</summary>
/// <param name="Name">The interface name.</param>
/// <param name="Netns">The network namespace's name, or <see langword="null"/> for the host's own.</param>
/// <param name="Ifindex">The interface index in its namespace.</param>
/// <param name="Driver">The NetDev driver's name.</param>
/// <param name="DriverVersion">The driver's version (<c>ethtool -i</c>'s version).</param>
/// <param name="State"><c>up</c> when the device is open, otherwise <c>down</c>.</param>
/// <param name="Carrier">Whether the carrier is on.</param>
/// <param name="Mtu">The MTU in bytes.</param>
/// <param name="MacAddress">The Ethernet address, <c>aa:bb:cc:dd:ee:ff</c>.</param>
/// <param name="TxQueues">Transmit queues.</param>
/// <param name="RxQueues">Receive queues.</param>
/// <param name="TxQueueLength">The system's transmit queue length in frames (txqueuelen).</param>
/// <param name="Pid">The process serving the device.</param>
/// <param name="Protocol">The control protocol's version (<see cref="ControlProtocol.Version"/>).</param>
/// <param name="Health">Whether the device works as asked, its error count and last error.</param>
public sealed record DeviceInfoReport(
    string Name,
    string? Netns,
    int Ifindex,
    string Driver,
    string DriverVersion,
    string State,
    bool Carrier,
    int Mtu,
    string MacAddress,
    int TxQueues,
    int RxQueues,
    int TxQueueLength,
    int Pid,
    int Protocol,
    HealthReport? Health = null);

/// <summary>What <c>stats</c> answers (and <c>netdev stats --json</c> prints).</summary>
/// <param name="Name">The interface name.</param>
/// <param name="Netns">The network namespace's name, or <see langword="null"/> for the host's own.</param>
/// <param name="Ifindex">The interface index in its namespace.</param>
/// <param name="Stats64">The <c>rtnl_link_stats64</c> counters, added up over the queues, with the driver's own.</param>
/// <param name="Drops">Dropped frames per direction and reason; reasons with no drop are left out.</param>
/// <param name="Queues">Each queue's counters, only when asked for (otherwise absent).</param>
/// <param name="Health">Whether the device works as asked, its error count and last error.</param>
public sealed record DeviceStatsReport(
    string Name,
    string? Netns,
    int Ifindex,
    LinkStats64 Stats64,
    IReadOnlyList<DropCountReport> Drops,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<QueueStatsReport>? Queues,
    HealthReport? Health = null);

/// <summary>Frames dropped in one direction for one reason.</summary>
/// <param name="Direction"><c>tx</c> or <c>rx</c>.</param>
/// <param name="Reason">The <see cref="DropReason"/> in snake case, such as <c>device_down</c>.</param>
/// <param name="Count">How many frames.</param>
public sealed record DropCountReport(string Direction, string Reason, long Count);

/// <summary>A device's health (<see cref="NetDevice.Health"/>).</summary>
/// <param name="State"><c>ok</c>, or <c>degraded</c> when something the device needs failed for good (a thread died, the interface is gone).</param>
/// <param name="Errors">Errors reported since the device was made (<see cref="NetDevice.ErrorCount"/>).</param>
/// <param name="LastError">The most recent error's message, or <see langword="null"/>.</param>
public sealed record HealthReport(string State, long Errors, string? LastError)
{
    /// <summary>The report of <paramref name="device"/> now.</summary>
    public static HealthReport Of(NetDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return new(device.Health == DeviceHealth.Healthy ? "ok" : "degraded", device.ErrorCount, device.LastError?.Message);
    }
}

/// <summary>One queue's counters.</summary>
/// <param name="Index">The queue's index, from 0.</param>
/// <param name="TxPackets">Frames the driver transmitted.</param>
/// <param name="TxBytes">Bytes the driver transmitted.</param>
/// <param name="TxErrors">Transmit errors.</param>
/// <param name="TxDropped">Transmit frames dropped.</param>
/// <param name="TxBusy">How often the driver answered Busy.</param>
/// <param name="TxTimeouts">How often the watchdog called TxTimeout.</param>
/// <param name="TxStopped">Whether the driver has the queue stopped now.</param>
/// <param name="RxPackets">Frames handed to the system.</param>
/// <param name="RxBytes">Bytes handed to the system.</param>
/// <param name="RxErrors">Receive errors.</param>
/// <param name="RxDropped">Received frames dropped.</param>
public sealed record QueueStatsReport(
    int Index,
    long TxPackets,
    long TxBytes,
    long TxErrors,
    long TxDropped,
    long TxBusy,
    long TxTimeouts,
    bool TxStopped,
    long RxPackets,
    long RxBytes,
    long RxErrors,
    long RxDropped);

/// <summary>What <c>statistics</c> answers: <c>ethtool -S</c>'s counters, in order.</summary>
/// <param name="Statistics">The counters.</param>
public sealed record StatisticsReport(IReadOnlyList<NamedCounter> Statistics);

/// <summary>One named counter.</summary>
/// <param name="Name">Its name, such as <c>tx_queue_0_packets</c>.</param>
/// <param name="Value">Its value.</param>
public sealed record NamedCounter(string Name, long Value);

/// <summary>What <c>link-settings</c> answers.</summary>
/// <param name="SpeedMbps">Speed in Mb/s, or <see langword="null"/> when unknown.</param>
/// <param name="Duplex"><c>full</c>, <c>half</c> or <c>unknown</c>.</param>
/// <param name="Autonegotiation">Whether autonegotiation is on.</param>
/// <param name="Port">The port type, such as <c>Other</c>.</param>
/// <param name="LinkDetected">Whether the carrier is on.</param>
public sealed record LinkSettingsReport(int? SpeedMbps, string Duplex, bool Autonegotiation, string Port, bool LinkDetected);

/// <summary>What <c>timestamping</c> answers.</summary>
/// <param name="SoTimestamping">The capability bits, as the kernel's <c>SOF_TIMESTAMPING_*</c>.</param>
/// <param name="Capabilities">The same bits by ethtool's names, such as <c>software-transmit</c>.</param>
/// <param name="PhcIndex">The PTP hardware clock's index, or -1 for none.</param>
public sealed record TimestampingReport(int SoTimestamping, IReadOnlyList<string> Capabilities, int PhcIndex)
{
    /// <summary>ethtool's name of each capability bit.</summary>
    public static IReadOnlyList<(TimestampingCapabilities Bit, string Name)> CapabilityNames { get; } =
    [
        (TimestampingCapabilities.HardwareTransmit, "hardware-transmit"),
        (TimestampingCapabilities.SoftwareTransmit, "software-transmit"),
        (TimestampingCapabilities.HardwareReceive, "hardware-receive"),
        (TimestampingCapabilities.SoftwareReceive, "software-receive"),
        (TimestampingCapabilities.Software, "software-system-clock"),
        (TimestampingCapabilities.RawHardware, "hardware-raw-clock"),
    ];

    /// <summary>The report of <paramref name="info"/>.</summary>
    public static TimestampingReport From(TimestampingInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return new((int)info.Capabilities, [.. CapabilityNames.Where(entry => info.Capabilities.HasFlag(entry.Bit)).Select(entry => entry.Name)], info.PhcIndex);
    }
}

/// <summary>Facts about the protocol itself.</summary>
public static class ControlProtocol
{
    /// <summary>The protocol version every <c>info</c> answer carries; it changes when a field changes meaning or goes away.</summary>
    public const int Version = 1;

    /// <summary>The longest request line a server reads, newline included.</summary>
    public const int MaxRequestBytes = 4096;

    /// <summary>Serialises a <c>stats</c> answer as <c>netdev stats --json</c> prints it: one line, snake_case fields.</summary>
    public static string ToJson(DeviceStatsReport report) => JsonSerializer.Serialize(report, ControlJsonContext.Default.DeviceStatsReport);
}

/// <summary>A request line: <c>{"request": "stats", "queues": true}</c>.</summary>
internal sealed record ControlRequest(string? Request, bool Queues);

/// <summary>The protocol's JSON: snake_case names, fields of <see cref="LinkStats64"/> included.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, IncludeFields = true)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(DeviceInfoReport))]
[JsonSerializable(typeof(DeviceStatsReport))]
[JsonSerializable(typeof(DriverInfo))]
[JsonSerializable(typeof(StatisticsReport))]
[JsonSerializable(typeof(RingParameters))]
[JsonSerializable(typeof(LinkSettingsReport))]
[JsonSerializable(typeof(TimestampingReport))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;
