using Microsoft.Extensions.Time.Testing;

namespace NetDev.Testing;

/// <summary>How a <see cref="TestHost"/> behaves. The defaults make every test deterministic.</summary>
public sealed record TestHostOptions
{
    /// <summary>
    /// Whether each queue of a link gets a dedicated thread, as on the Linux host. Off by default: then
    /// every frame, control action and timer runs on the thread of the call that caused it, so a test
    /// sees the outcome as soon as the call returns.
    /// </summary>
    public bool Threaded { get; init; }

    /// <summary>
    /// The host's clock: busy retries run on its timers, and <see cref="TestHost.Register{TDriver}"/> gives it
    /// to the device for its transmit watchdog. Defaults to a <see cref="FakeTimeProvider"/>, so time moves
    /// only when the test advances it (<see cref="TestHost.Clock"/>).
    /// </summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>
    /// How long a frame the driver answered <see cref="TxResult.Busy"/> to waits before it is offered again
    /// while the queue is not stopped (the Linux host polls every millisecond). A stopped queue retries on
    /// <see cref="NetDevice.WakeQueue"/> instead.
    /// </summary>
    public TimeSpan BusyRetryInterval { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Whether a queue the driver wakes (<see cref="NetDevice.WakeQueue"/>) is served at once: the
    /// refused frame retried and the frames waiting in the kernel queue handed over. When off, they wait
    /// for <see cref="TestLink.Pump()"/>. On by default.
    /// </summary>
    public bool PumpOnWake { get; init; } = true;

    /// <summary>
    /// Whether frames the driver hands to the system are kept for <see cref="TestLink.Received"/>. Turn off
    /// for long runs; the counters still count. On by default.
    /// </summary>
    public bool CaptureReceivedFrames { get; init; } = true;
}
