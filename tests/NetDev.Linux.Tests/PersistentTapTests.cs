using System.Buffers.Binary;

namespace NetDev.Linux.Tests;

/// <summary>
/// Persistent TAPs and attaching to them (<see cref="LinuxHostOptions.Attach"/>), as root here; the same without
/// any privilege, as uid 65534, is NetDev.Cli.Tests' NonRootTests.
/// </summary>
public sealed class PersistentTapTests
{
    [Fact]
    public void AnAttachedDeviceMovesFramesBothWaysAndLeavesTheTapBehind()
    {
        using var ns = new TestNamespace();
        PersistentTap.Create("ndatt0", new PersistentTapOptions { OwnerUid = 65534, Queues = 2, NetworkNamespace = ns.Name });
        var link = ns.Link("ndatt0")!.Value;
        Assert.Equal("netdev: persistent TAP, 2 queues", link.GetProperty("ifalias").GetString());
        var driver = new RecordingDriver();
        var registration = new Registration<RecordingDriver>(new LinuxHost(new LinuxHostOptions { NetworkNamespace = ns.Name, Attach = true }), 2, 2, driver);
        try
        {
            registration.Device.Name = "ndatt0";
            registration.Register();
            registration.Device.BringUp();
            Assert.Equal(2, ns.RealTxQueues("ndatt0"));
            ns.Ip("addr add 10.77.0.1/24 dev ndatt0");

            // kernel → driver: the neighbour lookup of a ping.
            Shell.TryRun("ip", $"netns exec {ns.Name} ping -c 1 -W 1 10.77.0.2");
            Wait.Until(() => !driver.Frames.IsEmpty, "a frame from the kernel");
            // driver → kernel: a frame the kernel counts as received.
            var before = ns.Counter("ndatt0", "rx_packets");
            var skb = registration.Device.AllocSkb();
            var frame = skb.Put(60);
            registration.Device.MacAddress.CopyTo(frame);
            MacAddress.Parse("02:00:00:00:00:77").CopyTo(frame[6..]);
            BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x88B5);
            Assert.True(registration.Device.NetifRx(skb));
            Wait.Until(() => ns.Counter("ndatt0", "rx_packets") > before, "the kernel to count the frame");
        }
        finally
        {
            registration.Dispose();
        }

        // The TAP is the user's and stays, down to its carrier; creating over it is still refused.
        Assert.Contains("NO-CARRIER", ns.Link("ndatt0")!.Value.GetProperty("flags").EnumerateArray().Select(flag => flag.GetString()));
        using var creating = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        creating.Device.Name = "ndatt0";
        Assert.Equal(Errno.EEXIST, Assert.Throws<NetDevException>(creating.Register).Errno);
        PersistentTap.Delete("ndatt0", ns.Name);
        Assert.Null(ns.Link("ndatt0"));
    }

    [Fact]
    public void AnAttachedDeviceLeavesTheTapWithoutCarrierWhileACopyOfItsQueuesIsStillOpen()
    {
        // A child forked by another thread holds copies of the queues until it calls exec; the TAP's carrier
        // goes off at Dispose all the same (TUNSETCARRIER), not when the child's copies close.
        using var ns = new TestNamespace();
        PersistentTap.Create("ndatt3", new PersistentTapOptions { Queues = 2, NetworkNamespace = ns.Name });
        var registration = new Registration<RecordingDriver>(new LinuxHost(new LinuxHostOptions { NetworkNamespace = ns.Name, Attach = true }), 2, 2, new RecordingDriver());
        var copy = -1;
        try
        {
            registration.Device.Name = "ndatt3";
            registration.Register();
            registration.Device.BringUp();
            copy = DescriptorCopy.OfTap("ndatt3");
            registration.Dispose();
            Assert.Contains("NO-CARRIER", ns.Link("ndatt3")!.Value.GetProperty("flags").EnumerateArray().Select(flag => flag.GetString()));
        }
        finally
        {
            registration.Dispose();
            DescriptorCopy.Close(copy);
            PersistentTap.Delete("ndatt3", ns.Name);
        }
    }

    [Fact]
    public void AttachingIsRefusedInOneSentenceWhenTheTapIsMissingOrMadeForOtherQueues()
    {
        using var ns = new TestNamespace();
        PersistentTap.Create("ndatt1", new PersistentTapOptions { Queues = 2, NetworkNamespace = ns.Name });
        ns.Ip("tuntap add dev ndatt2 mode tap");
        var host = new LinuxHost(new LinuxHostOptions { NetworkNamespace = ns.Name, Attach = true });

        NetDevException Attach(string name, int queues)
        {
            using var registration = new Registration<RecordingDriver>(host, queues, queues, new RecordingDriver());
            registration.Device.Name = name;
            return Assert.Throws<NetDevException>(registration.Register);
        }

        var missing = Attach("ndatt9", 1);
        var fewer = Attach("ndatt1", 1);
        var singleQueue = Attach("ndatt2", 2);

        Assert.Equal(Errno.ENODEV, missing.Errno);
        Assert.Contains("netdev create ndatt9", missing.Message);
        Assert.Equal(Errno.EINVAL, fewer.Errno);
        Assert.Contains("made for 2 queues, not 1", fewer.Message);
        // A TAP made by ip tuntap records no count; the kernel's refusal is put in words.
        Assert.Equal(Errno.EINVAL, singleQueue.Errno);
        Assert.Contains("not a multi-queue TAP", singleQueue.Message);
        Assert.NotNull(ns.Link("ndatt1"));
        Assert.NotNull(ns.Link("ndatt2"));
    }

    [Fact]
    public void DeleteRemovesOnlyWhatCreateMade()
    {
        using var ns = new TestNamespace();
        ns.Ip("tuntap add dev ndatt3 mode tap");

        var refused = Assert.Throws<NetDevException>(() => PersistentTap.Delete("ndatt3", ns.Name));

        Assert.Equal(Errno.EINVAL, refused.Errno);
        Assert.NotNull(ns.Link("ndatt3"));
    }

    [Theory]
    [InlineData("netdev: persistent TAP, 1 queue", 1)]
    [InlineData("netdev: persistent TAP, 4 queues, offloads", 4)]
    [InlineData("netdev: dummy driver, pid 12", null)]
    [InlineData("netdev: persistent TAP, many queues", null)]
    [InlineData(null, null)]
    public void TheQueueCountIsReadFromTheAlias(string? alias, int? queues) => Assert.Equal(queues, PersistentTap.QueuesOf(alias));

    [Fact]
    public void UsersAreLookedUpByNameOrNumber()
    {
        Assert.Equal(0, PersistentTap.LookUpUser("root").Uid);
        Assert.Equal(54321, PersistentTap.LookUpUser("54321").Uid);
        Assert.Equal(Errno.ENOENT, Assert.Throws<NetDevException>(() => PersistentTap.LookUpUser("no-such-user-here")).Errno);
    }
}
