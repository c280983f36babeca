using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NetDev.Hosting;
using NetDev.Linux;
using NetDev.Offload;

namespace NetDev.Drivers.Tunnel;

/// <summary>
/// The tunnel driver: an Ethernet device whose wire is a UDP socket. Every frame the system sends on the
/// device leaves as one UDP datagram to the peer instance, behind a 4-byte <see cref="TunnelHeader"/>;
/// every datagram from the peer that passes inspection is handed to the system as a received frame.
/// Two instances on two hosts make one Ethernet segment between them (an L2 overlay, as VXLAN without
/// the VNI, for exactly two ends).
/// </summary>
/// <remarks>
/// <para>What the device <em>is</em> lives in <see cref="Setup"/> (Ethernet with ARP, an MTU that leaves room
/// for the outer headers); what it <em>does</em> is the table: <see cref="Init"/> starts the receive thread,
/// <see cref="Uninit"/> ends it, <see cref="StartXmit"/> sends, <see cref="GetStats64"/> and
/// <see cref="GetStatistics"/> add the tunnel's own counters.</para>
/// <para>Offloads (<see cref="TunnelOffloads"/>, docs/tunnel.md): by default the device takes the system's
/// checksum and segmentation offloads, so TCP hands it frames of up to 64 KiB with partial checksums;
/// <see cref="StartXmit"/> completes the checksum, or cuts the frame once into wire-size segments laid back to
/// back in the queue's buffer (<see cref="GsoSegmenter.SegmentPacked"/>), each behind its own header, and hands
/// them all to the kernel in one call (<see cref="UdpDatagramSocket"/>: UDP GSO, else <c>sendmmsg</c>, else one
/// <c>sendmsg</c> each), so the peer receives what it would have without offloads. The receive thread takes many
/// datagrams per call (UDP GRO and <c>recvmmsg</c>), judges each datagram on its own, and with
/// <see cref="TunnelOffloads.SegmentationAndCoalescing"/> merges consecutive TCP segments
/// (<see cref="GroCoalescer"/>) into 64 KiB frames before handing them on in batches.</para>
/// <para>Threads: <see cref="StartXmit"/> runs on each queue's thread and only reads shared state (the
/// socket and the peer's address) besides its queue's own buffer and counters; the receive thread is the only
/// writer of the receive counters and the owner of queue 0's receive pool. Sending and receiving allocate
/// nothing per frame: a single datagram's header is pushed into the frame's headroom, segments are cut into
/// the queue's buffer, and datagrams are read into the receive thread's batch and copied once into pooled frames.</para>
/// <para>Datagrams from any source but the peer, and datagrams that are too short, too long or carry a
/// header this implementation does not take, are dropped with a <see cref="DropReason"/> and counted;
/// docs/tunnel.md lists which is which.</para>
/// <para><b>Invariants.</b> The driver owns <c>_datagrams</c> (and its socket) from construction on and is the only one to
/// close it. <c>_device</c>, <c>_txCounters</c> and <c>_receiver</c> are set once, by <see cref="Init"/>,
/// before any frame; <c>_coalescer</c> is set and used only by the receive thread. Once <c>_stopping</c> is set it stays set, and the socket is closed right after,
/// which ends the receive thread.</para>
/// </remarks>
public sealed partial class TunnelDriver : IDeviceOperations<TunnelDriver>, IEthtoolOperations<TunnelDriver>, IDriverInfo, IDisposable
{
    /// <summary>The name template the system numbers: <c>tunnel0</c>, <c>tunnel1</c>, …</summary>
    public const string DefaultNameTemplate = "tunnel%d";

    /// <summary>The MTU of the underlay the default tunnel MTU is computed for (Ethernet's).</summary>
    public const int DefaultUnderlayMtu = 1500;

    /// <summary>The smallest MTU the device accepts: <c>ETH_MIN_MTU</c>, the least a TAP interface and IPv4 allow.</summary>
    public const int MinimumMtu = 68;

    /// <summary>The UDP header's size.</summary>
    public const int UdpHeaderLength = 8;

    /// <summary>What the driver asks for as socket send and receive buffers in <see cref="CreateSocket"/>;
    /// the kernel caps it at <c>net.core.wmem_max</c>/<c>rmem_max</c>.</summary>
    public const int SocketBufferBytes = 8 << 20;

    private const int Ipv4HeaderLength = 20;
    private const int Ipv6HeaderLength = 40;
    private const int LargestIpPacket = 65535;
    private static readonly TimeSpan ReceiverExitTimeout = TimeSpan.FromSeconds(10);

