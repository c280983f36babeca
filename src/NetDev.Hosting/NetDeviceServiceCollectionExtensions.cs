using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NetDev;
using NetDev.Hosting;
using NetDev.Linux;

// In the namespace of IServiceCollection, as Microsoft.Extensions' own Add… methods are, so no using is needed.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds NetDev devices to a host's services.</summary>
public static class NetDeviceServiceCollectionExtensions
{
    /// <summary>
    /// Adds a device run by a driver of <paramref name="driver"/>'s making as a hosted service
    /// (<see cref="NetDeviceService{TDriver}"/>): registered and brought up when the host starts, torn down
    /// when it stops, logging through the host's <see cref="ILoggerFactory"/>, its control endpoint served.
    /// Call it once per device; devices start in the order added and stop in reverse. It also adds, once,
    /// the <c>READY=1</c>/<c>STOPPING=1</c> notifications for systemd (see <see cref="SystemdNotifier"/>).
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddNetDevice(_ => new DummyDriver(), options =>
    /// {
    ///     options.Name = "hosted%d";
    ///     options.Configure = DummyDriver.Setup;
    /// });
    /// </code>
    /// </example>
    public static IServiceCollection AddNetDevice<TDriver>(this IServiceCollection services, Func<IServiceProvider, TDriver> driver,
        Action<NetDeviceOptions<TDriver>>? configure = null) where TDriver : class, IDeviceOperations<TDriver>
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(driver);
        var options = new NetDeviceOptions<TDriver>();
        configure?.Invoke(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Queues, 1, nameof(options.Queues));
        services.TryAddSingleton(_ => SystemdNotifier.FromEnvironment());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SystemdNotifyService>());
        // Not AddHostedService: it adds one service per implementation type, and a host may run several devices of one driver.
        services.AddSingleton<IHostedService>(provider =>
        {
            var loggerFactory = provider.GetRequiredService<ILoggerFactory>();
            var host = options.Host?.Invoke(provider) ?? new LinuxHost(new LinuxHostOptions
            {
                Attach = options.Attach,
                Logger = loggerFactory.CreateLogger("NetDev.Linux"),
            });
            return new NetDeviceService<TDriver>(() => driver(provider), options, host, loggerFactory);
        });
        return services;
    }
}
