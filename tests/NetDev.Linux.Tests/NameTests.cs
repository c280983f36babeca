using NetDev.Linux.Tap;

namespace NetDev.Linux.Tests;

/// <summary>Interface names as the kernel sees them (UTF-8 bytes), and creation that never attaches to an existing TAP.</summary>
public sealed class NameTests
{
    [Fact]
    public void ANonAsciiNameReachesTheKernelAsUtf8()
    {
        using var ns = new TestNamespace();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        registration.Device.Name = "tün0";
        registration.Register();

        Assert.Equal("tün0", registration.Device.Name);
        var link = ns.Link("tün0") ?? throw new Xunit.Sdk.XunitException($"no tün0 in {ns.Ip("-br link show")}");
        Assert.Equal(registration.Device.IfIndex, link.GetProperty("ifindex").GetInt32());
    }

    [Fact]
    public void ANameOfFifteenUtf8BytesFitsAndOneOfSixteenIsRefused()
    {
        using var ns = new TestNamespace();
        using var fits = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        // Seven two-byte letters and one one-byte digit: 15 bytes, the most IFNAMSIZ leaves room for.
        fits.Device.Name = "üüüüüüü0";
        fits.Register();
        Assert.NotNull(ns.Link("üüüüüüü0"));

        using var tooLong = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        Assert.Throws<ArgumentException>(() => tooLong.Device.Name = "üüüüüüüü");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void AnExistingPersistentTapIsRefusedNotAttachedTo(int queues)
    {
        using var ns = new TestNamespace();
        ns.Ip($"tuntap add dev ndpers0 mode tap{(queues > 1 ? " multi_queue" : "")}");

        // The TAP layer itself, without the registration's friendlier checks in front of it: TUNSETIFF with
        // IFF_TUN_EXCL must refuse the name at once, in one step that no other process can race.
        var error = Assert.Throws<NetDevException>(() => NetworkNamespace.Run(ns.Name, () => TapQueues.Create("ndpers0", queues, virtioNetHeader: false)));

        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.Contains("already exists", error.Message);
        // The persistent TAP is still the outsider's, untouched.
        Assert.NotNull(ns.Link("ndpers0"));
    }

    [Fact]
    public void RegisteringOverAnExistingPersistentTapIsAClearErrorAndLeavesItAlone()
    {
        using var ns = new TestNamespace();
        ns.Ip("tuntap add dev ndpers1 mode tap");
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        registration.Device.Name = "ndpers1";

        var error = Assert.Throws<NetDevException>(registration.Register);

        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.Equal("ndpers1", error.Device);
        Assert.NotNull(ns.Link("ndpers1"));
        Assert.DoesNotContain("netdev", ns.Ip("-d link show dev ndpers1"));
    }
}
