using NetDev.Transmit;

namespace NetDev;

/// <summary>
/// One queue of a device, as its driver sees it: its frame pools, its counters and its flow-control state.
/// Each queue is served by one dedicated thread; everything per frame happens on that thread.
/// </summary>
/// <remarks>
/// <para>Drivers use <see cref="Stop"/>/<see cref="Wake"/> (<c>netif_stop_queue</c>/<c>netif_wake_queue</c>),
/// <see cref="XmitMore"/> and the <c>Count*</c> methods. What hosts do — read frames, hand them over, retry,
/// run the watchdog — is the framework's transmit engine, behind the host's <see cref="Hosting.ITransmitSource"/>.</para>
/// <para><b>Invariants.</b> The counters are written only on the queue's thread (plain writes, read
/// elsewhere as snapshots). <c>_flowState</c> counts stops and wakes: odd while stopped, even while running, changed
/// only by compare-and-swap from any thread, so a wake decided for one stop (<see cref="MaybeWake"/>) cannot end a
/// later one. <c>_stoppedAt</c> and <c>_watchdogFired</c> describe the current stop.</para>
/// </remarks>
public sealed class DeviceQueue
{
    private readonly NetDevice _device;
    private long _flowState;
    private bool _xmitMore;
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
        TxPool = new SkBuffPool(SkBuffPool.DefaultBufferSize, SkBuffPool.DefaultHeadroom, $"tx queue {index}")
        {
            Queue = this,
            Direction = TrafficDirection.Transmit,
        };
        RxPool = new SkBuffPool(SkBuffPool.DefaultBufferSize, SkBuffPool.DefaultHeadroom, $"rx queue {index}")
        {
            Queue = this,
            Direction = TrafficDirection.Receive,
        };
        Engine = new TransmitEngine(this, device);
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
    public bool IsStopped => IsStopState(Volatile.Read(ref _flowState));

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
    /// Inside <see cref="IDeviceOperations{TSelf}.StartXmit"/>, on the queue's thread: whether another frame
    /// follows at once on this queue (<c>netdev_xmit_more()</c>). A driver that batches its own hand-off
    /// (a doorbell, <see cref="NetDevice.NetifReceiveBatch(ReadOnlySpan{SkBuff}, Span{DropReason?}, int)"/>)
    /// may hold the frame while this is true and must hand over what it holds when it is false. False
    /// once the queue is stopped, so a driver that stops its queue flushes; if another thread stops the
    /// queue between two frames, the held frames go with the next frame after <see cref="Wake"/>.
    /// </summary>
    public bool XmitMore => _xmitMore && !IsStopped;

    /// <summary>
    /// Stops the queue (<c>netif_stop_queue</c>): no <see cref="IDeviceOperations{TSelf}.StartXmit"/> for it
    /// until <see cref="Wake"/>; the system keeps the frames meanwhile.
    /// </summary>
    public void Stop()
    {
        long state;
        do
        {
            state = Volatile.Read(ref _flowState);
            if (IsStopState(state))
            {
                return;
            }
            Volatile.Write(ref _stoppedAt, _device.TimeProvider.GetTimestamp());
            _watchdogFired = false;
        }
        while (Interlocked.CompareExchange(ref _flowState, state + 1, state) != state);
        if (TxPool.IsBoundToAnotherThread)
        {
            // Stopped from elsewhere (a completion thread): the queue's thread may be asleep with no
            // deadline, and must wake to arm the watchdog.
            Engine.Wake();
        }
    }

