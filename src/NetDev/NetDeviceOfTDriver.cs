using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;

namespace NetDev;

/// <summary>A device with a driver of type <typeparamref name="TDriver"/>, whose instance is the device's private data.</summary>
/// <typeparam name="TDriver">The driver class.</typeparam>
public sealed class NetDevice<[DynamicallyAccessedMembers(DriverReflection.Members)] TDriver> : NetDevice where TDriver : class, IDeviceOperations<TDriver>
{
    internal NetDevice(TDriver driver, int txQueues, int rxQueues, ILogger? logger)
        : base(DriverNameOf(driver), txQueues, rxQueues, logger)
    {
        DriverData = driver;
        Operations = new DeviceOperationDispatcher<TDriver>(driver, this);
    }

    /// <summary>The driver instance: the device's private data (the seed's <c>drv_priv_data</c>), typed.</summary>
    public TDriver DriverData { get; }

    private static string DriverNameOf(TDriver driver) =>
        driver is IDriverInfo info ? info.DriverName : typeof(TDriver).Name;
}
