namespace NetDev.Hosting;

/// <summary>
/// Where NetDev devices become interfaces: the Linux host makes TAP interfaces in the kernel, a test
/// host keeps them inside the process. A <see cref="Registration{TDriver}"/> asks its host for one
/// <see cref="IHostLink"/> per device.
/// </summary>
/// <remarks>
/// The whole contract is this interface, <see cref="IHostLink"/>, <see cref="ITransmitSource"/> and
/// <see cref="ILinkEvents"/>: a host makes the interface, gives one frame source per queue (the framework's
/// transmit engine runs each queue's dedicated thread over it), hands received frames to the system, and
/// reports changes others make to the interface to <see cref="ILinkEvents"/>.
/// </remarks>
public interface INetDeviceHost
{
    /// <summary>A short name for messages, such as <c>linux</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Creates the interface <paramref name="request"/> describes, configured but not yet delivering
    /// frames (that starts with <see cref="IHostLink.Start"/>).
    /// </summary>
    /// <exception cref="NetDevException">The system refused; nothing is left behind.</exception>
    IHostLink CreateLink(LinkRequest request);
}

/// <summary>What a device asks its host for at registration.</summary>
/// <param name="NameTemplate">A name, or a template with <c>%d</c> that the system resolves (<c>dummy%d</c>).</param>
/// <param name="MacAddress">The device's Ethernet address.</param>
/// <param name="Mtu">The MTU.</param>
/// <param name="Flags">Flags to set: <see cref="DeviceFlags.NoArp"/>, <see cref="DeviceFlags.Multicast"/>,
/// <see cref="DeviceFlags.Broadcast"/>, <see cref="DeviceFlags.Promisc"/>, <see cref="DeviceFlags.AllMulti"/>; the others are ignored.</param>
/// <param name="TxQueueLength">The transmit queue length in frames (<c>txqueuelen</c>).</param>
/// <param name="QueueCount">How many queues the interface has.</param>
/// <param name="DriverName">The driver's name, for the system's view of the device.</param>
public sealed record LinkRequest(
    string NameTemplate,
    MacAddress MacAddress,
    int Mtu,
    DeviceFlags Flags,
    int TxQueueLength,
    int QueueCount,
    string DriverName)
{
    /// <summary>The offloads the driver can take; the host turns on those the system accepts (see <see cref="IHostLink.Features"/>).</summary>
    public DeviceFeatures Features { get; init; }
}

/// <summary>One interface made by a host. Disposing it removes the interface.</summary>
public interface IHostLink : IDisposable
{
    /// <summary>The interface's name as the system resolved it (a host that reports renames in <see cref="LinkState.Name"/> follows them here too).</summary>
    string Name { get; }

    /// <summary>The interface's index.</summary>
    int IfIndex { get; }

    /// <summary>The offloads in force: those asked for in <see cref="LinkRequest.Features"/> that the system accepted.</summary>
    DeviceFeatures Features => DeviceFeatures.None;

    /// <summary>
    /// Opens the source of the frames the system transmits on queue <paramref name="queue"/>; called once per
    /// queue at registration, before <see cref="Start"/>. The framework owns the source from then on and
    /// disposes it when the device goes.
    /// </summary>
    /// <exception cref="NetDevException">The system refused.</exception>
    ITransmitSource OpenTransmitSource(int queue);

    /// <summary>Starts reporting changes to the interface (up/down, MTU, address, carrier) to <paramref name="events"/>.</summary>
    void Start(ILinkEvents events);

    /// <summary>
    /// Applies <paramref name="change"/> to the interface in the system. Hosts that cannot change a
    /// setting throw <see cref="NotSupportedException"/>.
    /// </summary>
    /// <exception cref="NetDevException">The system refused.</exception>
    void Configure(LinkConfiguration change) => throw new NotSupportedException($"This host cannot change {Name}'s configuration.");

    /// <summary>
    /// Moves the interface into network namespace <paramref name="networkNamespace"/> (a name under
    /// <c>/run/netns</c>); it arrives down. A host checks what it can before it moves anything, so that
    /// when it throws the interface is where it was and changes to it are still reported. Hosts without
    /// namespaces throw <see cref="NotSupportedException"/>.
    /// </summary>
    /// <exception cref="NetDevException">The system refused; the interface did not move.</exception>
    void MoveToNetworkNamespace(string networkNamespace) => throw new NotSupportedException("This host has no network namespaces.");

    /// <summary>
    /// Reads the interface's state from the system now, or returns <see langword="null"/> when the host
    /// only pushes state through <see cref="ILinkEvents.OnLinkChanged"/>. The device calls it under its
    /// control lock when told of a change, so its judgement is never based on a state its own later
    /// changes already replaced.
    /// </summary>
    LinkState? QueryState() => null;

    /// <summary>The network namespace the interface is in, or <see langword="null"/> for the host's own.</summary>
    string? NetworkNamespace => null;

    /// <summary>Sets the interface administratively up or down.</summary>
    /// <exception cref="NetDevException">The system refused.</exception>
    void SetAdminUp(bool up);

    /// <summary>
    /// Hands a received frame to the system's stack on queue <paramref name="queue"/>. The caller keeps
    /// ownership and releases the frame afterwards; may be called from any thread.
    /// </summary>
    /// <returns><see langword="null"/> when the system took the frame, otherwise why it did not.</returns>
    DropReason? DeliverToSystem(int queue, SkBuff skb);

    /// <summary>
    /// Hands a batch of received frames to the system's stack on queue <paramref name="queue"/>, in order,
    /// if this host can hand over many frames at once (one system call for the batch): writes each frame's
    /// outcome to the same index of <paramref name="outcomes"/>, <see langword="null"/> when the system took
    /// it, otherwise why it did not, and returns how many frames, from the first, it dealt with. The device
    /// hands the others one by one to <see cref="DeliverToSystem"/>; by default that is all of them. The
    /// caller keeps ownership of every frame and releases them afterwards; may be called from any thread.
    /// </summary>
    /// <param name="queue">The queue the frames arrive on.</param>
    /// <param name="frames">The frames, all of them for <paramref name="queue"/>, as many as the device's caller passed.</param>
    /// <param name="outcomes">As long as <paramref name="frames"/>.</param>
    /// <returns>How many of <paramref name="frames"/>, from the first, have their outcome written.</returns>
    int DeliverBatchToSystem(int queue, ReadOnlySpan<SkBuff> frames, Span<DropReason?> outcomes) => 0;
}

/// <summary>Events a host reports about a link. Called on the host's control thread, one at a time.</summary>
public interface ILinkEvents
{
    /// <summary>The interface was set administratively up or down (by anyone).</summary>
    void OnAdminStateChanged(bool up);

    /// <summary>
    /// The interface's state in the system changed (by anyone): up/down, MTU, address, flags, carrier.
    /// Hosts that see the whole state report it here; the device compares it with what it knows and
    /// calls the driver for each difference.
    /// </summary>
    void OnLinkChanged(LinkState state);

    /// <summary>A loop of the host failed in a way it could not handle; the link may be degraded.</summary>
    void OnHostError(Exception error);
}
