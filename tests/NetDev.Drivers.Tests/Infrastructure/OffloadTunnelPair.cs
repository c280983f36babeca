using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>
/// Two tunnel devices as in <see cref="TunnelPair"/>, with a chosen <see cref="TunnelOffloads"/> mode on both
/// ends, and IPv6 overlay addresses fd00:251:N::1 and ::2 next to the IPv4 ones.
/// </summary>
public sealed class OffloadTunnelPair : IDisposable
{
    private OffloadTunnelPair(TunnelOffloads offloads, DatagramSendPath sendPath, DatagramReceivePath receivePath)
    {
        Underlay = Underlay.Create();
        try
        {
            var id = Guid.NewGuid().ToString("N")[..6];
            NameA = $"toa{id}";
            NameB = $"tob{id}";
            var endpointA = new IPEndPoint(Underlay.AddressA, TunnelPair.Port);
            var endpointB = new IPEndPoint(Underlay.AddressB, TunnelPair.Port);
            TunnelA = Start(Underlay.A, NameA, endpointA, endpointB, offloads, sendPath, receivePath);
            TunnelB = Start(Underlay.B, NameB, endpointB, endpointA, offloads, sendPath, receivePath);
            foreach (var (ns, name, v4, v6) in new[] { (Underlay.A, NameA, Underlay.OverlayA, OverlayA6), (Underlay.B, NameB, Underlay.OverlayB, OverlayB6) })
            {
                ns.Ip($"addr add {v4}/24 dev {name}");
                // The test namespaces turn IPv6 off by default; the overlay gets it back for the IPv6 cases.
                ns.Exec($"sysctl -qw net.ipv6.conf.{name}.disable_ipv6=0");
                ns.Ip($"addr add {v6}/64 dev {name} nodad");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Makes the pair; lower datagram paths than the defaults force the tunnels' fallbacks on both ends.</summary>
    public static OffloadTunnelPair Create(TunnelOffloads offloads, DatagramSendPath sendPath = DatagramSendPath.Segmented, DatagramReceivePath receivePath = DatagramReceivePath.Coalesced) =>
        new(offloads, sendPath, receivePath);

    public Underlay Underlay { get; }

    public string NameA { get; } = "";

    public string NameB { get; } = "";

    public Registration<TunnelDriver> TunnelA { get; } = null!;

    public Registration<TunnelDriver> TunnelB { get; } = null!;

    public IPAddress OverlayA6 => IPAddress.Parse($"fd00:251:{Underlay.Subnet:x}::1");

    public IPAddress OverlayB6 => IPAddress.Parse($"fd00:251:{Underlay.Subnet:x}::2");

    public static Registration<TunnelDriver> Start(TestNamespace ns, string name, IPEndPoint local, IPEndPoint remote, TunnelOffloads offloads,
        DatagramSendPath sendPath = DatagramSendPath.Segmented, DatagramReceivePath receivePath = DatagramReceivePath.Coalesced)
    {
        var socket = ns.Run(() => TunnelDriver.CreateSocket(local));
        var registration = TunnelDriver.CreateRegistration(ns.Host, socket, remote, name, offloads: offloads, sendPath: sendPath, receivePath: receivePath);
        try
        {
            registration.Register();
            registration.Device.BringUp();
            return registration;
        }
        catch
        {
            registration.Dispose();
            throw;
        }
    }

    /// <summary>The device's own (ethtool) statistics by name.</summary>
    public static Dictionary<string, long> Own(NetDevice device) =>
        device.GetEthtoolStatistics().ToDictionary(kv => kv.Key, kv => kv.Value);

    public void Dispose()
    {
        TunnelB?.Dispose();
        TunnelA?.Dispose();
        Underlay?.Dispose();
    }
}
