using System.Net;
using System.Net.Sockets;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>
/// Two tunnel devices, one in each namespace of an <see cref="Underlay"/>, each the other's peer, up and with
/// overlay addresses 10.251.N.1/24 (A) and .2 (B): one Ethernet segment carried over UDP.
/// </summary>
public sealed class TunnelPair : IDisposable
{
    public const int Port = 47000;

    private TunnelPair(AddressFamily underlayFamily)
    {
        Underlay = Underlay.Create(underlayFamily);
        try
        {
            var id = Guid.NewGuid().ToString("N")[..6];
            NameA = $"tna{id}";
            NameB = $"tnb{id}";
            var endpointA = new IPEndPoint(Underlay.AddressA, Port);
            var endpointB = new IPEndPoint(Underlay.AddressB, Port);
            TunnelA = Start(Underlay.A, NameA, endpointA, endpointB);
            TunnelB = Start(Underlay.B, NameB, endpointB, endpointA);
            Underlay.A.Ip($"addr add {Underlay.OverlayA}/24 dev {NameA}");
            Underlay.B.Ip($"addr add {Underlay.OverlayB}/24 dev {NameB}");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public static TunnelPair Create(AddressFamily underlayFamily = AddressFamily.InterNetwork) => new(underlayFamily);

    public Underlay Underlay { get; }

    public string NameA { get; } = "";

    public string NameB { get; } = "";

    public Registration<TunnelDriver> TunnelA { get; private set; } = null!;

    public Registration<TunnelDriver> TunnelB { get; private set; } = null!;

    /// <summary>Makes a tunnel the way a program would: socket inside the namespace, device in the same namespace.</summary>
    public static Registration<TunnelDriver> Start(TestNamespace ns, string name, IPEndPoint local, IPEndPoint remote)
    {
        var socket = ns.Run(() => TunnelDriver.CreateSocket(local));
        var registration = TunnelDriver.CreateRegistration(ns.Host, socket, remote, name);
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

    /// <summary>Pings <paramref name="target"/> from <paramref name="ns"/>; returns ping's exit code and output.</summary>
    public static (int Code, string Output) Ping(TestNamespace ns, IPAddress target)
    {
        var (code, output, error) = ns.Exec($"ping -c 3 -i 0.2 -W 2 {target}");
        return (code, output + error);
    }

    public void Dispose()
    {
        TunnelB?.Dispose();
        TunnelA?.Dispose();
        Underlay?.Dispose();
    }
}
