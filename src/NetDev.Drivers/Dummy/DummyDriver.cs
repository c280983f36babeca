using Microsoft.Extensions.Logging;
using NetDev.Hosting;

namespace NetDev.Drivers.Dummy;

/// <summary>
/// The dummy driver, after Linux's <c>drivers/net/dummy.c</c>: a device that accepts every frame sent on
/// it, counts it and frees it. It gives routes and addresses somewhere to point without any traffic
/// leaving the machine, and it is the smallest complete NetDev driver.
/// </summary>
/// <remarks>
/// <para>What the device <em>is</em> lives in <see cref="Setup"/>; what it <em>does</em> is the operations
/// below, dummy.c's <c>dummy_netdev_ops</c> and <c>dummy_ethtool_ops</c>: <see cref="StartXmit"/>,
/// <see cref="SetMacAddress"/>, <see cref="ChangeCarrier"/> and <see cref="GetTsInfo"/>.</para>
/// <para>The driver keeps no state. dummy.c's <c>dummy_get_stats64</c> adds up per-CPU counters when
/// read; here the framework adds up the per-queue counters <see cref="NetDevice.CountTx"/> writes, so there
/// is no <c>GetStats64</c> to write. <c>ethtool -i</c> shows the framework's default: driver
/// <c>dummy</c> and NetDev's version, as in-tree kernel drivers report the kernel's version.</para>
/// <para>Usage: <c>using var registration = DummyDriver.CreateRegistration(new LinuxHost());</c>, then
/// <c>registration.Register()</c> and <c>registration.Device.BringUp()</c>.</para>
/// </remarks>
public sealed class DummyDriver : IDeviceOperations<DummyDriver>, IEthtoolOperations<DummyDriver>, IDriverInfo
{
    /// <summary>The name template the system numbers: <c>dummy0</c>, <c>dummy1</c>, …</summary>
    public const string DefaultNameTemplate = "dummy%d";

    /// <summary>
    /// The smallest MTU a dummy device accepts. The kernel's dummy allows 0, but a NetDev device is a TAP
    /// interface, and the kernel refuses any TAP MTU below <c>ETH_MIN_MTU</c> (68, also the least IPv4
    /// works with); saying so here makes a too-small MTU fail when it is set, not at registration.
    /// </summary>
    public const int MinimumMtu = 68;

    /// <inheritdoc/>
    public string DriverName => "dummy";

    /// <summary>
    /// Makes <paramref name="device"/> a dummy device (<c>dummy_setup</c>): the <c>dummy%d</c> name
    /// template, no ARP (nobody answers on a dummy link), no multicast, a random locally administered
    /// address, and any MTU the interface underneath allows.
    /// </summary>
    /// <remarks>The seed's sample wrote <c>IFF_NOARP &amp; !IFF_MULTICAST</c>, which sets NOARP but leaves
    /// multicast on; <c>dummy.c</c> clears it, and so does this.</remarks>
    public static void Setup(NetDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        device.Name = DefaultNameTemplate;
        device.Flags = (device.Flags | DeviceFlags.NoArp) & ~DeviceFlags.Multicast;
        device.MacAddress = MacAddress.RandomLocal();
        device.MinMtu = MinimumMtu;
        device.MaxMtu = 0;
    }

    /// <summary>
    /// Allocates a dummy device with <paramref name="queues"/> transmit and receive queues, set up by
    /// <see cref="Setup"/> and named <paramref name="name"/>; call <see cref="Registration{TDriver}.Register"/>
    /// on the result to make the interface exist.
    /// </summary>
    /// <param name="host">Where the interface will exist.</param>
    /// <param name="name">An interface name or template with <c>%d</c>; <see cref="DefaultNameTemplate"/> when omitted.</param>
    /// <param name="queues">Transmit and receive queues, 1 to 256.</param>
    /// <param name="loggerFactory">Where the device logs; nothing is logged when omitted.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid interface name.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queues"/> is outside 1..256.</exception>
    public static Registration<DummyDriver> CreateRegistration(INetDeviceHost host, string? name = null, int queues = 1, ILoggerFactory? loggerFactory = null)
    {
        var registration = new Registration<DummyDriver>(host, queues, queues, new DummyDriver(), loggerFactory);
        try
        {
            Setup(registration.Device);
            if (name is not null)
            {
                registration.Device.Name = name;
            }
            return registration;
        }
        catch
        {
            registration.Dispose();
            throw;
        }
    }

    /// <summary>Counts the frame, stamps its transmit time and frees it (<c>dummy_xmit</c>).</summary>
    public TxResult StartXmit(NetDevice<DummyDriver> device, SkBuff skb)
    {
        device.CountTx(skb);
        skb.TxTimestamp();
        skb.Consume();
        return TxResult.Ok;
    }

    /// <summary>
    /// Takes any valid unicast, non-zero address, also while the device is up (<c>eth_mac_addr</c>, and
    /// dummy's <c>IFF_LIVE_ADDR_CHANGE</c>); refuses any other with <c>EADDRNOTAVAIL</c>.
    /// </summary>
    /// <remarks>The framework never passes an invalid address; the rule is stated here all the same
    /// because it is the driver's to make, as <c>eth_mac_addr</c> makes it in the kernel.</remarks>
    /// <exception cref="NetDevException"><paramref name="address"/> is multicast or zero (<c>EADDRNOTAVAIL</c>).</exception>
    public void SetMacAddress(NetDevice<DummyDriver> device, MacAddress address)
    {
        if (!address.IsValidDeviceAddress)
        {
            throw new NetDevException(Errno.EADDRNOTAVAIL, "SetMacAddress", device.Name, $"{address} is not a valid unicast, non-zero address");
        }
    }

    /// <summary>
    /// Accepts every carrier change (<c>dummy_change_carrier</c>): the framework then turns the carrier on
    /// or off, as dummy.c's <c>netif_carrier_on</c>/<c>netif_carrier_off</c>.
    /// </summary>
    public void ChangeCarrier(NetDevice<DummyDriver> device, bool carrier)
    {
        // Nothing to refuse and nothing to do: a dummy has no link of its own whose state could disagree.
    }

    /// <summary>
    /// Software timestamps and no hardware clock (<c>ethtool_op_get_ts_info</c>): <see cref="StartXmit"/>
    /// stamps each frame, and the system stamps what it receives.
    /// </summary>
    public TimestampingInfo GetTsInfo(NetDevice<DummyDriver> device) => TimestampingInfo.Software;
}
