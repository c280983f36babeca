using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using NetDev.Hosting;

namespace NetDev;

/// <summary>
/// Allocates and owns one network device and its driver (the seed's <c>Registration</c>): configure
/// <see cref="Device"/>, call <see cref="Register"/> to make the interface exist, dispose to remove it.
/// </summary>
/// <remarks>
/// <para>Teardown order on <see cref="Dispose"/>: stop the device if it is open (driver <c>Stop</c>),
/// let no query reach the driver again (<c>GetStats64</c> and the ethtool operations; counters read from
/// then on are the framework's alone), driver <c>Uninit</c>, remove the interface (the host's loops end first), report buffers never
/// released, and only then release the driver's data (dispose it if it is disposable). Unlike the seed,
/// which frees the private data before <c>unregister_netdev</c>, no operation can see released data.</para>
/// <para><b>Invariants.</b> <c>_state</c> moves only forward: Created → Registered → Disposed (or
/// Created → Disposed); a failed <see cref="Register"/> leaves it Created, with no interface left.</para>
/// </remarks>
/// <typeparam name="TDriver">The driver class.</typeparam>
public sealed class Registration<[DynamicallyAccessedMembers(DriverReflection.Members)] TDriver> : IDisposable, IAsyncDisposable where TDriver : class, IDeviceOperations<TDriver>
{
    private readonly INetDeviceHost _host;
    private readonly List<SkBuffLeakReport> _leaks = [];
    private State _state;

    /// <summary>
    /// Allocates a device with <paramref name="txQueues"/> transmit and <paramref name="rxQueues"/> receive
    /// queues, run by <paramref name="driver"/> (the seed's <c>try_new_ether(tx, rx, data)</c>).
    /// </summary>
    /// <param name="host">Where the interface will exist, such as the Linux host.</param>
    /// <param name="txQueues">Transmit queues, 1 to 256.</param>
    /// <param name="rxQueues">Receive queues, 1 to 256.</param>
    /// <param name="driver">The driver instance; it becomes the device's private data and is owned by this registration.</param>
    /// <param name="loggerFactory">Where the device logs; nothing is logged when omitted.</param>
    public Registration(INetDeviceHost host, int txQueues, int rxQueues, TDriver driver, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(driver);
        _host = host;
        Device = new NetDevice<TDriver>(driver, txQueues, rxQueues, loggerFactory?.CreateLogger($"NetDev.{typeof(TDriver).Name}"));
    }

    /// <summary>The device, to configure before <see cref="Register"/> and to use afterwards.</summary>
    public NetDevice<TDriver> Device { get; }

    /// <summary>Whether <see cref="Register"/> succeeded and the registration is not disposed.</summary>
    public bool IsRegistered => _state == State.Registered;

    /// <summary>After disposal: what the device's pools found never released (empty when all is well).</summary>
    public IReadOnlyList<SkBuffLeakReport> Leaks => _leaks;

    /// <summary>
    /// Registers the device (<c>register_netdev</c>): the host creates the interface with the configured
    /// name, address, MTU and flags, the driver's <c>Init</c> runs, and the queues' loops start. The
    /// device is down until <see cref="NetDevice.BringUp"/> or an <c>ip link set up</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Already registered.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    /// <exception cref="NetDevException">The host refused; no interface is left.</exception>
    /// <remarks>An exception from the driver's <c>Init</c> propagates as is, after the interface was removed.</remarks>
    public void Register()
    {
        using (Device.EnterControl())
        {
            ObjectDisposedException.ThrowIf(_state == State.Disposed, this);
            if (_state == State.Registered)
            {
                throw new InvalidOperationException($"{Device.Name} is already registered; a device is registered once.");
            }
            var link = _host.CreateLink(Device.CreateRequest());
            try
            {
                Device.Attach(link);
                Device.Operations.Init();
            }
            catch
            {
                Device.Detach();
                link.Dispose();
                throw;
            }
            try
            {
                Device.StartQueues(link);
            }
            catch
            {
                Device.Operations.Uninit();
                Device.Detach();
                link.Dispose();
                throw;
            }
            _state = State.Registered;
            Diagnostics.NetDevMetrics.Add(Device);
            Device.Logger.LogInformation("{Device} registered on the {Host} host (ifindex {IfIndex}, driver {Driver}: {Operations})",
                Device.Name, _host.Name, link.IfIndex, Device.DriverName, DeviceOperationDispatcher<TDriver>.Describe());
        }
    }

    /// <summary>Stops, uninitialises and unregisters the device, then releases the driver's data.</summary>
    public void Dispose()
    {
        if (Teardown() is { } driverData)
        {
            switch (driverData)
            {
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
                case IAsyncDisposable asyncDisposable:
                    asyncDisposable.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    break;
            }
        }
    }

    /// <summary>As <see cref="Dispose"/>, disposing the driver's data asynchronously if it supports that.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Teardown() is { } driverData)
        {
            switch (driverData)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
    }

    /// <summary>Runs the teardown once; returns the driver data to release, or null if already disposed.</summary>
    private TDriver? Teardown()
    {
        IHostLink? link;
        Exception? uninitError = null;
        using (Device.EnterControl())
        {
            if (_state == State.Disposed)
            {
                return null;
            }
            var wasRegistered = _state == State.Registered;
            _state = State.Disposed;
            if (wasRegistered)
            {
                Diagnostics.NetDevMetrics.Remove(Device);
            }
            link = Device.Link;
            if (wasRegistered && link is not null)
            {
                Device.BeginTeardown();
                Device.StopIfUp();
                Device.EndDriverQueries();
                try
                {
                    Device.Operations.Uninit();
                }
                catch (Exception error)
                {
                    uninitError = error;
                }
                Device.EndRegistration();
            }
            // Also for a device never registered: its driver's data is released below.
            Device.EndDriverQueries();
        }
        // The host's event thread may be waiting for the control lock; it must be free while the link stops.
        if (link is not null)
        {
            // The queues' threads end before the interface goes, so none reads from a closed source.
            Device.StopQueues();
            link.Dispose();
            Device.Logger.LogInformation("{Device} unregistered", Device.Name);
        }
        // Receive buffers count too: a driver that took one with AllocSkb and never handed it on leaked it.
        foreach (var pool in Device.Queues.SelectMany(queue => new[] { queue.TxPool, queue.RxPool }))
        {
            var report = pool.CheckLeaks();
            if (!report.IsClean)
            {
                _leaks.Add(report);
                Device.Logger.LogWarning("{Device}: {Report}", Device.Name, report.ToString());
            }
        }
        if (uninitError is not null)
        {
            Device.ReportError(uninitError);
        }
        return Device.DriverData;
    }

    private enum State
    {
        Created,
        Registered,
        Disposed,
    }
}
