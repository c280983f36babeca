namespace NetDev.Testing.Tests.Example;

/// <summary>
/// The example driver of docs/testing.md: it paces its output, putting one frame "on the wire" every
/// <c>interval</c>. Frames wait in a ring of <c>ringSize</c> slots; when the ring is full the driver
/// stops the queue, and the kernel holds further frames until a slot frees and the driver wakes it —
/// with <see cref="DeviceQueue.MaybeStop"/> and <see cref="DeviceQueue.MaybeWake"/>, which look at the ring
/// again after stopping and before waking, so the timer's thread and the queue's never race.
/// </summary>
public sealed class PacedDriver(TimeSpan interval, int ringSize) : IDeviceOperations<PacedDriver>, IDisposable
{
    private readonly object _lock = new();
    private readonly Queue<SkBuff> _ring = new();
    private readonly List<byte[]> _sent = [];
    private ITimer? _timer;
    private int _mostQueued;
    private long _sentCount;

    /// <summary>Called each time a frame went on the wire, before the queue is woken for the free slot.</summary>
    public Action? FrameSent { get; set; }

    /// <summary>The most frames the ring held at once.</summary>
    public int MostQueued => Volatile.Read(ref _mostQueued);

    /// <summary>How many frames went out.</summary>
    public long SentCount => Interlocked.Read(ref _sentCount);

    /// <summary>What went out, in order.</summary>
    public IReadOnlyList<byte[]> Sent
    {
        get
        {
            lock (_lock)
            {
                return [.. _sent];
            }
        }
    }

    public void Open(NetDevice<PacedDriver> device) =>
        _timer = device.TimeProvider.CreateTimer(_ => TransmitOne(device), null, interval, interval);

    public void Stop(NetDevice<PacedDriver> device)
    {
        _timer?.Dispose();
        _timer = null;
        lock (_lock)
        {
            while (_ring.TryDequeue(out var skb))
            {
                skb.Drop(DropReason.DeviceDown);
            }
        }
    }

    public TxResult StartXmit(NetDevice<PacedDriver> device, SkBuff skb)
    {
        device.CountTx(skb);
        var queue = device.Queues[skb.QueueIndex];
        lock (_lock)
        {
            _ring.Enqueue(skb);
            _mostQueued = Math.Max(_mostQueued, _ring.Count);
        }
        // Stop when full, and look again: a slot freed meanwhile on the timer's thread woke nothing.
        queue.MaybeStop(this, static driver => driver.HasRoom);
        return TxResult.Ok;
    }

    public void Dispose() => _timer?.Dispose();

    private bool HasRoom
    {
        get
        {
            lock (_lock)
            {
                return _ring.Count < ringSize;
            }
        }
    }

    /// <summary>Puts the oldest frame on the wire: what the pacing timer does each interval (a test may do it itself).</summary>
    public void TransmitOne(NetDevice<PacedDriver> device)
    {
        lock (_lock)
        {
            if (!_ring.TryDequeue(out var skb))
            {
                return;
            }
            if (_sent.Count < 1000)
            {
                _sent.Add(skb.Data.ToArray());
            }
            _sentCount++;
            skb.Consume();
        }
        FrameSent?.Invoke();
        // Wake only if a frame fits now: the ring may have filled again since the slot was freed.
        device.Queues[0].MaybeWake(this, static driver => driver.HasRoom);
    }
}
