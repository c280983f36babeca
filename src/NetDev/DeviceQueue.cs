namespace NetDev;

/// <summary>
/// One queue of a device: its frame pool, its counters and its flow-control state. Each queue is
/// served by one dedicated thread of the host; everything per frame happens on that thread.
/// </summary>
/// <remarks>
/// <para>Drivers use <see cref="Stop"/>/<see cref="Wake"/> (<c>netif_stop_queue</c>/<c>netif_wake_queue</c>)
/// and the <c>Count*</c> methods. Hosts use <see cref="IsAcceptingFrames"/>, <see cref="Transmit(SkBuff, bool)"/> and
/// <see cref="RetryPending"/>.</para>
/// <para><b>Invariants.</b> The counters and <c>_pending</c> are written only on the queue's thread
/// (plain writes, read elsewhere as snapshots); <c>_enabled</c> changes only on the queue's thread, through
/// <see cref="Hosting.IHostLink.RunOnQueue"/>; <c>_stopped</c> is a volatile flag any thread may set.
/// While <c>_hasPending</c> is true the framework owns exactly one live frame in <c>_pending</c>.</para>
/// </remarks>
public sealed class DeviceQueue
{
    private readonly NetDevice _device;
    private volatile bool _stopped;
    private bool _enabled;
    private bool _hasPending;
    private bool _xmitMore;
    private SkBuff _pending;
    private long _txPackets;
    private long _txBytes;
    private long _txErrors;
    private long _rxPackets;
    private long _rxBytes;
    private long _rxErrors;
    private long _busyReturns;
    private long _timeouts;
    private long _stoppedAt;
    private bool _watchdogFired;

    internal DeviceQueue(NetDevice device, int index)
    {
        _device = device;
        Index = index;
        TxPool = new SkBuffPool(SkBuffPool.DefaultBufferSize, SkBuffPool.DefaultHeadroom, $"tx queue {index}");
        RxPool = new SkBuffPool(SkBuffPool.DefaultBufferSize, SkBuffPool.DefaultHeadroom, $"rx queue {index}");
    }

    /// <summary>The queue's index, from 0.</summary>
    public int Index { get; }

    /// <summary>The device the queue belongs to.</summary>
    public NetDevice Device => _device;

    /// <summary>The pool of frames the system transmits on this queue (the host rents from it).</summary>
    public SkBuffPool TxPool { get; }

    /// <summary>
    /// The pool of frames the driver receives into, for handing to the system with
    /// <see cref="NetDevice.NetifRx"/>. Bind it to the driver's receiving thread
    /// (<see cref="SkBuffPool.BindToCurrentThread"/>) to make renting lock-free.
    /// </summary>
    public SkBuffPool RxPool { get; }

    /// <summary>Whether the driver stopped the queue (<c>netif_queue_stopped</c>).</summary>
    public bool IsStopped => _stopped;

    /// <summary>Whether the framework holds a frame the driver answered <see cref="TxResult.Busy"/> to.</summary>
    public bool HasPendingFrame => _hasPending;

    /// <summary>
    /// Whether the host should read another frame for this queue: the device is open, the queue is not
    /// stopped and no refused frame is waiting. While false, frames stay queued in the system.
    /// </summary>
    public bool IsAcceptingFrames => _enabled && !_stopped && !_hasPending;

    /// <summary>Frames the driver counted as transmitted.</summary>
    public long TxPackets => Volatile.Read(ref _txPackets);

    /// <summary>Bytes the driver counted as transmitted.</summary>
    public long TxBytes => Volatile.Read(ref _txBytes);

    /// <summary>Transmit errors the driver counted.</summary>
    public long TxErrors => Volatile.Read(ref _txErrors);

    /// <summary>Frames counted as received (handed to the system).</summary>
    public long RxPackets => Volatile.Read(ref _rxPackets);

    /// <summary>Bytes counted as received.</summary>
    public long RxBytes => Volatile.Read(ref _rxBytes);

    /// <summary>Receive errors counted.</summary>
    public long RxErrors => Volatile.Read(ref _rxErrors);

