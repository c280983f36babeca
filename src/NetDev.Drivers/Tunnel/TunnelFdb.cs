using System.Buffers.Binary;

namespace NetDev.Drivers.Tunnel;

/// <summary>What <see cref="TunnelFdb.Learn"/> did with a source address.</summary>
public enum FdbLearnResult
{
    /// <summary>Known already behind the same peer: its age was renewed.</summary>
    Refreshed,

    /// <summary>A new entry.</summary>
    Added,

    /// <summary>Known behind another peer: it moved (a host that roamed, or a frame that came round).</summary>
    Moved,

    /// <summary>The table is full: not learned (frames to it are replicated to every peer).</summary>
    Full,

    /// <summary>A group or all-zero address, which no frame is sent to as a single host: not learned.</summary>
    NotUnicast,
}

/// <summary>
/// The tunnel's forwarding database: behind which peer each source MAC address was last seen, as a bridge's
/// or VXLAN's FDB keeps it, so known unicast goes to one peer and everything else to all of them.
/// </summary>
/// <remarks>
/// <para>One writer (the receive thread: <see cref="Learn"/>, <see cref="Sweep"/>) and any number of lock-free
/// readers (the transmit queues: <see cref="Lookup"/>). The table is open addressing with linear probing over
/// 64-bit words that pack the address, the peer and a valid bit, each written and read whole, so a reader sees
/// an entry entirely or not at all. A reader racing a change may miss an entry for that instant, and then
/// replicates the frame to every peer — what it does for any unknown address — but never sends it to a peer the
/// address was not behind. Removal shifts later entries of the probe run back (no tombstones), so lookups stay
/// short however long the device runs.</para>
/// <para>Entries older than the ageing time count as unknown at once for readers and are removed by
/// <see cref="Sweep"/>; at most <see cref="Capacity"/> entries are held, and addresses beyond that are refused
/// and counted (<see cref="Refused"/>), so a source that invents addresses cannot grow it.</para>
/// <para><b>Invariants.</b> <c>_slots.Length</c> is a power of two at least twice <see cref="Capacity"/>; a
/// non-zero slot holds <c>ValidBit | peer &lt;&lt; 48 | mac</c>, and every entry lies in the probe run that
/// starts at its home slot, unbroken by empty slots; <c>_seen[i]</c> is when slot <c>i</c>'s entry was last
/// learned (written before the slot itself); <see cref="Count"/> is the number of non-zero slots.</para>
/// </remarks>
public sealed class TunnelFdb
{
    /// <summary>The default ageing time: a bridge's (300 s).</summary>
    public static readonly TimeSpan DefaultAgeing = TimeSpan.FromSeconds(300);

    /// <summary>The default number of entries.</summary>
    public const int DefaultCapacity = 4096;

    /// <summary>The largest peer index an entry can hold.</summary>
    public const int MaxPeers = 1 << 15;

    private const long ValidBit = 1L << 63;
    private const long MacMask = (1L << 48) - 1;

    private readonly long[] _slots;
    private readonly long[] _seen;
    private readonly int _mask;
    private readonly int _shift;
    private readonly TimeProvider _time;
    private readonly long _ageingTicks;
    // Renewing an entry's time on every frame would write the line the transmit queues read; a quarter of a
    // second is far finer than any ageing time.
    private readonly long _refreshTicks;

