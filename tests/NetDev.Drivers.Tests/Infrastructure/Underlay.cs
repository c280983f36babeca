using System.Net;
using System.Net.Sockets;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>
/// Two namespaces of the test's own joined by a kernel veth pair: the "hosts" and the "physical network"
/// a tunnel runs over. Underlay addresses are 10.250.N.1 and .2 (or fd00:250:N::1 and ::2), inside these
/// namespaces only. Everything is removed on dispose, also when construction failed half way.
/// </summary>
public sealed class Underlay : IDisposable
{
    private Underlay(AddressFamily family)
    {
        Family = family;
        Subnet = Random.Shared.Next(1, 255);
        A = new TestNamespace();
        try
        {
            B = new TestNamespace();
            // Made inside A with its peer put straight into B: the root namespace never sees either end.
            A.Ip($"link add {VethA} type veth peer name {VethB} netns {B.Name}");
            if (family == AddressFamily.InterNetworkV6)
            {
                A.Exec($"sysctl -qw net.ipv6.conf.{VethA}.disable_ipv6=0");
                B.Exec($"sysctl -qw net.ipv6.conf.{VethB}.disable_ipv6=0");
                A.Ip($"addr add {AddressA}/64 dev {VethA} nodad");
                B.Ip($"addr add {AddressB}/64 dev {VethB} nodad");
            }
            else
            {
                A.Ip($"addr add {AddressA}/24 dev {VethA}");
                B.Ip($"addr add {AddressB}/24 dev {VethB}");
            }
            A.Ip($"link set {VethA} up");
            B.Ip($"link set {VethB} up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public static Underlay Create(AddressFamily family = AddressFamily.InterNetwork) => new(family);

    public AddressFamily Family { get; }

    /// <summary>The N of 10.250.N.0/24 and 10.251.N.0/24; random, although namespaces keep tests apart anyway.</summary>
    public int Subnet { get; }

    public TestNamespace A { get; }

    public TestNamespace B { get; } = null!;

    public string VethA => "ul-a";

    public string VethB => "ul-b";

    public IPAddress AddressA => Family == AddressFamily.InterNetworkV6 ? IPAddress.Parse($"fd00:250:{Subnet:x}::1") : IPAddress.Parse($"10.250.{Subnet}.1");

    public IPAddress AddressB => Family == AddressFamily.InterNetworkV6 ? IPAddress.Parse($"fd00:250:{Subnet:x}::2") : IPAddress.Parse($"10.250.{Subnet}.2");

    public IPAddress OverlayA => IPAddress.Parse($"10.251.{Subnet}.1");

    public IPAddress OverlayB => IPAddress.Parse($"10.251.{Subnet}.2");

    /// <summary>A UDP socket bound to <paramref name="local"/> inside <paramref name="ns"/> (it stays in that namespace for life).</summary>
    public static Socket UdpSocket(TestNamespace ns, IPEndPoint local) => ns.Run(() =>
    {
        var socket = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(local);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    });

    public void Dispose()
    {
        // Deleting a namespace deletes its end of the veth, and the pair goes with it.
        B?.Dispose();
        A.Dispose();
    }
}
