using System.Diagnostics.Metrics;

namespace NetDev.Diagnostics;

/// <summary>
/// The <c>NetDev</c> meter (<see cref="System.Diagnostics.Metrics"/>): every registered device's counters as
/// observable instruments, so <c>dotnet-counters monitor --counters NetDev</c>, OpenTelemetry or any
/// <see cref="MeterListener"/> sees them. The instruments read the per-queue counters the packet path keeps
/// anyway, and only when a tool collects: with nobody collecting they cost nothing.
/// </summary>
/// <remarks>
/// <para>Instruments (all observable counters, since the device was created): <c>netdev.packets</c>,
/// <c>netdev.bytes</c>, <c>netdev.errors</c> and <c>netdev.drops</c> tagged <c>direction</c> (<c>tx</c> or
/// <c>rx</c>), the drops also <c>reason</c> (<see cref="DiagnosticNames.Of(DropReason)"/>); and
/// <c>netdev.device.errors</c>, the errors no caller could hear (<see cref="NetDevice.ErrorCount"/>). Every
/// measurement carries <c>device</c> (the interface name), <c>driver</c>, and <c>namespace</c> when the device is
/// in a named network namespace.</para>
/// <para>A device joins when it is registered and leaves when its registration is disposed, so a disposed
/// device is neither measured nor kept alive.</para>
/// <para><b>Invariants.</b> <c>s_devices</c> holds exactly the registered, not yet disposed devices, and changes
/// only under its own lock, which collection takes too (never the packet path).</para>
/// </remarks>
public static class NetDevMetrics
{
    /// <summary>The meter's name, as tools ask for it.</summary>
    public const string MeterName = "NetDev";

    private static readonly List<NetDevice> s_devices = [];
    private static readonly Meter s_meter = CreateMeter();

    /// <summary>The meter, for a tool in the same process that wants to name it rather than listen by name.</summary>
    public static Meter Meter => s_meter;

    internal static void Add(NetDevice device)
    {
        _ = s_meter;
        lock (s_devices)
        {
            s_devices.Add(device);
        }
    }

    internal static void Remove(NetDevice device)
    {
        lock (s_devices)
        {
            s_devices.Remove(device);
        }
    }

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName, typeof(NetDevMetrics).Assembly.GetName().Version?.ToString());
        meter.CreateObservableCounter("netdev.packets", () => Measure(PerDirection(s => (s.TxPackets, s.RxPackets))), "{packet}",
            "Frames the driver transmitted (tx) and handed to the system (rx).");
        meter.CreateObservableCounter("netdev.bytes", () => Measure(PerDirection(s => (s.TxBytes, s.RxBytes))), "By",
            "Bytes the driver transmitted (tx) and handed to the system (rx), link header included.");
        meter.CreateObservableCounter("netdev.errors", () => Measure(PerDirection(s => (s.TxErrors, s.RxErrors))), "{error}",
            "Transmit and receive errors counted.");
        meter.CreateObservableCounter("netdev.drops", () => Measure(Drops), "{packet}",
            "Frames dropped, per direction and reason.");
        meter.CreateObservableCounter("netdev.device.errors", () => Measure(DeviceErrors), "{error}",
            "Errors no caller could hear (driver exceptions on a queue, failed host events); what netdev list shows as health.");
        return meter;
    }

    private static Func<NetDevice, IEnumerable<Measurement<long>>> PerDirection(Func<LinkStats64, (long Tx, long Rx)> select) => device =>
    {
        var (tx, rx) = select(device.GetLinkStats64());
        return [new(tx, Tags(device, ("direction", "tx"))), new(rx, Tags(device, ("direction", "rx")))];
    };

    private static IEnumerable<Measurement<long>> Drops(NetDevice device) =>
        device.GetDropCounts().Select(drop => new Measurement<long>(drop.Count,
            Tags(device, ("direction", DiagnosticNames.Of(drop.Direction)), ("reason", DiagnosticNames.Of(drop.Reason)))));

    private static IEnumerable<Measurement<long>> DeviceErrors(NetDevice device) => [new(device.ErrorCount, Tags(device))];

    /// <summary>Runs <paramref name="measure"/> over every device; one that fails (its driver's <c>GetStats64</c> threw) is left out of this collection.</summary>
    private static List<Measurement<long>> Measure(Func<NetDevice, IEnumerable<Measurement<long>>> measure)
    {
        NetDevice[] devices;
        lock (s_devices)
        {
            devices = [.. s_devices];
        }
        var measurements = new List<Measurement<long>>();
        foreach (var device in devices)
        {
            try
            {
                measurements.AddRange(measure(device));
            }
            catch (Exception error)
            {
                // The control plane reports a failing driver query; a metrics tool should not stop collecting over it.
                device.ReportError(new InvalidOperationException($"Reading {device.Name}'s counters for the NetDev meter failed: {error.Message}", error));
            }
        }
        return measurements;
    }

    private static KeyValuePair<string, object?>[] Tags(NetDevice device, params (string Key, string Value)[] extra)
    {
        var tags = new List<KeyValuePair<string, object?>>(3 + extra.Length)
        {
            new("device", device.Name),
            new("driver", device.DriverName),
        };
        if (device.NetworkNamespace is { } networkNamespace)
        {
            tags.Add(new("namespace", networkNamespace));
        }
        tags.AddRange(extra.Select(tag => new KeyValuePair<string, object?>(tag.Key, tag.Value)));
        return [.. tags];
    }
}
