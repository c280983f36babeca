using System.Net.Sockets;
using System.Text.Json;
using NetDev.Drivers.Dummy;
using NetDev.Drivers.Pair;
using NetDev.Linux;

namespace NetDev.Control.Tests;

/// <summary>
/// The control endpoint of devices registered in this process, in a namespace of the test's own, with a
/// temporary control directory, started as a device's owner starts it: what each request answers, the
/// protocol's errors, and the socket's life (it follows a move, and goes with its device).
/// </summary>
public sealed partial class ControlServerTests : ControlTest
{
    [Fact]
    public void InfoDescribesTheDeviceAsTheKernelSeesIt()
    {
        using var dummy = RegisterDummy("ndtc0", queues: 2);
        using var client = ConnectOnly();

        var info = client.GetInfo();

        var link = Ns.Link("ndtc0")!.Value;
        Assert.Equal("ndtc0", info.Name);
        Assert.Equal(Ns.Name, info.Netns);
        Assert.Equal(link.GetProperty("ifindex").GetInt32(), info.Ifindex);
        Assert.Equal(link.GetProperty("address").GetString(), info.MacAddress);
        Assert.Equal("dummy", info.Driver);
        Assert.False(string.IsNullOrEmpty(info.DriverVersion));
        Assert.Equal("up", info.State);
        Assert.True(info.Carrier);
        Assert.Equal(1500, info.Mtu);
        Assert.Equal(2, info.TxQueues);
        Assert.Equal(2, info.RxQueues);
        Assert.Equal(1000, info.TxQueueLength);
        Assert.Equal(Environment.ProcessId, info.Pid);
        Assert.Equal(ControlProtocol.Version, info.Protocol);
    }

    [Fact]
    public void ChangesShowInTheNextAnswer()
    {
        using var dummy = RegisterDummy("ndtc0");
        using var client = ConnectOnly();

        dummy.Device.Mtu = 1400;
        dummy.Device.CarrierOff();
        dummy.Device.BringDown();

        var info = client.GetInfo();
        Assert.Equal(1400, info.Mtu);
        Assert.False(info.Carrier);
        Assert.Equal("down", info.State);
        Assert.False(client.GetLinkSettings().LinkDetected);
    }

