namespace NetDev.Testing.Tests;

public sealed class TransmitTests
{
    [Fact]
    public void InjectedFramesReachStartXmitByteForByteAndAreCounted()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver();
        using var registration = new Registration<ScriptedDriver>(host, 2, 2, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        var frames = Frames.Numbered(10);

        var results = frames.Select((frame, i) => link.InjectTransmit(i % 2, frame)).ToList();

        Assert.All(results, result => Assert.Equal(InjectResult.Dispatched, result));
        Assert.Equal(frames, driver.Frames.Select(f => f.Data));
        Assert.Equal(frames.Select((_, i) => i % 2), driver.Frames.Select(f => f.Queue));
        Assert.All(driver.Frames, f => Assert.Equal(TestFrames.ExperimentalEtherType, f.Protocol));
        var stats = registration.Device.GetStats();
        Assert.Equal((10L, frames.Sum(f => (long)f.Length)), (stats.TxPackets, stats.TxBytes));
        Assert.Equal([5L, 5L], registration.Device.Queues.Select(q => q.TxPackets));
        Assert.Equal(10, link.TotalFramesHandedToDriver);
        Assert.Equal(5, link.FramesHandedToDriver(1));
    }

    [Fact]
    public void NothingIsSentWhileTheLinkIsDown()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver();
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);

        Assert.Equal(InjectResult.LinkDown, link.InjectTransmit(TestFrames.Numbered(1)));

        Assert.Empty(driver.Frames);
        Assert.Equal(new KernelQueueStats(0, 1000, 0, 0, 0, 0, 0), link.GetKernelQueueStats(0));
    }

    [Theory]
    [InlineData(13)]
    [InlineData(1500 + 22 + 1)]
    public void FramesTheKernelWouldNotSendAreRefused(int length)
    {
        var host = new TestHost();
        using var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        var link = host.Register(registration);
        registration.Device.BringUp();

        Assert.Throws<ArgumentException>(() => link.InjectTransmit(new byte[length]));
    }

    [Fact]
    public void TheLargestFrameIsTheMtuPlusHeaderAndTwoStackedVlanTags()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver();
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();

        Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(TestFrames.Numbered(3, payloadLength: 1500 + 8)));

        Assert.Equal(1522, Assert.Single(driver.Frames).Data.Length);
    }

    [Fact]
    public void AnExceptionInStartXmitIsReportedAndTheFrameDropped()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver { OnStartXmit = (_, _) => throw new InvalidOperationException("broken driver") };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();

        link.InjectTransmit(TestFrames.Numbered(1));

        var error = Assert.Single(link.Errors);
        Assert.Contains("broken driver", error.Message);
        Assert.Throws<NetDevAssertionException>(link.AssertNoErrors);
        Assert.Equal(1, registration.Device.Queues[0].TxPool.DropCount(DropReason.TransmitError));
        Assert.Equal(1, registration.Device.GetStats().TxErrors);
    }
}
