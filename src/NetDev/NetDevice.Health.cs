using Microsoft.Extensions.Logging;
using NetDev.Hosting;

namespace NetDev;

/// <summary>
/// What went wrong where no caller could hear it: every such error is counted and kept as the last one,
/// logged (at a bounded rate, so a driver failing at line rate cannot flood the log or stall its queue on
/// the logger), and raised as <see cref="Error"/>; a failure that leaves the device unable to work as
/// asked — a thread of its own dead, its interface gone — also makes it <see cref="DeviceHealth.Degraded"/>.
/// Handlers run inside the framework's threads, so whatever they throw is caught, logged and dropped.
/// </summary>
/// <remarks><b>Invariants.</b> <c>_errorCount</c> only grows; <c>_health</c> goes from Healthy to Degraded
/// once and never back; <c>_lastError</c> is the most recent error reported. All three are written with
/// volatile or interlocked writes and may be read from any thread.</remarks>
public abstract partial class NetDevice
{
    private readonly LogLimiter _logLimiter = new();
    private long _errorCount;
    private long _lastErrorTicks = long.MinValue;
    private Exception? _lastError;
    private int _health;

    /// <summary>Whether the device works as asked, or lost something it needs (<see cref="Degraded"/> says what).</summary>
    public DeviceHealth Health => (DeviceHealth)Volatile.Read(ref _health);

    /// <summary>How many errors were reported (<see cref="Error"/>) since the device was made.</summary>
    public long ErrorCount => Interlocked.Read(ref _errorCount);

    /// <summary>How recent an error must be for the device to count as <see cref="IsFailing"/>.</summary>
    public static readonly TimeSpan FailingWindow = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Whether an error was reported within the last <see cref="FailingWindow"/>: a driver that keeps failing (on every
    /// frame, say) is shown so (<c>failing</c> in <c>netdev list</c> and the control plane's health) while it goes on,
    /// and is not once it stopped. Unlike <see cref="DeviceHealth.Degraded"/> it ends nothing.
    /// </summary>
    public bool IsFailing => Volatile.Read(ref _lastErrorTicks) is var last && last != long.MinValue
        && TimeProvider.GetElapsedTime(last) < FailingWindow;

    /// <summary>The most recent error reported, or <see langword="null"/>.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>
    /// Raised once, when the device becomes <see cref="DeviceHealth.Degraded"/>: a queue's thread or the host's
    /// event thread died, the interface was removed by someone else, or the driver said so
    /// (<see cref="Degrade"/>). Handlers run on the thread that saw the failure.
    /// </summary>
    public event EventHandler<DeviceErrorEventArgs>? Degraded;

    /// <summary>
    /// Reports an error no caller can be told about (a driver's own thread failing one datagram, say): counted,
    /// logged at a bounded rate and raised as <see cref="Error"/>. Safe from any thread.
    /// </summary>
    public void ReportError(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Interlocked.Increment(ref _errorCount);
        Volatile.Write(ref _lastError, error);
        Volatile.Write(ref _lastErrorTicks, TimeProvider.GetTimestamp());
        Log(error);
        if (Error is { } handlers)
        {
            Invoke(handlers, new DeviceErrorEventArgs(error), nameof(Error));
        }
    }

    /// <summary>
    /// Reports that the device can no longer work as asked — a thread the driver depends on died, a resource is
    /// gone — and marks it <see cref="DeviceHealth.Degraded"/> (for good), as a failure of the framework's own
    /// threads does. Tools show the state (<c>netdev list</c>, <c>netdev stats</c>) and <c>netdev run</c> ends.
    /// </summary>
    public void Degrade(Exception reason)
    {
        ReportError(reason);
        if (Interlocked.Exchange(ref _health, (int)DeviceHealth.Degraded) == (int)DeviceHealth.Degraded)
        {
            return;
        }
        Logger.LogWarning(reason, "{Device} is degraded: {Reason}", Name, reason.Message);
        if (Degraded is { } handlers)
        {
            Invoke(handlers, new DeviceErrorEventArgs(reason), nameof(Degraded));
        }
    }

    /// <inheritdoc/>
    void ILinkEvents.OnHostError(Exception error) => Degrade(error);

    internal void RaiseChangeRejected(ChangeRejectedEventArgs rejected)
    {
        if (ChangeRejected is { } handlers)
        {
            Invoke(handlers, rejected, nameof(ChangeRejected));
        }
    }

    /// <summary>Runs a host event's handling on the host's thread: nothing it throws may end that thread.</summary>
    private void Guarded(Action handle)
    {
        try
        {
            handle();
        }
        catch (Exception error)
        {
            ReportError(new InvalidOperationException($"Handling a change of {Name} reported by the host failed: {error.Message}", error));
        }
    }

    private void Invoke<TArgs>(EventHandler<TArgs> handlers, TArgs args, string eventName)
    {
        foreach (var handler in handlers.GetInvocationList().Cast<EventHandler<TArgs>>())
        {
            try
            {
                handler(this, args);
            }
            catch (Exception error)
            {
                // A handler runs on a framework thread (a queue's, the host's event thread): it must not end it.
                if (_logLimiter.TryEnter(out _))
                {
                    Logger.LogWarning(error, "{Device}: a handler of the {Event} event threw: {Message}", Name, eventName, error.Message);
                }
            }
        }
    }

    private void Log(Exception error)
    {
        if (!_logLimiter.TryEnter(out var suppressed))
        {
            return;
        }
        var note = suppressed > 0 ? $" ({suppressed} similar messages were left out)" : "";
        // The exception goes with the entry, so a formatter can tell an expected condition (a NetDevException:
        // one sentence says it all) from a bug, whose stack trace it shows.
        Logger.LogError(error, "{Device}: {Message}{Note}", Name, error.Message, note);
    }

    /// <summary>
    /// At most <see cref="Burst"/> messages per <see cref="Window"/>; what is left out is counted and named in
    /// the next message let through.
    /// </summary>
    /// <remarks><b>Invariants.</b> All fields change under the instance's lock (errors only, never per frame).</remarks>
    private sealed class LogLimiter
    {
        private const int Burst = 10;
        private static readonly long Window = TimeSpan.FromSeconds(10).Ticks;
        private long _windowStart = long.MinValue;
        private int _inWindow;
        private long _suppressed;

        public bool TryEnter(out long suppressedBefore)
        {
            lock (this)
            {
                var now = Environment.TickCount64 * TimeSpan.TicksPerMillisecond;
                if (now - _windowStart >= Window)
                {
                    _windowStart = now;
                    _inWindow = 0;
                }
                if (_inWindow >= Burst)
                {
                    _suppressed++;
                    suppressedBefore = 0;
                    return false;
                }
                _inWindow++;
                suppressedBefore = _suppressed;
                _suppressed = 0;
                return true;
            }
        }
    }
}

/// <summary>Whether a device works as asked; see <see cref="NetDevice.Health"/>.</summary>
public enum DeviceHealth
{
    /// <summary>Nothing the device needs has failed.</summary>
    Healthy,

    /// <summary>
    /// Something the device needs failed for good (a thread died, the interface is gone): it may still pass some
    /// frames, but not all it should. <see cref="NetDevice.LastError"/> and the <see cref="NetDevice.Degraded"/>
    /// event say what.
    /// </summary>
    Degraded,
}
