namespace NetDev;

/// <summary>A change made by someone else that the device rejected; see <see cref="NetDevice.ChangeRejected"/>.</summary>
/// <param name="setting">What was changed: <c>mtu</c>, <c>address</c> or <c>carrier</c>.</param>
/// <param name="requested">The value asked for.</param>
/// <param name="kept">The value kept and put back.</param>
/// <param name="reason">Why it was rejected.</param>
public sealed class ChangeRejectedEventArgs(string setting, string requested, string kept, string reason) : EventArgs
{
    /// <summary>What was changed: <c>mtu</c>, <c>address</c> or <c>carrier</c>.</summary>
    public string Setting { get; } = setting;

    /// <summary>The value asked for.</summary>
    public string Requested { get; } = requested;

    /// <summary>The value kept and put back.</summary>
    public string Kept { get; } = kept;

    /// <summary>Why it was rejected.</summary>
    public string Reason { get; } = reason;
}
