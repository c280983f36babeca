using System.Diagnostics;
using NetDev.Drivers.Dummy;
using NetDev.Testing;

namespace NetDev.Drivers.Tests;

/// <summary>The dummy driver's logic on the test host: dummy.c's behaviour, operation by operation.</summary>
public sealed class DummyDriverTests
{
    private static readonly MacAddress Multicast = MacAddress.Parse("01:00:5e:00:00:01");

    [Fact]
    public void SetupMakesADummyDevice()
    {
        var host = new TestHost();
        using var registration = DummyDriver.CreateRegistration(host);
        var device = registration.Device;

        Assert.Equal("dummy%d", device.Name);
        Assert.Equal("dummy", device.DriverName);
        Assert.True(device.Flags.HasFlag(DeviceFlags.NoArp), $"flags {device.Flags}");
        Assert.False(device.Flags.HasFlag(DeviceFlags.Multicast), $"flags {device.Flags}");
        Assert.True(device.MacAddress.IsValidDeviceAddress && device.MacAddress.IsLocallyAdministered, $"{device.MacAddress}");
        Assert.Equal((DummyDriver.MinimumMtu, 0), (device.MinMtu, device.MaxMtu));

        var link = host.Register(registration);

        // The system's view, as ip link shows it.
        Assert.Equal("dummy0", link.Name);
        Assert.Equal("dummy", link.Request.DriverName);
        Assert.True(link.Flags.HasFlag(DeviceFlags.NoArp), $"flags {link.Flags}");
        Assert.False(link.Flags.HasFlag(DeviceFlags.Multicast), $"flags {link.Flags}");
        Assert.Equal(device.MacAddress, link.MacAddress);
    }

    [Fact]
    public void DevicesMadeFromTheTemplateAreNumberedInOrder()
    {
        var host = new TestHost();
        var registrations = Enumerable.Range(0, 3).Select(_ => DummyDriver.CreateRegistration(host)).ToList();
        try
        {
            Assert.Equal(["dummy0", "dummy1", "dummy2"], registrations.Select(r => host.Register(r).Name));
            // Each device gets its own random address.
            Assert.Equal(3, registrations.Select(r => r.Device.MacAddress).Distinct().Count());
        }
        finally
        {
            registrations.ForEach(r => r.Dispose());
        }
        host.AssertClean();
    }

    [Fact]
    public void TheOperationTableNamesWhatTheDriverDoes()
    {
        // dummy_netdev_ops without the entries NetDev does for every driver (init, uninit, get_stats64,
        // validate_addr) or that dummy leaves empty (set_rx_mode).
        Assert.Equal("SetMacAddress, ChangeCarrier, StartXmit", DeviceOperationDispatcher<DummyDriver>.Describe());
    }

    [Fact]
    public void EveryFrameIsCountedAndConsumed()
    {
        var host = new TestHost();
        var registration = DummyDriver.CreateRegistration(host, queues: 2);
        var calls = OperationRecorder.Attach(registration.Device);
        var link = host.Register(registration);
        registration.Device.BringUp();
        var device = registration.Device;
        var sent = new long[2];
        var bytes = new long[2];

        for (var i = 0; i < 40; i++)
        {
            var queue = i % 3 == 0 ? 1 : 0;
            var frame = TestFrames.Numbered(i, payloadLength: 46 + 37 * i);
            Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(queue, frame));
            sent[queue]++;
            bytes[queue] += frame.Length;
        }

        for (var q = 0; q < 2; q++)
        {
            Assert.Equal((sent[q], bytes[q]), (device.Queues[q].TxPackets, device.Queues[q].TxBytes));
            var account = SkBuffAccounting.Account(device.Queues[q].TxPool);
            Assert.Equal((0, sent[q], 0L), (account.Outstanding, account.Consumed, account.Dropped));
        }
        // Like dummy_get_stats64 adding up the per-CPU counters: the device's stats are the queues' sums.
        Assert.Equal(new DeviceStats(40, bytes.Sum(), 0, 0, 0, 0, 0, 0), device.GetStats());
        Assert.Empty(link.Received);
        Assert.Empty(device.GetDropCounts());
        Assert.Equal(40, calls.Count(nameof(IDeviceOperations<>.StartXmit)));
        Assert.All(calls.Calls.Where(c => c.Operation == nameof(IDeviceOperations<>.StartXmit)), call => Assert.Equal(TxResult.Ok, call.Result));

