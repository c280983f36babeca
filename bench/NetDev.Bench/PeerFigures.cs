using System.Globalization;
using System.Net;
using System.Text.Json;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Bench;

/// <summary>
/// The peers figures (issue 14): how the tunnel scales with its peers. One hub end with N peers (N = 1, 3,
/// 16) and N spoke ends, each with the hub as its one peer, side by side with kernel VXLAN set up the same
/// way (the hub's VXLAN device with N all-zero FDB entries, head-end replication; each spoke's with the
/// hub as its remote). Measured for each N: known unicast to one learned spoke, and broadcast replicated
/// to every peer; frames/s, datagrams/s and the CPU time per frame and per datagram beside each figure.
/// </summary>
/// <remarks>
/// <para>The underlay is a bridge in a namespace of its own; the hub and every spoke have a namespace
/// each, joined to the bridge by a veth (10.79.0.1 for the hub, 10.79.0.(10 + i) for spoke i). The NetDev
/// overlay is 10.79.1.0/24 on UDP port 4801, the VXLAN one 10.79.2.0/24 on 4802. All NetDev ends run in
/// the bench process. The 16 spokes are made once; the hub's two devices are made again for each N, with
/// spokes 0 … N−1 as peers, which then ping the hub so that it learns where each one is (the FDB of
/// both holds N entries; ageing is set to an hour so nothing ages out during the figures).</para>
/// <para>Traffic is <c>tapgen</c> (60-byte IPv4/UDP frames through AF_PACKET) on the hub's overlay
/// device, addressed to the last spoke's MAC (known unicast) or to ff:ff:ff:ff:ff:ff (broadcast). Known
/// unicast is counted where it arrives, at that spoke's overlay device (<c>rx_packets</c>); broadcast by
/// the datagrams leaving the hub's underlay veth (<c>tx_packets</c>), divided by N for frames. CPU time
/// is the hub's tunnel threads' for NetDev (queue loop and receive thread, which also carry the kernel's
/// UDP send and whatever softirq work runs in their context) and the sender's (tapgen, in whose context
/// VXLAN encapsulates and sends) for VXLAN.</para>
/// </remarks>
internal sealed class PeerFigures(BenchContext context)
{
    private const int MostSpokes = 16;
    private const int NetDevPort = 4801;
    private const int VxlanPort = 4802;
    private const string HubName = "phub";
    private const string VxlanName = "pvx";
    private const string Underlay = "ul";
    private const string Broadcast = "ff:ff:ff:ff:ff:ff";
    private static readonly int[] PeerCounts = [1, 3, 16];
    private static readonly TimeSpan Ageing = TimeSpan.FromHours(1);

    private string _hub = "";
    private readonly List<string> _spokes = [];
    private readonly List<Registration<TunnelDriver>> _spokeTunnels = [];

    public void Run()
    {
        context.Log("== peers");
        BuildUnderlay();
        for (var i = 0; i < MostSpokes; i++)
        {
            var ns = _spokes[i];
            var local = new IPEndPoint(UnderlayAddress(i), NetDevPort);
            var tunnel = StartTunnel(ns, $"ps{i}", local, [new IPEndPoint(HubUnderlay, NetDevPort)]);
            _spokeTunnels.Add(tunnel);
            NetworkConfiguration.AddAddress(ns, tunnel.Device.Name, Overlay(1, 10 + i), 24);
            Tool.Ip(ns, "link", "add", VxlanName, "type", "vxlan", "id", "42", "local", UnderlayAddress(i).ToString(),
                "remote", HubUnderlay.ToString(), "dstport", VxlanPort.ToString(CultureInfo.InvariantCulture), "dev", Underlay);
            Tool.Ip(ns, "link", "set", "dev", VxlanName, "up");
            NetworkConfiguration.AddAddress(ns, VxlanName, Overlay(2, 10 + i), 24);
        }

        var figures = new Dictionary<int, Measured>();
        foreach (var peers in PeerCounts)
        {
            figures[peers] = Measure(peers);
        }
        Report(figures);
    }

