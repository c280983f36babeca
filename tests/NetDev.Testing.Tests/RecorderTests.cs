namespace NetDev.Testing.Tests;

public sealed class RecorderTests
{
    [Fact]
    public void TheWholeLifeOfADeviceIsRecordedInOrder()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver();
        var registration = new Registration<ScriptedDriver>(host, 2, 2, driver);
        var calls = OperationRecorder.Attach(registration.Device);
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(0, TestFrames.Numbered(1, payloadLength: 50));
        link.InjectTransmit(1, TestFrames.Numbered(2, payloadLength: 60));
        registration.Device.BringDown();
        link.IpLinkSetUp();

        registration.Dispose();

        Assert.Equal(["Init", "Open", "StartXmit(q0) Ok", "StartXmit(q1) Ok", "Stop", "Open", "Stop", "Uninit"], calls.Summary());
        var transmits = calls.Calls.Where(c => c.Operation == nameof(IDeviceOperations<>.StartXmit)).ToList();
        Assert.Equal([(0, 64), (1, 74)], transmits.Select(c => (c.Queue, c.Length)));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), calls.Calls.Select(c => c.Sequence));
        Assert.Equal(2, calls.Count(nameof(IDeviceOperations<>.Open)));
    }

    [Fact]
    public void OperationsTheDriverDoesNotImplementAreNeverCalledSoNeverRecorded()
    {
        var host = new TestHost();
        var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        var calls = OperationRecorder.Attach(registration.Device);
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(1));

        registration.Dispose();

        Assert.Equal(["StartXmit(q0) Ok"], calls.Summary());
    }

    [Fact]
    public void FoldedSummaryCountsRunsOfTransmits()
    {
        var host = new TestHost();
        using var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        var calls = OperationRecorder.Attach(registration.Device);
        var link = host.Register(registration);
        registration.Device.BringUp();
        foreach (var frame in Frames.Numbered(100))
        {
            link.InjectTransmit(frame);
        }

        Assert.Equal(["StartXmit(q0) Ok ×100"], calls.FoldedSummary());
    }

    [Fact]
    public void AThrowingOperationIsRecordedWithItsException()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver { OnStop = _ => throw new TimeoutException("hardware did not answer") };
        var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var calls = OperationRecorder.Attach(registration.Device);
        host.Register(registration);
        registration.Device.BringUp();

        registration.Device.BringDown();

        var stop = calls.Calls[^1];
        Assert.Equal(nameof(IDeviceOperations<>.Stop), stop.Operation);
        Assert.IsType<TimeoutException>(stop.Error);
        Assert.Equal("Stop threw TimeoutException", stop.ToString());
        registration.Dispose();
    }

    [Fact]
    public void ARecorderIsAttachedOnceAndStopsWhenDetached()
    {
        var host = new TestHost();
        using var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        var calls = OperationRecorder.Attach(registration.Device);
        Assert.Throws<InvalidOperationException>(() => OperationRecorder.Attach(registration.Device));
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(1));

        calls.Detach();
        link.InjectTransmit(TestFrames.Numbered(2));
        var next = OperationRecorder.Attach(registration.Device);
        link.InjectTransmit(TestFrames.Numbered(3));

        Assert.Single(calls.Calls);
        Assert.Single(next.Calls);
    }
}
