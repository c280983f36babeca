using NetDev.Hosting;
using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>What a device is before it exists: defaults, checks on every setting, and the request the host receives.</summary>
public sealed class DeviceConfigurationTests
{
    [Fact]
    public void DefaultsAreThoseOfEtherSetup()
    {
        using var harness = DeviceHarness.Unregistered();
        var device = harness.Device;

        Assert.Equal("eth%d", device.Name);
        Assert.Equal(1500, device.Mtu);
        Assert.Equal(68, device.MinMtu);
        Assert.Equal(1500, device.MaxMtu);
        Assert.Equal(DeviceFlags.Broadcast | DeviceFlags.Multicast, device.Flags);
        Assert.Equal(1000, device.TxQueueLength);
        Assert.True(device.MacAddress.IsValidDeviceAddress);
        Assert.True(device.MacAddress.IsLocallyAdministered);
        Assert.Equal(0, device.IfIndex);
        Assert.False(device.IsRegistered);
        Assert.False(device.IsUp);
    }

    [Fact]
    public void TheHostIsAskedForExactlyWhatWasConfigured()
    {
        var host = new FakeHost();
        using var registration = new Registration<NamedDriver>(host, 2, 3, new NamedDriver());
        var device = registration.Device;
        var mac = MacAddress.Parse("02:11:22:33:44:55");
        device.Name = "named%d";
        device.MacAddress = mac;
        device.Mtu = 1280;
        device.Flags = DeviceFlags.NoArp | DeviceFlags.Up | DeviceFlags.Running;
        device.TxQueueLength = 0;

        registration.Register();

        Assert.Equal(new LinkRequest("named%d", mac, 1280, DeviceFlags.NoArp, 0, 3, "named-test"), host.Link.Request);
        Assert.Equal("named0", device.Name);
        Assert.Equal("named-test", device.DriverName);
    }

    [Fact]
    public void UpAndRunningAreNeverPartOfTheConfiguredFlags()
    {
        using var harness = DeviceHarness.Unregistered();

        harness.Device.Flags = DeviceFlags.Up | DeviceFlags.Running | DeviceFlags.Promisc;

        Assert.Equal(DeviceFlags.Promisc, harness.Device.Flags);
    }

