namespace NetDev.Hosting;

/// <summary>
/// Where one queue's transmitted frames come from: the only part of the transmit path a host writes.
/// The framework's transmit engine owns the queue's dedicated thread and does everything else — hand-over
/// to the driver, <c>XmitMore</c>, Busy re-offer, stop and wake, the watchdog, control requests, counters.
/// </summary>
/// <remarks>
/// <para>Threads: <see cref="Attach"/> runs first, once, on the registering thread; <see cref="Start"/>, <see cref="TryRead"/>, <see cref="Wait"/> and <see cref="IDisposable.Dispose"/>
/// run on the queue's thread only, in that order (Dispose runs on the disposing thread instead when the
/// queue's thread never started); <see cref="Wake"/> may be called from any thread, at any time, also
/// before <see cref="Start"/> and after <see cref="IDisposable.Dispose"/>.</para>
/// <para>Frames a source has read but not yet handed on are still the system's, as frames in the kernel's
/// queue are: the engine asks for them only while the queue takes frames, and the source drops what it
/// still holds when it is disposed.</para>
/// </remarks>
public interface ITransmitSource : IDisposable
{
    /// <summary>
    /// How long a frame the driver answered <see cref="TxResult.Busy"/> to waits before it is offered
    /// again while its queue is not stopped. One millisecond unless the host says otherwise.
    /// </summary>
    TimeSpan BusyRetryInterval => TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// At registration, before <see cref="Start"/>: <paramref name="queue"/> is the framework's side of this
    /// source's queue, for a host that drives it (a test host pumps it, an <see cref="IInlineTransmitSource"/>
    /// serves it). Hosts whose sources only do I/O ignore it, which the default does.
    /// </summary>
    void Attach(TransmitQueueHandle queue) { }

    /// <summary>On the queue's thread, before anything else: frames are to be read into buffers of <paramref name="pool"/>.</summary>
    /// <param name="pool">The queue's transmit pool, already bound to the calling thread.</param>
    void Start(SkBuffPool pool);

    /// <summary>
    /// Takes the next frame the system transmitted on the queue, if one is there now, without blocking;
    /// ownership passes to the caller. <paramref name="more"/> says whether the source knows another frame is
    /// ready right behind this one (it becomes <see cref="DeviceQueue.XmitMore"/>).
    /// </summary>
    /// <returns>False when no frame is there now.</returns>
    /// <exception cref="NetDevException">The source failed for good (the interface is gone); the engine
    /// reports it once and reads no more.</exception>
    bool TryRead(out SkBuff skb, out bool more);

    /// <summary>
    /// Blocks until a frame may be there (only when <paramref name="wantFrames"/>; at once if the source
    /// already holds one), <see cref="Wake"/> was called, or <paramref name="delay"/> passed
    /// (<see langword="null"/>: no limit). Returning early is allowed; the engine looks at its state again.
    /// </summary>
    void Wait(bool wantFrames, TimeSpan? delay);

    /// <summary>From any thread: makes the current or next <see cref="Wait"/> return soon.</summary>
    void Wake();
}