    private void BuildUnderlay()
    {
        var sandbox = context.Sandbox;
        var bridge = sandbox.CreateNamespace("pbr");
        Tool.Ip(bridge, "link", "add", "br0", "type", "bridge");
        Tool.Ip(bridge, "link", "set", "dev", "br0", "up");
        _hub = sandbox.CreateNamespace("phub");
        Join(bridge, "uh", _hub, HubUnderlay);
        for (var i = 0; i < MostSpokes; i++)
        {
            var ns = sandbox.CreateNamespace($"ps{i}");
            _spokes.Add(ns);
            Join(bridge, $"u{i}", ns, UnderlayAddress(i));
        }
    }

    /// <summary>A veth from the bridge (port <paramref name="port"/>) into <paramref name="ns"/> (<see cref="Underlay"/>, with <paramref name="address"/>).</summary>
    private static void Join(string bridge, string port, string ns, IPAddress address)
    {
        Tool.Ip(bridge, "link", "add", port, "type", "veth", "peer", "name", Underlay, "netns", ns);
        Tool.Ip(bridge, "link", "set", "dev", port, "master", "br0", "up");
        Tool.Ip(ns, "link", "set", "dev", Underlay, "mtu", "1500", "up");
        NetworkConfiguration.AddAddress(ns, Underlay, address, 24);
    }

