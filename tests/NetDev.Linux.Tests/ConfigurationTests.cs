using System.Text.Json;

namespace NetDev.Linux.Tests;

/// <summary>Changes others make with <c>ip link</c> reach the driver; changes the driver rejects are undone in the kernel.</summary>
public sealed class ConfigurationTests
{
    private static (TestNamespace Ns, RecordingDriver Driver, Registration<RecordingDriver> Registration) Start(
        string name, RecordingDriver? driver = null, Action<NetDevice<RecordingDriver>>? configure = null)
    {
        var ns = new TestNamespace();
        driver ??= new RecordingDriver();
        var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = name;
        registration.Device.MaxMtu = 9000;
        configure?.Invoke(registration.Device);
        registration.Register();
        return (ns, driver, registration);
    }

    private static JsonElement Link(TestNamespace ns, string name) => ns.Link(name) ?? throw new Xunit.Sdk.XunitException($"{name} missing");

    [Fact]
    public void OutsideMtuChangeReachesTheDriver()
    {
        var (ns, driver, registration) = Start("ndcfg0");
        using (ns)
        using (registration)
        {
            ns.Ip("link set dev ndcfg0 mtu 4000");
            Wait.Until(() => registration.Device.Mtu == 4000, "the device learns MTU 4000");
            Assert.Equal(["mtu 4000"], driver.Changes);
            Assert.True(registration.Device.Queues[0].TxPool.BufferSize >= 4000 + NetDevice.LinkOverhead);
        }
    }

    [Fact]
    public void MtuOutsideTheDriversRangeIsPutBackInTheKernel()
    {
        var (ns, driver, registration) = Start("ndcfg1");
        using (ns)
        using (registration)
        {
            var rejections = new List<ChangeRejectedEventArgs>();
            registration.Device.ChangeRejected += (_, e) => { lock (rejections) rejections.Add(e); };
            ns.Ip("link set dev ndcfg1 mtu 9500");
            Wait.Until(() => { lock (rejections) return rejections.Count == 1; }, "the rejection");
            Wait.Until(() => Link(ns, "ndcfg1").GetProperty("mtu").GetInt32() == 1500, "MTU 1500 back in the kernel");
            Assert.Equal(1500, registration.Device.Mtu);
            Assert.Empty(driver.Changes); // out of range is refused before the driver is asked
            lock (rejections)
            {
                Assert.Equal("mtu", rejections[0].Setting);
                Assert.Equal("9500", rejections[0].Requested);
                Assert.Contains("outside", rejections[0].Reason);
            }
        }
    }

    [Fact]
    public void MtuVetoedByTheDriverIsPutBackInTheKernel()
    {
        var (ns, driver, registration) = Start("ndcfg2", new RecordingDriver { RefuseMtu = mtu => mtu == 3000 });
        using (ns)
        using (registration)
        {
            ns.Ip("link set dev ndcfg2 mtu 3000");
            Wait.Until(() => driver.Changes.Contains("mtu 3000"), "the driver asked");
            Wait.Until(() => Link(ns, "ndcfg2").GetProperty("mtu").GetInt32() == 1500, "MTU 1500 back in the kernel");
            Assert.Equal(1500, registration.Device.Mtu);
            // A later acceptable change still goes through.
            ns.Ip("link set dev ndcfg2 mtu 2000");
            Wait.Until(() => registration.Device.Mtu == 2000, "MTU 2000 accepted");
        }
    }

    [Fact]
    public void AddressChangeReachesTheDriverAndAVetoedOneIsPutBack()
    {
        var reserved = MacAddress.Parse("02:00:00:00:00:66");
        var (ns, driver, registration) = Start("ndcfg3", new RecordingDriver { RefuseAddress = mac => mac == reserved });
        using (ns)
        using (registration)
        {
            var original = registration.Device.MacAddress;
            ns.Ip("link set dev ndcfg3 address 02:00:00:00:00:42");
            Wait.Until(() => registration.Device.MacAddress == MacAddress.Parse("02:00:00:00:00:42"), "the new address");
            ns.Ip("link set dev ndcfg3 address 02:00:00:00:00:66");
            Wait.Until(() => driver.Changes.Contains($"address {reserved}"), "the driver asked about the reserved address");
            Wait.Until(() => Link(ns, "ndcfg3").GetProperty("address").GetString() == "02:00:00:00:00:42", "old address back in the kernel");
            Assert.Equal(MacAddress.Parse("02:00:00:00:00:42"), registration.Device.MacAddress);
            Assert.NotEqual(original, registration.Device.MacAddress);
        }
    }

    [Fact]
    public void PromiscAndAllmultiReachSetRxMode()
    {
        var (ns, driver, registration) = Start("ndcfg4");
        using (ns)
        using (registration)
        {
            ns.Ip("link set dev ndcfg4 promisc on");
            Wait.Until(() => driver.Changes.Contains("rxmode promisc=True allmulti=False"), "promisc on");
            ns.Ip("link set dev ndcfg4 allmulticast on");
            Wait.Until(() => driver.Changes.Contains("rxmode promisc=True allmulti=True"), "allmulti on");
            ns.Ip("link set dev ndcfg4 promisc off");
            Wait.Until(() => driver.Changes.Contains("rxmode promisc=False allmulti=True"), "promisc off");
            Assert.Equal(DeviceFlags.AllMulti, registration.Device.Flags & (DeviceFlags.Promisc | DeviceFlags.AllMulti));
        }
    }

