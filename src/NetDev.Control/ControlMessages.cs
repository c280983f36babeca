using System.Text.Json;
using System.Text.Json.Serialization;
using NetDev.Diagnostics;

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

    /// <summary>
    /// Starts a capture (<c>netdev capture</c>): the answer line, then pcapng until the client sends <see cref="Stop"/>
    /// (the statistics block comes last) or goes away; <c>"drops": true</c> adds dropped frames.
    /// </summary>
    public const string Capture = "capture";

    /// <summary>Ends a capture on its connection.</summary>
    public const string Stop = "stop";

    /// <summary>Starts an event stream (<c>netdev monitor</c>): the answer line, then one JSON line per event (<see cref="MonitorEvent"/>).</summary>
    public const string Monitor = "monitor";

    /// <summary>Every request, in the order the documentation lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Info, Stats, DriverInfo, Statistics, RingParameters, LinkSettings, Timestamping, Capture, Stop, Monitor];
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
    HealthReport? Health = null)
{
    /// <summary>
    /// The report of <paramref name="device"/> now, without queues, with the namespace its endpoint would name: the
    /// device's own, or for a device in the caller's namespace the name that namespace has under <c>/run/netns</c>.
    /// </summary>
    public static DeviceStatsReport Of(NetDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Of(device, device.NetworkNamespace ?? NamespaceIdentity.OfCurrentThread());
    }

    /// <summary>
    /// The report of <paramref name="device"/> now, in <paramref name="networkNamespace"/>, with each queue's
    /// counters when <paramref name="withQueues"/>: what a <c>stats</c> request answers, and what <c>netdev run --json</c>
    /// prints at the end.
    /// </summary>
    public static DeviceStatsReport Of(NetDevice device, string? networkNamespace, bool withQueues = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        var drops = device.Statistics.GetDropCounts()
            .Select(drop => new DropCountReport(DiagnosticNames.Of(drop.Direction), DiagnosticNames.Of(drop.Reason), drop.Count))
            .ToArray();
        var queues = withQueues
            ? device.Queues.Select(queue => new QueueStatsReport(
                queue.Index,
                queue.TxPackets,
                queue.TxBytes,
                queue.TxErrors,
                queue.TxDropped,
                queue.BusyReturns,
                queue.Timeouts,
                queue.IsStopped,
                queue.RxPackets,
                queue.RxBytes,
                queue.RxErrors,
                queue.RxDropped)).ToArray()
            : null;
        return new DeviceStatsReport(device.Name, networkNamespace, device.IfIndex, device.Statistics.GetLinkStats64(), drops, queues, HealthReport.Of(device));
    }
}

/// <summary>Frames dropped in one direction for one reason.</summary>
/// <param name="Direction"><c>tx</c> or <c>rx</c>.</param>
/// <param name="Reason">The <see cref="DropReason"/> in snake case, such as <c>device_down</c>.</param>
/// <param name="Count">How many frames.</param>
public sealed record DropCountReport(string Direction, string Reason, long Count);

