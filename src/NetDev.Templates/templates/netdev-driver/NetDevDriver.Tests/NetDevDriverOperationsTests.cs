using NetDev;
using NetDev.Testing;

namespace NetDevDriver.Tests;

/// <summary>The driver on NetDev.Testing's TestHost: no root, no kernel; the test plays the kernel.</summary>
public sealed class NetDevDriverOperationsTests
{
    [Fact]
    public void CountsAndReleasesEveryFrameTheKernelSends()
    {
        var host = new TestHost();
        var driver = new NetDevDriverOperations();
        var registration = new Registration<NetDevDriverOperations>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();

        foreach (var i in Enumerable.Range(0, 3))
        {
            Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(TestFrames.Numbered(i)));
        }

        Assert.Equal(1, driver.Opened);
        Assert.Equal(3, registration.Device.GetStats().TxPackets);
        registration.Dispose();
        host.AssertClean(); // every frame released exactly once
    }
}
