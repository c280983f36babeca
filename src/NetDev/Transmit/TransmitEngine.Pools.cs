namespace NetDev.Transmit;

// Shrinking the queue's pools after a burst, on the queue's own thread, which owns its transmit pool.
internal sealed partial class TransmitEngine
{
    /// <summary>How long a pool's surplus must stay idle before the engine lets it go (two of these at most, see <see cref="SkBuffPool.Shrink"/>).</summary>
    internal static readonly TimeSpan PoolShrinkInterval = TimeSpan.FromSeconds(2);

    // Whether a pool has a surplus, and since when (device clock) the current shrink period runs.
    private bool _shrinkDue;
    private long _shrinkPeriodStart;

    /// <summary>
    /// After a round: once a period has passed with a surplus in the queue's pools, shrinks them. Costs a few
    /// plain reads per round while the pools hold no more than their working size, which is nearly always.
    /// </summary>
    private void ShrinkPools()
    {
        var tx = _queue.TxPool;
        var rx = _queue.RxPool;
        // A receive pool bound to a driver's thread is that thread's to shrink, not this one's.
        if (!tx.HasSurplus && !(rx.HasSurplus && !rx.IsBoundToAnotherThread))
        {
            _shrinkDue = false;
            return;
        }
        var clock = _device.TimeProvider;
        if (!_shrinkDue)
        {
            _shrinkDue = true;
            _shrinkPeriodStart = clock.GetTimestamp();
            return;
        }
        if (clock.GetElapsedTime(_shrinkPeriodStart) < PoolShrinkInterval)
        {
            return;
        }
        tx.Shrink();
        rx.Shrink();
        _shrinkPeriodStart = clock.GetTimestamp();
    }

    /// <summary>How long until the pools are due to be shrunk, or <see langword="null"/> while they have no surplus.</summary>
    private TimeSpan? ShrinkDelay
    {
        get
        {
            if (!_shrinkDue)
            {
                return null;
            }
            var remaining = PoolShrinkInterval - _device.TimeProvider.GetElapsedTime(_shrinkPeriodStart);
            return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
        }
    }
}