/// <summary>A device's health (<see cref="NetDevice.Health"/>).</summary>
/// <param name="State"><c>degraded</c> when something the device needs failed for good (a thread died, the interface is gone);
/// otherwise <c>failing</c> while errors keep coming (one within <see cref="NetDevice.FailingWindow"/>), else <c>ok</c>.</param>
/// <param name="Errors">Errors reported since the device was made (<see cref="NetDevice.ErrorCount"/>).</param>
/// <param name="LastError">The most recent error's message, or <see langword="null"/>.</param>
public sealed record HealthReport(string State, long Errors, string? LastError)
{
    /// <summary>The report of <paramref name="device"/> now.</summary>
    public static HealthReport Of(NetDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var state = device.Health == DeviceHealth.Degraded ? "degraded" : device.IsFailing ? "failing" : "ok";
        return new(state, device.ErrorCount, device.LastError?.Message);
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

    /// <summary>Serialises every device's <c>stats</c> answer as one JSON array (<c>netdev stats --json</c> with no name).</summary>
    public static string ToJson(IReadOnlyList<DeviceStatsReport> reports) => JsonSerializer.Serialize(reports, ControlJsonContext.Default.IReadOnlyListDeviceStatsReport);

    /// <summary>Serialises every device's <c>info</c> answer as one JSON array (<c>netdev list --json</c>).</summary>
    public static string ToJson(IReadOnlyList<DeviceInfoReport> reports) => JsonSerializer.Serialize(reports, ControlJsonContext.Default.IReadOnlyListDeviceInfoReport);

    /// <summary>Serialises a <c>driver-info</c> answer (<c>netdev ethtool -i --json</c>).</summary>
    public static string ToJson(DriverInfo report) => JsonSerializer.Serialize(report, ControlJsonContext.Default.DriverInfo);

    /// <summary>Serialises a <c>statistics</c> answer (<c>netdev ethtool -S --json</c>).</summary>
    public static string ToJson(StatisticsReport report) => JsonSerializer.Serialize(report, ControlJsonContext.Default.StatisticsReport);

    /// <summary>Serialises a <c>ring-parameters</c> answer (<c>netdev ethtool -g --json</c>).</summary>
    public static string ToJson(RingParameters report) => JsonSerializer.Serialize(report, ControlJsonContext.Default.RingParameters);

    /// <summary>Serialises a <c>link-settings</c> answer (<c>netdev ethtool --json</c>).</summary>
    public static string ToJson(LinkSettingsReport report) => JsonSerializer.Serialize(report, ControlJsonContext.Default.LinkSettingsReport);

    /// <summary>Serialises a <c>timestamping</c> answer (<c>netdev ethtool -T --json</c>).</summary>
    public static string ToJson(TimestampingReport report) => JsonSerializer.Serialize(report, ControlJsonContext.Default.TimestampingReport);

    /// <summary>Serialises one <c>monitor</c> event as the stream carries it (<c>netdev monitor --json</c>).</summary>
    public static string ToJson(MonitorEvent monitorEvent) => JsonSerializer.Serialize(monitorEvent, ControlJsonContext.Default.MonitorEvent);

    /// <summary>Reads one line of a <c>monitor</c> stream.</summary>
    /// <exception cref="JsonException">The line is not a monitor event.</exception>
    public static MonitorEvent ParseMonitorEvent(ReadOnlySpan<byte> line) =>
        JsonSerializer.Deserialize(line, ControlJsonContext.Default.MonitorEvent) ?? throw new JsonException("a monitor line is null");
}

/// <summary>A request line: <c>{"request": "stats", "queues": true}</c>, <c>{"request": "capture", "drops": true}</c>.</summary>
internal sealed record ControlRequest(string? Request, bool Queues, bool Drops = false);

/// <summary>What <c>capture</c> answers before the pcapng stream.</summary>
/// <param name="Format">Always <c>pcapng</c>.</param>
/// <param name="SnapLength">The most bytes of a frame kept.</param>
public sealed record CaptureStartReport(string Format, int SnapLength);

/// <summary>What <c>monitor</c> answers before its event lines.</summary>
/// <param name="Stream">Always <c>monitor</c>.</param>
public sealed record MonitorStart(string Stream);

/// <summary>
/// One line of a <c>monitor</c> stream. <c>event</c> says which: <c>link</c> (the state now: at the start and on
/// every change), <c>error</c> (an error no caller could hear), <c>degraded</c>, <c>drops</c> (frames dropped since
/// the last such line, per direction and reason, at most once a second), <c>lost</c> (events left out because the
/// client read too slowly).
/// </summary>
/// <param name="Event">What happened.</param>
/// <param name="Name">The interface name.</param>
/// <param name="Netns">The network namespace's name, or <see langword="null"/> for the host's own.</param>
/// <param name="State"><c>link</c>: <c>up</c> or <c>down</c>.</param>
/// <param name="Carrier"><c>link</c>: whether the carrier is on.</param>
/// <param name="Mtu"><c>link</c>: the MTU.</param>
/// <param name="Message"><c>error</c>, <c>degraded</c>: what went wrong.</param>
/// <param name="Errors"><c>error</c>, <c>degraded</c>: errors reported since the device was made.</param>
/// <param name="Drops"><c>drops</c>: frames dropped since the last <c>drops</c> line.</param>
/// <param name="Count"><c>lost</c>: events left out.</param>
public sealed record MonitorEvent(
    string Event,
    string Name,
    string? Netns,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? State = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Carrier = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Mtu = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Message = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Errors = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<DropCountReport>? Drops = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Count = null);

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
[JsonSerializable(typeof(CaptureStartReport))]
[JsonSerializable(typeof(MonitorEvent))]
[JsonSerializable(typeof(MonitorStart))]
[JsonSerializable(typeof(IReadOnlyList<DeviceInfoReport>))]
[JsonSerializable(typeof(IReadOnlyList<DeviceStatsReport>))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;
