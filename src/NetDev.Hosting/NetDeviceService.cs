using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NetDev.Control;

namespace NetDev.Hosting;

/// <summary>
/// One device as a hosted service: it owns the device's <see cref="Registration{TDriver}"/>, which
/// <see cref="StartAsync"/> makes, registers and brings up (serving the control endpoint from registration on),
/// and <see cref="StopAsync"/> tears down within the host's shutdown timeout.
/// </summary>
/// <remarks>
/// <para>A start that fails removes what it made and throws the <see cref="NetDevException"/> (one sentence with
/// the errno and, for a missing privilege, what to do), which fails the host's start.</para>
/// <para>The teardown runs on a pool thread; when the host's shutdown token fires first (a driver's <c>Stop</c> that
/// does not return), <see cref="StopAsync"/> says so and returns, so the host stops on time; the teardown goes on,
/// and an interface made by this process goes with it when the process exits.</para>
/// <para>The generic host does not stop the services that started before one failed; disposing the host (as
/// <c>RunAsync</c> does on its way out) disposes this service, which removes a device still running.</para>
/// <para><b>Invariants.</b> <see cref="Registration"/> is set only while a start succeeded and no stop began;
/// the control endpoint lives no longer than the registration that it serves.</para>
/// </remarks>
/// <typeparam name="TDriver">The driver class.</typeparam>
public sealed class NetDeviceService<TDriver> : IHostedService, IDisposable where TDriver : class, IDeviceOperations<TDriver>
{
    private readonly Func<TDriver> _driver;
    private readonly NetDeviceOptions<TDriver> _options;
    private readonly INetDeviceHost _host;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private ControlServer? _control;

    /// <summary>A service that will run a device of <paramref name="driver"/>'s making on <paramref name="host"/>.</summary>
    public NetDeviceService(Func<TDriver> driver, NetDeviceOptions<TDriver> options, INetDeviceHost host, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _driver = driver;
        _options = options;
        _host = host;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<NetDeviceService<TDriver>>();
    }

    /// <summary>The device's registration while the service runs; null before its start and after its stop.</summary>
    public Registration<TDriver>? Registration { get; private set; }

    /// <summary>The device while the service runs; null before its start and after its stop.</summary>
    public NetDevice<TDriver>? Device => Registration?.Device;

    /// <inheritdoc/>
    /// <exception cref="NetDevException">The system refused; nothing is left behind.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var registration = new Registration<TDriver>(_host, _options.Queues, _options.Queues, _driver(), _loggerFactory);
        try
        {
            _options.Configure?.Invoke(registration.Device);
            if (_options.Name is { } name)
            {
                registration.Device.Name = name;
            }
            registration.Register();
            _control = ControlServer.Start(registration.Device, _options.Control);
            if (_options.BringUp)
            {
                registration.Device.BringUp();
            }
        }
        catch
        {
            _control?.Dispose();
            _control = null;
            registration.Dispose();
            throw;
        }
        Registration = registration;
        _logger.LogInformation("{Device} is up on the {Host} host", registration.Device.Name, _host.Name);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Registration is not { } registration)
        {
            return;
        }
        Registration = null;
        var control = _control;
        _control = null;
        var name = registration.Device.Name;
        var teardown = Task.Run(async () =>
        {
            control?.Dispose();
            await registration.DisposeAsync().ConfigureAwait(false);
        }, CancellationToken.None);
        try
        {
            await teardown.WaitAsync(cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("{Device} removed", name);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("{Device}: the teardown did not end within the host's shutdown timeout; it goes on, and the interface goes when the process exits", name);
        }
    }

    /// <summary>Removes the device if it still runs (the host failed to start, or was disposed without a stop).</summary>
    public void Dispose()
    {
        var registration = Registration;
        Registration = null;
        _control?.Dispose();
        _control = null;
        registration?.Dispose();
    }
}
