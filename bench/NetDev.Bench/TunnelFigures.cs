using System.Globalization;
using System.Net;
using System.Text.Json;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Bench;

/// <summary>
/// The tunnel figures: TCP throughput (iperf3, one stream) through two NetDev tunnels — the default
/// offloads (segmentation and receive coalescing) and segmentation alone — side by side with two kernel VXLAN devices, all three over
/// the same underlay (one veth between two namespaces), and the least-work C tunnel of
/// <c>bench/baseline/tapudp.c</c> (a TAP + UDP design with the least user-space work), with the CPU time per byte beside each figure and
/// the bytes the bench process allocated per datagram.
/// </summary>
/// <remarks>
/// <para>Every overlay has its own subnet (10.78.N.1 in A, .2 in B) and UDP port; the underlay is
/// 10.78.0.1 – 10.78.0.2. Runs alternate the links (rotated each run), so a change in the machine's
/// load falls on all of them.</para>
/// <para>CPU time is what the work costs wherever it runs: the iperf3 client's and server's CPU time (the
/// kernel's TCP, and for VXLAN its encapsulation, run in their context or in softirqs charged to them),
/// plus for NetDev the tunnels' own threads (queue loops and receive threads, in the bench process), over
/// the bytes the receiving overlay device took in (its kernel <c>rx_bytes</c>) in the same window.</para>
/// </remarks>
internal sealed class TunnelFigures(BenchContext context)
{
    private const int IperfPort = 5202;
    private const int FirstPort = 4790;

    private string _a = "";
    private string _b = "";

