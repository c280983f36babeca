using NetDev;

namespace NetDev.Examples.Echo;

/// <summary>
/// A bounded ring of frames between one writing thread (the queue's, in <c>StartXmit</c>) and one reading
/// thread (the echo thread): no lock and no allocation per frame, as a device's descriptor ring.
/// </summary>
/// <remarks><b>Invariants.</b> <c>_tail</c> is written only by the writer, <c>_head</c> only by the reader; the
/// slots from <c>_head</c> to <c>_tail</c> hold live frames the ring owns, at most <c>Capacity</c> of them, and
/// every other slot is empty.</remarks>
public sealed class FrameRing(int capacity)
{
    private readonly SkBuff[] _slots = new SkBuff[capacity];
    private long _head;
    private long _tail;

    /// <summary>How many frames the ring holds at most.</summary>
    public int Capacity => _slots.Length;

    /// <summary>Whether another frame fits now; from either thread.</summary>
    public bool HasRoom => Volatile.Read(ref _tail) - Volatile.Read(ref _head) < _slots.Length;

    /// <summary>On the writing thread, when <see cref="HasRoom"/>: the ring keeps <paramref name="skb"/>.</summary>
    public void Enqueue([TakesOwnership] SkBuff skb)
    {
        var tail = _tail;
        _slots[tail % _slots.Length] = skb;
        Volatile.Write(ref _tail, tail + 1);
    }

    /// <summary>On the reading thread: takes the oldest frame, if there is one; ownership passes to the caller.</summary>
    public bool TryDequeue(out SkBuff skb)
    {
        var head = _head;
        if (head == Volatile.Read(ref _tail))
        {
            skb = default;
            return false;
        }
        var slot = head % _slots.Length;
        skb = _slots[slot];
        _slots[slot] = default;
        Volatile.Write(ref _head, head + 1);
        return true;
    }
}
