using NetDev.Transmit;

namespace NetDev.Hosting;

/// <summary>
/// The framework's transmit side of one device queue, as the host that feeds it may drive it: whether the
/// queue takes frames now, a round served at once (<see cref="Pump"/>), an action run where the queue's frames
/// are handed to the driver (<see cref="Run"/>) and, for an <see cref="IInlineTransmitSource"/>, a round served
/// on the calling thread (<see cref="Serve"/>). Each source receives its queue's handle through
/// <see cref="ITransmitSource.Attach"/>; a host with threads of its own (the Linux host) needs none of it.
/// </summary>
/// <remarks>
/// Drivers never see it: what a driver does with a queue is on <see cref="DeviceQueue"/>.
/// <para><b>Invariants.</b> One handle per device queue, made with the queue and never replaced; it only
/// forwards to the queue's transmit engine, whose own invariants say which thread touches what.</para>
/// </remarks>
public sealed class TransmitQueueHandle
{
    private readonly TransmitEngine _engine;

    internal TransmitQueueHandle(TransmitEngine engine, int index)
    {
        _engine = engine;
        Index = index;
    }

    /// <summary>The queue's index, from 0.</summary>
    public int Index { get; }

    /// <summary>
    /// Whether the queue takes frames now: the device is open, the driver has not stopped the queue and no frame
    /// waits in the framework. A host whose system keeps frames in a queue of its own (a test host's kernel queue)
    /// reads it to decide whether a new frame goes straight on or waits. A snapshot: it may change at once.
    /// </summary>
    public bool IsAcceptingFrames => _engine.IsAccepting;

    /// <summary>
    /// Serves the queue now, the frame the driver refused offered again first, and returns once the frames the
    /// source has were handed over while the queue takes them (at most a full <see cref="NetDevice.TxQueueLength"/>):
    /// on the calling thread for an inline source, otherwise on the queue's thread, waited for.
    /// </summary>
    public void Pump() => _engine.Pump();

    /// <summary>
    /// Runs <paramref name="action"/> where the queue's frames are handed to the driver — its thread, or for an
    /// inline source under the queue's gate — between rounds, and waits for it; its exception is rethrown here.
    /// Before the queue is served and after it ended, the action runs on the calling thread.
    /// </summary>
    /// <returns>False when <paramref name="timeout"/> passed first (a driver call on the queue's thread has not
    /// returned); the action then runs when that thread comes back.</returns>
    public bool Run(Action action, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        return _engine.Run(action, timeout);
    }

    /// <summary>
    /// For an <see cref="IInlineTransmitSource"/>: serves the queue on the calling thread — frames arrived, its
    /// timer fired, or it was woken — unless another thread (or an outer call on this one) is serving it, which
    /// then serves again before it stops, so no request is lost and the driver's <c>StartXmit</c> is never
    /// entered twice for one queue.
    /// </summary>
    /// <param name="retry">Whether the frame the driver refused is offered again (a wake, a timer); frames
    /// arriving do not retry it, as on Linux.</param>
    /// <exception cref="InvalidOperationException">The queue's source is not inline: its own thread serves it.</exception>
    public void Serve(bool retry) => _engine.Serve(retry);
}
