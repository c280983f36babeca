using System.Diagnostics;

namespace NetDev;

/// <summary>
/// A pool of <see cref="SkBuff"/> buffers: in steady state renting and releasing a frame allocates nothing.
/// </summary>
/// <remarks>
/// <para>
/// A pool is meant to belong to one queue and to be used by that queue's thread: after
/// <see cref="BindToCurrentThread"/>, renting and releasing on that thread take no lock and no atomic
/// operation. Frames may still be released (and rented) on other threads; those take a lock, which is
/// the price of handing a frame across threads, not of the packet path.
/// </para>
/// <para>
/// The pool counts releases per <see cref="DropReason"/> and knows every buffer it handed out, so
/// <see cref="CheckLeaks"/> can tell how many were never released. Set
/// <see cref="CaptureAllocationStacks"/> (or the environment variable <c>NETDEV_SKB_DEBUG=1</c>) to also
/// record where each leaked buffer was rented.
/// </para>
/// <para>
/// A pool grows as frames are needed and keeps what it grew to, so steady traffic allocates nothing; after
/// a burst, <see cref="Shrink"/> lets go of the buffers that then stay idle, down to the working size a
/// driver asked for with <see cref="Reserve"/>. <see cref="PinnedBytes"/> says what the pool holds.
/// </para>
/// <para><b>Invariants.</b> A storage slot of <c>_all</c> is in exactly one place: the owner's free stack,
/// the shared return stack, or out with exactly one live handle (<c>Live == true</c>); a slot
/// <see cref="Shrink"/> released is in none and holds no memory. <c>_count</c> is <c>_all.Count</c>,
/// written under its lock. <c>_lowFree</c> is written by the thread that takes free slots (the owner, or
/// takers under the return stack's lock when the pool has none) and by <see cref="Shrink"/>; a stale
/// value only makes one shrink release fewer or more idle buffers, never a rented one. Counters in
/// <c>_ownerCounts</c> are written only by the owner thread; <c>_foreignCounts</c> only with
/// <see cref="Interlocked"/>.</para>
/// </remarks>
public sealed class SkBuffPool
{
    /// <summary>Default headroom reserved in every rented buffer: room for a virtio-net header and a
    /// tunnel's outer Ethernet, IP and UDP headers in front of a frame without copying.</summary>
    public const int DefaultHeadroom = 128;

    /// <summary>Default buffer size: headroom plus a 1500-byte MTU frame with Ethernet and VLAN headers, rounded up.</summary>
    public const int DefaultBufferSize = 2048;

    private static readonly int CountSlots = Enum.GetValues<DropReason>().Length + 1; // [0] counts Consume

    private readonly Stack<SkBuffSlot> _free = new();
    private readonly Stack<SkBuffSlot> _returned = new();
    private readonly List<SkBuffSlot> _all = [];
    private readonly long[] _ownerCounts = new long[CountSlots];
    private readonly long[] _foreignCounts = new long[CountSlots];
    private int _returnedCount;
    private int _ownerThreadId;
    private int _bufferSize;
    private int _count;
    private int _reserved;
    // The fewest buffers free since the last Shrink: that many were not needed the whole time.
    private int _lowFree;

    /// <summary>Creates an empty pool; buffers are allocated as they are first needed.</summary>
    /// <param name="bufferSize">Bytes per buffer, headroom included.</param>
    /// <param name="headroom">Headroom reserved in each rented buffer.</param>
    /// <param name="name">A name for messages, such as <c>dummy0 tx0</c>.</param>
    public SkBuffPool(int bufferSize = DefaultBufferSize, int headroom = DefaultHeadroom, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(headroom);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(bufferSize, headroom);
        _bufferSize = bufferSize;
        Headroom = headroom;
        Name = name ?? "SkBuffPool";
    }

    /// <summary>
    /// Whether new rentals record their stack, so a leak report can say where leaked frames came from.
    /// Costly; for debugging. Defaults to on when the environment variable <c>NETDEV_SKB_DEBUG</c> is <c>1</c>.
    /// </summary>
    public static bool CaptureAllocationStacks { get; set; } = Environment.GetEnvironmentVariable("NETDEV_SKB_DEBUG") == "1";

