namespace NetDev.Linux.Tests;

public sealed class OffloadTests
{
    [Fact]
    public void OffloadsAskedForAreTurnedOnInTheKernel()
    {
        using var ns = new TestNamespace();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        registration.Device.Name = "ndoff0";
        registration.Device.Features = DeviceFeatures.All;
        registration.Register();
        Assert.Equal(DeviceFeatures.All, registration.Device.Features);
        var features = Shell.Run("ip", $"netns exec {ns.Name} ethtool -k ndoff0");
        Assert.Contains("tcp-segmentation-offload: on", features);
    }
}
