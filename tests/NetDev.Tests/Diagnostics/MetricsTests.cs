using System.Diagnostics.Metrics;
using NetDev.Diagnostics;
using NetDev.Tests.Fakes;

namespace NetDev.Tests.Diagnostics;

/// <summary>The NetDev meter: what a MeterListener collects from registered devices, and that disposed ones leave.</summary>
public sealed class MetricsTests
{
    /// <summary>Collects every NetDev instrument once; measurements of other devices (other tests running) are kept apart by the device tag.</summary>
    private static List<(string Instrument, long Value, Dictionary<string, object?> Tags)> Collect()
    {
        var measurements = new List<(string, long, Dictionary<string, object?>)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == NetDevMetrics.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (measurements)
            {
                measurements.Add((instrument.Name, value, tags.ToArray().ToDictionary(tag => tag.Key, tag => tag.Value)));
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return measurements;
    }

    private static long Value(IEnumerable<(string Instrument, long Value, Dictionary<string, object?> Tags)> measurements, string device,
        string instrument, params (string Key, string Value)[] tags) =>
        measurements.Where(m => m.Instrument == instrument && (string?)m.Tags["device"] == device
                && tags.All(tag => m.Tags.TryGetValue(tag.Key, out var value) && (string?)value == tag.Value))
            .Select(m => m.Value).Single();

    /// <summary>A device that is up under a name no other test of this class uses, so measurements tell it apart.</summary>
    internal static DeviceHarness UpAs(string name)
    {
        var harness = DeviceHarness.Unregistered();
        harness.Device.Name = name;
        harness.Registration.Register();
        harness.Device.BringUp();
        return harness;
    }

    [Fact]
    public void ARegisteredDevicesCountersAreMeasuredPerDirectionWithDropsByReason()
    {
        using var harness = UpAs("metrics-a");
        harness.Link.SendFrame(0, "twelve bytes"u8);
        var skb = harness.Device.AllocSkb();
        "in"u8.CopyTo(skb.Put(2));
        harness.Device.NetifRx(skb);
        harness.Link.RaiseAdminState(false);
        harness.Link.SendFrame(0, "late"u8);
        var name = harness.Device.Name;

        var measurements = Collect();

        Assert.Equal(1, Value(measurements, name, "netdev.packets", ("direction", "tx")));
        Assert.Equal(12, Value(measurements, name, "netdev.bytes", ("direction", "tx")));
        Assert.Equal(1, Value(measurements, name, "netdev.packets", ("direction", "rx")));
        Assert.Equal(2, Value(measurements, name, "netdev.bytes", ("direction", "rx")));
        Assert.Equal(0, Value(measurements, name, "netdev.errors", ("direction", "tx")));
        Assert.Equal(1, Value(measurements, name, "netdev.drops", ("direction", "tx"), ("reason", "device_down")));
        Assert.Equal(0, Value(measurements, name, "netdev.device.errors"));
        var tags = measurements.First(m => (string?)m.Tags["device"] == name).Tags;
        Assert.Equal(harness.Device.DriverName, tags["driver"]);
        Assert.False(tags.ContainsKey("namespace"));
    }

    [Fact]
    public void ADisposedDeviceIsNoLongerMeasured()
    {
        var harness = UpAs("metrics-b");
        var name = harness.Device.Name;
        Assert.Contains(Collect(), m => (string?)m.Tags["device"] == name);

        harness.Dispose();

        Assert.DoesNotContain(Collect(), m => (string?)m.Tags["device"] == name);
    }

    [Fact]
    public void ADeviceNeverRegisteredIsNotMeasured()
    {
        using var harness = DeviceHarness.Unregistered();
        harness.Device.Name = "metrics-c";

        Assert.DoesNotContain(Collect(), m => (string?)m.Tags["device"] == harness.Device.Name);
    }
}