    /// <summary>Makes an empty table.</summary>
    /// <param name="capacity">The most entries it holds, 1 to 1 048 576.</param>
    /// <param name="ageing">How long an entry lives without a frame from its address; <see cref="DefaultAgeing"/> when omitted.</param>
    /// <param name="time">The clock; the system's when omitted.</param>
    public TunnelFdb(int capacity = DefaultCapacity, TimeSpan? ageing = null, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1 << 20);
        var age = ageing ?? DefaultAgeing;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(age, TimeSpan.Zero, nameof(ageing));
        Capacity = capacity;
        Ageing = age;
        _time = time ?? TimeProvider.System;
        _ageingTicks = (long)Math.Min(age.TotalSeconds * _time.TimestampFrequency, long.MaxValue / 4);
        _refreshTicks = Math.Min(_time.TimestampFrequency / 4, _ageingTicks / 8);
        var size = (int)Math.Max(2, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity * 2));
        _slots = new long[size];
        _seen = new long[size];
        _mask = size - 1;
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)size);
    }

    /// <summary>The most entries the table holds.</summary>
    public int Capacity { get; }

    /// <summary>How long an entry lives without a frame from its address.</summary>
    public TimeSpan Ageing { get; }

    /// <summary>Entries held now (expired ones included until <see cref="Sweep"/> removes them).</summary>
    public int Count { get; private set; }

    /// <summary>Addresses not learned because the table was full.</summary>
    public long Refused { get; private set; }

    /// <summary>Addresses that moved from one peer to another.</summary>
    public long Moves { get; private set; }

    /// <summary>Entries removed because they aged out.</summary>
    public long Expired { get; private set; }

    /// <summary>The peer <paramref name="mac"/> (6 bytes) is behind, or -1 when it is unknown or aged out. Any thread, no lock.</summary>
    public int Lookup(ReadOnlySpan<byte> mac)
    {
        var key = Pack(mac);
        var now = _time.GetTimestamp();
        for (var i = Home(key); ; i = (i + 1) & _mask)
        {
            var slot = Volatile.Read(ref _slots[i]);
            if (slot == 0)
            {
                return -1;
            }
            if ((slot & MacMask) == key)
            {
                return now - Volatile.Read(ref _seen[i]) > _ageingTicks ? -1 : PeerOf(slot);
            }
        }
    }

    /// <summary>Records that a frame from <paramref name="mac"/> came from <paramref name="peer"/>. The receive thread only.</summary>
    public FdbLearnResult Learn(ReadOnlySpan<byte> mac, int peer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(peer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(peer, MaxPeers);
        if ((mac[0] & 1) != 0 || Pack(mac) == 0)
        {
            return FdbLearnResult.NotUnicast;
        }
        var key = Pack(mac);
        var entry = ValidBit | ((long)peer << 48) | key;
        var now = _time.GetTimestamp();
        var i = Home(key);
        for (; ; i = (i + 1) & _mask)
        {
            var slot = _slots[i];
            if (slot == 0)
            {
                break;
            }
            if ((slot & MacMask) != key)
            {
                continue;
            }
            if (slot == entry)
            {
                if (now - _seen[i] > _refreshTicks)
                {
                    Volatile.Write(ref _seen[i], now);
                }
                return FdbLearnResult.Refreshed;
            }
            Volatile.Write(ref _seen[i], now);
            Volatile.Write(ref _slots[i], entry);
            Moves++;
            return FdbLearnResult.Moved;
        }
        if (Count >= Capacity)
        {
            Refused++;
            return FdbLearnResult.Full;
        }
        Volatile.Write(ref _seen[i], now);
        Volatile.Write(ref _slots[i], entry);
        Count++;
        return FdbLearnResult.Added;
    }

    /// <summary>Removes the entries that aged out; returns how many. The receive thread only.</summary>
    public int Sweep()
    {
        var now = _time.GetTimestamp();
        var removed = 0;
        for (var i = 0; i < _slots.Length; i++)
        {
            // A removal shifts a later entry into slot i, which is then looked at again.
            while (_slots[i] != 0 && now - _seen[i] > _ageingTicks)
            {
                Remove(i);
                removed++;
            }
        }
        Expired += removed;
        return removed;
    }

    /// <summary>Every live entry as (address, peer), for tools and tests. Any thread; a snapshot that may be torn by concurrent learning.</summary>
    public IReadOnlyList<(MacAddress Address, int Peer)> Entries()
    {
        var now = _time.GetTimestamp();
        var entries = new List<(MacAddress, int)>();
        Span<byte> mac = stackalloc byte[8];
        for (var i = 0; i < _slots.Length; i++)
        {
            var slot = Volatile.Read(ref _slots[i]);
            if (slot != 0 && now - Volatile.Read(ref _seen[i]) <= _ageingTicks)
            {
                BinaryPrimitives.WriteInt64BigEndian(mac, slot & MacMask);
                entries.Add((MacAddress.FromBytes(mac[2..]), PeerOf(slot)));
            }
        }
        return entries;
    }

    /// <summary>Empties slot <paramref name="hole"/> and moves back later entries of its probe run that may no longer be found past the hole (Knuth's algorithm R).</summary>
    private void Remove(int hole)
    {
        Volatile.Write(ref _slots[hole], 0);
        Count--;
        for (var j = (hole + 1) & _mask; _slots[j] != 0; j = (j + 1) & _mask)
        {
            var home = Home(_slots[j] & MacMask);
            // The entry at j stays only if its home lies cyclically in (hole, j].
            var stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (stays)
            {
                continue;
            }
            Volatile.Write(ref _seen[hole], _seen[j]);
            Volatile.Write(ref _slots[hole], _slots[j]);
            Volatile.Write(ref _slots[j], 0);
            hole = j;
        }
    }

    private int Home(long key)
    {
        // Fibonacci hashing spreads the sequential addresses a vendor hands out.
        return (int)((ulong)(key * unchecked((long)0x9E3779B97F4A7C15)) >> _shift);
    }

    private static long Pack(ReadOnlySpan<byte> mac) =>
        ((long)BinaryPrimitives.ReadUInt16BigEndian(mac) << 32) | BinaryPrimitives.ReadUInt32BigEndian(mac[2..]);

    private static int PeerOf(long slot) => (int)((slot >> 48) & (MaxPeers - 1));
}
