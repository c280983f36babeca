using System.Buffers.Binary;

namespace NetDev.Testing;

/// <summary>
/// The kernel's side of one transmit queue: the frames the system sent on the device that the device's
/// queue has not taken yet (on Linux the qdisc and the TAP queue's ring, <c>txqueuelen</c> frames).
/// </summary>
/// <remarks>
/// <para>Frames are copied in and kept in reused buffers, not in SkBuffs: until the device takes a frame
/// it is the kernel's, so it must not show in the device's pools or counters. A frame becomes an SkBuff
/// of the device queue's <see cref="DeviceQueue.TxPool"/> when it is handed over, as the Linux host reads
/// it from the TAP descriptor into one.</para>
/// <para><b>Invariants.</b> Every field is read and written under <c>_lock</c>. The frames waiting are
/// <c>_ring[(_head + i) % _ring.Length]</c> for <c>i</c> in <c>0.._count</c>, in the order they came, with
/// consecutive tickets; <c>_count ≤ Capacity</c>, except that a queue of capacity 0 holds one frame while
/// it is handed straight over.</para>
/// </remarks>
internal sealed class KernelTxQueue(int capacity)
{
    private readonly object _lock = new();
    private Slot[] _ring = new Slot[Math.Max(capacity, 1)];
    private readonly Dictionary<long, InjectResult> _watched = [];
    private int _head;
    private int _count;
    private long _nextTicket;
    private long _enqueued;
    private long _dropped;
    private long _dispatched;
    private long _discarded;
    private int _highWater;

    /// <summary>How many frames the queue holds at most; 0 means none wait (the kernel's <c>noqueue</c>).</summary>
    public int Capacity
    {
        get
        {
            lock (_lock)
            {
                return _capacity;
            }
        }
    }

    private int _capacity = capacity;

    /// <summary>
    /// Copies <paramref name="frame"/> in. With <paramref name="watch"/>, what becomes of it can be asked
    /// with <see cref="EndWatch"/>. <paramref name="acceptingNow"/> lets a frame through a queue of
    /// capacity 0 when the device can take it at once.
    /// </summary>
    /// <returns>False when the queue was full and the frame was dropped.</returns>
    public bool TryEnqueue(ReadOnlySpan<byte> frame, bool acceptingNow, bool watch, out long ticket)
    {
        lock (_lock)
        {
            var full = _capacity == 0 ? _count > 0 || !acceptingNow : _count >= _capacity;
            if (full)
            {
                _dropped++;
                ticket = -1;
                return false;
            }
            ref var slot = ref _ring[(_head + _count) % _ring.Length];
            if (slot.Buffer is null || slot.Buffer.Length < frame.Length)
            {
                slot.Buffer = new byte[Math.Max(frame.Length, SkBuffPool.DefaultBufferSize)];
            }
            frame.CopyTo(slot.Buffer);
            slot.Length = frame.Length;
            slot.Ticket = ticket = _nextTicket++;
            _count++;
            _enqueued++;
            _highWater = Math.Max(_highWater, _count);
            if (watch)
            {
                _watched[ticket] = InjectResult.Queued;
            }
            return true;
        }
    }

    /// <summary>
    /// Takes the oldest frame into an SkBuff rented from <paramref name="pool"/>, if there is one;
    /// <paramref name="more"/> says whether another frame waits behind it.
    /// </summary>
    public bool TryDequeue(SkBuffPool pool, out SkBuff skb, out bool more)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                skb = default;
                more = false;
                return false;
            }
            ref var slot = ref _ring[_head];
            skb = pool.Rent(pool.Headroom + slot.Length);
            slot.Buffer!.AsSpan(0, slot.Length).CopyTo(skb.Put(slot.Length));
            if (slot.Length >= NetDevice.EthernetHeaderLength)
            {
                skb.Protocol = BinaryPrimitives.ReadUInt16BigEndian(slot.Buffer.AsSpan(2 * MacAddress.Length));
            }
            Mark(slot.Ticket, InjectResult.Dispatched);
            _head = (_head + 1) % _ring.Length;
            _count--;
            _dispatched++;
            more = _count > 0;
            return true;
        }
    }

    /// <summary>Throws away every waiting frame (the interface went down or away); returns how many.</summary>
    public int Discard()
    {
        lock (_lock)
        {
            var discarded = _count;
            for (var i = 0; i < _count; i++)
            {
                Mark(_ring[(_head + i) % _ring.Length].Ticket, InjectResult.Discarded);
            }
            _head = 0;
            _count = 0;
            _discarded += discarded;
            return discarded;
        }
    }

    /// <summary>Counts a frame the kernel dropped without queueing it (no carrier).</summary>
    public void CountDrop()
    {
        lock (_lock)
        {
            _dropped++;
        }
    }

    /// <summary>
    /// Changes the capacity (<c>txqueuelen</c>); as when the kernel resizes a TAP queue's ring, the
    /// newest frames that no longer fit are discarded.
    /// </summary>
    public void Resize(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        lock (_lock)
        {
            var keep = Math.Min(_count, capacity);
            var ring = new Slot[Math.Max(capacity, 1)];
            for (var i = 0; i < _count; i++)
            {
                ref var slot = ref _ring[(_head + i) % _ring.Length];
                if (i < keep)
                {
                    ring[i] = slot;
                }
                else
                {
                    Mark(slot.Ticket, InjectResult.Discarded);
                    _discarded++;
                }
            }
            _ring = ring;
            _head = 0;
            _count = keep;
            _capacity = capacity;
        }
    }

    /// <summary>What became of the watched frame <paramref name="ticket"/> so far; stops watching it.</summary>
    public InjectResult EndWatch(long ticket)
    {
        lock (_lock)
        {
            _watched.Remove(ticket, out var result);
            return result;
        }
    }

    /// <summary>How many frames wait now.</summary>
    public int Length
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>The counters, read together.</summary>
    public KernelQueueStats Snapshot()
    {
        lock (_lock)
        {
            return new KernelQueueStats(_count, _capacity, _enqueued, _dropped, _dispatched, _discarded, _highWater);
        }
    }

    private void Mark(long ticket, InjectResult result)
    {
        if (_watched.Count > 0 && _watched.ContainsKey(ticket))
        {
            _watched[ticket] = result;
        }
    }

    private struct Slot
    {
        public byte[]? Buffer;
        public int Length;
        public long Ticket;
    }
}
