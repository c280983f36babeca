namespace NetDev;

/// <summary>A failure no caller could be told about; see <see cref="NetDevice.Error"/>.</summary>
/// <param name="error">What failed.</param>
public sealed class DeviceErrorEventArgs(Exception error) : EventArgs
{
    /// <summary>What failed.</summary>
    public Exception Exception { get; } = error;
}
