namespace NetDev.Tests.Fakes;

/// <summary>
/// A <see cref="RecordingDriver"/> device on a <see cref="FakeHost"/>, with the errors the device
/// reported collected. Disposing it disposes the registration.
/// </summary>
public sealed class DeviceHarness : IDisposable
{
    private DeviceHarness(int txQueues, int rxQueues)
    {
        Host = new FakeHost(Log);
        Driver = new RecordingDriver(Log);
        Registration = new Registration<RecordingDriver>(Host, txQueues, rxQueues, Driver);
        Device.Error += (_, e) => Errors.Add(e.Exception);
    }

    public CallLog Log { get; } = new();

    public FakeHost Host { get; }

    public RecordingDriver Driver { get; }

    public Registration<RecordingDriver> Registration { get; }

    public NetDevice<RecordingDriver> Device => Registration.Device;

    public FakeLink Link => Host.Link;

    public List<Exception> Errors { get; } = [];

    /// <summary>A device not yet registered, to configure or to make fail.</summary>
    public static DeviceHarness Unregistered(int txQueues = 1, int rxQueues = 1) => new(txQueues, rxQueues);

    /// <summary>A registered device, down.</summary>
    public static DeviceHarness Registered(int txQueues = 1, int rxQueues = 1)
    {
        var harness = new DeviceHarness(txQueues, rxQueues);
        harness.Registration.Register();
        return harness;
    }

    /// <summary>A registered device, brought up by its owner.</summary>
    public static DeviceHarness Up(int txQueues = 1, int rxQueues = 1)
    {
        var harness = Registered(txQueues, rxQueues);
        harness.Device.BringUp();
        return harness;
    }

    public void Dispose() => Registration.Dispose();
}
