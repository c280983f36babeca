using NetDev.Linux;

namespace NetDev.Control.Tests;

/// <summary>How an endpoint learns the name of the namespace it is in when the device does not say: as <c>ip netns identify</c> does.</summary>
public sealed class NamespaceIdentityTests
{
    private static readonly string[] MountTable =
    [
        "42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw",
        "43 42 0:4 net:[4026532177] /run/netns/blue rw shared:2 - nsfs nsfs rw",
        "44 42 0:4 net:[4026532300] /run/netns/with\\040space rw shared:3 - nsfs nsfs rw",
        "45 30 0:4 net:[4026532400] /var/run/other/red rw - nsfs nsfs rw",
        "46 42 0:4 net:[4026532177] /run/netns/azure rw shared:4 - nsfs nsfs rw",
    ];

    [Theory]
    [InlineData("net:[4026532177]", "azure")]
    [InlineData("net:[4026532300]", "with space")]
    [InlineData("net:[4026532400]", null)]
    [InlineData("net:[4026531833]", null)]
    public void ANamespaceIsNamedByItsMountUnderRunNetns(string identity, string? name) =>
        Assert.Equal(name, NamespaceIdentity.Find(MountTable, identity));

    [Fact]
    public void ItAgreesWithIpNetnsIdentify()
    {
        using var ns = new TestNamespace();

        Assert.Equal(ns.Name, NetworkNamespace.Run(ns.Name, NamespaceIdentity.OfCurrentThread));
        // The test's own namespace: most likely unnamed, but whatever ip says (first name in order, if several).
        var names = Shell.Run("ip", "netns", "identify").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
        Assert.Equal(names.FirstOrDefault(), NamespaceIdentity.OfCurrentThread());
    }
}