        registration.Dispose();
        SkBuffAccounting.AssertNoLeaks(registration);
        host.AssertClean();
    }

    [Fact]
    public void StartXmitStampsTheTransmitTimeBeforeReleasingTheFrameWhenItWasAskedFor()
    {
        var host = new TestHost();
        using var registration = DummyDriver.CreateRegistration(host);
        var link = host.Register(registration);
        registration.Device.BringUp();
        var queue = registration.Device.Queues[0];
        var frame = TestFrames.Numbered(7);
        var skb = queue.TxPool.Rent();
        frame.CopyTo(skb.Put(frame.Length));
        // The storage outlives the handle: after the release it still holds what the driver wrote into it.
        var storage = skb.Slot!;
        Assert.Equal(0, storage.TxTimestamp);
        // As a socket's SO_TIMESTAMPING asks the kernel; without it the dummy reads no clock (below).
        skb.TxTimestampRequested = true;

        var before = Stopwatch.GetTimestamp();
        link.RunOnQueue(0, () => queue.Engine.Dispatch(skb, more: false));
        var after = Stopwatch.GetTimestamp();

        Assert.False(skb.IsLive);
        Assert.Equal(ReleaseKind.Consume, storage.LastRelease);
        Assert.InRange(storage.TxTimestamp, before, after);

        var unasked = queue.TxPool.Rent();
        frame.CopyTo(unasked.Put(frame.Length));
        var unaskedStorage = unasked.Slot!;
        link.RunOnQueue(0, () => queue.Engine.Dispatch(unasked, more: false));
        Assert.Equal(ReleaseKind.Consume, unaskedStorage.LastRelease);
        Assert.Equal(0, unaskedStorage.TxTimestamp);
        Assert.Equal(2, registration.Device.GetStats().TxPackets);
        link.AssertNoErrors();
    }

    [Fact]
    public void ACarrierChangeIsAccepted()
    {
        var host = new TestHost();
        using var registration = DummyDriver.CreateRegistration(host);
        var device = registration.Device;
        var calls = OperationRecorder.Attach(device);
        var link = host.Register(registration);
        device.BringUp();
        var rejections = new List<ChangeRejectedEventArgs>();
        device.ChangeRejected += (_, e) => rejections.Add(e);

        link.IpLinkSetCarrier(false);

        Assert.False(device.Carrier);
        Assert.False(link.Carrier);
        Assert.False(link.Flags.HasFlag(DeviceFlags.Running), $"flags {link.Flags}");
        // Without carrier the kernel sends nothing to the driver.
        Assert.Equal(InjectResult.Dropped, link.InjectTransmit(TestFrames.Numbered(1)));
        Assert.Equal(0, device.GetStats().TxPackets);

        link.IpLinkSetCarrier(true);

        Assert.True(device.Carrier);
        Assert.True(link.Carrier);
        Assert.Equal(InjectResult.Dispatched, link.InjectTransmit(TestFrames.Numbered(2)));
        Assert.Equal(1, device.GetStats().TxPackets);
        Assert.Empty(rejections);
        Assert.Equal(["ChangeCarrier", "ChangeCarrier", "StartXmit(q0) Ok"], calls.Summary());
        link.AssertNoErrors();
    }

    [Fact]
    public void TheDriverRefusesAnAddressThatIsNotValidUnicast()
    {
        var host = new TestHost();
        using var registration = DummyDriver.CreateRegistration(host);
        var device = registration.Device;
        host.Register(registration);

        // The framework never passes such an address; the driver's own rule is called directly here.
        foreach (var invalid in new[] { Multicast, MacAddress.Broadcast, MacAddress.Zero })
        {
            var error = Assert.Throws<NetDevException>(() => device.DriverData.SetMacAddress(device, invalid));
            Assert.Equal(Errno.EADDRNOTAVAIL, error.Errno);
            Assert.Contains(invalid.ToString(), error.Message);
        }
        device.DriverData.SetMacAddress(device, MacAddress.Parse("02:00:00:00:00:42"));
        device.DriverData.SetMacAddress(device, MacAddress.Parse("00:16:3e:00:00:01"));
    }

    [Fact]
    public void AnInvalidAddressNeverReachesTheDriverOrTheSystem()
    {
        var host = new TestHost();
        using var registration = DummyDriver.CreateRegistration(host);
        var device = registration.Device;
        var calls = OperationRecorder.Attach(device);
        var link = host.Register(registration);
        var original = device.MacAddress;

        Assert.Throws<ArgumentException>(() => device.MacAddress = Multicast);
        Assert.Throws<ArgumentException>(() => device.MacAddress = MacAddress.Zero);
        var kernelRefusal = Assert.Throws<NetDevException>(() => link.IpLinkSetAddress(Multicast));
        Assert.Equal(Errno.EADDRNOTAVAIL, kernelRefusal.Errno);

        Assert.Equal(original, device.MacAddress);
        Assert.Equal(original, link.MacAddress);
        Assert.Equal(0, calls.Count(nameof(IDeviceOperations<>.SetMacAddress)));
    }

    [Fact]
    public void AValidAddressIsTakenAlsoWhileTheDeviceIsUp()
    {
        var host = new TestHost();
        using var registration = DummyDriver.CreateRegistration(host);
        var device = registration.Device;
        var calls = OperationRecorder.Attach(device);
        var link = host.Register(registration);
        device.BringUp();
        var ours = MacAddress.Parse("02:00:00:00:00:42");
        var theirs = MacAddress.Parse("00:16:3e:12:34:56");

        device.MacAddress = ours;
        Assert.Equal((ours, ours), (device.MacAddress, link.MacAddress));

        link.IpLinkSetAddress(theirs);
        Assert.Equal((theirs, theirs), (device.MacAddress, link.MacAddress));

        Assert.True(device.IsUp);
        Assert.Equal(["SetMacAddress", "SetMacAddress"], calls.Summary());
        link.AssertNoErrors();
    }

    [Fact]
    public void TimestampingIsSoftwareOnlyWithoutAHardwareClock()
    {
        var host = new TestHost();
        using var registration = DummyDriver.CreateRegistration(host);
        host.Register(registration);

        var info = registration.Device.GetTsInfo();

        Assert.Equal(TimestampingInfo.Software, info);
        Assert.True(info.Capabilities.HasFlag(TimestampingCapabilities.SoftwareTransmit));
        Assert.Equal(TimestampingCapabilities.None,
            info.Capabilities & (TimestampingCapabilities.HardwareTransmit | TimestampingCapabilities.HardwareReceive | TimestampingCapabilities.RawHardware));
        Assert.Equal(-1, info.PhcIndex);
    }

    [Fact]
    public void DriverInfoNamesTheDummyDriverAndNetDevsVersion()
    {
        var host = new TestHost();
        using var registration = DummyDriver.CreateRegistration(host);
        host.Register(registration);

        var info = registration.Device.GetDriverInfo();

        Assert.Equal("dummy", info.Driver);
        Assert.Equal(typeof(NetDevice).Assembly.GetName().Version!.ToString(3), info.Version);
        Assert.Matches(@"^\d+\.\d+\.\d+$", info.Version);
        Assert.Equal($"netdev:pid{Environment.ProcessId}", info.BusInfo);
    }

    [Fact]
    public void TheMtuHasNoUpperBoundOfTheDriversOwn()
    {
        var host = new TestHost();
        using var registration = DummyDriver.CreateRegistration(host);
        var link = host.Register(registration);

        registration.Device.Mtu = 9000;
        Assert.Equal(9000, link.Mtu);
        link.IpLinkSetMtu(65000);
        Assert.Equal(65000, registration.Device.Mtu);
        Assert.Throws<ArgumentOutOfRangeException>(() => registration.Device.Mtu = DummyDriver.MinimumMtu - 1);
        Assert.Equal(65000, link.Mtu);
    }
}
