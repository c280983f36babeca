using System.Diagnostics;
using System.Text.RegularExpressions;

namespace NetDev.Cli.Tests;

/// <summary><c>netdev --version</c>: the version the packages were built with (MinVer, from git tags), alone.</summary>
public sealed partial class VersionTests
{
    [Fact]
    public async Task VersionIsThePackageVersionWithoutBuildMetadata()
    {
        using var controlDirectory = new TempDirectory();
        var result = await CliProcess.RunAsync(controlDirectory.Path, "--version");

        Assert.Equal(0, result.ExitCode);
        var printed = result.Stdout.Trim();
        // Major.minor.patch and a prerelease, but no "+commit": the package's version, as `dotnet tool list` shows it.
        Assert.Matches(SemanticVersion(), printed);
        // The same version as the libraries it was built with: one version for every package of a build.
        var core = FileVersionInfo.GetVersionInfo(Path.Combine(AppContext.BaseDirectory, "NetDev.dll"));
        Assert.Equal(core.ProductVersion, printed);
    }

    [GeneratedRegex(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")]
    private static partial Regex SemanticVersion();
}