    /// <summary>How often the driver answered <see cref="TxResult.Busy"/>.</summary>
    public long BusyReturns => Volatile.Read(ref _busyReturns);

    /// <summary>How often the watchdog found the queue stopped too long and called <c>TxTimeout</c>.</summary>
    public long Timeouts => Volatile.Read(ref _timeouts);

    /// <summary>Frames dropped on the transmit side (frames from <see cref="TxPool"/>), for any reason.</summary>
    public long TxDropped => TxPool.TotalDrops;

    /// <summary>Frames dropped on the receive side (frames from <see cref="RxPool"/>), for any reason.</summary>
    public long RxDropped => RxPool.TotalDrops;

    /// <summary>
    /// Stops the queue (<c>netif_stop_queue</c>): no <see cref="IDeviceOperations{TSelf}.StartXmit"/> for it
    /// until <see cref="Wake"/>; the system keeps the frames meanwhile.
    /// </summary>
    public void Stop()
    {
        if (_stopped)
        {
            return;
        }
        Volatile.Write(ref _stoppedAt, _device.TimeProvider.GetTimestamp());
        _watchdogFired = false;
        _stopped = true;
        if (TxPool.IsBoundToAnotherThread)
        {
            // Stopped from elsewhere (a completion thread): the queue's loop may be asleep with no
            // deadline, and must wake to arm the watchdog.
            _device.NotifyQueue(Index);
        }
    }

    /// <summary>
    /// Wakes a stopped queue (<c>netif_wake_queue</c>), from any thread: a waiting refused frame is
    /// retried first, then new frames flow.
    /// </summary>
    public void Wake()
    {
        if (!_stopped)
        {
            return;
        }
        _stopped = false;
        _device.NotifyQueue(Index);
    }

    /// <summary>Counts one transmitted frame of <paramref name="bytes"/> bytes. Call on the queue's thread.</summary>
    public void CountTx(int bytes)
    {
        _txPackets++;
        _txBytes += bytes;
    }

    /// <summary>Counts one transmit error. Call on the queue's thread.</summary>
    public void CountTxError() => _txErrors++;

    /// <summary>
    /// Counts one received frame of <paramref name="bytes"/> bytes. <see cref="NetDevice.NetifRx"/> counts
    /// for you; receive counters of a queue must be written by one thread at a time.
    /// </summary>
    public void CountRx(int bytes)
    {
        _rxPackets++;
        _rxBytes += bytes;
    }

    /// <summary>Counts one receive error. Call on the queue's thread.</summary>
    public void CountRxError() => _rxErrors++;

    /// <summary>
    /// Host side: hands a frame the system transmitted on this queue to the driver. Call on the queue's
    /// thread, only while <see cref="IsAcceptingFrames"/> or for a frame read before it changed.
    /// Ownership of <paramref name="skb"/> passes to the framework.
    /// </summary>
    public void Transmit([TakesOwnership] SkBuff skb) => Transmit(skb, more: false);

    /// <summary>
    /// Host side: as <see cref="Transmit(SkBuff)"/>, saying whether the host has another frame for this queue
    /// in hand, to be handed over right after this one (<see cref="XmitMore"/> while the driver runs).
    /// A host that passes <see langword="true"/> must follow with another frame before it does anything else
    /// on the queue, and passes <see langword="false"/> with the last frame it has.
    /// </summary>
    public void Transmit([TakesOwnership] SkBuff skb, bool more)
    {
        if (!_enabled)
        {
            skb.Drop(DropReason.DeviceDown);
            return;
        }
        skb.QueueIndex = Index;
        if (_hasPending || _stopped)
        {
            // A frame that was already read when the queue stopped waits its turn rather than being lost.
            Park(skb);
            return;
        }
        _xmitMore = more;
        try
        {
            Dispatch(skb);
        }
        finally
        {
            _xmitMore = false;
        }
    }

