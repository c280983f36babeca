namespace NetDev.Control.Tests;

/// <summary>How endpoints are named: host namespace, named namespaces, and names that contain the separator.</summary>
public sealed class ControlEndpointTests
{
    [Theory]
    [InlineData("dummy0", null, "dummy0.sock")]
    [InlineData("dummy0", "blue", "dummy0@blue.sock")]
    [InlineData("a@b", null, "a%40b.sock")]
    [InlineData("a", "b@c%d", "a@b%40c%25d.sock")]
    public void FileNamesAreUniquePerNameAndNamespaceAndRoundTrip(string name, string? networkNamespace, string fileName)
    {
        var endpoint = ControlEndpoint.For("/run/netdev", name, networkNamespace);

        Assert.Equal(Path.Combine("/run/netdev", fileName), endpoint.Path);
        Assert.Equal(endpoint, ControlEndpoint.FromPath(endpoint.Path));
    }

    [Fact]
    public void AnInterfaceWithAnAtAndAnInterfaceInANamespaceDoNotCollide()
    {
        Assert.NotEqual(ControlEndpoint.For("/d", "a@b", null).Path, ControlEndpoint.For("/d", "a", "b").Path);
    }

    [Theory]
    [InlineData("/d/notes.txt")]
    [InlineData("/d/.sock")]
    [InlineData("/d/x@.sock")]
    [InlineData("/d/bad%zz.sock")]
    public void OtherFilesAreNotEndpoints(string path) => Assert.Null(ControlEndpoint.FromPath(path));

    [Fact]
    public void ADeviceIsNamedByItsNameOrByNameAtNamespace()
    {
        var endpoint = ControlEndpoint.For("/d", "pair0", "ns1");

        Assert.True(endpoint.Matches("pair0"));
        Assert.True(endpoint.Matches("pair0@ns1"));
        Assert.False(endpoint.Matches("pair0@ns2"));
        Assert.False(endpoint.Matches("pair1"));
        Assert.Equal("pair0@ns1", endpoint.DisplayName);
        Assert.Equal("pair0", ControlEndpoint.For("/d", "pair0", null).DisplayName);
    }
}
