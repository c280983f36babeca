namespace NetDev.Testing;

/// <summary>What became of a frame <see cref="TestLink.InjectTransmit(int, ReadOnlySpan{byte})"/> sent.</summary>
public enum InjectResult
{
    /// <summary>It was handed to the device's queue (taken from the kernel queue for the driver's <c>StartXmit</c>) before the call returned.</summary>
    Dispatched,

    /// <summary>
    /// It waits in the kernel's transmit queue because the device's queue does not accept frames now
    /// (stopped, or holding a refused frame), or, in threaded mode, until the queue's thread takes it.
    /// </summary>
    Queued,

    /// <summary>
    /// The kernel dropped the frame and counted it in <see cref="KernelQueueStats.Dropped"/>: its transmit
    /// queue was full, or the carrier is off (the kernel then sends through a queue that drops everything).
    /// </summary>
    Dropped,

    /// <summary>The interface is down; a socket would have got <c>ENETDOWN</c>. Nothing was counted.</summary>
    LinkDown,

    /// <summary>It was queued, then discarded with the queue's content when the interface went down during the call.</summary>
    Discarded,
}

/// <summary>The counters of one simulated kernel transmit queue (the qdisc and the TAP queue in front of a device queue).</summary>
/// <param name="Length">Frames waiting now.</param>
/// <param name="Capacity">How many frames it holds at most (the link's <c>txqueuelen</c>).</param>
/// <param name="Enqueued">Frames that entered it.</param>
/// <param name="Dropped">Frames the kernel dropped because it was full or the carrier was off: the kernel-side drops, which the device's own counters never see.</param>
/// <param name="Dispatched">Frames handed to the device's queue.</param>
/// <param name="Discarded">Frames thrown away unsent when the interface went down, lost its carrier, was removed, or its queue was shortened.</param>
/// <param name="HighWater">The most frames it held at once.</param>
public readonly record struct KernelQueueStats(int Length, int Capacity, long Enqueued, long Dropped, long Dispatched, long Discarded, int HighWater);