    [Theory]
    [InlineData("e")]
    [InlineData("dummy%d")]
    [InlineData("%d")]
    [InlineData("abcdefghijklmno")] // 15 characters, the most an interface name holds
    [InlineData("veth-a.b_c")]
    public void ValidNamesAreAccepted(string name)
    {
        using var harness = DeviceHarness.Unregistered();

        harness.Device.Name = name;

        Assert.Equal(name, harness.Device.Name);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abcdefghijklmnop")] // 16 characters
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("a\tb")]
    [InlineData("eth%d%d")]
    [InlineData("a:b")] // the kernel reserves ':' (old alias syntax)
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("eth%x")] // '%' only as %d
    [InlineData("eth%")]
    [InlineData("ééééééééé")] // 9 characters, but 18 bytes of UTF-8: the kernel counts bytes
    public void InvalidNamesAreRejectedAndTheNameKept(string name)
    {
        using var harness = DeviceHarness.Unregistered();

        Assert.ThrowsAny<ArgumentException>(() => harness.Device.Name = name);

        Assert.Equal("eth%d", harness.Device.Name);
    }

    [Fact]
    public void ANullNameIsRejected()
    {
        using var harness = DeviceHarness.Unregistered();

        Assert.Throws<ArgumentNullException>(() => harness.Device.Name = null!);
    }

    [Theory]
    [InlineData(68)]
    [InlineData(576)]
    [InlineData(1500)]
    public void AnMtuInsideTheRangeIsAccepted(int mtu)
    {
        using var harness = DeviceHarness.Unregistered();

        harness.Device.Mtu = mtu;

        Assert.Equal(mtu, harness.Device.Mtu);
    }

    [Theory]
    [InlineData(67)]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1501)]
    [InlineData(9000)]
    public void AnMtuOutsideTheRangeIsRejectedAndTheMtuKept(int mtu)
    {
        using var harness = DeviceHarness.Unregistered();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => harness.Device.Mtu = mtu);

        Assert.Equal(mtu, error.ActualValue);
        Assert.Contains("68..1500", error.Message, StringComparison.Ordinal);
        Assert.Equal(1500, harness.Device.Mtu);
    }

    [Fact]
    public void TheDriversRangeDecidesWhichMtuIsValid()
    {
        using var harness = DeviceHarness.Unregistered();
        var device = harness.Device;

        device.MaxMtu = 9000;
        device.Mtu = 9000;
        Assert.Throws<ArgumentOutOfRangeException>(() => device.Mtu = 9001);

        device.MinMtu = 1280;
        Assert.Throws<ArgumentOutOfRangeException>(() => device.Mtu = 1279);
        device.Mtu = 1280;

        device.MaxMtu = 0; // no limit of the driver's own
        device.Mtu = 65535;
        Assert.Equal(65535, device.Mtu);

        Assert.Throws<ArgumentOutOfRangeException>(() => device.MinMtu = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => device.MaxMtu = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => device.TxQueueLength = -1);
    }

    [Fact]
    public void ALargeMtuGrowsTheTransmitBuffersAtRegistration()
    {
        using var harness = DeviceHarness.Unregistered(txQueues: 2);
        harness.Device.MaxMtu = 9000;
        harness.Device.Mtu = 9000;

        harness.Registration.Register();

        Assert.All(harness.Device.Queues, queue =>
            Assert.Equal(SkBuffPool.DefaultHeadroom + 9000 + NetDevice.MaxLinkOverhead, queue.TxPool.BufferSize));
        harness.Device.BringUp();
        var frame = harness.Link.SendFrame(0, new byte[9000 + NetDevice.EthernetHeaderLength]);
        Assert.False(frame.IsLive);
    }

    [Fact]
    public void ASmallMtuKeepsTheDefaultTransmitBuffers()
    {
        using var harness = DeviceHarness.Unregistered();
        harness.Device.Mtu = 576;

        harness.Registration.Register();

        Assert.Equal(SkBuffPool.DefaultBufferSize, harness.Device.Queues[0].TxPool.BufferSize);
    }

    [Theory]
    [InlineData("00:00:00:00:00:00")] // zero
    [InlineData("ff:ff:ff:ff:ff:ff")] // broadcast
    [InlineData("01:00:5e:00:00:01")] // IPv4 multicast
    [InlineData("33:33:00:00:00:01")] // IPv6 multicast
    [InlineData("03:00:00:00:00:01")] // group bit with the local bit
    public void AnAddressThatCannotBeADevicesIsRejectedAndTheAddressKept(string text)
    {
        using var harness = DeviceHarness.Unregistered();
        var before = harness.Device.MacAddress;

        Assert.Throws<ArgumentException>(() => harness.Device.MacAddress = MacAddress.Parse(text));

        Assert.Equal(before, harness.Device.MacAddress);
    }

    [Theory]
    [InlineData("02:00:00:00:00:01")]
    [InlineData("00:16:3e:12:34:56")] // vendor-assigned
    public void AUnicastAddressIsAccepted(string text)
    {
        using var harness = DeviceHarness.Unregistered();

        harness.Device.MacAddress = MacAddress.Parse(text);

        Assert.Equal(text, harness.Device.MacAddress.ToString());
    }

    public static TheoryData<string> SettingsChosenBeforeRegistration => ["Name", "MinMtu", "MaxMtu", "TimeProvider"];

    [Theory]
    [MemberData(nameof(SettingsChosenBeforeRegistration))]
    public void SettingsChosenBeforeRegistrationThrowAfterwardsAndChangeNothing(string setting)
    {
        using var harness = DeviceHarness.Registered();
        var device = harness.Device;
        var before = Snapshot(device);
        var clock = device.TimeProvider;

        Action change = setting switch
        {
            "Name" => () => device.Name = "other0",
            "MinMtu" => () => device.MinMtu = 100,
            "MaxMtu" => () => device.MaxMtu = 9000,
            "TimeProvider" => () => device.TimeProvider = new StoppedClock(),
            _ => throw new ArgumentOutOfRangeException(nameof(setting)),
        };
        var error = Assert.Throws<InvalidOperationException>(change);

        Assert.Contains("before Register()", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(device));
        Assert.Same(clock, device.TimeProvider);
        Assert.Empty(harness.Link.Configurations);
    }

    [Fact]
    public void SettingsChosenBeforeRegistrationStillThrowAfterDispose()
    {
        var harness = DeviceHarness.Registered();
        harness.Dispose();

        Assert.Throws<InvalidOperationException>(() => harness.Device.MaxMtu = 9000);
        Assert.Throws<InvalidOperationException>(() => harness.Device.Name = "other0");
    }

    [Fact]
    public void AnMtuChangeOnARegisteredDeviceAsksTheDriverThenTheSystem()
    {
        using var harness = DeviceHarness.Registered();
        var asked = new List<(int NewMtu, int MtuDuringTheCall)>();
        harness.Driver.OnChangeMtu = (device, mtu) => asked.Add((mtu, device.Mtu));

        harness.Device.Mtu = 1400;

        Assert.Equal(1400, harness.Device.Mtu);
        Assert.Equal([(1400, 1500)], asked); // asked before the change
        Assert.Equal(["driver.ChangeMtu", "link.Configure"], harness.Log.Only("driver.ChangeMtu", "link.Configure"));
        Assert.Equal(1400, Assert.Single(harness.Link.Configurations).Mtu);
    }

    [Fact]
    public void AnMtuChangeTheDriverRejectsReachesTheCallerAndChangesNothing()
    {
        using var harness = DeviceHarness.Registered();
        var refusal = new NotSupportedException("fixed MTU");
        harness.Driver.OnChangeMtu = (_, _) => throw refusal;

        Assert.Same(refusal, Assert.Throws<NotSupportedException>(() => harness.Device.Mtu = 1400));

        Assert.Equal(1500, harness.Device.Mtu);
        Assert.Empty(harness.Link.Configurations);
    }

    [Fact]
    public void AnMtuOutsideTheRangeOnARegisteredDeviceNeverReachesTheDriver()
    {
        using var harness = DeviceHarness.Registered();

        Assert.Throws<ArgumentOutOfRangeException>(() => harness.Device.Mtu = 9000);

        Assert.Equal(0, harness.Log.Count("driver.ChangeMtu"));
        Assert.Empty(harness.Link.Configurations);
    }

    [Fact]
    public void AnMtuChangeTheSystemRefusesReachesTheCallerAndKeepsTheMtu()
    {
        using var harness = DeviceHarness.Registered();
        var refusal = new NetDevException(Errno.EINVAL, "RTM_NEWLINK", "eth0");
        harness.Link.ConfigureFailure = change => change.Mtu is not null ? refusal : null;
        var asked = new List<int>();
        harness.Driver.OnChangeMtu = (_, mtu) => asked.Add(mtu);

        Assert.Same(refusal, Assert.Throws<NetDevException>(() => harness.Device.Mtu = 1400));

        Assert.Equal(1500, harness.Device.Mtu);
        // The driver had accepted 1400; it is told to go back, as the kernel's dev_set_mtu_ext does.
        Assert.Equal([1400, 1500], asked);
        Assert.Empty(harness.Errors);
    }

    [Fact]
    public void WhenTheDriverCannotGoBackToTheOldMtuThatIsReportedAndTheSystemsRefusalStillReachesTheCaller()
    {
        using var harness = DeviceHarness.Registered();
        var refusal = new NetDevException(Errno.EINVAL, "RTM_NEWLINK", "eth0");
        var stuck = new InvalidOperationException("cannot go back");
        harness.Link.ConfigureFailure = change => change.Mtu is not null ? refusal : null;
        harness.Driver.OnChangeMtu = (_, mtu) =>
        {
            if (mtu == 1500)
            {
                throw stuck;
            }
        };

        Assert.Same(refusal, Assert.Throws<NetDevException>(() => harness.Device.Mtu = 1400));

        Assert.Same(stuck, Assert.Single(harness.Errors));
        Assert.Equal(1500, harness.Device.Mtu);
    }

    [Fact]
    public void AnAddressChangeTheSystemRefusesKeepsTheAddressAndPutsTheDriverBack()
    {
        using var harness = DeviceHarness.Registered();
        var before = harness.Device.MacAddress;
        var refusal = new NetDevException(Errno.EADDRNOTAVAIL, "RTM_NEWLINK", "eth0");
        harness.Link.ConfigureFailure = change => change.MacAddress is not null ? refusal : null;
        var asked = new List<MacAddress>();
        harness.Driver.OnSetMacAddress = (_, address) => asked.Add(address);
        var wanted = MacAddress.Parse("02:aa:bb:cc:dd:ee");

        Assert.Same(refusal, Assert.Throws<NetDevException>(() => harness.Device.MacAddress = wanted));

        Assert.Equal(before, harness.Device.MacAddress);
        Assert.Equal([wanted, before], asked);
    }

    [Fact]
    public void AnAddressChangeOnARegisteredDeviceAsksTheDriverThenTheSystem()
    {
        using var harness = DeviceHarness.Registered();
        var address = MacAddress.Parse("02:aa:bb:cc:dd:ee");

        harness.Device.MacAddress = address;

        Assert.Equal(address, harness.Device.MacAddress);
        Assert.Equal(["driver.SetMacAddress", "link.Configure"], harness.Log.Only("driver.SetMacAddress", "link.Configure"));
        Assert.Equal(address, Assert.Single(harness.Link.Configurations).MacAddress);
    }

    [Fact]
    public void SettingTheSameValueAgainOnARegisteredDeviceDoesNothing()
    {
        using var harness = DeviceHarness.Registered();

        harness.Device.Mtu = harness.Device.Mtu;
        harness.Device.MacAddress = harness.Device.MacAddress;
        harness.Device.Flags = harness.Device.Flags;

        Assert.Empty(harness.Link.Configurations);
        Assert.Equal(0, harness.Log.Count("driver.ChangeMtu"));
        Assert.Equal(0, harness.Log.Count("driver.SetMacAddress"));
    }

    private static string Snapshot(NetDevice device) =>
        $"{device.Name} {device.MacAddress} {device.Mtu} {device.MinMtu} {device.MaxMtu} {device.Flags} {device.TxQueueLength}";

    /// <summary>A clock that is not the system's, to tell a replaced TimeProvider apart.</summary>
    private sealed class StoppedClock : TimeProvider;
}