    [Fact]
    public void CarrierChangeFromOutsideReachesTheDriver()
    {
        var (ns, driver, registration) = Start("ndcfg5");
        using (ns)
        using (registration)
        {
            // The kernel announces carrier changes of up interfaces only (netdev_state_change).
            registration.Device.BringUp();
            ns.Ip("link set dev ndcfg5 carrier off");
            Wait.Until(() => driver.Changes.Contains("carrier off"), "carrier off reaches the driver");
            Assert.False(registration.Device.Carrier);
            ns.Ip("link set dev ndcfg5 carrier on");
            Wait.Until(() => driver.Changes.Contains("carrier on"), "carrier on reaches the driver");
            Assert.True(registration.Device.Carrier);
        }
    }

    [Fact]
    public void DeviceSettersChangeTheKernelsView()
    {
        var (ns, driver, registration) = Start("ndcfg6");
        using (ns)
        using (registration)
        {
            var device = registration.Device;
            device.BringUp(); // NO-CARRIER shows on up interfaces only
            device.Mtu = 6000;
            device.MacAddress = MacAddress.Parse("02:aa:bb:cc:dd:ee");
            device.TxQueueLength = 321;
            device.Flags |= DeviceFlags.Promisc | DeviceFlags.NoArp;
            device.CarrierOff();
            device.Alias = "a NetDev test device";
            var link = Link(ns, "ndcfg6");
            Assert.Equal(6000, link.GetProperty("mtu").GetInt32());
            Assert.Equal("02:aa:bb:cc:dd:ee", link.GetProperty("address").GetString());
            Assert.Equal(321, link.GetProperty("txqlen").GetInt32());
            Assert.Equal(1, link.GetProperty("promiscuity").GetInt32());
            Assert.Contains("NOARP", link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
            Assert.Contains("NO-CARRIER", link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
            Assert.Equal("a NetDev test device", link.GetProperty("ifalias").GetString());
            Assert.Equal(["mtu 6000", "address 02:aa:bb:cc:dd:ee", "rxmode promisc=True allmulti=False"], driver.Changes);
            // Our own changes come back as notifications; they must not reach the driver a second time.
            Thread.Sleep(200);
            Assert.Equal(3, driver.Changes.Count);
        }
    }

    [Fact]
    public void DriverMtuVetoThroughTheSetterLeavesTheKernelUnchanged()
    {
        var (ns, _, registration) = Start("ndcfg7", new RecordingDriver { RefuseMtu = mtu => mtu > 8000 });
        using (ns)
        using (registration)
        {
            Assert.Throws<NotSupportedException>(() => registration.Device.Mtu = 8500);
            Assert.Equal(1500, Link(ns, "ndcfg7").GetProperty("mtu").GetInt32());
            Assert.Throws<ArgumentOutOfRangeException>(() => registration.Device.Mtu = 9001);
        }
    }

    [Fact]
    public void AliasNamesTheDriverInTheKernelsView()
    {
        var (ns, _, registration) = Start("ndcfg8");
        using (ns)
        using (registration)
        {
            var alias = Link(ns, "ndcfg8").GetProperty("ifalias").GetString();
            Assert.Equal($"netdev: RecordingDriver driver, pid {Environment.ProcessId}", alias);
        }
    }

    [Fact]
    public async Task LostNotificationsAreRecoveredFromTheCurrentState()
    {
        // While the driver's Open holds the device's control lock, the event thread cannot read its socket;
        // a tiny receive buffer then overflows (ENOBUFS) and the host must resynchronise from the kernel.
        var release = new ManualResetEventSlim();
        var driver = new RecordingDriver { OnOpen = _ => release.Wait(TimeSpan.FromSeconds(20)) };
        var ns = new TestNamespace();
        using (ns)
        {
            var host = new LinuxHost(new LinuxHostOptions { NetworkNamespace = ns.Name, NotificationBufferBytes = 1 });
            using var registration = new Registration<RecordingDriver>(host, 1, 1, driver);
            registration.Device.Name = "ndnobuf0";
            registration.Device.MaxMtu = 9000;
            registration.Register();
            var overflowsBefore = Netlink.LinkMonitor.Overflows;
            var opening = Task.Run(registration.Device.BringUp, TestContext.Current.CancellationToken);
            Wait.Until(() => driver.Count("Open") == 1, "Open running");
            for (var mtu = 1000; mtu < 1100; mtu++)
            {
                ns.Ip($"link set dev ndnobuf0 mtu {mtu}");
            }
            release.Set();
            await opening.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
            Wait.Until(() => registration.Device.Mtu == 1099, "the last MTU learnt despite lost notifications");
            Assert.True(Netlink.LinkMonitor.Overflows > overflowsBefore, "the socket never overflowed; the test proved nothing");
        }
    }
}
