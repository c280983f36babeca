namespace NetDev.Hosting;

/// <summary>
/// Hears each driver operation the framework ran on a device, after it returned or threw: what a test host's
/// recorder is (NetDev.Testing's <c>OperationRecorder</c>). Attach one with
/// <see cref="OperationLogging.AttachOperationLog"/>.
/// </summary>
public interface IOperationLog
{
    /// <summary>
    /// <paramref name="operation"/> (the name of the <see cref="IDeviceOperations{TSelf}"/> method) returned, or
    /// threw <paramref name="error"/>. For StartXmit, <paramref name="queue"/> and <paramref name="length"/>
    /// describe the frame as it was handed over and <paramref name="result"/> is what the driver answered; for
    /// TxTimeout <paramref name="queue"/> is the queue; otherwise they are −1, −1 and <see langword="null"/>.
    /// Called on the thread that ran the operation (a queue's thread for StartXmit and TxTimeout), so it must be
    /// thread-safe and quick.
    /// </summary>
    void Record(string operation, int queue, int length, TxResult? result, Exception? error);
}

/// <summary>Attaching an <see cref="IOperationLog"/> to a device, and detaching it.</summary>
/// <remarks>
/// Attaching swaps the device's operation dispatcher, under its control lock, for a recording wrapper of it;
/// detaching swaps the plain one back. A device with no log pays nothing per frame.
/// </remarks>
public static class OperationLogging
{
    /// <summary>
    /// From now on, every driver operation the framework runs on <paramref name="device"/> is recorded to
    /// <paramref name="log"/>. Attach before <see cref="Registration{TDriver}.Register"/> to hear Init.
    /// </summary>
    /// <exception cref="InvalidOperationException">A log is attached to the device already.</exception>
    public static void AttachOperationLog(this NetDevice device, IOperationLog log)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(log);
        using (device.EnterControl())
        {
            if (device.Operations.Log is not null)
            {
                throw new InvalidOperationException($"An operation log is attached to {device.Name} already; detach it first.");
            }
            device.Operations = device.Operations.RecordingTo(log);
        }
    }

    /// <summary>Stops recording <paramref name="device"/>'s operations to <paramref name="log"/>.</summary>
    /// <returns>False when <paramref name="log"/> was not the device's log (detached already, or never attached).</returns>
    public static bool DetachOperationLog(this NetDevice device, IOperationLog log)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(log);
        using (device.EnterControl())
        {
            if (device.Operations.Log != log)
            {
                return false;
            }
            device.Operations = device.Operations.RecordingTo(null);
            return true;
        }
    }
}
