using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NetDev.Drivers.Tests.Infrastructure;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests;

/// <summary>Keyed tunnels in namespaces: traffic passes, and a wrong key, replays, tampering and forgeries do not; a peer restarts.</summary>
public sealed class TunnelKeyedKernelTests
{
    private static Dictionary<string, long> Own(NetDevice device) =>
        device.GetEthtoolStatistics().ToDictionary(kv => kv.Key, kv => kv.Value);

    private static long Drops(NetDevice device, DropReason reason) =>
        device.GetDropCounts().Where(d => d.Direction == TrafficDirection.Receive && d.Reason == reason).Sum(d => d.Count);

    /// <summary>Two keyed tunnels over a fresh underlay; the sockets are returned too, so a test can send from a tunnel's own address.</summary>
    private sealed class KeyedPair : IDisposable
    {
        public KeyedPair(TunnelKey keyA, TunnelKey keyB)
        {
            Underlay = Underlay.Create();
            try
            {
                var id = Guid.NewGuid().ToString("N")[..6];
                NameA = $"kta{id}";
                NameB = $"ktb{id}";
                EndA = new IPEndPoint(Underlay.AddressA, TunnelPair.Port);
                EndB = new IPEndPoint(Underlay.AddressB, TunnelPair.Port);
                KeyA = keyA;
                (TunnelA, SocketA) = Start(Underlay.A, NameA, EndA, EndB, keyA);
                (TunnelB, _) = Start(Underlay.B, NameB, EndB, EndA, keyB);
                Underlay.A.Ip($"addr add {Underlay.OverlayA}/24 dev {NameA}");
                Underlay.B.Ip($"addr add {Underlay.OverlayB}/24 dev {NameB}");
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public Underlay Underlay { get; }
        public string NameA { get; } = "";
        public string NameB { get; } = "";
        public IPEndPoint EndA { get; } = null!;
        public IPEndPoint EndB { get; } = null!;
        public TunnelKey KeyA { get; } = null!;
        public Registration<TunnelDriver> TunnelA { get; private set; } = null!;
        public Socket SocketA { get; private set; } = null!;
        public Registration<TunnelDriver> TunnelB { get; } = null!;

        public static (Registration<TunnelDriver>, Socket) Start(TestNamespace ns, string name, IPEndPoint local, IPEndPoint remote, TunnelKey key)
        {
            var socket = ns.Run(() => TunnelDriver.CreateSocket(local));
            var registration = TunnelDriver.CreateRegistration(ns.Host, socket, [remote], name, options: new TunnelOptions { Key = key });
            try
            {
                registration.Register();
                registration.Device.BringUp();
                return (registration, socket);
            }
            catch
            {
                registration.Dispose();
                throw;
            }
        }

        /// <summary>Removes tunnel A and starts it again: a new process would do the same (a new socket, a new session).</summary>
        public void RestartA()
        {
            TunnelA.Dispose();
            (TunnelA, SocketA) = Start(Underlay.A, NameA, EndA, EndB, KeyA);
            Underlay.A.Ip($"addr add {Underlay.OverlayA}/24 dev {NameA}");
        }

        public void Dispose()
        {
            TunnelB?.Dispose();
            TunnelA?.Dispose();
            Underlay?.Dispose();
        }
    }

    [Fact]
    public void PingAndTcpCrossAKeyedTunnel()
    {
        var key = TunnelKey.Generate();
        using var pair = new KeyedPair(key, key);
        Assert.Equal(1414, pair.TunnelA.Device.Mtu);
        var (code, output) = TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB);
        Assert.True(code == 0, $"ping A -> B failed:\n{output}");
        var payload = RandomNumberGenerator.GetBytes(4 << 20);
        var (bytes, hash) = TcpTransfer.Run(pair.Underlay.A, pair.Underlay.B, pair.Underlay.OverlayB, 5002, payload);
        Assert.Equal(payload.Length, bytes);
        Assert.Equal(SHA256.HashData(payload), hash);
        foreach (var tunnel in new[] { pair.TunnelA, pair.TunnelB })
        {
            var own = Own(tunnel.Device);
            Assert.Equal(0, own["tunnel_rx_auth_failed"] + own["tunnel_rx_new_session_failed"] + own["tunnel_rx_unauthenticated"]);
            Assert.Equal(1, own["tunnel_rx_sessions"]);
            // Only the session's first datagram was opened the careful way; nothing failed, so nobody was suspect.
            Assert.Equal(1, own["tunnel_rx_verified_slowly"]);
            Assert.Equal(0, own["tunnel_rx_suspect_periods"]);
        }
    }