    /// <summary>The pool's name, used in messages.</summary>
    public string Name { get; }

    /// <summary>Headroom reserved in each rented buffer.</summary>
    public int Headroom { get; }

    /// <summary>
    /// Bytes per buffer, headroom included. Raising it (for a larger MTU) makes buffers that are too
    /// small grow when they are next rented; it is not a per-frame cost.
    /// </summary>
    public int BufferSize
    {
        get => Volatile.Read(ref _bufferSize);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, Headroom);
            Volatile.Write(ref _bufferSize, value);
        }
    }

    /// <summary>How many buffers the pool has allocated in all.</summary>
    public int Allocated
    {
        get
        {
            lock (_all)
            {
                return _all.Count;
            }
        }
    }

    /// <summary>
    /// The fewest buffers the pool keeps: the most any <see cref="Reserve"/> asked for, the working size a
    /// driver declared. <see cref="Shrink"/> never goes below it.
    /// </summary>
    public int Reserved => Volatile.Read(ref _reserved);

    /// <summary>
    /// Pinned memory the pool holds: every buffer it allocated and has not released by <see cref="Shrink"/>,
    /// headroom included, whether rented or free.
    /// </summary>
    public long PinnedBytes
    {
        get
        {
            lock (_all)
            {
                return _all.Sum(slot => (long)slot.Memory.Length);
            }
        }
    }

    /// <summary>Whether the pool holds more buffers than it keeps (<see cref="Reserved"/>): what <see cref="Shrink"/> may release. No lock.</summary>
    public bool HasSurplus => Volatile.Read(ref _count) > Volatile.Read(ref _reserved);

    /// <summary>
    /// Lets go of the buffers a burst left behind: those that stayed free the whole time since the last call
    /// (or since the pool was made), never going below <see cref="Reserved"/>; their pinned memory goes back
    /// to the runtime. Returns how many were released. Call it now and then on the owner's thread (the
    /// transmit engine does for its queue's pools, every 2 seconds while there is a surplus), or
    /// from any thread while the pool has no owner; bound to another thread it does nothing.
    /// </summary>
    public int Shrink()
    {
        if (IsBoundToAnotherThread)
        {
            return 0;
        }
        var owner = IsOwnerThread;
        var released = 0;
        lock (_all)
        {
            var surplus = Math.Min(_lowFree, _all.Count - _reserved);
            while (released < surplus && TakeIdle(owner) is { } slot)
            {
                _all.Remove(slot);
                // A stale handle may still refer to the slot; the memory must not stay reachable through it.
                slot.Memory = [];
                released++;
            }
            Volatile.Write(ref _count, _all.Count);
        }
        _lowFree = owner ? _free.Count : FreeForeign;
        return released;
    }

    /// <summary>A free slot to release, from the stack the calling thread may use.</summary>
    private SkBuffSlot? TakeIdle(bool owner) => owner && _free.Count > 0 ? _free.Pop() : TakeAsForeign();

    private int FreeForeign
    {
        get
        {
            lock (_returned)
            {
                return _returned.Count;
            }
        }
    }

    /// <summary>How many rented buffers are not yet released.</summary>
    public int Outstanding
    {
        get
        {
            lock (_all)
            {
                return _all.Count(slot => slot.Live);
            }
        }
    }

    /// <summary>
    /// Allocates buffers of <see cref="BufferSize"/> bytes until the pool has at least <paramref name="count"/>,
    /// so a driver that holds many frames at once (a batch, a transmit ring) reaches its working size
    /// before traffic rather than growing on the packet path. From any thread.
    /// </summary>
    public void Reserve(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_all)
        {
            _reserved = Math.Max(_reserved, count);
        }
        while (Allocated < count)
        {
            var (slot, _) = Allocate(BufferSize);
            lock (_returned)
            {
                _returned.Push(slot);
                _returnedCount = _returned.Count;
            }
        }
        if (IsOwnerThread)
        {
            _free.EnsureCapacity(Allocated);
        }
    }

    /// <summary>Makes the calling thread the pool's owner: its rentals and releases take no lock.</summary>
    public void BindToCurrentThread() => Volatile.Write(ref _ownerThreadId, Environment.CurrentManagedThreadId);

    /// <summary>Rents an empty buffer of <see cref="BufferSize"/> bytes with <see cref="Headroom"/> reserved.</summary>
    public SkBuff Rent() => Rent(BufferSize);

    /// <summary>Rents an empty buffer of at least <paramref name="capacity"/> bytes with <see cref="Headroom"/> reserved.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not more than the headroom.</exception>
    public SkBuff Rent(int capacity)
    {
        if (capacity <= Headroom)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"The capacity must exceed the pool's headroom of {Headroom} bytes.");
        }
        var owner = IsOwnerThread;
        var slot = owner ? TakeAsOwner() : TakeAsForeign();
        if (slot is null)
        {
            _lowFree = 0;
            var allocated = Allocate(Math.Max(capacity, BufferSize));
            slot = allocated.Slot;
            if (owner)
            {
                // The free stack grows with the pool, now, so that all buffers coming back at once later
                // (a burst) do not make it grow on the packet path.
                _free.EnsureCapacity(allocated.Count);
            }
        }
        if (slot.Memory.Length < capacity)
        {
            slot.Memory = GC.AllocateUninitializedArray<byte>(Math.Max(capacity, BufferSize), pinned: true);
        }
        slot.Data = Headroom;
        slot.Tail = Headroom;
        slot.Protocol = 0;
        slot.QueueIndex = 0;
        slot.TxTimestamp = 0;
        slot.TxTimestampRequested = false;
        slot.Offload = default;
        slot.Live = true;
        slot.AllocationStack = CaptureAllocationStacks ? new StackTrace(1, fNeedFileInfo: true).ToString() : null;
        return new SkBuff(slot);
    }

    /// <summary>
    /// Gives back a buffer that was rented but never carried a frame (for example a host's read that
    /// found nothing), without counting it as consumed or dropped.
    /// </summary>
    /// <exception cref="SkBuffMisuseException">The buffer was already released.</exception>
    /// <exception cref="ArgumentException">The buffer belongs to another pool.</exception>
    public void Return([TakesOwnership] SkBuff skb)
    {
        if (skb.Slot is { } slot && !ReferenceEquals(slot.Pool, this))
        {
            throw new ArgumentException($"This SkBuff belongs to pool '{slot.Pool.Name}', not '{Name}'.", nameof(skb));
        }
        skb.ReturnUnused();
    }

    /// <summary>How many frames from this pool were dropped for <paramref name="reason"/>.</summary>
    public long DropCount(DropReason reason) => ReadCount((int)reason + 1);

    /// <summary>How many frames from this pool were dropped, for any reason.</summary>
    public long TotalDrops
    {
        get
        {
            long total = 0;
            for (var i = 1; i < CountSlots; i++)
            {
                total += ReadCount(i);
            }
            return total;
        }
    }

    /// <summary>How many frames from this pool were consumed (released as delivered).</summary>
    public long ConsumedCount => ReadCount(0);

    /// <summary>
    /// Reports the buffers rented from this pool and never released. Call it once nothing should hold a
    /// frame any more (a device's teardown does).
    /// </summary>
    public SkBuffLeakReport CheckLeaks()
    {
        lock (_all)
        {
            var leaked = _all.Where(slot => slot.Live).ToList();
            var stacks = leaked.Select(slot => slot.AllocationStack).OfType<string>().ToList();
            return new SkBuffLeakReport(Name, leaked.Count, stacks);
        }
    }

    /// <summary>The queue whose frames the pool holds, for drop traces and captures; null for a pool of no device's queue.</summary>
    internal DeviceQueue? Queue { get; init; }

    /// <summary>Which way the pool's frames go (its <see cref="Queue"/>'s transmit or receive side).</summary>
    internal TrafficDirection Direction { get; init; }

    /// <summary>A frame of this pool is being dropped while drops are traced or captured: tells them, before the buffer is reused.</summary>
    internal void Observe(SkBuff skb, DropReason reason)
    {
        var device = Queue?.Device;
        var queue = Queue?.Index ?? skb.QueueIndex;
        Diagnostics.NetDevEventSource.Log.Dropped(device, queue, Direction, reason, skb.Data);
        if (device?.Captures is { } captures)
        {
            NetDevice.OfferToCaptures(captures, Direction, skb, reason);
        }
    }

    internal void Recycle(SkBuffSlot slot, bool consumed, DropReason reason, bool count = true)
    {
        slot.Live = false;
        slot.AllocationStack = null;
        var index = consumed ? 0 : (int)reason + 1;
        if (IsOwnerThread)
        {
            if (count)
            {
                _ownerCounts[index]++;
            }
            _free.Push(slot);
            return;
        }
        if (count)
        {
            Interlocked.Increment(ref _foreignCounts[index]);
        }
        lock (_returned)
        {
            _returned.Push(slot);
            _returnedCount = _returned.Count;
        }
    }

    private bool IsOwnerThread => Volatile.Read(ref _ownerThreadId) == Environment.CurrentManagedThreadId;

    /// <summary>Whether the pool is bound to a thread (a queue's loop) other than the calling one.</summary>
    internal bool IsBoundToAnotherThread => Volatile.Read(ref _ownerThreadId) is var owner && owner != 0 && owner != Environment.CurrentManagedThreadId;

    private SkBuffSlot? TakeAsOwner()
    {
        if (_free.Count == 0 && Volatile.Read(ref _returnedCount) > 0)
        {
            lock (_returned)
            {
                _free.EnsureCapacity(_free.Count + _returned.Count);
                while (_returned.Count > 0)
                {
                    _free.Push(_returned.Pop());
                }
                _returnedCount = 0;
            }
        }
        if (_free.Count == 0)
        {
            return null;
        }
        var slot = _free.Pop();
        if (_free.Count < _lowFree)
        {
            _lowFree = _free.Count;
        }
        return slot;
    }

    private SkBuffSlot? TakeAsForeign()
    {
        lock (_returned)
        {
            if (_returned.Count == 0)
            {
                return null;
            }
            var slot = _returned.Pop();
            _returnedCount = _returned.Count;
            if (_returnedCount < _lowFree)
            {
                _lowFree = _returnedCount;
            }
            return slot;
        }
    }

    /// <summary>Makes a new slot; returns it with the pool's slot count, and sizes the shared return stack for them all.</summary>
    private (SkBuffSlot Slot, int Count) Allocate(int size)
    {
        var slot = new SkBuffSlot(this, GC.AllocateUninitializedArray<byte>(size, pinned: true));
        int count;
        lock (_all)
        {
            _all.Add(slot);
            count = _all.Count;
            Volatile.Write(ref _count, count);
        }
        lock (_returned)
        {
            _returned.EnsureCapacity(count);
        }
        return (slot, count);
    }

    private long ReadCount(int index) => Volatile.Read(ref _ownerCounts[index]) + Interlocked.Read(ref _foreignCounts[index]);
}

/// <summary>What <see cref="SkBuffPool.CheckLeaks"/> found: buffers rented and never released.</summary>
/// <param name="PoolName">The pool that was checked.</param>
/// <param name="LeakedCount">How many buffers are still out.</param>
/// <param name="AllocationStacks">Where they were rented, when <see cref="SkBuffPool.CaptureAllocationStacks"/> was on.</param>
public sealed record SkBuffLeakReport(string PoolName, int LeakedCount, IReadOnlyList<string> AllocationStacks)
{
    /// <summary>Whether nothing leaked.</summary>
    public bool IsClean => LeakedCount == 0;

    /// <inheritdoc/>
    public override string ToString() => IsClean
        ? $"{PoolName}: no SkBuff leaked"
        : $"{PoolName}: {LeakedCount} SkBuff(s) never released (Consume or Drop)" +
          (AllocationStacks.Count > 0
              ? "; rented at:" + Environment.NewLine + string.Join(Environment.NewLine + "---" + Environment.NewLine, AllocationStacks)
              : "; set NETDEV_SKB_DEBUG=1 to see where they were rented");
}
