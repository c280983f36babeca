using System.Net;
using NetDev.Drivers.Tests.Infrastructure;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests;

public sealed class TunnelTeardownTests
{
    [Fact]
    public void TeardownEndsTheReceiveThreadsRemovesTheInterfacesAndFreesThePorts()
    {
        using var pair = TunnelPair.Create();
        var (code, output) = TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB);
        Assert.True(code == 0, output);
        var threadA = $"{pair.NameA} rx";
        var threadB = $"{pair.NameB} rx";
        Assert.Single(Threads.StatesOf(threadA));
        Assert.Single(Threads.StatesOf(threadB));

        var driverA = pair.TunnelA.Device.DriverData;
        var driverB = pair.TunnelB.Device.DriverData;
        pair.TunnelA.Dispose();
        pair.TunnelB.Dispose();

        Assert.False(driverA.IsReceiving);
        Assert.False(driverB.IsReceiving);
        Assert.Empty(Threads.StatesOf(threadA));
        Assert.Empty(Threads.StatesOf(threadB));
        Assert.False(pair.Underlay.A.HasLink(pair.NameA));
        Assert.False(pair.Underlay.B.HasLink(pair.NameB));
        Assert.Empty(pair.TunnelA.Leaks);
        Assert.Empty(pair.TunnelB.Leaks);
        // The sockets are closed: the tunnels' ports can be bound again.
        using var again = pair.Underlay.A.Run(() => TunnelDriver.CreateSocket(new IPEndPoint(pair.Underlay.AddressA, TunnelPair.Port)));
        using var againB = pair.Underlay.B.Run(() => TunnelDriver.CreateSocket(new IPEndPoint(pair.Underlay.AddressB, TunnelPair.Port)));
    }

    [Fact]
    public void TeardownWakesAReceiveBlockedInTheKernel()
    {
        using var underlay = Underlay.Create();
        var name = $"tnw{Guid.NewGuid().ToString("N")[..6]}";
        var local = new IPEndPoint(underlay.AddressA, TunnelPair.Port);
        // Registered but never brought up, and nobody sends: the receive thread can only be waiting in recvfrom.
        var socket = underlay.A.Run(() => TunnelDriver.CreateSocket(local));
        var registration = TunnelDriver.CreateRegistration(underlay.A.Host, socket, new IPEndPoint(underlay.AddressB, TunnelPair.Port), name);
        try
        {
            registration.Register();
            var thread = $"{name} rx";
            Wait.Until(() => Threads.StatesOf(thread) is [ 'S' ], "the receive thread to sleep in the kernel");
            Assert.True(registration.Device.DriverData.IsReceiving);
        }
        finally
        {
            registration.Dispose();
        }
        Assert.False(registration.Device.DriverData.IsReceiving);
        Assert.Empty(Threads.StatesOf($"{name} rx"));
        Assert.False(underlay.A.HasLink(name));
        Assert.Empty(registration.Leaks);
    }

    [Fact]
    public void DatagramsWhileTheDeviceIsDownAreDroppedAsDeviceDownAndTrafficResumesWhenUp()
    {
        using var pair = TunnelPair.Create();
        pair.TunnelB.Device.BringDown();
        // A keeps sending (ARP for B goes unanswered) while B is down; B's receiver drops what arrives.
        TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB);
        Wait.Until(() => pair.TunnelB.Device.GetDropCounts().Any(d => d.Direction == TrafficDirection.Receive && d.Reason == DropReason.DeviceDown),
            "B to drop datagrams that arrive while it is down");
        Assert.True(pair.TunnelB.Device.DriverData.IsReceiving);

        pair.TunnelB.Device.BringUp();
        // A's ARP for B may still be failing from the round above, and only a later ping asks again.
        Wait.Until(() => TunnelPair.Ping(pair.Underlay.A, pair.Underlay.OverlayB).Code == 0, "ping A -> B to work once B is up again", seconds: 60);
        Assert.True(pair.TunnelB.Device.GetStats().RxPackets >= 1);
    }
}
