using NetDev.Hosting;

namespace NetDev.Transmit;

/// <summary>
/// The transmit side of one device queue, the same for every host: takes the frames a host's
/// <see cref="ITransmitSource"/> reads, hands them to the driver (<c>dev_hard_start_xmit</c>), keeps a frame
/// the driver answered Busy to, runs the watchdog and the control actions meant for the queue's thread.
/// </summary>
/// <remarks>
/// <para>One round, on the queue's thread: control requests, the watchdog, a retry of the refused frame
/// (when woken or when the retry interval passed), then up to <see cref="RoundBudget"/> frames from the
/// source while the queue takes frames; then the source waits. On a host with threads of its own
/// (<see cref="StartThread"/>) the engine's thread runs round after round; NetDev.Testing's deterministic mode
/// (<see cref="IInlineTransmitSource"/>) runs single rounds on the threads of the calls that cause them.</para>
/// <para>The one place a frame waits inside the framework is <c>_pending</c>: the frame the driver refused,
/// or one read just before another thread stopped the queue. Since frames are read only while nothing
/// waits there, it never needs a second slot.</para>
/// <para><b>Invariants.</b> <c>_pending</c>, <c>_hasPending</c>, <c>_enabled</c> and the queue's counters are
/// touched only by the thread serving the queue: the engine's thread, or in inline mode the holder of
/// <c>_gate</c>. While <c>_hasPending</c> is true the engine owns exactly one live frame in <c>_pending</c>.
/// Other threads write only <c>_wakeRequested</c>, <c>_stopping</c> and, under <c>_requestsLock</c>, the request
/// queue and <c>_requestsWaiting</c> (true whenever a request is queued). Requests are queued only while
/// <c>_thread</c> runs and <c>_ended</c> is false (both under <c>_requestsLock</c>); every queued request is
/// run, by the thread or, after its end, by the requester.</para>
/// </remarks>
internal sealed partial class TransmitEngine
{
    /// <summary>Frames handed over in one round at most, so control requests and the watchdog get their turn.</summary>
    internal const int RoundBudget = 64;

    private readonly DeviceQueue _queue;
    private readonly NetDevice _device;
    private ITransmitSource? _source;
    private IInlineTransmitSource? _inline;
    private bool _enabled;
    private bool _hasPending;
    private SkBuff _pending;
    private long _pendingSince;
    private bool _sourceFailed;
    private int _wakeRequested;

    internal TransmitEngine(DeviceQueue queue, NetDevice device)
    {
        _queue = queue;
        _device = device;
        Handle = new TransmitQueueHandle(this, queue.Index);
    }

    /// <summary>What the host that feeds this queue may drive (given to its source at <see cref="Start"/>).</summary>
    internal TransmitQueueHandle Handle { get; }

    /// <summary>Whether the engine reads frames now: the device is open, the queue not stopped and nothing waits.</summary>
    internal bool IsAccepting => _enabled && !_queue.IsStopped && !_hasPending;

    /// <summary>Whether a frame waits in the engine (refused with Busy, or read as the queue stopped).</summary>
    internal bool HasPendingFrame => _hasPending;

    /// <summary>Whether the engine hands frames to the driver at all (the device is open).</summary>
    internal bool IsEnabled => _enabled;

    /// <summary>
    /// Starts serving from <paramref name="source"/>: on a dedicated thread, or, for an inline source, on the
    /// threads that call <see cref="Serve"/>.
    /// </summary>
    internal void Start(ITransmitSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (_source is not null)
        {
            throw new InvalidOperationException($"Queue {_queue.Index} of {_device.Name} is served already.");
        }
        _source = source;
        source.Attach(Handle);
        if (source is IInlineTransmitSource inline)
        {
            _inline = inline;
            inline.Start(_queue.TxPool);
            return;
        }
        StartThread();
    }

    /// <summary>
    /// From any thread: the queue's state changed (woken, stopped elsewhere, a retry asked for); the engine
    /// looks again, retrying a refused frame first.
    /// </summary>
    internal void Wake()
    {
        Volatile.Write(ref _wakeRequested, 1);
        _source?.Wake();
    }

    /// <summary>
    /// Opens or closes the queue to frames, on the queue's thread; closing drops what waits as
    /// <see cref="DropReason.DeviceDown"/>. Waits at most <see cref="NetDevice.StopTimeout"/> for the thread
    /// and reports it when the thread is stuck in a driver call (the change then happens when it returns).
    /// </summary>
    internal void SetEnabled(bool enabled)
    {
        var done = Run(() =>
        {
            _enabled = enabled;
            if (!enabled)
            {
                DropPending(DropReason.DeviceDown);
            }
        }, _device.StopTimeout);
        if (!done)
        {
            _device.ReportError(new TimeoutException(
                $"Queue {_queue.Index} of {_device.Name} did not answer within {_device.StopTimeout.TotalSeconds:0.#} s: a driver call on its thread has not returned; the queue is {(enabled ? "opened" : "closed")} when it does."));
        }
    }

    /// <summary>One round: watchdog, retry if asked or due, then new frames. Caller serves the queue.</summary>
    /// <returns>Whether the round spent its whole budget, so that frames may still wait in the source.</returns>
    private bool Round()
    {
        CheckWatchdog();
        // A plain read first: the packet path pays no atomic when nobody woke the queue. A wake that lands
        // between the read and the write is merged into this one, which is about to be acted on.
        var woken = Volatile.Read(ref _wakeRequested) != 0;
        if (woken)
        {
            Volatile.Write(ref _wakeRequested, 0);
        }
        if (_hasPending && (woken || RetryDue))
        {
            RetryPending();
        }
        var spent = HandOver();
        ShrinkPools();
        return spent;
    }