    public void Run()
    {
        var sandbox = context.Sandbox;
        var options = context.Options;
        context.Log("== tunnel");
        _a = sandbox.CreateNamespace("ta");
        _b = sandbox.CreateNamespace("tb");
        Tool.Ip(_a, "link", "add", "ul-a", "type", "veth", "peer", "name", "ul-b", "netns", _b);
        foreach (var (ns, name, address) in new[] { (_a, "ul-a", Underlay(1)), (_b, "ul-b", Underlay(2)) })
        {
            Tool.Ip(ns, "link", "set", "dev", name, "mtu", "1500", "up");
            NetworkConfiguration.AddAddress(ns, name, address, 24);
        }

        var vxlan = Vxlan("vx", 1);
        var segmentation = NetDevTunnel("ts", 2, TunnelOffloads.Segmentation);
        var coalescing = NetDevTunnel("tc", 3, TunnelOffloads.SegmentationAndCoalescing);
        var leastWork = LeastWorkTunnel("tu", 4, coalescing.Mtu);
        Link[] links = [vxlan, segmentation, coalescing, leastWork];
        context.Log($"   tunnels send with {segmentation.Driver!.SendPath}, receive with {segmentation.Driver.ReceivePath}");
        context.Results.AddNote($"Tunnel datagram paths in force: send {segmentation.Driver.SendPath}, receive {segmentation.Driver.ReceivePath}; " +
            $"MTU {segmentation.Mtu} (NetDev tunnel) and {vxlan.Mtu} (kernel VXLAN) over a 1500-byte veth underlay.");
        foreach (var link in links)
        {
            // Resolves neighbours before anything is timed, and proves every link carries traffic.
            Tool.Run("ip", "netns", "exec", _a, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", link.B.ToString());
        }

        var throughput = links.ToDictionary(link => link, _ => new List<double>());
        var cpu = links.ToDictionary(link => link, _ => new List<double>());
        var allocation = new Dictionary<Link, List<double>> { [segmentation] = [], [coalescing] = [] };
        var loads = new List<string>();
        for (var run = 0; run < options.Runs; run++)
        {
            foreach (var link in links.Skip(run % links.Length).Concat(links.Take(run % links.Length)))
            {
                var result = Iperf(link, options.IperfSeconds);
                throughput[link].Add(result.BitsPerSecond);
                cpu[link].Add(result.CpuNanosecondsPerByte);
                if (result.AllocatedBytesPerDatagram is { } bytes)
                {
                    allocation[link].Add(bytes);
                }
            }
            loads.Add(Machine.LoadAverage());
            context.Log($"   tcp run {run + 1}: " + string.Join(", ", links.Select(link => $"{link.Name} {Units.BitsPerSecond(throughput[link][^1])}")) + $"; load {loads[^1]}");
        }

        var results = context.Results;
        var loadNote = $"load average after each run: {string.Join("; ", loads)}";
        results.Add(new Comparison("tunnel TCP, 1 stream, default offloads (segmentation and receive coalescing)", vxlan.Name, Units.BitsPerSecond, throughput[coalescing], throughput[vxlan], Target.AtLeast(0.5), loadNote));
        results.Add(new Comparison("tunnel TCP, 1 stream, segmentation without receive coalescing", vxlan.Name, Units.BitsPerSecond, throughput[segmentation], throughput[vxlan], null, loadNote));
        results.Add(new Comparison("tunnel TCP, 1 stream, least-work C TAP + UDP tunnel", vxlan.Name, Units.BitsPerSecond, throughput[leastWork], throughput[vxlan], null, loadNote, leastWork.Name));
        results.Add(new Comparison("tunnel TCP, 1 stream, default offloads, against the least-work C TAP + UDP tunnel", leastWork.Name, Units.BitsPerSecond, throughput[coalescing], throughput[leastWork], null, loadNote));
        const string cpuNote = "CPU time of iperf3 client and server, plus NetDev's tunnel threads, over the bytes the receiving overlay device took in";
        results.Add(new Comparison("CPU time per KiB carried, tunnel, default offloads", vxlan.Name, NanosecondsPerKiB, cpu[coalescing], cpu[vxlan], null, cpuNote));
        results.Add(new Comparison("CPU time per KiB carried, tunnel, without receive coalescing", vxlan.Name, NanosecondsPerKiB, cpu[segmentation], cpu[vxlan], null, cpuNote));
        results.Add(new Comparison("CPU time per KiB carried, least-work C TAP + UDP tunnel", vxlan.Name, NanosecondsPerKiB, cpu[leastWork], cpu[vxlan], null, cpuNote, leastWork.Name));
        Allocation.Report(context, "tunnel under iperf3, default offloads (per datagram)", allocation[coalescing]);
        Allocation.Report(context, "tunnel under iperf3, without receive coalescing (per datagram)", allocation[segmentation]);
    }

    private static string NanosecondsPerKiB(double nanosecondsPerByte) => (nanosecondsPerByte * 1024).ToString("#,0", CultureInfo.InvariantCulture) + " ns/KiB";

    private static IPAddress Underlay(int host) => new([10, 78, 0, (byte)host]);

    /// <summary>
    /// One iperf3 test over <paramref name="link"/>; inside it, leaving out its first and last second, the
    /// window in which CPU time, bytes received and (for NetDev) allocated bytes are counted.
    /// </summary>
    private IperfResult Iperf(Link link, int seconds)
    {
        var server = context.Sandbox.StartIn(_b, "iperf3 server", "iperf3", "-s", "-1", "-p", IperfPort.ToString(CultureInfo.InvariantCulture));
        IperfServer.WaitForListener(context.Sandbox, _b, IperfPort, server);
        var client = context.Sandbox.StartIn(_a, "iperf3 client", "iperf3", "-c", link.B.ToString(), "-p", IperfPort.ToString(CultureInfo.InvariantCulture),
            "-t", seconds.ToString(CultureInfo.InvariantCulture), "-J");
        double? bytesPerDatagram = null;
        var cpuPerByte = double.NaN;
        try
        {
            if (seconds >= 3)
            {
                context.Sandbox.Sleep(TimeSpan.FromSeconds(1));
                var receivedBefore = LinkCounters.Read(_b, link.NameB).RxBytes;
                var cpuBefore = CpuTime.OfProcess(client.Id) + CpuTime.OfProcess(server.Id) + link.OwnCpuNanoseconds();
                var datagramsBefore = link.Datagrams();
                var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                context.Sandbox.Sleep(TimeSpan.FromSeconds(seconds - 2));
                var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                var datagrams = link.Datagrams() - datagramsBefore;
                var cpu = CpuTime.OfProcess(client.Id) + CpuTime.OfProcess(server.Id) + link.OwnCpuNanoseconds() - cpuBefore;
                var received = LinkCounters.Read(_b, link.NameB).RxBytes - receivedBefore;
                if (link.Driver is not null)
                {
                    bytesPerDatagram = datagrams > 0 ? (double)allocated / datagrams : double.NaN;
                }
                cpuPerByte = received > 0 ? (double)cpu / received : double.NaN;
            }
            var output = client.WaitForOutput(TimeSpan.FromSeconds(seconds + 30), context.Cancellation);
            var bits = IperfOutput.ReceivedBitsPerSecond(output, link.Name, client.Errors);
            return new IperfResult(bits, bytesPerDatagram, cpuPerByte);
        }
        finally
        {
            context.Sandbox.Stop(client);
            context.Sandbox.Stop(server);
        }
    }

    private Link Vxlan(string prefix, int subnet)
    {
        var port = (FirstPort + subnet).ToString(CultureInfo.InvariantCulture);
        foreach (var (ns, name, local, remote, underlay) in new[] { (_a, $"{prefix}-a", Underlay(1), Underlay(2), "ul-a"), (_b, $"{prefix}-b", Underlay(2), Underlay(1), "ul-b") })
        {
            Tool.Ip(ns, "link", "add", name, "type", "vxlan", "id", "42", "local", local.ToString(), "remote", remote.ToString(), "dstport", port, "dev", underlay);
        }
        var link = new Link("kernel VXLAN", subnet) { NameA = $"{prefix}-a", NameB = $"{prefix}-b", Mtu = 1450 };
        foreach (var (ns, name, address) in new[] { (_a, link.NameA, link.A), (_b, link.NameB, link.B) })
        {
            Tool.Ip(ns, "link", "set", "dev", name, "up");
            NetworkConfiguration.AddAddress(ns, name, address, 24);
        }
        return link;
    }

    private Link NetDevTunnel(string prefix, int subnet, TunnelOffloads offloads)
    {
        var port = FirstPort + subnet;
        var endA = new IPEndPoint(Underlay(1), port);
        var endB = new IPEndPoint(Underlay(2), port);
        var a = Start(_a, $"{prefix}-a", endA, endB, offloads);
        var b = Start(_b, $"{prefix}-b", endB, endA, offloads);
        var link = new Link(offloads == TunnelOffloads.SegmentationAndCoalescing ? "NetDev tunnel" : "NetDev tunnel, no coalescing", subnet)
        {
            NameA = a.Device.Name,
            NameB = b.Device.Name,
            Mtu = a.Device.Mtu,
            Driver = a.Device.DriverData,
            // Queue loops are "netdev <device> qN", receive threads "<device> rx"; both ends' names start with the prefix.
            OwnCpuNanoseconds = () => CpuTime.OfOwnThreads($"netdev {prefix}-") + CpuTime.OfOwnThreads($"{prefix}-"),
            Datagrams = () => TxPackets(a.Device) + TxPackets(b.Device),
        };
        NetworkConfiguration.AddAddress(_a, link.NameA, link.A, 24);
        NetworkConfiguration.AddAddress(_b, link.NameB, link.B, 24);
        return link;
    }

    /// <summary>
    /// Two ends of <c>tapudp</c> (bench/baseline/tapudp.c): whole GSO frames cut into chunks and put back
    /// together, nothing segmented, checksummed or copied in user space: what a TAP and a UDP socket cost
    /// with the least user-space work, so the NetDev tunnel's distance to VXLAN splits into the design's and the code's.
    /// </summary>
    private Link LeastWorkTunnel(string prefix, int subnet, int mtu)
    {
        var port = (FirstPort + subnet).ToString(CultureInfo.InvariantCulture);
        var ends = new List<ChildProcess>();
        foreach (var (ns, local, remote) in new[] { (_a, Underlay(1), Underlay(2)), (_b, Underlay(2), Underlay(1)) })
        {
            var end = context.Sandbox.StartBaseline(context.Baselines.TapUdp,
                ["--netns", ns, "--name", prefix, "--local", local.ToString(), "--remote", remote.ToString(), "--port", port], "tapudp");
            end.WaitForLine("ready", TimeSpan.FromSeconds(10), context.Cancellation);
            ends.Add(end);
        }
        var link = new Link("C TAP + UDP tunnel", subnet)
        {
            NameA = prefix,
            NameB = prefix,
            Mtu = mtu,
            OwnCpuNanoseconds = () => CpuTime.OfProcess(ends[0].Id) + CpuTime.OfProcess(ends[1].Id),
        };
        foreach (var (ns, address) in new[] { (_a, link.A), (_b, link.B) })
        {
            Tool.Ip(ns, "link", "set", "dev", prefix, "mtu", mtu.ToString(CultureInfo.InvariantCulture), "up");
            NetworkConfiguration.AddAddress(ns, prefix, address, 24);
        }
        return link;
    }

    private Registration<TunnelDriver> Start(string ns, string name, IPEndPoint local, IPEndPoint remote, TunnelOffloads offloads)
    {
        var socket = NetworkNamespace.Run(ns, () => TunnelDriver.CreateSocket(local));
        var registration = context.Sandbox.Track(TunnelDriver.CreateRegistration(BenchContext.Host(ns), socket, remote, name, offloads: offloads));
        registration.Register();
        context.Watch(registration.Device);
        registration.Device.BringUp();
        return registration;
    }

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

    private readonly record struct IperfResult(double BitsPerSecond, double? AllocatedBytesPerDatagram, double CpuNanosecondsPerByte);

    /// <summary>One overlay between the two namespaces, on subnet 10.78.<paramref name="subnet"/>.0/24.</summary>
    private sealed class Link(string name, int subnet)
    {
        public string Name { get; } = name;

        public IPAddress A { get; } = new([10, 78, (byte)subnet, 1]);

        public IPAddress B { get; } = new([10, 78, (byte)subnet, 2]);

        public required string NameA { get; init; }

        public required string NameB { get; init; }

        public int Mtu { get; init; }

        /// <summary>For NetDev links: the A end's driver.</summary>
        public TunnelDriver? Driver { get; init; }

        /// <summary>CPU time of the link's own threads in this process (none for the kernel's VXLAN).</summary>
        public Func<long> OwnCpuNanoseconds { get; init; } = () => 0;

        /// <summary>Datagrams both ends sent, read without allocating (0 for the kernel's VXLAN).</summary>
        public Func<long> Datagrams { get; init; } = () => 0;
    }
}
