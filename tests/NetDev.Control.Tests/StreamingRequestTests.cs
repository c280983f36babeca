using System.Text;
using NetDev.Drivers.Pair;
using NetDev.Tests.Shared;

namespace NetDev.Control.Tests;

/// <summary>The streaming requests: capture (pcapng of the frames the driver sees, drops with their reason) and monitor (events as JSON lines).</summary>
public sealed class StreamingRequestTests : ControlTest
{
    /// <summary>Sends a UDP datagram to <paramref name="address"/> from the test's namespace: out of the device whose subnet it is in.</summary>
    private void SendDatagram(string address)
    {
        Ns.Exec("bash", "-c", $"echo captured > /dev/udp/{address}/9");
    }

    /// <summary>Reads a capture until the endpoint closes it, stopping it once <paramref name="enough"/> holds for what came so far.</summary>
    private static PcapNgReader.Capture ReadUntil(ControlStream stream, Func<PcapNgReader.Capture, bool> enough, Action? meanwhile = null)
    {
        var file = new MemoryStream();
        var buffer = new byte[64 << 10];
        var stopped = false;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var reader = Task.Run(() =>
        {
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                lock (file)
                {
                    file.Write(buffer, 0, read);
                }
            }
        });
        while (!reader.IsCompleted)
        {
            meanwhile?.Invoke();
            byte[] sofar;
            lock (file)
            {
                sofar = file.ToArray();
            }
            if (!stopped && (DateTime.UtcNow > deadline || TryParse(sofar) is { } capture && enough(capture)))
            {
                stream.Stop();
                stopped = true;
            }
            Thread.Sleep(50);
        }
        reader.GetAwaiter().GetResult();
        Assert.True(stopped, "the capture went on until it was stopped");
        return PcapNgReader.Parse(file.ToArray());
    }

    /// <summary>The blocks that came whole so far, or null while a block is half there.</summary>
    private static PcapNgReader.Capture? TryParse(byte[] sofar)
    {
        var whole = 0;
        while (sofar.Length - whole >= 8 && BitConverter.ToInt32(sofar, whole + 4) is var length && sofar.Length - whole >= length)
        {
            whole += length;
        }
        return whole == 0 ? null : PcapNgReader.Parse(sofar.AsSpan(0, whole));
    }

    [Fact]
    public void ACaptureWritesTransmittedFramesAsOutboundPacketsAndEndsWithItsStatistics()
    {
        using var dummy = RegisterDummy("ndcap0");
        Ns.Ip("addr", "add", "10.213.9.1/24", "dev", "ndcap0");
        Ns.Ip("neigh", "add", "10.213.9.2", "lladdr", "02:00:00:00:00:02", "dev", "ndcap0", "nud", "permanent");
        using var client = ControlClient.Connect(ControlEndpoint.For(RunDir.Path, "ndcap0", Ns.Name));

        using var stream = client.OpenCapture(includeDrops: false);
        var capture = ReadUntil(stream, sofar => sofar.Packets.Count >= 1, () => SendDatagram("10.213.9.2"));

        Assert.Equal([PcapNg.SectionHeaderType, PcapNg.InterfaceDescriptionType], capture.BlockTypes[..2]);
        Assert.Equal(PcapNg.InterfaceStatisticsType, capture.BlockTypes[^1]);
        var packet = capture.Packets.First(p => Encoding.ASCII.GetString(p.Bytes).Contains("captured"));
        Assert.Equal("out", packet.Direction);
        Assert.Null(packet.Comment);
        Assert.Equal(packet.Bytes.Length, packet.Length);
        Assert.Equal(0UL, capture.Statistics[7]);
        Assert.Equal((ulong)capture.Packets.Count, capture.Statistics[8]);
        Assert.False(dummy.Device.IsCaptured);
    }

    [Fact]
    public void ACaptureWithDropsCarriesTheReasonAsAComment()
    {
        using var peerNs = new TestNamespace();
        using var pair = PairDriver.Create(Host(Ns.Name), "ndcpa", Host(peerNs.Name), "ndcpb");
        pair.Register();
        using var control = ControlServer.Start(pair.First.Device, Options);
        pair.First.Device.BringUp();
        // The peer stays down: what the first end sends is dropped as DeviceDown on transmit.
        Ns.Ip("addr", "add", "10.213.10.1/24", "dev", "ndcpa");
        Ns.Ip("neigh", "add", "10.213.10.2", "lladdr", "02:00:00:00:00:02", "dev", "ndcpa", "nud", "permanent");
        using var client = ControlClient.Connect(ControlEndpoint.For(RunDir.Path, "ndcpa", Ns.Name));

        using var stream = client.OpenCapture(includeDrops: true);
        var capture = ReadUntil(stream, sofar => sofar.Packets.Any(p => p.Comment is not null), () => SendDatagram("10.213.10.2"));

        var dropped = capture.Packets.First(p => p.Comment is not null);
        Assert.Equal("dropped: device_down (queue 0)", dropped.Comment);
        Assert.Equal("out", dropped.Direction);
    }

    [Fact]
    public void AClientThatGoesAwayDetachesItsCapture()
    {
        using var dummy = RegisterDummy("ndcap1");
        var client = ControlClient.Connect(ControlEndpoint.For(RunDir.Path, "ndcap1", Ns.Name));
        client.OpenCapture(includeDrops: true);
        Wait.Until(() => dummy.Device.IsCaptured, "the capture is attached");

        client.Dispose();

        Wait.Until(() => !dummy.Device.IsCaptured, "the capture is detached once its client went away");
    }

    [Fact]
    public void MonitorSendsTheLinkStateFirstAndEachChange()
    {
        using var dummy = RegisterDummy("ndmon0");
        using var client = ControlClient.Connect(ControlEndpoint.For(RunDir.Path, "ndmon0", Ns.Name));
        using var stream = client.OpenMonitor();
        using var lines = new StreamReader(stream);

        var first = ControlProtocol.ParseMonitorEvent(Encoding.UTF8.GetBytes(lines.ReadLine()!));
        Ns.Ip("link", "set", "dev", "ndmon0", "mtu", "1400");
        var second = ControlProtocol.ParseMonitorEvent(Encoding.UTF8.GetBytes(lines.ReadLine()!));

        Assert.Equal(("link", "ndmon0", Ns.Name, "up", 1500), (first.Event, first.Name, first.Netns, first.State, first.Mtu));
        Assert.Equal(("link", 1400), (second.Event, second.Mtu));
    }

    [Fact]
    public void MonitorReportsErrorsNoCallerCouldHear()
    {
        using var dummy = RegisterDummy("ndmon1");
        using var client = ControlClient.Connect(ControlEndpoint.For(RunDir.Path, "ndmon1", Ns.Name));
        using var stream = client.OpenMonitor();
        using var lines = new StreamReader(stream);
        lines.ReadLine();

        dummy.Device.ReportError(new InvalidOperationException("the driver's worker failed"));

        var error = ControlProtocol.ParseMonitorEvent(Encoding.UTF8.GetBytes(lines.ReadLine()!));
        Assert.Equal(("error", "the driver's worker failed", 1L), (error.Event, error.Message, error.Errors));
    }
}