    /// <summary>
    /// Hands up to a round's budget of frames from the source to the driver while the queue takes them.
    /// While the device is down, frames the source still has (read before it went down, or left in the
    /// system's queue) are stale: they are taken and dropped as <see cref="DropReason.DeviceDown"/>.
    /// </summary>
    /// <returns>Whether the whole budget was handed over (the source may have more).</returns>
    private bool HandOver()
    {
        var source = _source!;
        for (var i = 0; i < RoundBudget; i++)
        {
            if (!(IsAccepting || !_enabled) || _sourceFailed)
            {
                return false;
            }
            SkBuff skb;
            bool more;
            try
            {
                if (!source.TryRead(out skb, out more))
                {
                    return false;
                }
            }
            catch (NetDevException error)
            {
                // The host can no longer give this queue frames (its interface is gone): the device is degraded.
                _sourceFailed = true;
                _device.Degrade(error);
                return false;
            }
            if (_device.Captures is { } captures)
            {
                // Here, not in Dispatch: a frame refused with Busy is offered again, but was seen once.
                skb.QueueIndex = _queue.Index;
                NetDevice.OfferToCaptures(captures, TrafficDirection.Transmit, skb, dropped: null);
            }
            // The last frame of a round goes without "more": the round may end with control work in between.
            Dispatch(skb, more && i < RoundBudget - 1);
        }
        return true;
    }

    /// <summary>Offers one frame to the driver; a frame the driver refuses, or that arrives at a stopped queue, waits.</summary>
    internal void Dispatch([TakesOwnership] SkBuff skb, bool more)
    {
        if (!_enabled)
        {
            skb.Drop(DropReason.DeviceDown);
            return;
        }
        skb.QueueIndex = _queue.Index;
        if (_hasPending || _queue.IsStopped)
        {
            // Read just before another thread stopped the queue: it waits its turn rather than being lost.
            Park(skb);
            return;
        }
        _queue.XmitMoreHint = more;
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
            _queue.CountTxError();
            _device.ReportError(new InvalidOperationException($"StartXmit of {_device.Name} threw on queue {_queue.Index}: {error.Message}", error));
            return;
        }
        finally
        {
            _queue.XmitMoreHint = false;
        }
        if (result == TxResult.Busy)
        {
            _queue.CountBusy();
            if (!skb.IsLive)
            {
                _device.ReportError(new InvalidOperationException(
                    $"StartXmit of {_device.Name} returned Busy for a frame it had already released; Busy leaves the frame with the framework, so the driver must not release it."));
                return;
            }
            Park(skb);
        }
    }

    /// <summary>Offers the waiting frame again, unless the queue is stopped. Caller serves the queue.</summary>
    internal void RetryPending()
    {
        if (!_hasPending || _queue.IsStopped)
        {
            return;
        }
        var skb = _pending;
        _hasPending = false;
        _pending = default;
        Dispatch(skb, more: false);
    }

    /// <summary>Drops the waiting frame, if any, for <paramref name="reason"/>. Caller serves the queue (or the queue's thread has ended).</summary>
    internal void DropPending(DropReason reason)
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

    private void Park(SkBuff skb)
    {
        _pending = skb;
        _hasPending = true;
        _pendingSince = _device.TimeProvider.GetTimestamp();
    }

    private bool RetryDue => _device.TimeProvider.GetElapsedTime(_pendingSince) >= _source!.BusyRetryInterval;

    /// <summary>
    /// How long the queue may sleep before a round has timed work: a refused frame's retry (queue not
    /// stopped) or the watchdog; <see langword="null"/> when nothing is timed.
    /// </summary>
    internal TimeSpan? NextDelay()
    {
        TimeSpan? delay = null;
        if (_hasPending && !_queue.IsStopped)
        {
            var remaining = _source!.BusyRetryInterval - _device.TimeProvider.GetElapsedTime(_pendingSince);
            delay = remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
        }
        if (WatchdogDelay is { } watchdog && (delay is null || watchdog < delay))
        {
            delay = watchdog;
        }
        if (ShrinkDelay is { } shrink && (delay is null || shrink < delay))
        {
            delay = shrink;
        }
        return delay;
    }

    /// <summary>How long until the watchdog is due, or <see langword="null"/> when it is not armed (queue running, fired already, device down).</summary>
    internal TimeSpan? WatchdogDelay
    {
        get
        {
            if (!_enabled || _queue.WatchdogState is not { } stoppedAt)
            {
                return null;
            }
            var remaining = _device.WatchdogTimeout - _device.TimeProvider.GetElapsedTime(stoppedAt);
            return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
        }
    }

    /// <summary>Calls the driver's <c>TxTimeout</c> once if the queue has been stopped longer than the watchdog allows (<c>dev_watchdog</c>).</summary>
    internal void CheckWatchdog()
    {
        if (WatchdogDelay != TimeSpan.Zero)
        {
            return;
        }
        _queue.WatchdogFired();
        try
        {
            _device.Operations.TxTimeout(_queue.Index);
        }
        catch (Exception error)
        {
            _device.ReportError(new InvalidOperationException($"TxTimeout of {_device.Name} threw on queue {_queue.Index}: {error.Message}", error));
            _queue.RearmWatchdog();
        }
    }
}
