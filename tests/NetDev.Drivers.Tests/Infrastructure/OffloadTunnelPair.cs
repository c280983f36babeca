using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>
/// Two tunnel devices as in <see cref="TunnelPair"/>, with a chosen <see cref="TunnelOffloads"/> mode on both
/// ends, and IPv6 overlay addresses fd00:251:N::1 and ::2 next to the IPv4 ones.
/// </summary>
public sealed class OffloadTunnelPair : IDisposable
{
    private OffloadTunnelPair(TunnelOffloads offloads)
    {
        Underlay = Underlay.Create();
        try
        {
            var id = Guid.NewGuid().ToString("N")[..6];
            NameA = $"toa{id}";
            NameB = $"tob{id}";
            var endpointA = new IPEndPoint(Underlay.AddressA, TunnelPair.Port);
            var endpointB = new IPEndPoint(Underlay.AddressB, TunnelPair.Port);
            TunnelA = Start(Underlay.A, NameA, endpointA, endpointB, offloads);
            TunnelB = Start(Underlay.B, NameB, endpointB, endpointA, offloads);
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

    public static OffloadTunnelPair Create(TunnelOffloads offloads) => new(offloads);

    public Underlay Underlay { get; }

    public string NameA { get; } = "";

    public string NameB { get; } = "";

    public Registration<TunnelDriver> TunnelA { get; } = null!;

    public Registration<TunnelDriver> TunnelB { get; } = null!;

    public IPAddress OverlayA6 => IPAddress.Parse($"fd00:251:{Underlay.Subnet:x}::1");

    public IPAddress OverlayB6 => IPAddress.Parse($"fd00:251:{Underlay.Subnet:x}::2");

    public static Registration<TunnelDriver> Start(TestNamespace ns, string name, IPEndPoint local, IPEndPoint remote, TunnelOffloads offloads)
    {
        var socket = ns.Run(() => TunnelDriver.CreateSocket(local));
        var registration = TunnelDriver.CreateRegistration(ns.Host, socket, remote, name, offloads: offloads);
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

/// <summary>A TCP stream from one namespace to another, checked byte for byte by its SHA-256.</summary>
public static class TcpTransfer
{
    /// <summary>Sends <paramref name="payload"/> from <paramref name="from"/> to <paramref name="target"/>:<paramref name="port"/> in <paramref name="to"/>; returns what arrived.</summary>
    public static (long Bytes, byte[] Hash) Run(TestNamespace from, TestNamespace to, IPAddress target, int port, byte[] payload)
    {
        using var listener = to.Run(() =>
        {
            var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(target, port));
            socket.Listen(1);
            return socket;
        });
        long receivedBytes = -1;
        byte[] receivedHash = [];
        Exception? receiveError = null;
        var receiver = new Thread(() =>
        {
            try
            {
                using var connection = listener.Accept();
                connection.ReceiveTimeout = 60_000;
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[64 << 10];
                long total = 0;
                int read;
                while ((read = connection.Receive(buffer)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    total += read;
                }
                receivedHash = hash.GetHashAndReset();
                receivedBytes = total;
            }
            catch (Exception error)
            {
                receiveError = error;
            }
        }) { IsBackground = true, Name = "tcp receiver" };
        receiver.Start();

        using (var client = from.Run(() => new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp)))
        {
            client.SendTimeout = 60_000;
            client.Connect(new IPEndPoint(target, port));
            var sent = 0;
            while (sent < payload.Length)
            {
                sent += client.Send(payload, sent, Math.Min(256 << 10, payload.Length - sent), SocketFlags.None);
            }
            client.Shutdown(SocketShutdown.Send);
            Assert.True(receiver.Join(TimeSpan.FromSeconds(120)), "the receiver did not see the end of the stream");
        }
        Assert.Null(receiveError);
        return (receivedBytes, receivedHash);
    }
}
