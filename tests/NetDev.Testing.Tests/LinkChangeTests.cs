namespace NetDev.Testing.Tests;

public sealed class LinkChangeTests
{
    private static (TestHost Host, ScriptedDriver Driver, Registration<ScriptedDriver> Registration, TestLink Link, OperationRecorder Calls) Device()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver();
        var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        registration.Device.MaxMtu = 9000;
        var calls = OperationRecorder.Attach(registration.Device);
        var link = host.Register(registration);
        return (host, driver, registration, link, calls);
    }

    [Fact]
    public void UpAndDownByOthersOpenAndStopTheDriver()
    {
        var (_, _, registration, link, calls) = Device();
        using var _ = registration;

        link.IpLinkSetUp();
        Assert.True(registration.Device.IsUp);
        Assert.Equal(DeviceFlags.Up | DeviceFlags.Running, link.Flags & (DeviceFlags.Up | DeviceFlags.Running));
        link.IpLinkSetUp();
        link.IpLinkSetDown();

        Assert.False(registration.Device.IsUp);
        Assert.False(link.IsAdminUp);
        Assert.Equal(["Init", "Open", "Stop"], calls.Summary());
    }

    [Fact]
    public void ARenameByOthersGivesTheDeviceTheNewNameAndAsksNoDriver()
    {
        var (host, _, registration, link, calls) = Device();
        using var _ = registration;
        var oldName = registration.Device.Name;

        link.IpLinkSetName("renamed0");

        Assert.Equal("renamed0", registration.Device.Name);
        Assert.Same(link, host.GetLink("renamed0"));
        Assert.Throws<KeyNotFoundException>(() => host.GetLink(oldName));
        Assert.Equal(["Init"], calls.Summary());
        // The kernel refuses a name another interface has.
        using var other = new Registration<ScriptedDriver>(host, 1, 1, new ScriptedDriver());
        other.Device.Name = "other0";
        host.Register(other);
        Assert.Equal(Errno.EEXIST, Assert.Throws<NetDevException>(() => link.IpLinkSetName("other0")).Errno);
        Assert.Equal("renamed0", registration.Device.Name);
    }

    [Fact]
    public void GoingDownDiscardsWhatWaitedInTheKernelQueue()
    {
        var (_, driver, registration, link, _) = Device();
        using var _ = registration;
        driver.OnStartXmit = (device, skb) =>
        {
            device.StopQueue(0);
            skb.Consume();
            return TxResult.Ok;
        };
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(1));
        link.InjectTransmit(TestFrames.Numbered(2));
        link.InjectTransmit(TestFrames.Numbered(3));

        link.IpLinkSetDown();

        var stats = link.GetKernelQueueStats(0);
        Assert.Equal((0, 2L, 1L), (stats.Length, stats.Discarded, stats.Dispatched));
        Assert.Equal(InjectResult.LinkDown, link.InjectTransmit(TestFrames.Numbered(4)));
    }

    [Fact]
    public void AnOpenThatFailsAfterUpByOthersPutsTheLinkBackDownAndIsReported()
    {
        var (_, driver, registration, link, calls) = Device();
        using var _ = registration;
        driver.OnOpen = _ => throw new InvalidOperationException("no hardware");

        link.IpLinkSetUp();

        Assert.False(link.IsAdminUp);
        Assert.False(registration.Device.IsUp);
        Assert.Contains(link.Errors, error => error.Message.Contains("no hardware"));
        Assert.Equal(["Init", "Open threw InvalidOperationException"], calls.Summary());
    }

    [Fact]
    public void ARefusedSetAdminUpFailsBringUpAndStopsTheDriverAgain()
    {
        var (_, _, registration, link, calls) = Device();
        using var _ = registration;
        link.FailNextSetAdminUp(Errno.EPERM);

        Assert.Throws<NetDevException>(registration.Device.BringUp);

        Assert.False(registration.Device.IsUp);
        Assert.False(link.IsAdminUp);
        Assert.Equal(["Init", "Open", "Stop"], calls.Summary());
    }

    [Fact]
    public void AnMtuSetByOthersReachesTheDriver()
    {
        var (_, _, registration, link, calls) = Device();
        using var _ = registration;

        link.IpLinkSetMtu(9000);

        Assert.Equal(9000, registration.Device.Mtu);
        Assert.Equal(9000, link.Mtu);
        Assert.Contains("ChangeMtu", calls.Summary());
    }

    [Fact]
    public void AnMtuTheDriverRejectsIsPutBackInTheSystem()
    {
        var (_, driver, registration, link, _) = Device();
        using var _ = registration;
        driver.OnChangeMtu = (_, mtu) => throw new ArgumentOutOfRangeException(nameof(mtu), "the hardware takes at most 4000");
        var rejected = new List<ChangeRejectedEventArgs>();
        registration.Device.ChangeRejected += (_, e) => rejected.Add(e);

        link.IpLinkSetMtu(8000);

        Assert.Equal(1500, link.Mtu);
        Assert.Equal(1500, registration.Device.Mtu);
        Assert.Equal("mtu", Assert.Single(rejected).Setting);
    }

    [Fact]
    public void AnMtuTheKernelRefusesNeverReachesTheDevice()
    {
        var (_, _, registration, link, calls) = Device();
        using var _ = registration;

        var error = Assert.Throws<NetDevException>(() => link.IpLinkSetMtu(40));

        Assert.Equal(Errno.EINVAL, error.Errno);
        Assert.Equal(1500, link.Mtu);
        Assert.DoesNotContain("ChangeMtu", calls.Summary());
    }

    [Fact]
    public void AnAddressSetByOthersReachesTheDriverAndTheDevice()
    {
        var (_, _, registration, link, calls) = Device();
        using var _ = registration;
        var address = MacAddress.Parse("02:aa:bb:cc:dd:ee");

        link.IpLinkSetAddress(address);

        Assert.Equal(address, registration.Device.MacAddress);
        Assert.Contains("SetMacAddress", calls.Summary());
        Assert.Equal(Errno.EADDRNOTAVAIL, Assert.Throws<NetDevException>(() => link.IpLinkSetAddress(MacAddress.Broadcast)).Errno);
    }

    [Fact]
    public void PromiscAndAllMulticastByOthersCallSetRxMode()
    {
        var (_, driver, registration, link, _) = Device();
        using var _ = registration;

        link.IpLinkSetPromisc(true);
        link.IpLinkSetAllMulticast(true);
        link.IpLinkSetPromisc(false);

        Assert.Equal([DeviceFlags.Promisc, DeviceFlags.Promisc | DeviceFlags.AllMulti, DeviceFlags.AllMulti], driver.RxModes);
        Assert.Equal(DeviceFlags.AllMulti, registration.Device.Flags & (DeviceFlags.Promisc | DeviceFlags.AllMulti));
    }

    [Fact]
    public void WithoutCarrierTheKernelSendsNothing()
    {
        var (_, driver, registration, link, calls) = Device();
        using var _ = registration;
        registration.Device.BringUp();

        link.IpLinkSetCarrier(false);

        Assert.False(registration.Device.Carrier);
        Assert.Contains("ChangeCarrier", calls.Summary());
        Assert.Equal(DeviceFlags.Up, link.Flags & (DeviceFlags.Up | DeviceFlags.Running));
        Assert.Equal(InjectResult.Dropped, link.InjectTransmit(TestFrames.Numbered(1)));
        Assert.Empty(driver.Frames);
        link.IpLinkSetCarrier(true);
        Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(TestFrames.Numbered(2)));
    }

    [Fact]
    public void TheDevicesOwnChangesReachTheSystem()
    {
        var (_, _, registration, link, _) = Device();
        using var _ = registration;
        var device = registration.Device;

        device.Mtu = 4000;
        device.MacAddress = MacAddress.Parse("02:01:02:03:04:05");
        device.Flags |= DeviceFlags.Promisc;
        device.CarrierOff();
        device.TxQueueLength = 10;

        Assert.Equal((4000, MacAddress.Parse("02:01:02:03:04:05"), false, 10), (link.Mtu, link.MacAddress, link.Carrier, link.TxQueueLength));
        Assert.True(link.Flags.HasFlag(DeviceFlags.Promisc));
        Assert.Equal(10, link.GetKernelQueueStats(0).Capacity);
    }

    [Fact]
    public void ARefusedConfigureLeavesTheMtuAsItWasInTheDeviceAndTheSystem()
    {
        var (_, _, registration, link, calls) = Device();
        using var _ = registration;
        link.FailNextConfigure(Errno.EPERM);

        Assert.Throws<NetDevException>(() => registration.Device.Mtu = 4000);

        Assert.Equal((1500, 1500), (registration.Device.Mtu, link.Mtu));
        Assert.Contains("ChangeMtu", calls.Summary());
        registration.Device.Mtu = 4000;
        Assert.Equal(4000, link.Mtu);
    }

    [Fact]
    public void TheKernelsMtuLimitHoldsForTheDevicesOwnChangesToo()
    {
        var host = new TestHost();
        using var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        registration.Device.MaxMtu = 0;   // no limit of the driver's own
        var link = host.Register(registration);

        var error = Assert.Throws<NetDevException>(() => registration.Device.Mtu = 70000);

        Assert.Equal(Errno.EINVAL, error.Errno);
        Assert.Equal((1500, 1500), (registration.Device.Mtu, link.Mtu));
    }

    [Fact]
    public void AShorterTxQueueLengthDiscardsTheNewestWaitingFrames()
    {
        var (_, driver, registration, link, _) = Device();
        using var _ = registration;
        driver.OnStartXmit = (device, skb) =>
        {
            device.StopQueue(0);
            skb.Consume();
            return TxResult.Ok;
        };
        registration.Device.BringUp();
        foreach (var frame in Frames.Numbered(6))
        {
            link.InjectTransmit(frame);
        }

        link.IpLinkSetTxQueueLength(2);

        Assert.Equal(2, registration.Device.TxQueueLength);
        var stats = link.GetKernelQueueStats(0);
        Assert.Equal((2, 2, 3L), (stats.Length, stats.Capacity, stats.Discarded));
        registration.Device.WakeQueue(0);
        registration.Device.WakeQueue(0);
        Assert.Equal(Frames.Numbered(3), driver.Frames.Select(f => f.Data));
    }
}