    private readonly UdpDatagramSocket _datagrams;
    // What every wire datagram carries around its frame: the header in front, the trailer behind (the
    // keyed format's 28 and 16 bytes; set by InitKey).
    private int _datagramHeaderLength = TunnelHeader.Length;
    private int _datagramTrailerLength;
    private NetDevice<TunnelDriver>? _device;
    private TxCounters[] _txCounters = [];
    private Thread? _receiver;
    private volatile bool _stopping;

    /// <summary>
    /// Makes a driver that sends to and accepts datagrams from <paramref name="remote"/> through
    /// <paramref name="socket"/>, a UDP socket already bound to the local address and port (create it
    /// inside the right network namespace; <see cref="CreateSocket"/> does the usual).
    /// </summary>
    /// <remarks>The driver owns the socket from this call on, also when the call throws: it closes it
    /// at teardown (or right away on failure). Nobody else may read from it.</remarks>
    /// <param name="socket">A bound UDP socket (IPv4, or IPv6, dual-stack if the peer is an IPv4 address).</param>
    /// <param name="remote">The peer instance's address and port.</param>
    /// <param name="offloads">What the driver does with the system's offloads; pass the same to <see cref="Setup"/> (CreateRegistration does).</param>
    /// <param name="sendPath">The fastest way datagrams may be sent (lower values force a fallback; what the kernel takes is probed).</param>
    /// <param name="receivePath">The fastest way datagrams may be received (likewise).</param>
    /// <exception cref="ArgumentException">The socket is not a bound UDP socket, or the peer cannot be reached with it.</exception>
    public TunnelDriver(Socket socket, IPEndPoint remote, TunnelOffloads offloads = TunnelOffloads.SegmentationAndCoalescing,
        DatagramSendPath sendPath = DatagramSendPath.Segmented, DatagramReceivePath receivePath = DatagramReceivePath.Coalesced)
        : this(socket, [remote ?? throw new ArgumentNullException(nameof(remote))], offloads, null, sendPath, receivePath)
    {
    }

