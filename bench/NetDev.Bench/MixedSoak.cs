using System.Diagnostics;
using System.Globalization;
using System.Net;
using NetDev.Drivers.Pair;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Bench;

/// <summary>
/// The mixed soak (not a figure: a search for lost frames and leaks). Side by side, between namespaces A
/// and B: a NetDev pair without offloads, one with all offloads, and a tunnel (two instances, one in each
/// namespace) whose datagrams cross a <see cref="SoakRelay"/> that drops and reorders some. Over each link
/// run iperf3 TCP and UDP and a ping flood, restarted in segments (so new connections see the MTU of the
/// moment); every few seconds comes an event, in turn: a link flap of one device, an MTU change of one
/// link (its MTU ↔ 9000), a burst of relay faults. At the end every device's frames are accounted for,
/// and the process's descriptors and memory compared with the start.
/// </summary>
internal sealed class MixedSoak(BenchContext context)
{
    private const int JumboMtu = 9000;
    private const int TunnelPortA = 4001;
    private const int TunnelPortB = 4002;
    private const int RelayPortA = 4011;
    private const int RelayPortB = 4012;
    private const double SteadyDrop = 0.005;
    private const double SteadyReorder = 0.01;
    private const double BurstDrop = 0.2;
    private const double BurstReorder = 0.1;
    private static readonly TimeSpan FlapDownFor = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan BurstFor = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Segment = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(3);

    private readonly List<SoakLink> _links = [];
    private readonly List<SoakDevice> _devices = [];
    private readonly Dictionary<string, int> _events = [];
    private string _a = "";
    private string _b = "";
    private string _u = "";
    private SoakRelay? _relay;

    public void Run()
    {
        var options = context.Options;
        var sandbox = context.Sandbox;
        context.Log($"== mixed soak: {options.MixedSoak.TotalMinutes:0.##} min, an event every {options.EventInterval.TotalSeconds:0.##} s");
        _a = sandbox.CreateNamespace("sa");
        _b = sandbox.CreateNamespace("sb");
        _u = sandbox.CreateNamespace("su");
        AddPair("sp", 11, DeviceFeatures.None);
        AddPair("so", 12, DeviceFeatures.All);
        AddTunnel("st", 13);
        foreach (var link in _links)
        {
            Tool.Run("ip", "netns", "exec", _a, "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", link.AddressB.ToString());
        }
        var udpAtStart = UdpCounters.Read(_u);
        var streams = new List<TrafficStream>();
        for (var i = 0; i < _links.Count; i++)
        {
            var link = _links[i];
            streams.Add(new TrafficStream(context, _a, _b, $"TCP over {link.Name}", 5301 + i, ["-c", link.AddressB.ToString(), "-b", "500M"]));
            streams.Add(new TrafficStream(context, _a, _b, $"UDP over {link.Name}", 5311 + i, ["-c", link.AddressB.ToString(), "-u", "-b", "50M"]));
            streams.Add(new TrafficStream(context, _a, null, $"ping flood over {link.Name}", 0, ["ping", "-n", "-q", "-f", "-s", "4000", link.AddressB.ToString()]));
        }

        // A few seconds of every kind of traffic before the footprint is taken, so that what the first frames
        // make for good (assemblies loaded, each queue thread's batched writer) is there at the start too.
        foreach (var stream in streams)
        {
            stream.KeepRunning(WarmUp);
        }
        context.Sandbox.Sleep(WarmUp + TimeSpan.FromSeconds(1));
        foreach (var stream in streams)
        {
            stream.Stop();
        }
        Settle();
        var footprintAtStart = ProcessFootprint.Read();
        context.Log($"   {string.Join(", ", _links.Select(link => link.Name))}; at start, after {WarmUp.TotalSeconds:0} s of warm-up traffic: {footprintAtStart}");

        var started = Stopwatch.GetTimestamp();
        var nextEvent = options.EventInterval;
        var nextLog = TimeSpan.FromMinutes(1);
        var eventNumber = 0;
        while (Stopwatch.GetElapsedTime(started) is var elapsed && elapsed < options.MixedSoak)
        {
            var left = options.MixedSoak - elapsed;
            foreach (var stream in streams)
            {
                stream.KeepRunning(left < Segment ? left : Segment);
            }
            if (elapsed >= nextEvent)
            {
                Event(eventNumber++);
                nextEvent += options.EventInterval;
            }
            if (elapsed >= nextLog)
            {
                context.Log($"   {elapsed.TotalMinutes:0} min: {string.Join(", ", _events.Select(e => $"{e.Value} {e.Key}"))}; " +
                    $"{streams.Sum(stream => stream.Runs)} traffic runs ({streams.Sum(stream => stream.Failures)} ended early); {ProcessFootprint.Read()}");
                nextLog += TimeSpan.FromMinutes(1);
            }
            sandbox.Sleep(TimeSpan.FromMilliseconds(250));
        }
        foreach (var stream in streams)
        {
            stream.Stop();
        }
        Report(Settle(), footprintAtStart, ProcessFootprint.Read(), udpAtStart, streams, Stopwatch.GetElapsedTime(started));
    }