    /// <summary>
    /// Wakes a stopped queue (<c>netif_wake_queue</c>), from any thread: a waiting refused frame is
    /// retried first, then new frames flow.
    /// </summary>
    public void Wake()
    {
        long state;
        do
        {
            state = Volatile.Read(ref _flowState);
            if (!IsStopState(state))
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _flowState, state + 1, state) != state);
        Engine.Wake();
    }

    /// <summary>
    /// Stops the queue when <paramref name="hasRoom"/> says another frame would not fit, then asks again
    /// (<c>netif_txq_maybe_stop</c>): a completion on another thread that made room meanwhile found the queue
    /// not yet stopped and woke nothing, so without the second look the queue could stay stopped for good.
    /// Call in <see cref="IDeviceOperations{TSelf}.StartXmit"/> after taking the frame; pair it with
    /// <see cref="MaybeWake"/> where room is made.
    /// </summary>
    /// <param name="state">What <paramref name="hasRoom"/> looks at (the driver), so the check needs no closure.</param>
    /// <param name="hasRoom">Whether another frame fits now; it must be safe to call from any thread.</param>
    /// <returns>Whether the queue is stopped now.</returns>
    public bool MaybeStop<TState>(TState state, Func<TState, bool> hasRoom)
    {
        ArgumentNullException.ThrowIfNull(hasRoom);
        if (hasRoom(state))
        {
            return false;
        }
        Stop();
        // The stop is visible before the second look, as the completer's freeing is before its look at the flag.
        Interlocked.MemoryBarrier();
        if (!hasRoom(state))
        {
            return true;
        }
        Wake();
        return false;
    }

    /// <summary>
    /// Where room was made (a completion, on any thread): wakes the queue if it is stopped and
    /// <paramref name="hasRoom"/> says a frame fits now (<c>netif_txq_completed_wake</c>). With
    /// <see cref="MaybeStop"/> on the transmit side no wake-up is lost and none comes while the ring is full.
    /// </summary>
    /// <returns>Whether the queue was woken.</returns>
    public bool MaybeWake<TState>(TState state, Func<TState, bool> hasRoom)
    {
        ArgumentNullException.ThrowIfNull(hasRoom);
        // The room just made is visible before the look at the flag (see MaybeStop).
        Interlocked.MemoryBarrier();
        var stop = Volatile.Read(ref _flowState);
        if (!IsStopState(stop) || !hasRoom(state))
        {
            return false;
        }
        // Ends only the stop that was looked at: if the queue was woken and stopped again meanwhile (the ring
        // filled again), the new stop had its own look at the room and stays.
        if (Interlocked.CompareExchange(ref _flowState, stop + 1, stop) != stop)
        {
            return false;
        }
        Engine.Wake();
        return true;
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

    /// <summary>The engine that serves this queue's transmit side (host-facing; drivers never need it).</summary>
    internal TransmitEngine Engine { get; }

    /// <summary>Whether the host reads frames for this queue now: device open, queue running, nothing waiting.</summary>
    internal bool IsAcceptingFrames => Engine.IsAccepting;

    /// <summary>Whether a frame waits in the framework (refused with Busy, or read as the queue stopped).</summary>
    internal bool HasPendingFrame => Engine.HasPendingFrame;

    /// <summary>Set by the engine around <c>StartXmit</c>: whether another frame follows at once.</summary>
    internal bool XmitMoreHint
    {
        set => _xmitMore = value;
    }

    /// <summary>When the queue was stopped, while the watchdog may still fire for it; otherwise null.</summary>
    internal long? WatchdogState => IsStopped && !_watchdogFired ? Volatile.Read(ref _stoppedAt) : null;

    /// <summary>The watchdog fired for the current stop: counted, and not again until the next stop.</summary>
    internal void WatchdogFired()
    {
        _watchdogFired = true;
        _timeouts++;
    }

    /// <summary>
    /// <c>TxTimeout</c> failed: while the queue stays stopped the watchdog fires again after another timeout, as the
    /// kernel's <c>dev_watchdog</c> keeps firing for a stalled queue, instead of leaving it stopped for good.
    /// </summary>
    internal void RearmWatchdog()
    {
        if (!IsStopped)
        {
            return;
        }
        Volatile.Write(ref _stoppedAt, _device.TimeProvider.GetTimestamp());
        _watchdogFired = false;
    }

    private static bool IsStopState(long flowState) => (flowState & 1) != 0;

    /// <summary>Counts one Busy answer of the driver.</summary>
    internal void CountBusy() => _busyReturns++;
}
