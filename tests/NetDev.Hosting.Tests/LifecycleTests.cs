using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NetDev.Control;
using NetDev.Testing;

namespace NetDev.Hosting.Tests;

/// <summary>The hosted service's life on the in-process test host: no root, no kernel.</summary>
public sealed class LifecycleTests : IDisposable
{
    private readonly TestHost _devices = new();
    private readonly string _controlDirectory = Path.Combine(Path.GetTempPath(), $"netdev-hosting-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_controlDirectory))
        {
            Directory.Delete(_controlDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task StartRegistersAndBringsUpEveryDeviceWithItsEndpointAndStopRemovesThem()
    {
        using var host = Build(services =>
        {
            services.AddNetDevice(_ => new SinkDriver(), Options<SinkDriver>("first%d"));
            services.AddNetDevice(_ => new SinkDriver(), Options<SinkDriver>("second%d"));
        });

        await host.StartAsync(TestContext.Current.CancellationToken);

        var services = host.Services.GetServices<IHostedService>().OfType<NetDeviceService<SinkDriver>>().ToList();
        Assert.Equal(["first0", "second0"], services.Select(service => service.Device!.Name));
        Assert.All(services, service => Assert.True(service.Device!.IsUp));
        Assert.Equal(["first0", "second0"], _devices.Links.Select(link => link.Name));
        Assert.Equal(["first0", "second0"], ControlDirectory.List(_controlDirectory).Select(endpoint => endpoint.Name).Order());

        await host.StopAsync(TestContext.Current.CancellationToken);

        Assert.All(_devices.AllLinks, link => Assert.True(link.IsRemoved));
        Assert.All(services, service => Assert.Null(service.Registration));
        Assert.Empty(ControlDirectory.List(_controlDirectory));
        _devices.AssertClean();
    }

    [Fact]
    public async Task AStartFailureFailsTheHostsStartWithTheSentenceAndLeavesNoDevice()
    {
        using var host = Build(services =>
        {
            services.AddNetDevice(_ => new SinkDriver(), Options<SinkDriver>("first%d"));
            services.AddNetDevice(_ => new SinkDriver(), Options<SinkDriver>("second%d", driver =>
                // The first device exists by now; the second one's host refuses.
                _devices.FailNextCreateLink(Errno.EPERM)));
        });

        var failure = await Assert.ThrowsAsync<NetDevException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Equal(Errno.EPERM, failure.Errno);
        Assert.Contains("CAP_NET_ADMIN", failure.Message);
        Assert.Single(_devices.AllLinks);
        // The generic host does not stop what started before the failure; disposing it (as RunAsync does) removes it.
        host.Dispose();
        Assert.True(_devices.AllLinks[0].IsRemoved);
        Assert.Empty(ControlDirectory.List(_controlDirectory));
    }

    [Fact]
    public async Task StopReturnsWithinTheShutdownTimeoutWhileADriverStopHangs()
    {
        var driver = new StuckStopDriver();
        using var host = Build(services =>
        {
            services.AddNetDevice(_ => driver, Options<StuckStopDriver>("stuck%d"));
            services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromMilliseconds(100));
        });
        await host.StartAsync(TestContext.Current.CancellationToken);

        await host.StopAsync(TestContext.Current.CancellationToken);

        // StopAsync returned although the driver's Stop has not: the shutdown timeout ended the wait, not the teardown
        // (on a loaded machine the 100 ms may even end before the teardown reached the driver's Stop).
        Wait.Until(() => driver.Entered.IsSet, "the teardown to reach the driver's Stop");
        Assert.False(_devices.Links[0].IsRemoved);
        driver.Release.Set();
        Wait.Until(() => _devices.AllLinks[0].IsRemoved, "the teardown to finish once the driver's Stop returned");
    }

    private Action<NetDeviceOptions<TDriver>> Options<TDriver>(string name, Action<NetDevice<TDriver>>? configure = null)
        where TDriver : class, IDeviceOperations<TDriver> => options =>
    {
        options.Name = name;
        options.Host = _ => _devices;
        options.Control = new ControlServerOptions { Directory = _controlDirectory };
        options.Configure = configure;
    };

    private static IHost Build(Action<IServiceCollection> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(new SystemdNotifier(null));
        configure(builder.Services);
        return builder.Build();
    }
}