    [Fact]
    public void TheDirectoryAndTheSocketAreRootsAlone()
    {
        using var dummy = RegisterDummy("ndtc0");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(RunDir.Path));
        var socket = Path.Combine(RunDir.Path, $"ndtc0@{Ns.Name}.sock");
        Assert.Equal([Path.GetFileName(socket)], RunDir.FileNames);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
    }

    [Fact]
    public void StatsAddUpWhatTheDriverCountedAndGiveEachQueueOnRequest()
    {
        const int datagrams = 6;
        using var dummy = RegisterDummy("ndtc0", queues: 2);
        Ns.Ip("addr", "add", "10.213.7.1/24", "dev", "ndtc0");
        // NOARP: the kernel sends to .2 at once. Different source ports spread the flows over the queues.
        Ns.Exec("bash", "-c", $"for i in $(seq {datagrams}); do echo hello$i > /dev/udp/10.213.7.2/$((9000 + i)); done");
        Wait.Until(() => dummy.Device.GetLinkStats64().TxPackets >= datagrams, "the driver counted every datagram");
        using var client = ConnectOnly();

        var withoutQueues = client.GetStats();
        var stats = client.GetStats(queues: true);

        Assert.Null(withoutQueues.Queues);
        Assert.Equal("ndtc0", stats.Name);
        Assert.Equal(Ns.Name, stats.Netns);
        Assert.True(stats.Stats64.TxPackets >= datagrams);
        Assert.True(stats.Stats64.TxBytes >= datagrams * (14 + 20 + 8 + 7));
        Assert.Empty(stats.Drops);
        var queues = Assert.IsAssignableFrom<IReadOnlyList<QueueStatsReport>>(stats.Queues);
        Assert.Equal([0, 1], queues.Select(queue => queue.Index));
        Assert.Equal(stats.Stats64.TxPackets, queues.Sum(queue => queue.TxPackets));
        Assert.Equal(stats.Stats64.TxBytes, queues.Sum(queue => queue.TxBytes));
        Assert.All(queues, queue => Assert.False(queue.TxStopped));
    }

    [Fact]
    public void DropsAreReportedByDirectionAndReason()
    {
        using var peerNs = new TestNamespace();
        using var pair = PairDriver.Create(Host(Ns.Name), "ndtpa", Host(peerNs.Name), "ndtpb");
        pair.Register();
        using var control = ControlServer.Start(pair.First.Device, Options);
        pair.First.Device.BringUp();
        // The peer stays down, so what the first end sends is dropped as veth drops it: DeviceDown, on transmit.
        Ns.Ip("addr", "add", "10.213.8.1/24", "dev", "ndtpa");
        Ns.Ip("neigh", "add", "10.213.8.2", "lladdr", "02:00:00:00:00:02", "dev", "ndtpa", "nud", "permanent");
        Ns.Exec("bash", "-c", "echo lost > /dev/udp/10.213.8.2/9");
        Wait.Until(() => pair.First.Device.GetStats().TxDropped >= 1, "the first end dropped the datagram");
        using var client = ControlClient.ConnectOrRemoveStale(ControlEndpoint.For(RunDir.Path, "ndtpa", Ns.Name))!;

        var stats = client.GetStats(queues: true);

        var drop = Assert.Single(stats.Drops);
        Assert.Equal(("tx", "device_down"), (drop.Direction, drop.Reason));
        Assert.Equal(stats.Stats64.TxDropped, drop.Count);
        Assert.Equal(drop.Count, stats.Queues![0].TxDropped);
        Assert.Contains(client.GetStatistics(), counter => counter.Name == "tx_drop_device_down" && counter.Value == drop.Count);
    }

    [Fact]
    public void EthtoolRequestsAnswerWhatTheDeviceSays()
    {
        using var dummy = RegisterDummy("ndtc0", queues: 2);
        using var client = ConnectOnly();

        var driver = client.GetDriverInfo();
        Assert.Equal(dummy.Device.GetDriverInfo(), driver);
        Assert.Equal("dummy", driver.Driver);
        Assert.Equal($"netdev:pid{Environment.ProcessId}", driver.BusInfo);

        var statistics = client.GetStatistics();
        Assert.Equal(dummy.Device.GetEthtoolStatistics().Select(s => s.Key), statistics.Select(s => s.Name));
        Assert.Contains(statistics, counter => counter.Name == "tx_queue_1_packets");

        Assert.Equal(new RingParameters(1000, 1000, 1000, 1000), client.GetRingParameters());
        Assert.Equal(new LinkSettingsReport(null, "unknown", false, "Other", true), client.GetLinkSettings());

        var timestamping = client.GetTimestamping();
        Assert.Equal(["software-transmit", "software-receive", "software-system-clock"], timestamping.Capabilities);
        Assert.Equal((int)TimestampingInfo.Software.Capabilities, timestamping.SoTimestamping);
        Assert.Equal(-1, timestamping.PhcIndex);
    }

    [Fact]
    public void BadRequestsGetAnErrorAndTheConnectionGoesOn()
    {
        using var dummy = RegisterDummy("ndtc0");
        using var client = ConnectOnly();

        AssertError(client.Send("{\"request\": \"bogus\"}"), "unknown request 'bogus'");
        AssertError(client.Send("not json"), "not valid JSON");
        AssertError(client.Send("{\"queues\": true}"), "no \"request\" field");
        AssertError(client.Send(""), "empty request");
        AssertError(client.Send("[1, 2]"), "not valid JSON");

        using var answer = JsonDocument.Parse(client.Send("{\"request\": \"info\"}"));
        Assert.True(answer.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal("ndtc0", answer.RootElement.GetProperty("result").GetProperty("name").GetString());
    }

    [Fact]
    public void AnOverlongRequestLineGetsAnErrorAndTheConnectionIsClosed()
    {
        using var dummy = RegisterDummy("ndtc0");
        using var client = ConnectOnly();

        AssertError(client.Send(new string('x', ControlProtocol.MaxRequestBytes + 10)), $"at most {ControlProtocol.MaxRequestBytes} bytes");
        Assert.Throws<ControlException>(() => client.GetInfo());
    }

    [Fact]
    public void ClientsBeyondTheLimitAreToldAndClosed()
    {
        using var dummy = RegisterDummy("ndtc0");
        var endpoint = ControlDirectory.List(RunDir.Path).Single();
        var idle = Enumerable.Range(0, 8).Select(_ => ControlClient.Connect(endpoint)).ToList();
        try
        {
            // Each idle client is served (one request answered), so all eight are counted before the ninth comes.
            idle.ForEach(client => client.GetInfo());
            using var ninth = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 60_000 };
            ninth.Connect(new UnixDomainSocketEndPoint(endpoint.Path));

            // Read without sending: the refusal comes unasked, and a request could meet a closed socket.
            var refusal = new List<byte>();
            var buffer = new byte[512];
            int read;
            while ((read = ninth.Receive(buffer)) > 0)
            {
                refusal.AddRange(buffer.AsSpan(0, read));
            }
            AssertError(System.Text.Encoding.UTF8.GetString([.. refusal]).TrimEnd('\n'), "8 clients at once");
            idle[0].Dispose();
            Wait.Until(() => TryInfo(endpoint), "a ninth client is served once one of the eight left");
        }
        finally
        {
            idle.ForEach(client => client.Dispose());
        }
    }

    [Fact]
    public async Task DisposeRemovesTheSocketAndEndsAnIdleClientsConnection()
    {
        var dummy = RegisterDummy("ndtc0");
        var endpoint = ControlDirectory.List(RunDir.Path).Single();
        using var idle = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        idle.Connect(new UnixDomainSocketEndPoint(endpoint.Path));
        using (var client = ControlClient.Connect(endpoint))
        {
            client.GetInfo();
        }

        // Bounded only so that a hang fails this test instead of the run; how long it takes is not asserted.
        await Task.Run(dummy.Dispose, TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Empty(RunDir.FileNames);
        idle.ReceiveTimeout = 60_000;
        Assert.Equal(0, idle.Receive(new byte[16]));
    }

    [Fact]
    public void NoEndpointWhenTurnedOff()
    {
        using var registration = DummyDriver.CreateRegistration(Host(Ns.Name), "ndtc0");
        registration.Register();

        Assert.Null(ControlServer.Start(registration.Device, Options with { Enabled = false }));

        Assert.Empty(RunDir.FileNames);
    }

    [Fact]
    public void ADeviceWhoseOwnerStartsNoServerHasNoEndpoint()
    {
        using var registration = DummyDriver.CreateRegistration(Host(Ns.Name), "ndtc0");
        registration.Register();
        registration.Device.BringUp();

        // The host serves nothing by itself: neither here nor in the default directory.
        Assert.Empty(RunDir.FileNames);
        Assert.False(File.Exists(ControlEndpoint.For(ControlDirectory.Default, "ndtc0", Ns.Name).Path));
    }

    [Fact]
    public void AnUnregisteredDeviceCannotBeServed()
    {
        using var registration = DummyDriver.CreateRegistration(Host(Ns.Name), "ndtc%d");

        Assert.Throws<InvalidOperationException>(() => ControlServer.Start(registration.Device, Options));
        Assert.Empty(RunDir.FileNames);
    }

    [Fact]
    public void TheEndpointOfADeviceThatWentAwayIsRemoved()
    {
        using var registration = DummyDriver.CreateRegistration(Host(Ns.Name), "ndtc0");
        registration.Register();
        using var control = ControlServer.Start(registration.Device, Options);
        Assert.NotNull(control);

        registration.Dispose();

        Wait.Until(() => RunDir.FileNames.Count == 0, "the endpoint of the removed device went");
    }

    [Fact]
    public void AStaleSocketIsRemovedNotConnected()
    {
        var endpoint = StaleEndpoint.Stale(ControlEndpoint.For(RunDir.Path, "ghost", Ns.Name));

        Assert.Null(ControlClient.ConnectOrRemoveStale(endpoint));

        Assert.False(File.Exists(endpoint.Path));
        Assert.Throws<SocketException>(() => ControlClient.Connect(endpoint).Dispose());
    }

    [Fact]
    public void ADeviceTakesOverAStaleSocketOfItsName()
    {
        StaleEndpoint.Stale(ControlEndpoint.For(RunDir.Path, "ndtc0", Ns.Name));

        using var dummy = RegisterDummy("ndtc0");
        using var client = ConnectOnly();

        Assert.Equal("ndtc0", client.GetInfo().Name);
    }

    [Fact]
    public void MovingTheDeviceMovesItsEndpoint()
    {
        using var target = new TestNamespace();
        using var dummy = RegisterDummy("ndtc0");

        dummy.Device.MoveToNetworkNamespace(target.Name);

        // The server notices the move itself (within ControlServer.FollowInterval).
        Wait.Until(() => RunDir.FileNames.SequenceEqual([$"ndtc0@{target.Name}.sock"]), "the endpoint follows the device");
        Assert.Equal(target.Name, dummy.Server!.Endpoint.NetworkNamespace);
        using var client = ConnectOnly();
        var info = client.GetInfo();
        Assert.Equal(target.Name, info.Netns);
        Assert.Equal(target.Link("ndtc0")!.Value.GetProperty("ifindex").GetInt32(), info.Ifindex);
    }

    [Fact]
    public void RenamingTheDeviceRenamesItsEndpoint()
    {
        using var dummy = RegisterDummy("ndtc0");

        Ns.Ip("link", "set", "dev", "ndtc0", "name", "ndtc1");

        Wait.Until(() => RunDir.FileNames.SequenceEqual([$"ndtc1@{Ns.Name}.sock"]), "the endpoint follows the new name");
        Assert.Equal("ndtc1", dummy.Server!.Endpoint.Name);
        using (var client = ConnectOnly())
        {
            var info = client.GetInfo();
            Assert.Equal("ndtc1", info.Name);
            Assert.Equal(Ns.Link("ndtc1")!.Value.GetProperty("ifindex").GetInt32(), info.Ifindex);
        }

        // A new device of the old name answers for itself, not with the renamed one's counters.
        using var newcomer = RegisterDummy("ndtc0");
        var endpoints = ControlDirectory.List(RunDir.Path).ToDictionary(endpoint => endpoint.Name);
        Assert.Equal(["ndtc0", "ndtc1"], endpoints.Keys.Order());
        using var newClient = ControlClient.ConnectOrRemoveStale(endpoints["ndtc0"])!;
        Assert.Equal(Ns.Link("ndtc0")!.Value.GetProperty("ifindex").GetInt32(), newClient.GetStats().Ifindex);
    }
    /// <summary>Connects to the only endpoint in the directory (asserting there is one).</summary>
    private ControlClient ConnectOnly() =>
        ControlClient.ConnectOrRemoveStale(Assert.Single(ControlDirectory.List(RunDir.Path))) ?? throw new InvalidOperationException("the endpoint is stale");

    private static void AssertError(string response, string expected)
    {
        using var document = JsonDocument.Parse(response);
        Assert.False(document.RootElement.GetProperty("ok").GetBoolean());
        Assert.Contains(expected, document.RootElement.GetProperty("error").GetString());
    }
}
