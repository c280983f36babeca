using NetDev.Control;

namespace NetDev.Hosting;

/// <summary>How <see cref="Microsoft.Extensions.DependencyInjection.NetDeviceServiceCollectionExtensions.AddNetDevice{TDriver}"/> makes one device.</summary>
/// <typeparam name="TDriver">The driver class.</typeparam>
public sealed class NetDeviceOptions<TDriver> where TDriver : class, IDeviceOperations<TDriver>
{
    /// <summary>The interface's name, or a template with <c>%d</c>; null keeps the name the driver's setup gives (or <c>eth%d</c>).</summary>
    public string? Name { get; set; }

    /// <summary>Transmit and receive queues, 1 to 256 (1 by default).</summary>
    public int Queues { get; set; } = 1;

    /// <summary>
    /// Attach to the existing persistent TAP <see cref="Name"/> instead of creating an interface, as a user
    /// without privilege does (<see cref="NetDev.Linux.LinuxHostOptions.Attach"/>); used by the default host only.
    /// </summary>
    public bool Attach { get; set; }

    /// <summary>
    /// Makes the host the device lives on; null for the Linux host (with <see cref="Attach"/>, logging to the
    /// host's <c>NetDev.Linux</c> category). Tests give <c>NetDev.Testing</c>'s <c>TestHost</c>.
    /// </summary>
    public Func<IServiceProvider, INetDeviceHost>? Host { get; set; }

    /// <summary>Configures the device before it is registered: the driver's setup (<c>DummyDriver.Setup</c>), MTU, flags, offloads.</summary>
    public Action<NetDevice<TDriver>>? Configure { get; set; }

    /// <summary>Whether the device is brought up once registered (true by default); false leaves that to whoever sets it up.</summary>
    public bool BringUp { get; set; } = true;

    /// <summary>The device's control endpoint, for <c>netdev list</c>, <c>stats</c> and <c>ethtool</c> (on by default, in the user's control directory).</summary>
    public ControlServerOptions Control { get; set; } = new();
}
