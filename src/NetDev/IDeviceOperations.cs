namespace NetDev;

/// <summary>
/// What a driver does: the kernel's <c>struct net_device_ops</c>. The driver class implements this
/// interface for itself, and an instance of it is the device's private data (the seed's
/// <c>drv_priv_data</c>), reachable from <see cref="NetDevice{TDriver}.DriverData"/> without a cast.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="StartXmit"/> is the only required operation: a driver without it does not compile. The
/// others have default bodies; NetDev finds out once per driver type which ones a driver overrides (the
/// seed's <c>#[vtable]</c> <c>HAS_*</c> table) and never calls the rest.
/// </para>
/// <para>
/// Threads: <see cref="Init"/>, <see cref="Uninit"/>, <see cref="Open"/> and <see cref="Stop"/> run one at a
/// time on a control thread. <see cref="StartXmit"/> runs on the dedicated thread of the frame's queue,
/// never while <see cref="Stop"/> runs and never before <see cref="Open"/> returned.
/// </para>
/// </remarks>
/// <typeparam name="TSelf">The driver class itself.</typeparam>
public interface IDeviceOperations<TSelf> where TSelf : class, IDeviceOperations<TSelf>
{
    /// <summary>
    /// Called once when the device is registered, after the interface exists and before any frame
    /// (<c>ndo_init</c>). Throwing makes <see cref="Registration{TDriver}.Register"/> fail and removes the interface.
    /// </summary>
    void Init(NetDevice<TSelf> device) { }

    /// <summary>
    /// Called once when a device whose <see cref="Init"/> succeeded is torn down, after <see cref="Stop"/>
    /// and before the interface disappears (<c>ndo_uninit</c>).
    /// </summary>
    void Uninit(NetDevice<TSelf> device) { }

    /// <summary>
    /// Called when the device goes up, by <see cref="NetDevice.BringUp"/> or by anyone
    /// (<c>ip link set dev X up</c>) (<c>ndo_open</c>). Throwing keeps the link down and reports the error.
    /// </summary>
    void Open(NetDevice<TSelf> device) { }

    /// <summary>
    /// Called when the device goes down, by <see cref="NetDevice.BringDown"/>, by anyone
    /// (<c>ip link set dev X down</c>) or at teardown (<c>ndo_stop</c>). No <see cref="StartXmit"/> runs
    /// during or after it until the next <see cref="Open"/>.
    /// </summary>
    void Stop(NetDevice<TSelf> device) { }

    /// <summary>
    /// Transmits one frame the kernel sent on the device (<c>ndo_start_xmit</c>). Ownership of
    /// <paramref name="skb"/> arrives with the call: return <see cref="TxResult.Ok"/> after releasing the
    /// frame or keeping it to release later; return <see cref="TxResult.Busy"/> without releasing it,
    /// and the framework hands the same frame again later.
    /// </summary>
    TxResult StartXmit(NetDevice<TSelf> device, SkBuff skb);
}

/// <summary>
/// Which optional operations a driver type implements, found once per type (the seed's <c>HAS_*</c>).
/// </summary>
/// <remarks><b>Invariants.</b> Computed once in the static constructor and never changed, so reading
/// the flags on any path costs a static field load.</remarks>
internal static class DeviceOperationsTable<TDriver> where TDriver : class, IDeviceOperations<TDriver>
{
    public static readonly bool HasInit = Overrides(nameof(IDeviceOperations<TDriver>.Init));
    public static readonly bool HasUninit = Overrides(nameof(IDeviceOperations<TDriver>.Uninit));
    public static readonly bool HasOpen = Overrides(nameof(IDeviceOperations<TDriver>.Open));
    public static readonly bool HasStop = Overrides(nameof(IDeviceOperations<TDriver>.Stop));

    private static bool Overrides(string operation)
    {
        var contract = typeof(IDeviceOperations<TDriver>);
        var map = typeof(TDriver).GetInterfaceMap(contract);
        for (var i = 0; i < map.InterfaceMethods.Length; i++)
        {
            if (map.InterfaceMethods[i].Name == operation)
            {
                return map.TargetMethods[i].DeclaringType != contract;
            }
        }
        throw new MissingMethodException(contract.FullName, operation);
    }

    /// <summary>The operations the driver implements, for logs and docs: "Init, Open, StartXmit".</summary>
    public static string Describe()
    {
        var names = new List<string>();
        if (HasInit) names.Add("Init");
        if (HasUninit) names.Add("Uninit");
        if (HasOpen) names.Add("Open");
        if (HasStop) names.Add("Stop");
        names.Add("StartXmit");
        return string.Join(", ", names);
    }
}