    /// <summary>Makes the hub's two devices with <paramref name="peers"/> peers, has them learn every spoke, measures, and removes them.</summary>
    private Measured Measure(int peers)
    {
        var sandbox = context.Sandbox;
        var options = context.Options;
        var hub = StartTunnel(_hub, HubName, new IPEndPoint(HubUnderlay, NetDevPort),
            [.. Enumerable.Range(0, peers).Select(i => new IPEndPoint(UnderlayAddress(i), NetDevPort))]);
        NetworkConfiguration.AddAddress(_hub, HubName, Overlay(1, 1), 24);
        Tool.Ip(_hub, "link", "add", VxlanName, "type", "vxlan", "id", "42", "local", HubUnderlay.ToString(),
            "dstport", VxlanPort.ToString(CultureInfo.InvariantCulture), "dev", Underlay, "ageing", ((int)Ageing.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        for (var i = 0; i < peers; i++)
        {
            Tool.Run("ip", "netns", "exec", _hub, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", VxlanName, "dst", UnderlayAddress(i).ToString());
        }
        Tool.Ip(_hub, "link", "set", "dev", VxlanName, "up");
        NetworkConfiguration.AddAddress(_hub, VxlanName, Overlay(2, 1), 24);
        for (var i = 0; i < peers; i++)
        {
            // The spoke's ARP request and echo reach the hub, which learns the spoke's MAC behind it. The spoke
            // forgets the MAC of the hub made for the previous N first, or it would not ask.
            Tool.Ip(_spokes[i], "neigh", "flush", "dev", _spokeTunnels[i].Device.Name);
            Tool.Ip(_spokes[i], "neigh", "flush", "dev", VxlanName);
            foreach (var subnet in new[] { 1, 2 })
            {
                Tool.Run("ip", "netns", "exec", _spokes[i], "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", Overlay(subnet, 1).ToString());
            }
        }

        var target = peers - 1;
        var netdevTarget = _spokeTunnels[target].Device.Name;
        var netdevMac = MacOf(_spokes[target], netdevTarget);
        var vxlanMac = MacOf(_spokes[target], VxlanName);
        var fdb = hub.Device.DriverData.Fdb;
        var learned = fdb?.Entries().Count ?? 1;
        var vxlanFdb = Tool.Run("ip", "netns", "exec", _hub, "bridge", "fdb", "show", "dev", VxlanName);
        if (peers > 1 && (learned < peers || fdb!.Lookup(MacAddress.Parse(netdevMac).ToArray()) != target))
        {
            throw new BenchException($"the NetDev hub with {peers} peers learned {learned} addresses, not the {peers} spokes'");
        }
        if (!vxlanFdb.Contains(vxlanMac, StringComparison.OrdinalIgnoreCase))
        {
            throw new BenchException($"the VXLAN hub with {peers} peers did not learn spoke {target}'s address {vxlanMac}: {vxlanFdb.Trim()}");
        }
        context.Log($"   {peers} peer{(peers > 1 ? "s" : "")}: NetDev hub knows {learned} addresses, send path {hub.Device.DriverData.SendPath}");

        var netdev = new Side("NetDev", HubName, _spokes[target], netdevTarget, netdevMac,
            _ => CpuTime.OfOwnThreads($"netdev {HubName} ") + CpuTime.OfOwnThreads($"{HubName} "), () => TxPackets(hub.Device));
        var vxlan = new Side("kernel VXLAN", VxlanName, _spokes[target], VxlanName, vxlanMac, CpuTime.OfProcess, null);
        Side[] sides = [netdev, vxlan];
        var measured = new Measured(peers);
        for (var run = 0; run < options.Runs; run++)
        {
            foreach (var side in run % 2 == 0 ? sides : [vxlan, netdev])
            {
                measured.Unicast[side.Name].Add(Sample(side, peers, broadcast: false));
                measured.Broadcast[side.Name].Add(Sample(side, peers, broadcast: true));
            }
            measured.Loads.Add(Machine.LoadAverage());
            context.Log($"   {peers} peers run {run + 1}: unicast " +
                string.Join(", ", sides.Select(side => Describe(side.Name, measured.Unicast[side.Name][^1]))) + "; broadcast " +
                string.Join(", ", sides.Select(side => Describe(side.Name, measured.Broadcast[side.Name][^1]))) +
                $"; load {measured.Loads[^1]}");
        }
        var statistics = hub.Device.DriverData.GetStatistics(hub.Device).ToList();
        var perPeer = statistics.Where(item => item.Key.StartsWith("peer", StringComparison.Ordinal) && item.Key.EndsWith("_tx_datagrams", StringComparison.Ordinal)).Select(item => item.Value).ToList();
        context.Results.AddDetail($"peers {peers}: NetDev hub datagrams sent per peer over the figures: min {Units.Count(perPeer.Min())}, max {Units.Count(perPeer.Max())}; " +
            $"tx errors {Units.Count(statistics.Where(item => item.Key.EndsWith("_tx_errors", StringComparison.Ordinal)).Sum(item => item.Value))}");

        sandbox.Remove(hub);
        Tool.Ip(_hub, "link", "del", "dev", VxlanName);
        return measured;
    }

    /// <summary>
    /// One window of tapgen on <paramref name="side"/>'s hub device: warm-up, then the counters (the target
    /// spoke's overlay <c>rx_packets</c>, the hub's underlay <c>tx_packets</c>), CPU time and, for NetDev,
    /// the process's allocated bytes, before and after.
    /// </summary>
    private PeerWindow Sample(Side side, int peers, bool broadcast)
    {
        var sandbox = context.Sandbox;
        var generator = sandbox.StartBaseline(context.Baselines.TapGen,
            ["--netns", _hub, "--dev", side.HubDevice, "--flows", "64", "--dst", broadcast ? Broadcast : side.TargetMac], "tapgen");
        try
        {
            generator.WaitForLine("ready", TimeSpan.FromSeconds(10), context.Cancellation);
            sandbox.Sleep(context.Options.Warmup);
            var arrivedBefore = LinkCounters.Read(side.TargetNamespace, side.TargetDevice).RxPackets;
            var sentBefore = LinkCounters.Read(_hub, Underlay).TxPackets;
            var cpuBefore = side.Cpu(generator.Id);
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            long framesBefore = 0, allocatedBefore = 0;
            if (side.NetDevFrames is { } frames)
            {
                framesBefore = frames();
                allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            }
            sandbox.Sleep(context.Options.Window);
            double? bytesPerFrame = null;
            if (side.NetDevFrames is { } framesAfter)
            {
                var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                var handled = framesAfter() - framesBefore;
                bytesPerFrame = handled > 0 ? (double)allocated / handled : double.NaN;
            }
            var cpu = side.Cpu(generator.Id) - cpuBefore;
            var sent = LinkCounters.Read(_hub, Underlay).TxPackets - sentBefore;
            var arrived = LinkCounters.Read(side.TargetNamespace, side.TargetDevice).RxPackets - arrivedBefore;
            var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (generator.HasExited)
            {
                throw new BenchException($"tapgen ended during a window: {generator.Errors}");
            }
            // Known unicast is counted where it arrives; broadcast by what leaves, every frame once per peer.
            var framesSent = broadcast ? (double)sent / peers : sent;
            return new PeerWindow(
                FramesPerSecond: broadcast ? framesSent / seconds : arrived / seconds,
                DatagramsPerSecond: sent / seconds,
                ArrivedPerSecond: arrived / seconds,
                CpuPerFrame: framesSent > 0 ? cpu / framesSent : double.NaN,
                CpuPerDatagram: sent > 0 ? (double)cpu / sent : double.NaN,
                AllocatedBytesPerFrame: bytesPerFrame);
        }
        finally
        {
            sandbox.Stop(generator);
        }
    }

    private static string Describe(string side, PeerWindow window) =>
        $"{side} {Units.FramesPerSecond(window.FramesPerSecond)} ({Units.Nanoseconds(window.CpuPerDatagram)}/datagram)";

    private void Report(Dictionary<int, Measured> figures)
    {
        var results = context.Results;
        const string baseline = "kernel VXLAN";
        const string unicastNote = "tapgen floods the hub's overlay device with 60-byte frames to the last spoke's learned MAC; frames/s counted at that spoke's overlay device (rx_packets)";
        const string broadcastNote = "tapgen floods the hub's overlay device with 60-byte broadcast frames; frames/s is the datagrams leaving the hub's underlay veth (tx_packets) ÷ N, each frame once per peer";
        const string cpuNote = "CPU time of the hub's tunnel threads (NetDev: queue loop and receive thread, kernel time and softirqs in their context included) or of the sender in whose context VXLAN runs (tapgen), over the datagrams leaving the hub's underlay";
        foreach (var (peers, measured) in figures)
        {
            var loads = $"load average after each run: {string.Join("; ", measured.Loads)}";
            var n = $"{peers} peer{(peers > 1 ? "s" : "")}";
            results.Add(new Comparison($"peers: known unicast frames/s to one spoke, {n}", baseline, Units.FramesPerSecond,
                measured.Values("NetDev", true, w => w.FramesPerSecond), measured.Values(baseline, true, w => w.FramesPerSecond), null, unicastNote));
            results.Add(new Comparison($"CPU time per frame, peers known unicast, {n}", baseline, Units.Nanoseconds,
                measured.Values("NetDev", true, w => w.CpuPerFrame), measured.Values(baseline, true, w => w.CpuPerFrame), null, cpuNote));
            results.Add(new Comparison($"peers: broadcast frames/s replicated to every peer, {n}", baseline, Units.FramesPerSecond,
                measured.Values("NetDev", false, w => w.FramesPerSecond), measured.Values(baseline, false, w => w.FramesPerSecond), null, broadcastNote));
            results.Add(new Comparison($"peers: broadcast datagrams/s leaving the hub, {n}", baseline, Units.FramesPerSecond,
                measured.Values("NetDev", false, w => w.DatagramsPerSecond), measured.Values(baseline, false, w => w.DatagramsPerSecond), null, loads));
            results.Add(new Comparison($"CPU time per broadcast frame, {n}", baseline, Units.Nanoseconds,
                measured.Values("NetDev", false, w => w.CpuPerFrame), measured.Values(baseline, false, w => w.CpuPerFrame), null, cpuNote));
            results.Add(new Comparison($"CPU time per broadcast datagram sent, {n}", baseline, Units.Nanoseconds,
                measured.Values("NetDev", false, w => w.CpuPerDatagram), measured.Values(baseline, false, w => w.CpuPerDatagram), null, cpuNote));
            foreach (var side in new[] { "NetDev", baseline })
            {
                results.AddDetail($"peers {peers}, {side}: unicast datagrams/s sent [{string.Join(", ", measured.Values(side, true, w => w.DatagramsPerSecond).Select(Units.FramesPerSecond))}]; " +
                    $"broadcast frames/s arriving at the last spoke [{string.Join(", ", measured.Values(side, false, w => w.ArrivedPerSecond).Select(Units.FramesPerSecond))}]");
            }
        }

        // How each figure changes from 1 to 16 peers, for both sides.
        var few = figures[PeerCounts[0]];
        var many = figures[PeerCounts[^1]];
        (string Figure, bool Unicast, Func<PeerWindow, double> Value)[] scaled =
        [
            ("known unicast frames/s", true, w => w.FramesPerSecond),
            ("CPU time per known unicast frame", true, w => w.CpuPerFrame),
            ("broadcast frames/s", false, w => w.FramesPerSecond),
            ("broadcast datagrams/s", false, w => w.DatagramsPerSecond),
            ("CPU time per broadcast frame", false, w => w.CpuPerFrame),
            ("CPU time per broadcast datagram", false, w => w.CpuPerDatagram),
        ];
        foreach (var (figure, unicast, value) in scaled)
        {
            string Scale(string side) => (Statistics.Median(many.Values(side, unicast, value)) / Statistics.Median(few.Values(side, unicast, value)))
                .ToString("0.00", CultureInfo.InvariantCulture) + "×";
            results.Add(new ReportRow($"peers: {figure}, {PeerCounts[^1]} peers ÷ {PeerCounts[0]} peer", Scale("NetDev"), $"{Scale(baseline)} ({baseline})", "—", "—", null,
                "the medians with 16 peers over those with 1, each side on its own: 1.00× is constant cost, 16× (or 1/16×) linear in the peers"));
        }
        Allocation.Report(context, "peers hub, known unicast (1, 3, 16 peers)",
            [.. figures.Values.SelectMany(m => m.Values("NetDev", true, w => w.AllocatedBytesPerFrame ?? double.NaN))]);
        Allocation.Report(context, "peers hub, broadcast (1, 3, 16 peers; per frame, not per copy)",
            [.. figures.Values.SelectMany(m => m.Values("NetDev", false, w => w.AllocatedBytesPerFrame ?? double.NaN))]);
    }

    private Registration<TunnelDriver> StartTunnel(string ns, string name, IPEndPoint local, IReadOnlyList<IPEndPoint> peers)
    {
        var socket = NetworkNamespace.Run(ns, () => TunnelDriver.CreateSocket(local));
        var registration = context.Sandbox.Track(TunnelDriver.CreateRegistration(BenchContext.Host(ns), socket, peers, name,
            options: new TunnelOptions { FdbAgeing = Ageing }));
        registration.Register();
        context.Watch(registration.Device);
        registration.Device.BringUp();
        return registration;
    }

    private static string MacOf(string ns, string device)
    {
        using var document = JsonDocument.Parse(Tool.Ip(ns, "-j", "link", "show", "dev", device));
        return document.RootElement[0].GetProperty("address").GetString()
            ?? throw new BenchException($"{device} in {ns} has no MAC address");
    }

    private static IPAddress HubUnderlay => new([10, 79, 0, 1]);

    private static IPAddress UnderlayAddress(int spoke) => new([10, 79, 0, (byte)(10 + spoke)]);

    private static IPAddress Overlay(int subnet, int host) => new([10, 79, (byte)subnet, (byte)host]);

    private static long TxPackets(NetDevice device)
    {
        long total = 0;
        var queues = device.Queues;
        for (var i = 0; i < queues.Count; i++)
        {
            total += queues[i].TxPackets;
        }
        return total;
    }

    /// <summary>One side of the figures: the hub's device, the spoke unicast goes to, and what its CPU time is.</summary>
    /// <param name="Name">"NetDev" or "kernel VXLAN".</param>
    /// <param name="HubDevice">The hub's overlay device, in the hub's namespace, where the generator sends.</param>
    /// <param name="TargetNamespace">The namespace of the spoke known unicast goes to.</param>
    /// <param name="TargetDevice">That spoke's overlay device, where known unicast is counted.</param>
    /// <param name="TargetMac">That device's MAC address, which the hub learned.</param>
    /// <param name="Cpu">Nanoseconds the side has spent, given the generator's process ID.</param>
    /// <param name="NetDevFrames">For NetDev: the frames the hub handled, read without allocating.</param>
    private sealed record Side(string Name, string HubDevice, string TargetNamespace, string TargetDevice, string TargetMac,
        Func<int, long> Cpu, Func<long>? NetDevFrames);

    private readonly record struct PeerWindow(double FramesPerSecond, double DatagramsPerSecond, double ArrivedPerSecond,
        double CpuPerFrame, double CpuPerDatagram, double? AllocatedBytesPerFrame);

    /// <summary>Every window of one N, by side.</summary>
    private sealed class Measured(int peers)
    {
        public int Peers { get; } = peers;

        public Dictionary<string, List<PeerWindow>> Unicast { get; } = new() { ["NetDev"] = [], ["kernel VXLAN"] = [] };

        public Dictionary<string, List<PeerWindow>> Broadcast { get; } = new() { ["NetDev"] = [], ["kernel VXLAN"] = [] };

        public List<string> Loads { get; } = [];

        public List<double> Values(string side, bool unicast, Func<PeerWindow, double> value) =>
            [.. (unicast ? Unicast : Broadcast)[side].Select(value)];
    }
}
