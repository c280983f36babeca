using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>A device whose host can no longer give it frames is degraded, visibly and once.</summary>
public sealed class HealthTests
{
    [Fact]
    public void ASourceThatFailsForGoodDegradesTheDeviceOnce()
    {
        using var harness = DeviceHarness.Up();
        var degraded = new List<Exception>();
        harness.Device.Degraded += (_, e) => degraded.Add(e.Exception);
        var gone = new NetDevException(Errno.EIO, "read TAP queue 0", harness.Device.Name, "the interface is gone");
        harness.Link.Sources[0].Failure = gone;

        harness.Link.SendFrame(0, "first"u8);
        harness.Link.SendFrame(0, "second"u8);

        Assert.Equal(DeviceHealth.Degraded, harness.Device.Health);
        Assert.Same(gone, Assert.Single(degraded));
        Assert.Same(gone, harness.Device.LastError);
        Assert.Equal(1, harness.Device.ErrorCount);
        // No more reads from a source that failed: what was sent waits in it and is dropped at teardown.
        Assert.Equal(2, harness.Link.Sources[0].Waiting);
    }

    [Fact]
    public void AHostErrorDegradesTheDeviceAndADriverCanSayItToo()
    {
        using var harness = DeviceHarness.Up();
        Assert.Equal(DeviceHealth.Healthy, harness.Device.Health);

        harness.Device.ReportError(new InvalidOperationException("one datagram was odd"));
        Assert.Equal(DeviceHealth.Healthy, harness.Device.Health);

        harness.Link.RaiseHostError(new NetDevException(Errno.ENODEV, "RTM_DELLINK", harness.Device.Name, "the interface was deleted by someone else"));
        Assert.Equal(DeviceHealth.Degraded, harness.Device.Health);
        Assert.Equal(2, harness.Device.ErrorCount);

        harness.Device.Degrade(new InvalidOperationException("the receive thread ended"));
        Assert.Equal(DeviceHealth.Degraded, harness.Device.Health);
        Assert.Equal("the receive thread ended", harness.Device.LastError!.Message);
    }

    private sealed class ManualClock : TimeProvider
    {
        public long Ticks { get; set; } = 1;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Ticks;
    }

    [Fact]
    public void ADriverThatKeepsFailingIsFailingWhileItGoesOnAndNotOnceItStopped()
    {
        using var harness = DeviceHarness.Unregistered();
        var clock = new ManualClock();
        harness.Device.TimeProvider = clock;
        harness.Registration.Register();
        Assert.False(harness.Device.IsFailing);

        harness.Device.ReportError(new InvalidOperationException("StartXmit threw"));
        clock.Ticks += (NetDevice.FailingWindow / 2).Ticks;
        Assert.True(harness.Device.IsFailing);
        harness.Device.ReportError(new InvalidOperationException("StartXmit threw again"));
        clock.Ticks += (NetDevice.FailingWindow / 2).Ticks + 1;
        Assert.True(harness.Device.IsFailing);

        clock.Ticks += NetDevice.FailingWindow.Ticks;
        Assert.False(harness.Device.IsFailing);
        Assert.Equal(DeviceHealth.Healthy, harness.Device.Health);
        Assert.Equal(2, harness.Device.ErrorCount);
    }
}
