using System.Net;
using System.Net.Sockets;
using NetDev.Linux;

namespace NetDev.Drivers.Tunnel;

/// <summary>
/// The tunnel's peers: their addresses, which one a frame goes to (the forwarding database), and their counters.
/// </summary>
public sealed partial class TunnelDriver
{
    /// <summary>The most peers one tunnel carries frames to.</summary>
    public const int MaxPeers = 256;

    /// <summary>What <see cref="PeerFor"/> returns for a frame that goes to every peer.</summary>
    private const int AllPeers = -1;

    private static readonly long SweepIntervalMilliseconds = 1000;

    // Set once by the constructor; the received source is compared with these byte for byte, and the
    // socket's family decides their form.
    private SocketAddress[] _peerAddresses = [];
    // The same addresses hashed, so finding a datagram's sender costs about one comparison with any number of peers.
    private PeerAddressTable? _peerTable;
    private TunnelFdb? _fdb;
    // Written only by the receive thread (plain writes), read elsewhere with Volatile.Read.
    private long[] _peerRxDatagrams = [];
    private long[] _peerRxBytes = [];
    private long _lastSweep;

    /// <summary>The peers' addresses and ports, in the socket's address family, in the order given; peer <c>i</c> in the statistics is <c>Peers[i]</c>.</summary>
    public IReadOnlyList<IPEndPoint> Peers { get; private set; } = [];

    /// <summary>The forwarding database: which peer each learned MAC address is behind; null with a single peer, which gets every frame.</summary>
    public TunnelFdb? Fdb => _fdb;

    private void InitPeers(Socket socket, IReadOnlyList<IPEndPoint> peers)
    {
        if (peers.Count is 0 or > MaxPeers)
        {
            throw new ArgumentException($"A tunnel has 1 to {MaxPeers} peers; {peers.Count} were given.", nameof(peers));
        }
        var normalized = new IPEndPoint[peers.Count];
        for (var i = 0; i < peers.Count; i++)
        {
            normalized[i] = NormalizeRemote(socket, peers[i] ?? throw new ArgumentNullException(nameof(peers), "A peer is null."));
            if (Array.IndexOf(normalized, normalized[i], 0, i) >= 0)
            {
                throw new ArgumentException($"The peer {peers[i]} is named twice.", nameof(peers));
            }
        }
        Peers = normalized;
        _peerAddresses = [.. normalized.Select(peer => peer.Serialize())];
        _peerTable = new PeerAddressTable(_peerAddresses);
        _peerRxDatagrams = new long[normalized.Length];
        _peerRxBytes = new long[normalized.Length];
        if (normalized.Length > 1)
        {
            _fdb = new TunnelFdb(Options.FdbCapacity, Options.FdbAgeing, Options.Time);
        }
    }

    /// <summary>The peer a frame goes to: the only one, the one its destination was learned behind, or <see cref="AllPeers"/>
    /// for broadcast, multicast and unknown unicast. Any queue thread; no lock.</summary>
    private int PeerFor(ReadOnlySpan<byte> frame)
    {
        if (_fdb is null)
        {
            return 0;
        }
        if (frame.Length < MacAddress.Length || (frame[0] & 1) != 0)
        {
            return AllPeers;
        }
        var peer = _fdb.Lookup(frame[..MacAddress.Length]);
        return peer >= 0 ? peer : AllPeers;
    }

    /// <summary>Which peer sent message <paramref name="index"/> of <paramref name="batch"/>, or -1 for a stranger.</summary>
    private int PeerIndexOf(DatagramReceiveBatch batch, int index) => _peerTable!.IndexOf(batch.Source(index));

    /// <summary>Counts an accepted datagram of <paramref name="peer"/> and learns the frame's source behind it. The receive thread only.</summary>
    private void LearnFrom(int peer, ReadOnlySpan<byte> frame, int datagramLength)
    {
        _peerRxDatagrams[peer]++;
        _peerRxBytes[peer] += datagramLength;
        if (_fdb is null)
        {
            return;
        }
        _fdb.Learn(frame.Slice(MacAddress.Length, MacAddress.Length), peer);
        var now = Environment.TickCount64;
        if (now - _lastSweep >= SweepIntervalMilliseconds)
        {
            _lastSweep = now;
            _fdb.Sweep();
        }
    }

    private string DescribePeers() => Peers.Count == 1 ? $"{Peers[0]}" : $"{Peers.Count} peers ({string.Join(", ", Peers.Take(4))}{(Peers.Count > 4 ? ", …" : "")})";

    private void AddPeerStatistics(List<KeyValuePair<string, long>> statistics)
    {
        for (var p = 0; p < Peers.Count; p++)
        {
            statistics.Add(new($"peer{p}_tx_datagrams", _txCounters.Sum(c => Volatile.Read(ref c.PeerDatagrams[p]))));
            statistics.Add(new($"peer{p}_tx_bytes", _txCounters.Sum(c => Volatile.Read(ref c.PeerBytes[p]))));
            statistics.Add(new($"peer{p}_tx_errors", _txCounters.Sum(c => Volatile.Read(ref c.PeerErrors[p]))));
            statistics.Add(new($"peer{p}_rx_datagrams", Volatile.Read(ref _peerRxDatagrams[p])));
            statistics.Add(new($"peer{p}_rx_bytes", Volatile.Read(ref _peerRxBytes[p])));
        }
        if (_fdb is { } fdb)
        {
            statistics.Add(new("tunnel_fdb_entries", fdb.Count));
            statistics.Add(new("tunnel_fdb_refused", fdb.Refused));
            statistics.Add(new("tunnel_fdb_moves", fdb.Moves));
            statistics.Add(new("tunnel_fdb_expired", fdb.Expired));
        }
    }

    internal static IPEndPoint NormalizeRemote(Socket socket, IPEndPoint remote)
    {
        var address = remote.Address;
        if (remote.Port == 0)
        {
            throw new ArgumentException($"The peer {remote} needs a port.", nameof(remote));
        }
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            throw new ArgumentException($"The peer {remote} must be one host's address.", nameof(remote));
        }
        if (address.IsIPv6Multicast || (address.AddressFamily == AddressFamily.InterNetwork && (address.GetAddressBytes()[0] & 0xF0) == 0xE0))
        {
            throw new ArgumentException($"The peer {remote} is a multicast address; name each peer by its own address.", nameof(remote));
        }
        switch (socket.AddressFamily, address.AddressFamily)
        {
            case (AddressFamily.InterNetwork, AddressFamily.InterNetwork):
            case (AddressFamily.InterNetworkV6, AddressFamily.InterNetworkV6) when !address.IsIPv4MappedToIPv6 || socket.DualMode:
                return remote;
            case (AddressFamily.InterNetwork, AddressFamily.InterNetworkV6) when address.IsIPv4MappedToIPv6:
                return new IPEndPoint(address.MapToIPv4(), remote.Port);
            case (AddressFamily.InterNetworkV6, AddressFamily.InterNetwork) when socket.DualMode:
                return new IPEndPoint(address.MapToIPv6(), remote.Port);
            default:
                throw new ArgumentException(
                    $"A {Describe(socket.AddressFamily)} socket{(socket.AddressFamily == AddressFamily.InterNetworkV6 ? " without dual mode" : "")} cannot reach the peer {remote}.", nameof(remote));
        }
    }

    private static string Describe(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => "IPv4",
        AddressFamily.InterNetworkV6 => "IPv6",
        _ => family.ToString(),
    };

}
