namespace NetDev.Hosting;

/// <summary>
/// A transmit source whose queue has no thread of its own: it is served on the threads of the calls that feed
/// it, each round run through <see cref="TransmitQueueHandle.Serve"/>. This is NetDev.Testing's deterministic
/// mode, where a test sees a frame's outcome when the call that sent it returns.
/// </summary>
/// <remarks>
/// <para>Such a source calls <see cref="TransmitQueueHandle.Serve"/> on the handle it was given
/// (<see cref="ITransmitSource.Attach"/>) whenever frames arrive, it is woken (<see cref="ITransmitSource.Wake"/>)
/// or the timer asked for by <see cref="Schedule"/> fires. <see cref="ITransmitSource.Start"/> runs on the
/// registering thread; <see cref="ITransmitSource.Wait"/> is never called. <see cref="ITransmitSource.TryRead"/>
/// runs on whichever thread serves the queue, one at a time.</para>
/// </remarks>
public interface IInlineTransmitSource : ITransmitSource
{
    /// <summary>
    /// After each serving: serve the queue again, with a retry (<c>Serve(retry: true)</c>), once
    /// <paramref name="delay"/> passed — a refused frame's retry or the watchdog is due then; with
    /// <see langword="null"/>, nothing is timed and a timer set before is cancelled.
    /// </summary>
    void Schedule(TimeSpan? delay);

    /// <summary>A serving begins on the calling thread (under the queue's gate); the source may note which thread serves.</summary>
    void BeginServing() { }

    /// <summary>The serving that <see cref="BeginServing"/> announced has ended.</summary>
    void EndServing() { }
}