    /// <summary>
    /// Inside <see cref="IDeviceOperations{TSelf}.StartXmit"/>, on the queue's thread: whether another frame
    /// follows at once on this queue (<c>netdev_xmit_more()</c>). A driver that batches its own hand-off
    /// (a doorbell, <see cref="NetDevice.NetifReceiveBatch(ReadOnlySpan{SkBuff}, Span{DropReason?}, int)"/>)
    /// may hold the frame while this is true and must hand over what it holds when it is false. False
    /// once the queue is stopped, so a driver that stops its queue flushes; if another thread stops the
    /// queue between two frames, the held frames go with the next frame after <see cref="Wake"/>.
    /// </summary>
    public bool XmitMore => _xmitMore && !_stopped;

    /// <summary>
    /// Host side: offers the refused frame to the driver again, if there is one and the queue is not
    /// stopped. Call on the queue's thread when woken or when a retry interval passed.
    /// </summary>
    public void RetryPending()
    {
        if (!_hasPending || _stopped)
        {
            return;
        }
        var skb = _pending;
        _hasPending = false;
        _pending = default;
        if (!_enabled)
        {
            skb.Drop(DropReason.DeviceDown);
            return;
        }
        Dispatch(skb);
    }

    /// <summary>
    /// Host side: how long the host's loop may wait before <see cref="CheckWatchdog"/> has something to
    /// do, or <see langword="null"/> when the watchdog is not armed (queue running, or already fired).
    /// </summary>
    public TimeSpan? WatchdogDelay
    {
        get
        {
            if (!_stopped || _watchdogFired || !_enabled)
            {
                return null;
            }
            var elapsed = _device.TimeProvider.GetElapsedTime(Volatile.Read(ref _stoppedAt));
            var remaining = _device.WatchdogTimeout - elapsed;
            return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
        }
    }

    /// <summary>
    /// Host side: calls the driver's <c>TxTimeout</c> once if the queue has been stopped longer than
    /// <see cref="NetDevice.WatchdogTimeout"/> (<c>dev_watchdog</c>). Call on the queue's thread.
    /// </summary>
    public void CheckWatchdog()
    {
        if (WatchdogDelay != TimeSpan.Zero)
        {
            return;
        }
        _watchdogFired = true;
        _timeouts++;
        try
        {
            _device.Operations.TxTimeout(Index);
        }
        catch (Exception error)
        {
            _device.ReportError(new InvalidOperationException($"TxTimeout of {_device.Name} threw on queue {Index}: {error.Message}", error));
        }
    }

    /// <summary>Drops the refused frame, if any, for <paramref name="reason"/> (teardown, device down).</summary>
    public void DropPending(DropReason reason)
    {
        if (!_hasPending)
        {
            return;
        }
        var skb = _pending;
        _hasPending = false;
        _pending = default;
        skb.Drop(reason);
    }

    internal bool Enabled
    {
        get => _enabled;
        set => _enabled = value;
    }

    private void Dispatch(SkBuff skb)
    {
        TxResult result;
        try
        {
            result = _device.Operations.StartXmit(skb);
        }
        catch (Exception error)
        {
            // The driver failed half way: if it still owns a live frame, nobody else will release it.
            if (skb.IsLive)
            {
                skb.Drop(DropReason.TransmitError);
            }
            _txErrors++;
            _device.ReportError(new InvalidOperationException($"StartXmit of {_device.Name} threw on queue {Index}: {error.Message}", error));
            return;
        }
        if (result == TxResult.Busy)
        {
            _busyReturns++;
            if (!skb.IsLive)
            {
                _device.ReportError(new InvalidOperationException(
                    $"StartXmit of {_device.Name} returned Busy for a frame it had already released; Busy leaves the frame with the framework, so the driver must not release it."));
                return;
            }
            Park(skb);
        }
    }

    private void Park(SkBuff skb)
    {
        if (_hasPending)
        {
            // Only one frame waits; a second one means the host read past IsAcceptingFrames.
            skb.Drop(DropReason.QueueFull);
            return;
        }
        _pending = skb;
        _hasPending = true;
    }
}