    private void AddPair(string prefix, int subnet, DeviceFeatures features)
    {
        var pair = context.Sandbox.Track(PairDriver.Create(BenchContext.Host(_a), $"{prefix}-a", BenchContext.Host(_b), $"{prefix}-b", features: features));
        pair.Register();
        AddLink(features == DeviceFeatures.None ? "pair" : "pair, offloads", subnet, pair.First.Device, pair.Second.Device, isTunnel: false);
        pair.BringUp();
    }

    private void AddTunnel(string prefix, int subnet)
    {
        var endA = new IPEndPoint(IPAddress.Loopback, TunnelPortA);
        var endB = new IPEndPoint(IPAddress.Loopback, TunnelPortB);
        _relay = context.Sandbox.Track(new SoakRelay(_u, RelayPortA, RelayPortB, endA, endB));
        _relay.SetFaults(SteadyDrop, SteadyReorder);
        Registration<TunnelDriver> Tunnel(string ns, string name, IPEndPoint local, IPEndPoint remote)
        {
            // The underlay socket lives in namespace U with the relay; the device in its own namespace.
            var socket = NetworkNamespace.Run(_u, () => TunnelDriver.CreateSocket(local));
            var registration = context.Sandbox.Track(TunnelDriver.CreateRegistration(BenchContext.Host(ns), socket, remote, name: name, offloads: TunnelOffloads.None));
            registration.Register();
            return registration;
        }
        var a = Tunnel(_a, $"{prefix}-a", endA, _relay.FacingA);
        var b = Tunnel(_b, $"{prefix}-b", endB, _relay.FacingB);
        AddLink("tunnel through a faulty relay", subnet, a.Device, b.Device, isTunnel: true);
        a.Device.BringUp();
        b.Device.BringUp();
    }

    private void AddLink(string name, int subnet, NetDevice a, NetDevice b, bool isTunnel)
    {
        var link = new SoakLink(name, new SoakDevice(_a, a), new SoakDevice(_b, b), isTunnel, subnet, a.Mtu);
        context.Watch(a);
        context.Watch(b);
        NetworkConfiguration.AddAddress(_a, a.Name, link.AddressA, 24);
        NetworkConfiguration.AddAddress(_b, b.Name, link.AddressB, 24);
        _links.Add(link);
        _devices.Add(link.A);
        _devices.Add(link.B);
    }

    /// <summary>Event <paramref name="number"/>: a link flap, an MTU change or a burst of relay faults, in turn.</summary>
    private void Event(int number)
    {
        var round = number / 3;
        switch (number % 3)
        {
            case 0:
                var device = _devices[round % _devices.Count];
                Tool.Ip(device.Namespace, "link", "set", "dev", device.Name, "down");
                context.Sandbox.Sleep(FlapDownFor);
                Tool.Ip(device.Namespace, "link", "set", "dev", device.Name, "up");
                Count("link flaps");
                break;
            case 1:
                var link = _links[round % _links.Count];
                var mtu = link.A.Device.Mtu == JumboMtu ? link.Mtu : JumboMtu;
                foreach (var end in new[] { link.A, link.B })
                {
                    Tool.Ip(end.Namespace, "link", "set", "dev", end.Name, "mtu", mtu.ToString(CultureInfo.InvariantCulture));
                }
                Count("MTU changes");
                break;
            default:
                _relay!.SetFaults(BurstDrop, BurstReorder);
                context.Sandbox.Sleep(BurstFor);
                _relay.SetFaults(SteadyDrop, SteadyReorder);
                Count("fault bursts");
                break;
        }
    }

    private void Count(string what) => _events[what] = _events.GetValueOrDefault(what) + 1;

    /// <summary>
    /// Waits until no counter moves any more (traffic has stopped, held frames and datagrams have gone),
    /// so that the ledgers compare counts of one quiet moment; gives up after 30 s and takes the last.
    /// </summary>
    private Snapshot Settle()
    {
        var previous = Snapshot.Read(_devices, _relay!, _u);
        for (var attempt = 0; attempt < 30; attempt++)
        {
            context.Sandbox.Sleep(TimeSpan.FromSeconds(1));
            var current = Snapshot.Read(_devices, _relay!, _u);
            if (current.Key == previous.Key)
            {
                return current;
            }
            previous = current;
        }
        context.Results.AddNote("The soak's counters still moved 30 s after traffic stopped; the ledgers are of the last reading.");
        return previous;
    }

