namespace NetDev.Linux.Tests;

public sealed class RegistrationTests
{
    [Fact]
    public void RegisteredInterfaceHasTheRequestedNameMacMtuAndFlagsInTheKernel()
    {
        using var ns = new TestNamespace();
        var mac = MacAddress.Parse("02:11:22:33:44:55");
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        registration.Device.Name = "ndtest0";
        registration.Device.MacAddress = mac;
        registration.Device.Mtu = 1400;
        registration.Device.Flags = DeviceFlags.NoArp | DeviceFlags.Broadcast;
        registration.Device.TxQueueLength = 777;
        registration.Register();

        var link = ns.Link("ndtest0") ?? throw new Xunit.Sdk.XunitException("interface missing");
        Assert.Equal("ndtest0", link.GetProperty("ifname").GetString());
        Assert.Equal(mac.ToString(), link.GetProperty("address").GetString());
        Assert.Equal(1400, link.GetProperty("mtu").GetInt32());
        Assert.Equal(777, link.GetProperty("txqlen").GetInt32());
        var flags = link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()).ToList();
        Assert.Contains("NOARP", flags);
        Assert.DoesNotContain("MULTICAST", flags);
        Assert.Equal(link.GetProperty("ifindex").GetInt32(), registration.Device.IfIndex);
        Assert.Equal(1, ns.RealTxQueues("ndtest0"));
        Assert.Contains("RecordingDriver", link.GetProperty("ifalias").GetString());
    }

    [Fact]
    public void NameTemplateIsResolvedByTheKernel()
    {
        using var ns = new TestNamespace();
        using var first = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        using var second = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        first.Device.Name = "ndt%d";
        second.Device.Name = "ndt%d";
        first.Register();
        second.Register();
        Assert.Equal("ndt0", first.Device.Name);
        Assert.Equal("ndt1", second.Device.Name);
        Assert.NotNull(ns.Link("ndt0"));
        Assert.NotNull(ns.Link("ndt1"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void MultiQueueDeviceHasOneKernelQueuePerDeviceQueue(int queues)
    {
        using var ns = new TestNamespace();
        using var registration = new Registration<RecordingDriver>(ns.Host, queues, queues, new RecordingDriver());
        registration.Device.Name = "ndmq0";
        registration.Register();
        Assert.Equal(queues, ns.RealTxQueues("ndmq0"));
        Assert.Equal(queues, registration.Device.Queues.Count);
    }

    [Fact]
    public void InitFailureLeavesNoInterface()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver { OnInit = _ => throw new InvalidOperationException("init refused") };
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndinit0";
        var error = Assert.Throws<InvalidOperationException>(registration.Register);
        Assert.Equal("init refused", error.Message);
        Assert.False(registration.IsRegistered);
        Assert.Null(ns.Link("ndinit0"));
    }

    [Fact]
    public void DisposeRemovesTheInterfaceWhileACopyOfItsDescriptorIsStillOpen()
    {
        // A child forked by another thread holds copies of every descriptor until it calls exec: closing
        // ours alone would leave the interface in place that long. A dup stands in for that child.
        using var ns = new TestNamespace();
        var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        int copy = -1;
        try
        {
            registration.Device.Name = "ndheld0";
            registration.Register();
            copy = DescriptorCopy.OfTap("ndheld0");
            registration.Dispose();
            Assert.Null(ns.Link("ndheld0"));
        }
        finally
        {
            registration.Dispose();
            DescriptorCopy.Close(copy);
        }
    }

    [Fact]
    public void RegisteringTwiceIsAnError()
    {
        using var ns = new TestNamespace();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        registration.Device.Name = "ndtwice0";
        registration.Register();
        Assert.Throws<InvalidOperationException>(registration.Register);
        Assert.NotNull(ns.Link("ndtwice0"));
    }

    [Fact]
    public void ExistingNameIsRefusedInsteadOfAttachingToIt()
    {
        using var ns = new TestNamespace();
        using var first = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        first.Device.Name = "nddup0";
        first.Register();
        using var second = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        second.Device.Name = "nddup0";
        var error = Assert.Throws<NetDevException>(second.Register);
        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.Equal("nddup0", error.Device);
    }

    [Fact]
    public void MissingNamespaceIsAClearError()
    {
        var host = new LinuxHost(new LinuxHostOptions { NetworkNamespace = "ndt-does-not-exist" });
        using var registration = new Registration<RecordingDriver>(host, 1, 1, new RecordingDriver());
        var error = Assert.Throws<NetDevException>(registration.Register);
        Assert.Equal(Errno.ENOENT, error.Errno);
        Assert.Contains("ndt-does-not-exist", error.Message);
    }

    [Fact]
    public void DisposeStopsUninitialisesRemovesTheInterfaceAndThenReleasesTheDriverData()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        var registration = new Registration<RecordingDriver>(ns.Host, 2, 2, driver);
        registration.Device.Name = "nddisp0";
        driver.InterfaceProbe = () => ns.Link("nddisp0") is not null;
        registration.Register();
        registration.Device.BringUp();
        registration.Dispose();

        Assert.Null(ns.Link("nddisp0"));
        Assert.Equal(["Init", "Open", "Stop", "Uninit", "Dispose"], driver.Calls);
        Assert.True(driver.InterfaceExistedAtUninit);
        Assert.True(driver.UninitBeforeDispose);
        Assert.Empty(registration.Leaks);
        registration.Dispose();
        Assert.Equal(1, driver.Count("Dispose"));
    }

    [Fact]
    public async Task DisposeAsyncTearsDownLikeDispose()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndasync0";
        registration.Register();
        await registration.DisposeAsync();
        Assert.Null(ns.Link("ndasync0"));
        Assert.Equal(["Init", "Uninit", "Dispose"], driver.Calls);
    }
}
