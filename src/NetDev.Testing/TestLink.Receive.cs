namespace NetDev.Testing;

// The receive side: what the driver hands to the system (NetifRx) is taken, counted and kept, or refused.
public sealed partial class TestLink
{
    private readonly object _receiveLock = new();
    private readonly List<CapturedFrame> _received = [];
    private long _deliveredCount;
    private long _refusedCount;
    private DropReason? _refuseAll;
    private int _refuseNextCount;
    private DropReason _refuseNextReason;

    /// <summary>
    /// Decides, for each frame the driver delivers, whether the system takes it (return <see langword="null"/>)
    /// or refuses it with a reason, which <see cref="NetDevice.NetifRx"/> then drops the frame with. Asked
    /// after <see cref="RefuseReceives"/> and <see cref="RefuseNextReceives"/>; <see langword="null"/> takes everything.
    /// </summary>
    public ReceivePolicy? ReceivePolicy { get; set; }

    /// <summary>Every frame the system took from the driver, on all queues, in the order delivered.</summary>
    public IReadOnlyList<CapturedFrame> Received
    {
        get
        {
            lock (_receiveLock)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>How many frames the system took from the driver (counted even when capture is off).</summary>
    public long DeliveredCount => Interlocked.Read(ref _deliveredCount);

    /// <summary>How many frames the system refused (backpressure, policy, link down).</summary>
    public long RefusedCount => Interlocked.Read(ref _refusedCount);

    /// <summary>The frames the system took on queue <paramref name="queue"/>, in order.</summary>
    public IReadOnlyList<CapturedFrame> ReceivedOn(int queue)
    {
        lock (_receiveLock)
        {
            return [.. _received.Where(frame => frame.Queue == queue)];
        }
    }

    /// <summary>Forgets the frames captured so far (the counters stay).</summary>
    public void ClearReceived()
    {
        lock (_receiveLock)
        {
            _received.Clear();
        }
    }

    /// <summary>
    /// Makes the system refuse every frame the driver delivers, with <paramref name="reason"/>, until
    /// <see cref="AcceptReceives"/>: a stack whose backlog is full (<c>netif_rx</c> returning NET_RX_DROP).
    /// </summary>
    public void RefuseReceives(DropReason reason = DropReason.QueueFull)
    {
        lock (_receiveLock)
        {
            _refuseAll = reason;
        }
    }

    /// <summary>Makes the system refuse the next <paramref name="count"/> frames the driver delivers, with <paramref name="reason"/>.</summary>
    public void RefuseNextReceives(int count, DropReason reason = DropReason.QueueFull)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_receiveLock)
        {
            _refuseNextCount = count;
            _refuseNextReason = reason;
        }
    }

    /// <summary>Ends <see cref="RefuseReceives"/> and <see cref="RefuseNextReceives"/>: the system takes frames again.</summary>
    public void AcceptReceives()
    {
        lock (_receiveLock)
        {
            _refuseAll = null;
            _refuseNextCount = 0;
        }
    }

    /// <inheritdoc/>
    public DropReason? DeliverToSystem(int queue, SkBuff skb)
    {
        if ((uint)queue >= (uint)QueueCount)
        {
            throw new ArgumentOutOfRangeException(nameof(queue), queue, $"{Name} has {QueueCount} queues.");
        }
        var frame = skb.Data;
        DropReason? refusal;
        lock (_receiveLock)
        {
            refusal = Judge(queue, frame);
            if (refusal is null)
            {
                var sequence = _deliveredCount;
                Interlocked.Increment(ref _deliveredCount);
                if (Host.Options.CaptureReceivedFrames)
                {
                    // The caller releases the SkBuff when this returns, so the test keeps a copy.
                    _received.Add(new CapturedFrame(sequence, queue, frame.ToArray(), skb.Protocol));
                }
            }
            else
            {
                Interlocked.Increment(ref _refusedCount);
            }
        }
        if (refusal is null)
        {
            Wire?.Forward(this, queue, frame);
        }
        return refusal;
    }

    /// <summary>Whether the system refuses a frame, and why. Caller holds <c>_receiveLock</c>.</summary>
    private DropReason? Judge(int queue, ReadOnlySpan<byte> frame)
    {
        if (_removed || !_adminUp)
        {
            // A TAP refuses writes while the interface is down (EIO).
            return DropReason.DeviceDown;
        }
        if (frame.Length < NetDevice.EthernetHeaderLength)
        {
            // A TAP refuses a write shorter than an Ethernet header (EINVAL).
            return DropReason.InvalidHeader;
        }
        if (_refuseAll is { } reason)
        {
            return reason;
        }
        if (_refuseNextCount > 0)
        {
            _refuseNextCount--;
            return _refuseNextReason;
        }
        return ReceivePolicy?.Invoke(queue, frame);
    }
}
