using System.Net;
using NetDev.Drivers.Tests.Infrastructure;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests;

/// <summary>Three tunnels, each with the other two as peers, over a bridge in a namespace of their own: one overlay segment.</summary>
public sealed class TunnelPeersKernelTests
{
    [Fact]
    public void ThreePeersPingEachOtherAndLearnWhereEachSits()
    {
        var subnet = Random.Shared.Next(1, 255);
        var key = TunnelKey.Generate();
        var hosts = new List<TestNamespace>();
        var tunnels = new List<Registration<TunnelDriver>>();
        using var hub = new TestNamespace();
        try
        {
            hub.Ip("link add br0 type bridge");
            hub.Ip("link set br0 up");
            var underlay = Enumerable.Range(0, 3).Select(i => new IPEndPoint(IPAddress.Parse($"10.252.{subnet}.{i + 1}"), TunnelPair.Port)).ToArray();
            for (var i = 0; i < 3; i++)
            {
                var host = new TestNamespace();
                hosts.Add(host);
                // Made inside the hub with one end put straight into the host: the root namespace sees neither.
                hub.Ip($"link add h{i} type veth peer name u{i} netns {host.Name}");
                hub.Ip($"link set h{i} master br0 up");
                host.Ip($"addr add {underlay[i].Address}/24 dev u{i}");
                host.Ip($"link set u{i} up");
            }
            for (var i = 0; i < 3; i++)
            {
                var host = hosts[i];
                var local = underlay[i];
                var socket = host.Run(() => TunnelDriver.CreateSocket(local));
                var registration = TunnelDriver.CreateRegistration(host.Host, socket, [.. underlay.Where((_, j) => j != i)], $"mp{i}",
                    options: new TunnelOptions { Key = key });
                tunnels.Add(registration);
                registration.Register();
                registration.Device.BringUp();
                host.Ip($"addr add 10.253.{subnet}.{i + 1}/24 dev mp{i}");
            }
            for (var from = 0; from < 3; from++)
            {
                for (var to = 0; to < 3; to++)
                {
                    if (from != to)
                    {
                        var (code, output) = TunnelPair.Ping(hosts[from], IPAddress.Parse($"10.253.{subnet}.{to + 1}"));
                        Assert.True(code == 0, $"ping {from} -> {to} failed:\n{output}");
                    }
                }
            }
            foreach (var tunnel in tunnels)
            {
                var driver = tunnel.Device.DriverData;
                // Each learned the other two devices' addresses, each behind the peer it sits behind.
                var entries = driver.Fdb!.Entries();
                foreach (var other in tunnels.Where(t => t != tunnel))
                {
                    var peer = Assert.Single(entries, e => e.Address == other.Device.MacAddress).Peer;
                    Assert.Equal(other.Device.DriverData.Local.Address, driver.Peers[peer].Address);
                }
                var own = tunnel.Device.GetEthtoolStatistics().ToDictionary(kv => kv.Key, kv => kv.Value);
                Assert.True(own["peer0_rx_datagrams"] > 0 && own["peer1_rx_datagrams"] > 0, string.Join(", ", own));
                Assert.Equal(0, own["tunnel_fdb_refused"]);
            }
        }
        finally
        {
            foreach (var tunnel in tunnels)
            {
                tunnel.Dispose();
            }
            foreach (var host in hosts)
            {
                host.Dispose();
            }
        }
    }
}