    [Fact]
    public void NothingPassesWithTheWrongKeyAndTheDropsAreCounted()
    {
        using var pair = new KeyedPair(TunnelKey.Generate(), TunnelKey.Generate());
        var (code, _, _) = pair.Underlay.A.Exec($"ping -c 3 -i 0.2 -W 1 {pair.Underlay.OverlayB}");
        Assert.NotEqual(0, code);
        Wait.Until(() => Drops(pair.TunnelB.Device, DropReason.AuthenticationFailed) > 0, "B to count datagrams sealed with A's key as failing authentication");
        Assert.Equal(0, pair.TunnelB.Device.GetStats().RxPackets);
        Assert.Equal(0, pair.TunnelA.Device.GetStats().RxPackets);
        var own = Own(pair.TunnelB.Device);
        Assert.Equal(0, own["tunnel_rx_sessions"]);
        Assert.True(own["tunnel_rx_datagrams"] == 0, $"B accepted datagrams: {own["tunnel_rx_datagrams"]}");
    }

    [Fact]
    public void ReplayedTamperedForgedAndPlainDatagramsAreDroppedAndCounted()
    {
        var key = TunnelKey.Generate();
        using var pair = new KeyedPair(key, key);
        var (code, output) = TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB);
        Assert.True(code == 0, $"ping failed:\n{output}");
        var device = pair.TunnelB.Device;
        // A frame B would deliver: a broadcast ARP-sized Ethernet frame.
        var frame = new byte[60];
        frame.AsSpan(0, 6).Fill(0xFF);
        frame[6] = 0x02;
        frame[12] = 0x88; frame[13] = 0xB5; // local experimental EtherType: the kernel takes it and drops it quietly
        // Sealed in A's session on a lane A does not use (it has one queue), as only A could: the control.
        using var lane = new KeyedSender(key, pair.TunnelA.Device.DriverData.SessionId, 9);
        var genuine = TunnelKeyedUnitTests.Seal(lane, frame);
        var rxBefore = device.GetStats().RxPackets;
        Send(pair, genuine);
        Wait.Until(() => device.GetStats().RxPackets == rxBefore + 1, "the genuine datagram to be delivered");

        Send(pair, genuine); // replayed
        var tampered = TunnelKeyedUnitTests.Seal(lane, frame);
        tampered[KeyedFormat.HeaderLength + 20] ^= 0x04;
        Send(pair, tampered);
        var forged = RandomNumberGenerator.GetBytes(genuine.Length);
        genuine.AsSpan(0, KeyedFormat.HeaderLength).CopyTo(forged); // a header of the session, the rest made up
        KeyedFormat.WriteHeader(forged, pair.TunnelA.Device.DriverData.SessionId, KeyedFormat.PacketNumber(9, 1000));
        Send(pair, forged);
        var plain = new byte[TunnelHeader.Length + frame.Length];
        TunnelHeader.Ethernet.WriteTo(plain);
        frame.CopyTo(plain.AsSpan(TunnelHeader.Length));
        Send(pair, plain);

        Wait.Until(() => Drops(device, DropReason.Replayed) >= 1 && Drops(device, DropReason.AuthenticationFailed) >= 2
            && Drops(device, DropReason.Unauthenticated) >= 1, "B to count the replay, the tampered and forged datagrams and the plain one");
        var own = Own(device);
        Assert.Equal(1, own["tunnel_rx_replayed"]);
        Assert.Equal(2, own["tunnel_rx_auth_failed"]);
        Assert.Equal(1, own["tunnel_rx_unauthenticated"]);
        // The tampered datagram made A suspect (the one failure that took the runtime's exception, unless the
        // forged one came more than SuspectInterval later); every other failed tag was judged without one.
        Assert.InRange(own["tunnel_rx_suspect_periods"], 1, 2);
        Assert.True(own["tunnel_rx_suspect_periods"] + own["tunnel_rx_verified_slowly"] >= own["tunnel_rx_auth_failed"] + 1,
            $"{own["tunnel_rx_auth_failed"]} failed tags, {own["tunnel_rx_suspect_periods"]} suspect periods, {own["tunnel_rx_verified_slowly"]} opened carefully");
        Assert.Equal(rxBefore + 1, device.GetStats().RxPackets);
        // And the tunnel goes on working.
        (code, output) = TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB);
        Assert.True(code == 0, $"ping after the attack failed:\n{output}");
    }

    [Fact]
    public void APeerThatRestartsResumesWithoutTheOtherEnd()
    {
        var key = TunnelKey.Generate();
        using var pair = new KeyedPair(key, key);
        var (code, output) = TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB);
        Assert.True(code == 0, $"ping before the restart failed:\n{output}");
        var before = pair.TunnelA.Device.DriverData.SessionId.ToArray();
        pair.RestartA();
        Assert.False(before.AsSpan().SequenceEqual(pair.TunnelA.Device.DriverData.SessionId));
        (code, output) = TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB);
        Assert.True(code == 0, $"ping after A restarted failed:\n{output}");
        Assert.Equal(2, Own(pair.TunnelB.Device)["tunnel_rx_sessions"]);
    }

    /// <summary>Sends <paramref name="datagram"/> to B from A's own address and port, as an attacker forging A's source would.</summary>
    private static void Send(KeyedPair pair, byte[] datagram) => pair.SocketA.SendTo(datagram, pair.EndB);
}
