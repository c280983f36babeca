namespace NetDev;

/// <summary>
/// What <see cref="IDeviceOperations{TSelf}.StartXmit"/> did with a frame; the kernel's <c>netdev_tx_t</c>.
/// </summary>
/// <remarks>
/// The two values say who owns the frame afterwards, which is why they are not interchangeable:
/// after <see cref="Ok"/> the driver owns it (and has released it or keeps it to release later);
/// after <see cref="Busy"/> the framework still owns it and hands the very same frame to
/// <c>StartXmit</c> again later, so the driver must not have released it.
/// </remarks>
public enum TxResult
{
    /// <summary>The driver took the frame (<c>NETDEV_TX_OK</c>); releasing it is now the driver's job.</summary>
    Ok = 0,

    /// <summary>
    /// The driver could not take the frame now (<c>NETDEV_TX_BUSY</c>); ownership stays with the framework,
    /// which retries the same frame later (after <see cref="NetDevice.WakeQueue"/> if the queue was stopped).
    /// </summary>
    Busy = 1,
}
