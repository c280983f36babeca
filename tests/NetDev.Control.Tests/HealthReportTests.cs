namespace NetDev.Control.Tests;

/// <summary>Health as the control plane reports it: a driver that keeps failing is shown with its error count and last error.</summary>
public sealed class HealthReportTests : ControlTest
{
    [Fact]
    public void ADeviceWithRecentErrorsIsFailingWithItsCountAndLastErrorInInfoAndStats()
    {
        using var dummy = RegisterDummy("ndhealth0");
        using var client = ControlClient.Connect(ControlEndpoint.For(RunDir.Path, "ndhealth0", Ns.Name));
        Assert.Equal(new HealthReport("ok", 0, null), client.GetInfo().Health);

        dummy.Device.ReportError(new InvalidOperationException("StartXmit threw on queue 0: the ring is gone"));
        dummy.Device.ReportError(new InvalidOperationException("StartXmit threw on queue 0: the ring is still gone"));

        var failing = new HealthReport("failing", 2, "StartXmit threw on queue 0: the ring is still gone");
        Assert.Equal(failing, client.GetInfo().Health);
        Assert.Equal(failing, client.GetStats().Health);
        Assert.Contains("\"health\":{\"state\":\"failing\",\"errors\":2,", client.Send("{\"request\":\"stats\"}"));
    }
}
