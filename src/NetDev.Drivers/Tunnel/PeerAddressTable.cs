using System.Net;

namespace NetDev.Drivers.Tunnel;

/// <summary>
/// Which peer a received datagram came from, by its sender's <c>sockaddr</c> bytes: a hash table built
/// once, so the receive thread finds the peer in about one comparison whether the tunnel has 1 peer or 256,
/// instead of comparing the sender with every peer in turn.
/// </summary>
/// <remarks>
/// <para>A sender matches a peer only when its bytes equal the peer's serialized address byte for byte
/// (family, port, address; for IPv6 also flow information and scope), as the kernel writes them for a
/// received datagram.</para>
/// <para><b>Invariants.</b> Immutable after construction. <c>_slots.Length</c> is a power of two at least
/// twice the number of peers, so at least half the slots are empty and every probe ends; a non-zero slot
/// holds a peer's index plus one, and every peer lies in the probe run that starts at its address's hash,
/// unbroken by empty slots; no two peers have the same bytes.</para>
/// </remarks>
internal sealed class PeerAddressTable
{
    private readonly byte[][] _addresses;
    private readonly int[] _slots;
    private readonly int _mask;

    /// <summary>Builds the table of <paramref name="peers"/> (distinct), peer <c>i</c> being <c>peers[i]</c>.</summary>
    /// <exception cref="ArgumentException">Two peers have the same address.</exception>
    public PeerAddressTable(IReadOnlyList<SocketAddress> peers)
    {
        _addresses = [.. peers.Select(peer => peer.Buffer.Span[..peer.Size].ToArray())];
        var size = (int)Math.Max(2, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, _addresses.Length) * 2));
        _slots = new int[size];
        _mask = size - 1;
        for (var peer = 0; peer < _addresses.Length; peer++)
        {
            var i = HashOf(_addresses[peer]) & _mask;
            for (; _slots[i] != 0; i = (i + 1) & _mask)
            {
                if (_addresses[_slots[i] - 1].AsSpan().SequenceEqual(_addresses[peer]))
                {
                    throw new ArgumentException($"Peers {_slots[i] - 1} and {peer} have the same address.", nameof(peers));
                }
            }
            _slots[i] = peer + 1;
        }
    }

    /// <summary>The peer whose address is <paramref name="source"/> (a <c>sockaddr</c> as received), or -1 for a stranger. Any thread; no allocation.</summary>
    public int IndexOf(ReadOnlySpan<byte> source)
    {
        for (var i = HashOf(source) & _mask; ; i = (i + 1) & _mask)
        {
            var entry = _slots[i];
            if (entry == 0)
            {
                return -1;
            }
            if (source.SequenceEqual(_addresses[entry - 1]))
            {
                return entry - 1;
            }
        }
    }

    private static int HashOf(ReadOnlySpan<byte> address)
    {
        var hash = new HashCode();
        hash.AddBytes(address);
        return hash.ToHashCode();
    }
}
