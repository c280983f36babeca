namespace NetDev;

/// <summary>The driver operations the framework calls, for an <see cref="IDeviceOperationObserver"/>.</summary>
internal enum DeviceOperation
{
    Init,
    Uninit,
    Open,
    Stop,
    StartXmit,
    ChangeMtu,
    SetMacAddress,
    SetRxMode,
    ChangeCarrier,
    TxTimeout,
}

/// <summary>
/// Hears every driver operation the framework calls on a device, after it returned or threw, so a test
/// host can record the calls without the driver's help. A driver cannot be wrapped in a decorator (its
/// operations take its own <see cref="NetDevice{TDriver}"/>), so the framework reports them itself.
/// </summary>
/// <remarks>Internal: set through <see cref="NetDevice.OperationObserver"/> by NetDev.Testing. When none is
/// set, the packet path pays one field read per frame.</remarks>
internal interface IDeviceOperationObserver
{
    /// <summary>
    /// <paramref name="operation"/> returned (<paramref name="error"/> is null) or threw <paramref name="error"/>.
    /// For StartXmit, <paramref name="queue"/> and <paramref name="length"/> describe the frame as it was
    /// handed over and <paramref name="result"/> is what the driver answered; otherwise they are −1, −1, Ok.
    /// </summary>
    void OnOperation(NetDevice device, DeviceOperation operation, int queue, int length, TxResult result, Exception? error);
}
