using System.Diagnostics.CodeAnalysis;
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
/// seed's <c>#[vtable]</c> <c>HAS_*</c> table, kept by the framework's operation dispatcher) and never calls
/// the rest.
/// </para>
/// <para>
/// Threads: <see cref="Init"/>, <see cref="Uninit"/>, <see cref="Open"/> and <see cref="Stop"/> run one at a
/// time on a control thread. <see cref="StartXmit"/> runs on the dedicated thread of the frame's queue,
/// never while <see cref="Stop"/> runs and never before <see cref="Open"/> returned.
/// </para>
/// </remarks>
/// <typeparam name="TSelf">The driver class itself.</typeparam>
public interface IDeviceOperations<[DynamicallyAccessedMembers(DriverReflection.Members)] TSelf> where TSelf : class, IDeviceOperations<TSelf>
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
    /// Called before the device's MTU changes to <paramref name="newMtu"/> (<c>ndo_change_mtu</c>), by
    /// <see cref="NetDevice.Mtu"/> or by anyone (<c>ip link set dev X mtu N</c>). The value is already
    /// within <see cref="NetDevice.MinMtu"/>..<see cref="NetDevice.MaxMtu"/>. Throwing rejects it: the
    /// framework keeps (or puts back in the system) the old MTU and reports why.
    /// </summary>
    void ChangeMtu(NetDevice<TSelf> device, int newMtu) { }

    /// <summary>
    /// Called before the device's address changes to <paramref name="address"/> (<c>ndo_set_mac_address</c>),
    /// by <see cref="NetDevice.MacAddress"/> or by anyone (<c>ip link set dev X address A</c>). The address is
    /// already a valid unicast, non-zero one. Throwing rejects it, as for <see cref="ChangeMtu"/>.
    /// </summary>
    void SetMacAddress(NetDevice<TSelf> device, MacAddress address) { }

    /// <summary>
    /// Called after the receive mode changed (<c>ndo_set_rx_mode</c>): <see cref="DeviceFlags.Promisc"/> or
    /// <see cref="DeviceFlags.AllMulti"/> in <see cref="NetDevice.Flags"/>, by the device's owner or by anyone
    /// (<c>ip link set dev X promisc on</c>).
    /// </summary>
    void SetRxMode(NetDevice<TSelf> device) { }

    /// <summary>
    /// Called when someone asks for the carrier to change (<c>ndo_change_carrier</c>, <c>ip link set dev X
    /// carrier off</c>). Throwing rejects it and the old carrier state is put back.
    /// </summary>
    void ChangeCarrier(NetDevice<TSelf> device, bool carrier) { }

    /// <summary>
    /// Adds the driver's own counters to <paramref name="stats"/>, which already holds the framework's
    /// per-queue counters added up (<c>ndo_get_stats64</c>). Runs on the caller's thread: read counters,
    /// do not change device state.
    /// </summary>
    void GetStats64(NetDevice<TSelf> device, ref LinkStats64 stats) { }

    /// <summary>
    /// Called on queue <paramref name="queue"/>'s thread when the queue stayed stopped longer than
    /// <see cref="NetDevice.WatchdogTimeout"/> (<c>ndo_tx_timeout</c>); typically the driver resets its
    /// transmit path and wakes the queue.
    /// </summary>
    void TxTimeout(NetDevice<TSelf> device, int queue) { }

    /// <summary>
    /// Transmits one frame the kernel sent on the device (<c>ndo_start_xmit</c>). Ownership of
    /// <paramref name="skb"/> arrives with the call: return <see cref="TxResult.Ok"/> after releasing the
    /// frame or keeping it to release later; return <see cref="TxResult.Busy"/> without releasing it,
    /// and the framework hands the same frame again later.
    /// </summary>
    TxResult StartXmit(NetDevice<TSelf> device, SkBuff skb);
}
