using System.Net;
using System.Net.Sockets;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Drivers.Tests;

/// <summary>MTU arithmetic and argument checks: sockets on loopback only, no interface is made.</summary>
public sealed class TunnelConfigurationTests
{
    [Fact]
    public void TheDefaultMtuLeavesRoomForTheOuterHeadersOfAn1500ByteUnderlay()
    {
        // 1500 - IPv4 20 - UDP 8 - tunnel 4 - Ethernet 14; with IPv6's 40-byte header instead.
        Assert.Equal(1454, TunnelDriver.DefaultMtu(AddressFamily.InterNetwork));
        Assert.Equal(1434, TunnelDriver.DefaultMtu(AddressFamily.InterNetworkV6));
        Assert.Equal(9000 - 46, TunnelDriver.DefaultMtu(AddressFamily.InterNetwork, 9000));
        Assert.Equal(46, TunnelDriver.Overhead(AddressFamily.InterNetwork));
        Assert.Equal(66, TunnelDriver.Overhead(AddressFamily.InterNetworkV6));
    }

    [Fact]
    public void TheMaximumMtuIsTheLargestUdpPayloadLessTheTunnelAndLinkHeaders()
    {
        // 65535 - 20 - 8 = 65507 payload bytes over IPv4, 65535 - 8 = 65527 over IPv6; less 4 + 18.
        Assert.Equal(65485, TunnelDriver.MaximumMtu(AddressFamily.InterNetwork));
        Assert.Equal(65505, TunnelDriver.MaximumMtu(AddressFamily.InterNetworkV6));
    }