    private void Report(Snapshot end, ProcessFootprint atStart, ProcessFootprint atEnd, UdpCounters udpAtStart,
        IReadOnlyList<TrafficStream> streams, TimeSpan duration)
    {
        var lines = new List<string>
        {
            $"{duration.TotalMinutes:0.0} min; events: {string.Join(", ", _events.Select(e => $"{e.Value} {e.Key}"))}; " +
            $"traffic runs (the warm-up's included): {string.Join(", ", streams.Select(stream => $"{stream.What} {stream.Runs} ({stream.Failures} ended early)"))}.",
            "",
            "| device | kernel handed over (tx_packets) | NetDev transmitted | NetDev tx drops by reason | unaccounted tx | NetDev received | kernel took (rx_packets) | NetDev rx drops by reason | unaccounted rx | kernel's own drops (tx / rx) | health, errors |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        };
        var results = context.Results;
        foreach (var device in end.Devices)
        {
            lines.Add($"| {device.Name} | {Units.Count(device.Kernel.TxPackets)} | {Units.Count(device.TxPackets)} | {device.DropsText(TrafficDirection.Transmit)} | " +
                $"{device.UnaccountedTx} | {Units.Count(device.RxPackets)} | {Units.Count(device.Kernel.RxPackets)} | {device.DropsText(TrafficDirection.Receive)} | " +
                $"{device.UnaccountedRx} | {device.Kernel.TxDropped} / {device.Kernel.RxDropped} | {device.Health}, {device.Errors} |");
            results.Add(new ReportRow($"soak: frames unaccounted on {device.Name} (tx / rx)", $"{device.UnaccountedTx} / {device.UnaccountedRx}",
                "—", "—", "0", device.UnaccountedTx == 0 && device.UnaccountedRx == 0));
        }
        lines.Add("");
        lines.Add("| link | sent | dropped on the way, on purpose or by the kernel | arrived (delivered or dropped with a reason) | unaccounted |");
        lines.Add("| --- | --- | --- | --- | --- |");
        var udp = end.Udp;
        var relay = end.Relay;
        foreach (var link in _links)
        {
            var a = end.Devices.Single(device => device.Name == link.A.Name);
            var b = end.Devices.Single(device => device.Name == link.B.Name);
            long sent = a.TxPackets + b.TxPackets, arrived, lost;
            string how;
            if (link.IsTunnel)
            {
                // Datagrams die on purpose in the relay, or for lack of room or socket in namespace U; each
                // datagram that reaches a tunnel is delivered or dropped there with a reason.
                arrived = a.RxHandled + b.RxHandled;
                var udpLost = udp.Lost - udpAtStart.Lost;
                lost = relay.Dropped + relay.SendFailed + udpLost;
                how = $"relay dropped {Units.Count(relay.Dropped)} (reordered {Units.Count(relay.Reordered)}), relay send failures {relay.SendFailed}, UDP no port / no room {udpLost}";
            }
            else
            {
                // A pair end counts a frame as transmitted once its peer's system took it: nothing is lost between.
                arrived = a.RxPackets + b.RxPackets;
                lost = 0;
                how = "none (a frame the peer does not take is a tx drop of the sender)";
            }
            var unaccounted = sent - lost - arrived;
            lines.Add($"| {link.Name} ({link.A.Name} ↔ {link.B.Name}) | {Units.Count(sent)} | {how} | {Units.Count(arrived)} | {unaccounted} |");
            results.Add(new ReportRow($"soak: frames unaccounted across the {link.Name}", unaccounted.ToString(CultureInfo.InvariantCulture), "—", "—", "0", unaccounted == 0));
        }
        lines.Add("");
        var changes = atEnd.ChangesSince(atStart);
        lines.Add($"Bench process (all devices run in it), after setup and before traffic: {atStart}; at the end, traffic stopped: {atEnd}" +
            (changes.Length > 0 ? $"; descriptors that changed: {changes}." : "."));
        results.Add(new ReportRow("soak: open descriptors of the process besides assemblies, start → end",
            $"{atStart.DescriptorsBesidesAssemblies} → {atEnd.DescriptorsBesidesAssemblies}", "—", "—", "no growth",
            atEnd.DescriptorsBesidesAssemblies <= atStart.DescriptorsBesidesAssemblies));
        results.Add(new ReportRow("soak: resident memory of the process, start → end", $"{Units.MiB(atStart.ResidentKiB)} → {Units.MiB(atEnd.ResidentKiB)}",
            "—", "—", "—", null, "the .NET runtime and the bench itself included"));
        results.AddSection("Mixed soak", lines);
        foreach (var line in lines.Where(line => line.Length > 0))
        {
            context.Log("   " + line);
        }
    }

    /// <summary>A link of the soak: two devices in namespaces A and B, addressed 10.78.SUBNET.1 and .2.</summary>
    private sealed record SoakLink(string Name, SoakDevice A, SoakDevice B, bool IsTunnel, int Subnet, int Mtu)
    {
        public IPAddress AddressA { get; } = new([10, 78, (byte)Subnet, 1]);

        public IPAddress AddressB { get; } = new([10, 78, (byte)Subnet, 2]);
    }

    /// <summary>Every counter the ledgers need, read one after another.</summary>
    private sealed record Snapshot(IReadOnlyList<DeviceLedger> Devices, RelayCounters Relay, UdpCounters Udp)
    {
        public static Snapshot Read(IEnumerable<SoakDevice> devices, SoakRelay relay, string underlay) =>
            new([.. devices.Select(DeviceLedger.Read)], relay.Counters, UdpCounters.Read(underlay));

        public string Key => string.Join(' ', Devices.Select(device => device.Key)) + $" {Relay.Received} {Relay.Forwarded} {Relay.Dropped} {Relay.SendFailed} {Udp}";
    }
}