    /// <summary>
    /// Makes a driver that carries frames to and from <paramref name="peers"/> through <paramref name="socket"/>
    /// (see <see cref="TunnelDriver(Socket, IPEndPoint, TunnelOffloads, DatagramSendPath, DatagramReceivePath)"/>): with
    /// more than one peer it learns behind which peer each MAC address sits and replicates the rest to all; with
    /// <see cref="TunnelOptions.Key"/> every datagram is authenticated and encrypted.
    /// </summary>
    /// <param name="socket">A bound UDP socket; owned from this call on, also when it throws.</param>
    /// <param name="peers">The peer instances' addresses and ports, 1 to <see cref="MaxPeers"/>, each once.</param>
    /// <param name="offloads">What the driver does with the system's offloads; pass the same to <see cref="Setup"/>.</param>
    /// <param name="options">The key and the forwarding database's size and ageing; none when omitted.</param>
    /// <param name="sendPath">The fastest way datagrams may be sent.</param>
    /// <param name="receivePath">The fastest way datagrams may be received.</param>
    /// <exception cref="ArgumentException">The socket is not a bound UDP socket, or a peer cannot be reached with it or is named twice.</exception>
    public TunnelDriver(Socket socket, IReadOnlyList<IPEndPoint> peers, TunnelOffloads offloads = TunnelOffloads.SegmentationAndCoalescing, TunnelOptions? options = null,
        DatagramSendPath sendPath = DatagramSendPath.Segmented, DatagramReceivePath receivePath = DatagramReceivePath.Coalesced)
    {
        ArgumentNullException.ThrowIfNull(socket);
        try
        {
            ArgumentNullException.ThrowIfNull(peers);
            if (!Enum.IsDefined(offloads))
            {
                throw new ArgumentOutOfRangeException(nameof(offloads), offloads, "Not a TunnelOffloads value.");
            }
            Offloads = offloads;
            if (socket.SocketType != SocketType.Dgram || socket.ProtocolType != ProtocolType.Udp)
            {
                throw new ArgumentException($"The tunnel needs a UDP socket; this one is {socket.SocketType}/{socket.ProtocolType}.", nameof(socket));
            }
            if (socket.LocalEndPoint is not IPEndPoint local)
            {
                throw new ArgumentException("The tunnel's socket must be bound to its local address and port first.", nameof(socket));
            }
            Local = local;
            Options = options ?? new TunnelOptions();
            InitPeers(socket, peers);
            UnderlayFamily = Remote.Address.IsIPv4MappedToIPv6 ? AddressFamily.InterNetwork : Remote.AddressFamily;
            InitKey();
            _datagrams = new UdpDatagramSocket(socket, sendPath, receivePath);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string DriverName => "tunnel";

    /// <summary>The local address and port the socket is bound to.</summary>
    public IPEndPoint Local { get; }

    /// <summary>The first peer's address and port, in the socket's address family (an IPv4 peer of an IPv6 socket as a mapped address).</summary>
    public IPEndPoint Remote => Peers[0];

    /// <summary>The key and forwarding database settings the driver was made with.</summary>
    public TunnelOptions Options { get; }

    /// <summary>The IP version the datagrams travel over: <see cref="AddressFamily.InterNetwork"/> or <see cref="AddressFamily.InterNetworkV6"/>.</summary>
    public AddressFamily UnderlayFamily { get; }

    /// <summary>How datagrams are sent now: the fastest path the kernel took (it may step down when a send is refused).</summary>
    public DatagramSendPath SendPath => _datagrams.SendPath;

    /// <summary>How datagrams are received now: the fastest path the kernel took.</summary>
    public DatagramReceivePath ReceivePath => _datagrams.ReceivePath;

    /// <summary>What the driver does with the system's offloads (chosen at construction).</summary>
    public TunnelOffloads Offloads { get; }

    /// <summary>
    /// Whether received TCP segments are merged before they are handed on: asked for with
    /// <see cref="TunnelOffloads.SegmentationAndCoalescing"/>, and possible only while the device has TSO in
    /// force (so the system accepts the merged frames). Known from <see cref="Init"/> on.
    /// </summary>
    public bool IsCoalescing { get; private set; }

    /// <summary>Whether the receive thread runs (from <see cref="Init"/> until <see cref="Uninit"/>, unless it failed).</summary>
    public bool IsReceiving => _receiver is { IsAlive: true };

    /// <summary>
    /// Makes <paramref name="device"/> a tunnel device: the <c>tunnel%d</c> name template, an Ethernet
    /// device that does ARP, broadcast and multicast like any segment, a random locally administered
    /// address, every offload unless <paramref name="offloads"/> is <see cref="TunnelOffloads.None"/>, and
    /// the MTU range and default of <paramref name="underlay"/> with <paramref name="underlayMtu"/>.
    /// </summary>
    /// <param name="device">The device to set up.</param>
    /// <param name="underlay">The IP version of the underlay.</param>
    /// <param name="underlayMtu">The underlay's MTU.</param>
    /// <param name="offloads">The driver's offload mode.</param>
    /// <param name="keyed">Whether the driver has a key (<see cref="IsKeyed"/>), which leaves less room for the frame.</param>
    public static void Setup(NetDevice device, AddressFamily underlay, int underlayMtu = DefaultUnderlayMtu, TunnelOffloads offloads = TunnelOffloads.SegmentationAndCoalescing, bool keyed = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        var mtu = DefaultMtu(underlay, underlayMtu, keyed);
        device.Name = DefaultNameTemplate;
        device.Flags = (device.Flags | DeviceFlags.Broadcast | DeviceFlags.Multicast) & ~DeviceFlags.NoArp;
        device.MacAddress = MacAddress.RandomLocal();
        // With offloads the system's stack works in 64 KiB frames and StartXmit finishes them, which costs
        // far less than the stack cutting and checksumming each segment; without, the system hands over
        // wire-size frames with complete checksums.
        device.Features = offloads == TunnelOffloads.None ? DeviceFeatures.None : DeviceFeatures.All;
        device.MinMtu = MinimumMtu;
        // The range first: the MTU must lie inside it when set.
        device.MaxMtu = MaximumMtu(underlay, keyed);
        device.Mtu = mtu;
    }

    /// <summary>
    /// Allocates a tunnel device set up by <see cref="Setup"/> that carries frames to <paramref name="remote"/>
    /// through <paramref name="socket"/>; call <see cref="Registration{TDriver}.Register"/> on the result to
    /// make the interface exist. The registration owns the driver, and the driver the socket.
    /// </summary>
    /// <param name="host">Where the interface will exist (for the Linux host, the network namespace is its option).</param>
    /// <param name="socket">A bound UDP socket, see <see cref="TunnelDriver(Socket, IPEndPoint, TunnelOffloads, DatagramSendPath, DatagramReceivePath)"/>; owned from this call on, also when it throws.</param>
    /// <param name="remote">The peer instance's address and port.</param>
    /// <param name="name">An interface name or template with <c>%d</c>; <see cref="DefaultNameTemplate"/> when omitted.</param>
    /// <param name="underlayMtu">The MTU of the path to the peer, from which the default MTU is computed.</param>
    /// <param name="txQueues">Transmit queues, 1 to 256; frames are received on queue 0.</param>
    /// <param name="loggerFactory">Where the device logs; nothing is logged when omitted.</param>
    /// <param name="offloads">What the device does with the system's offloads; segmentation by default.</param>
    /// <param name="sendPath">The fastest send path allowed; see <see cref="TunnelDriver(Socket, IPEndPoint, TunnelOffloads, DatagramSendPath, DatagramReceivePath)"/>.</param>
    /// <param name="receivePath">The fastest receive path allowed.</param>
    /// <exception cref="ArgumentException">Invalid socket, peer, name, MTU or offloads; the socket is closed.</exception>
    public static Registration<TunnelDriver> CreateRegistration(
        INetDeviceHost host,
        Socket socket,
        IPEndPoint remote,
        string? name = null,
        int underlayMtu = DefaultUnderlayMtu,
        int txQueues = 1,
        ILoggerFactory? loggerFactory = null,
        TunnelOffloads offloads = TunnelOffloads.SegmentationAndCoalescing,
        DatagramSendPath sendPath = DatagramSendPath.Segmented,
        DatagramReceivePath receivePath = DatagramReceivePath.Coalesced)
    {
        ArgumentNullException.ThrowIfNull(remote);
        return CreateRegistration(host, socket, [remote], name, underlayMtu, txQueues, loggerFactory, offloads, null, sendPath, receivePath);
    }

    /// <summary>
    /// Allocates a tunnel device to <paramref name="peers"/>, as the overload with one peer does, with
    /// <paramref name="options"/> (the key, the forwarding database).
    /// </summary>
    /// <param name="host">Where the interface will exist.</param>
    /// <param name="socket">A bound UDP socket; owned from this call on, also when it throws.</param>
    /// <param name="peers">The peer instances, 1 to <see cref="MaxPeers"/>.</param>
    /// <param name="name">An interface name or template with <c>%d</c>.</param>
    /// <param name="underlayMtu">The MTU of the path to the peers.</param>
    /// <param name="txQueues">Transmit queues, 1 to 256.</param>
    /// <param name="loggerFactory">Where the device logs.</param>
    /// <param name="offloads">What the device does with the system's offloads.</param>
    /// <param name="options">The key and the forwarding database; an unkeyed tunnel when omitted.</param>
    /// <param name="sendPath">The fastest send path allowed.</param>
    /// <param name="receivePath">The fastest receive path allowed.</param>
    /// <exception cref="ArgumentException">Invalid socket, peers, name, MTU or offloads; the socket is closed.</exception>
    public static Registration<TunnelDriver> CreateRegistration(
        INetDeviceHost host,
        Socket socket,
        IReadOnlyList<IPEndPoint> peers,
        string? name = null,
        int underlayMtu = DefaultUnderlayMtu,
        int txQueues = 1,
        ILoggerFactory? loggerFactory = null,
        TunnelOffloads offloads = TunnelOffloads.SegmentationAndCoalescing,
        TunnelOptions? options = null,
        DatagramSendPath sendPath = DatagramSendPath.Segmented,
        DatagramReceivePath receivePath = DatagramReceivePath.Coalesced)
    {
        var driver = new TunnelDriver(socket, peers, offloads, options, sendPath, receivePath);
        Registration<TunnelDriver>? registration = null;
        try
        {
            registration = new Registration<TunnelDriver>(host, txQueues, 1, driver, loggerFactory);
            Setup(registration.Device, driver.UnderlayFamily, underlayMtu, offloads, driver.IsKeyed);
            if (name is not null)
            {
                registration.Device.Name = name;
            }
            return registration;
        }
        catch
        {
            // Disposing the registration disposes the driver, which closes the socket.
            if (registration is not null)
            {
                registration.Dispose();
            }
            else
            {
                driver.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// Creates a UDP socket bound to <paramref name="local"/> in the calling thread's network namespace,
    /// with larger buffers than the default (<see cref="SocketBufferBytes"/>); an IPv6 socket bound to
    /// <c>[::]</c> is dual-stack. Run it inside the namespace the underlay is in, for example
    /// <c>NetworkNamespace.Run(ns, () =&gt; TunnelDriver.CreateSocket(local))</c>.
    /// </summary>
    /// <exception cref="NetDevException">The system refused (address in use, not an address of this host, …).</exception>
    public static Socket CreateSocket(IPEndPoint local)
    {
        ArgumentNullException.ThrowIfNull(local);
        var socket = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (local.AddressFamily == AddressFamily.InterNetworkV6 && local.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            SetBufferSizes(socket);
            socket.Bind(local);
            return socket;
        }
        catch (SocketException error)
        {
            socket.Dispose();
            throw new NetDevException(error.NativeErrorCode, $"bind UDP socket to {local}", null, error.Message, error);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Asks for <see cref="SocketBufferBytes"/> of send and receive buffer: beyond <c>net.core.rmem_max</c>/<c>wmem_max</c>
    /// when the process may (<c>SO_RCVBUFFORCE</c>/<c>SO_SNDBUFFORCE</c> need <c>CAP_NET_ADMIN</c>), else as much as those allow.
    /// </summary>
    /// <remarks>A receive buffer holds few UDP GRO super-datagrams (each up to 64 KiB of merged datagrams): with the
    /// default 208 KiB, a receive thread that is not scheduled for a moment loses whole bursts, and TCP inside the
    /// tunnel retransmits them, so the buffer is what keeps a busy machine's tunnel at speed.</remarks>
    private static void SetBufferSizes(Socket socket)
    {
        const int SocketLevel = 1, SendBufferForce = 32, ReceiveBufferForce = 33;
        Span<byte> size = stackalloc byte[sizeof(int)];
        BitConverter.TryWriteBytes(size, SocketBufferBytes);
        foreach (var (force, set) in new (int, Action)[]
        {
            (ReceiveBufferForce, () => socket.ReceiveBufferSize = SocketBufferBytes),
            (SendBufferForce, () => socket.SendBufferSize = SocketBufferBytes),
        })
        {
            try
            {
                socket.SetRawSocketOption(SocketLevel, force, size);
            }
            catch (SocketException)
            {
                // No CAP_NET_ADMIN: the kernel caps the plain option at its maximum.
                set();
            }
        }
    }

    /// <summary>Starts the receive thread (<c>ndo_init</c>); until the device is up it drops what it receives as <see cref="DropReason.DeviceDown"/>.</summary>
    public void Init(NetDevice<TunnelDriver> device)
    {
        if (_device is not null)
        {
            throw new InvalidOperationException($"This tunnel driver already runs {_device.Name}; a driver instance runs one device.");
        }
        ObjectDisposedException.ThrowIf(_stopping, this);
        _device = device;
        // The features in force are known once the interface exists, which is before Init.
        var features = device.Features;
        IsCoalescing = Offloads == TunnelOffloads.SegmentationAndCoalescing
            && (features & DeviceFeatures.Checksum) != 0 && (features & (DeviceFeatures.Tso4 | DeviceFeatures.Tso6)) != 0;
        _txCounters = new TxCounters[device.Queues.Count];
        for (var i = 0; i < _txCounters.Length; i++)
        {
            _txCounters[i] = new TxCounters(_datagrams.SendPath, Peers.Count, NewSender(i));
        }
        var receiver = new Thread(ReceiveLoop)
        {
            IsBackground = true,
            Name = $"{device.Name} rx",
        };
        _receiver = receiver;
        receiver.Start();
        device.Logger.LogInformation("{Device}: {Keyed} tunnel from {Local} to {Peers} over {Underlay}, MTU {Mtu}, sending with {SendPath}, receiving with {ReceivePath}, offloads {Features}{Coalescing}",
            device.Name, IsKeyed ? "keyed (AES-256-GCM)" : "unauthenticated", Local, DescribePeers(), UnderlayFamily == AddressFamily.InterNetwork ? "IPv4" : "IPv6", device.Mtu,
            DescribeSendPath(SendPath), DescribeReceivePath(ReceivePath), device.Features,
            IsCoalescing ? ", receive coalescing" : Offloads == TunnelOffloads.SegmentationAndCoalescing ? ", no receive coalescing (no TSO in force)" : "");
    }

    /// <summary>Closes the socket and waits for the receive thread to end (<c>ndo_uninit</c>).</summary>
    /// <exception cref="InvalidOperationException">The receive thread did not end in time (it would be a bug).</exception>
    public void Uninit(NetDevice<TunnelDriver> device) => StopReceiving();

    /// <summary>Adds the receive errors only the tunnel sees (malformed datagrams, socket errors) to the framework's counters.</summary>
    public void GetStats64(NetDevice<TunnelDriver> device, ref LinkStats64 stats)
    {
        var lengthErrors = RxCount(RxVerdict.TooShort) + RxCount(RxVerdict.RuntFrame) + RxCount(RxVerdict.TooBig);
        var frameErrors = RxCount(RxVerdict.BadMagic) + RxCount(RxVerdict.UnsupportedVersion) + RxCount(RxVerdict.UnknownType);
        stats.RxLengthErrors += lengthErrors;
        stats.RxFrameErrors += frameErrors;
        stats.RxErrors += lengthErrors + frameErrors + Volatile.Read(ref _rxSocketErrors)
            + RxCount(RxVerdict.AuthenticationFailed) + RxCount(RxVerdict.NewSessionFailed);
    }

    /// <summary>The driver's name and version, with the tunnel's endpoints as its "bus".</summary>
    public DriverInfo GetDriverInfo(NetDevice<TunnelDriver> device) =>
        DriverInfo.For(device) with { BusInfo = $"udp {Local} -> {DescribePeers()}" };

    /// <summary>
    /// The tunnel's own counters (<c>ethtool -S</c>): datagrams and underlay bytes each way, send errors,
    /// and each kind of datagram the receiver refused.
    /// </summary>
    public IEnumerable<KeyValuePair<string, long>> GetStatistics(NetDevice<TunnelDriver> device)
    {
        var statistics = new List<KeyValuePair<string, long>>
        {
            new("tunnel_tx_datagrams", _txCounters.Sum(c => Volatile.Read(ref c.Datagrams))),
            new("tunnel_tx_bytes", _txCounters.Sum(c => Volatile.Read(ref c.Bytes))),
            new("tunnel_tx_send_errors", _txCounters.Sum(c => Volatile.Read(ref c.SendErrors))),
            new("tunnel_tx_send_calls", _txCounters.Sum(c => Volatile.Read(ref c.SendCalls))),
            new("tunnel_tx_segmented_frames", _txCounters.Sum(c => Volatile.Read(ref c.SegmentedFrames))),
            new("tunnel_tx_offload_errors", _txCounters.Sum(c => Volatile.Read(ref c.OffloadErrors))),
            new("tunnel_rx_datagrams", RxCount(RxVerdict.Accepted)),
            new("tunnel_rx_bytes", Volatile.Read(ref _rxBytes)),
            new("tunnel_rx_foreign_source", RxCount(RxVerdict.ForeignSource)),
            new("tunnel_rx_too_short", RxCount(RxVerdict.TooShort)),
            new("tunnel_rx_bad_magic", RxCount(RxVerdict.BadMagic)),
            new("tunnel_rx_bad_version", RxCount(RxVerdict.UnsupportedVersion)),
            new("tunnel_rx_unknown_type", RxCount(RxVerdict.UnknownType)),
            new("tunnel_rx_runt_frames", RxCount(RxVerdict.RuntFrame)),
            new("tunnel_rx_too_big", RxCount(RxVerdict.TooBig)),
            new("tunnel_rx_socket_errors", Volatile.Read(ref _rxSocketErrors)),
            new("tunnel_rx_receive_calls", Volatile.Read(ref _rxCalls)),
            new("tunnel_rx_coalesced_segments", Volatile.Read(ref _rxCoalescedSegments)),
            new("tunnel_rx_coalesced_frames", Volatile.Read(ref _rxCoalescedFrames)),
        };
        AddKeyedStatistics(statistics);
        AddPeerStatistics(statistics);
        return statistics;
    }

    /// <summary>Closes the socket and ends the receive thread if <see cref="Uninit"/> did not already.</summary>
    public void Dispose()
    {
        StopReceiving();
        DisposeKeys();
    }

    private void StopReceiving()
    {
        _stopping = true;
        // Closing the socket is what wakes a receive blocked in it: on Linux the runtime shuts the socket
        // down before closing it, and a blocked recvfrom returns (the teardown tests check the thread ends).
        _datagrams.Dispose();
        var receiver = _receiver;
        if (receiver is not null && receiver != Thread.CurrentThread && !receiver.Join(ReceiverExitTimeout))
        {
            throw new InvalidOperationException(
                $"The receive thread of {_device?.Name} did not end within {ReceiverExitTimeout.TotalSeconds} s after its socket was closed.");
        }
    }


}