    [Fact]
    public void AnUnderlayTooSmallForTheMinimumMtuIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TunnelDriver.DefaultMtu(AddressFamily.InterNetwork, 113));
        Assert.Equal(68, TunnelDriver.DefaultMtu(AddressFamily.InterNetwork, 114));
        Assert.Throws<ArgumentOutOfRangeException>(() => TunnelDriver.Overhead(AddressFamily.Unix));
    }

    [Fact]
    public void CreateRegistrationSetsUpAnEthernetDeviceWithTheUnderlaysMtu()
    {
        var socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        using var registration = TunnelDriver.CreateRegistration(new LinuxHost(), socket, new IPEndPoint(IPAddress.Loopback, 4789));
        var device = registration.Device;
        Assert.Equal(TunnelDriver.DefaultNameTemplate, device.Name);
        Assert.Equal(1454, device.Mtu);
        Assert.Equal(68, device.MinMtu);
        Assert.Equal(65485, device.MaxMtu);
        Assert.Equal(0, (int)(device.Flags & DeviceFlags.NoArp));
        Assert.NotEqual(0, (int)(device.Flags & DeviceFlags.Broadcast));
        Assert.True(device.MacAddress.IsValidDeviceAddress && device.MacAddress.IsLocallyAdministered);
        Assert.Equal("tunnel", device.DriverName);
        Assert.Equal(1, device.RxQueueCount);
        Assert.False(registration.IsRegistered);
        Assert.False(device.DriverData.IsReceiving);
    }

    [Fact]
    public void AnIpv6UnderlayGetsItsOwnMtuAndAGivenNameIsKept()
    {
        var socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        using var registration = TunnelDriver.CreateRegistration(new LinuxHost(), socket, new IPEndPoint(IPAddress.IPv6Loopback, 4789), "tn6", underlayMtu: 9000, txQueues: 2);
        Assert.Equal("tn6", registration.Device.Name);
        Assert.Equal(9000 - 66, registration.Device.Mtu);
        Assert.Equal(2, registration.Device.TxQueueCount);
        Assert.Equal(AddressFamily.InterNetworkV6, registration.Device.DriverData.UnderlayFamily);
    }

    [Fact]
    public void ADualStackSocketReachesAnIpv4PeerThroughAMappedAddress()
    {
        var socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.IPv6Any, 0));
        Assert.True(socket.DualMode);
        using var driver = new TunnelDriver(socket, new IPEndPoint(IPAddress.Loopback, 4789));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 4789), driver.Remote);
        Assert.Equal(AddressFamily.InterNetwork, driver.UnderlayFamily);
    }

    [Fact]
    public void AMappedPeerOfAnIpv4SocketIsUnmapped()
    {
        var socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        using var driver = new TunnelDriver(socket, new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 4789));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 4789), driver.Remote);
        Assert.Equal(AddressFamily.InterNetwork, driver.UnderlayFamily);
    }

    public static TheoryData<string, int> UnreachablePeers => new()
    {
        { "127.0.0.1", 0 },
        { "0.0.0.0", 4789 },
        { "255.255.255.255", 4789 },
        { "239.1.2.3", 4789 },
        { "::1", 4789 },
    };

    [Theory]
    [MemberData(nameof(UnreachablePeers))]
    public void APeerTheSocketCannotReachAloneIsRefusedAndTheSocketClosed(string address, int port)
    {
        var socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.Throws<ArgumentException>(() => new TunnelDriver(socket, new IPEndPoint(IPAddress.Parse(address), port)));
        Assert.True(socket.SafeHandle.IsClosed);
    }

    [Fact]
    public void AnUnboundSocketIsRefusedAndClosed()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var error = Assert.Throws<ArgumentException>(() => new TunnelDriver(socket, new IPEndPoint(IPAddress.Loopback, 4789)));
        Assert.Contains("bound", error.Message);
        Assert.True(socket.SafeHandle.IsClosed);
    }

    [Fact]
    public void ATcpSocketIsRefusedAndClosed()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.Throws<ArgumentException>(() => new TunnelDriver(socket, new IPEndPoint(IPAddress.Loopback, 4789)));
        Assert.True(socket.SafeHandle.IsClosed);
    }

    [Fact]
    public void AnIpv6OnlySocketCannotReachAnIpv4Peer()
    {
        var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = false };
        socket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        Assert.Throws<ArgumentException>(() => new TunnelDriver(socket, new IPEndPoint(IPAddress.Loopback, 4789)));
        Assert.True(socket.SafeHandle.IsClosed);
    }

    [Fact]
    public void AFailedRegistrationClosesTheSocket()
    {
        var socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.Throws<ArgumentException>(() => TunnelDriver.CreateRegistration(new LinuxHost(), socket, new IPEndPoint(IPAddress.Loopback, 4789), "no/slash"));
        Assert.True(socket.SafeHandle.IsClosed);
    }

    [Fact]
    public void DisposingAnUnregisteredRegistrationClosesTheSocket()
    {
        var socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        var registration = TunnelDriver.CreateRegistration(new LinuxHost(), socket, new IPEndPoint(IPAddress.Loopback, 4789));
        registration.Dispose();
        Assert.True(socket.SafeHandle.IsClosed);
    }

    [Fact]
    public void CreateSocketReportsARefusedBindAsANetDevExceptionWithTheErrno()
    {
        using var taken = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        var error = Assert.Throws<NetDevException>(() => TunnelDriver.CreateSocket((IPEndPoint)taken.LocalEndPoint!));
        Assert.Equal("EADDRINUSE", error.ErrnoName);
        Assert.Contains(taken.LocalEndPoint!.ToString()!, error.Message);
    }

    [Fact]
    public void TheDriverInfoNamesTheEndpoints()
    {
        var socket = TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Loopback, 0));
        var local = (IPEndPoint)socket.LocalEndPoint!;
        using var registration = TunnelDriver.CreateRegistration(new LinuxHost(), socket, new IPEndPoint(IPAddress.Loopback, 4789));
        var info = registration.Device.GetDriverInfo();
        Assert.Equal("tunnel", info.Driver);
        Assert.Equal($"udp {local} -> 127.0.0.1:4789", info.BusInfo);
    }
}
