using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NetDev.Drivers.Dummy;
using NetDev.Linux;
using NetDev.Linux.Tests;

namespace NetDev.Hosting.Tests;

/// <summary>A real TAP interface as a hosted service, in a network namespace of the test's own.</summary>
[Trait("Category", "RequiresRoot")]
public sealed class LinuxDeviceTests
{
    [Fact]
    public async Task TheHostMakesTheInterfaceUpAndRemovesItWhenItStops()
    {
        using var ns = new TestNamespace();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(new SystemdNotifier(null));
        builder.Services.AddNetDevice(_ => new DummyDriver(), options =>
        {
            options.Name = "hosted0";
            options.Configure = DummyDriver.Setup;
            options.Host = _ => new LinuxHost(new LinuxHostOptions { NetworkNamespace = ns.Name });
            options.Control = new() { Enabled = false };
        });
        using var host = builder.Build();

        await host.StartAsync(TestContext.Current.CancellationToken);
        var link = ns.Link("hosted0");
        Assert.NotNull(link);
        Assert.Contains("UP", link.Value.GetProperty("flags").EnumerateArray().Select(flag => flag.GetString()));

        await host.StopAsync(TestContext.Current.CancellationToken);
        Assert.Null(ns.Link("hosted0"));
    }
}
