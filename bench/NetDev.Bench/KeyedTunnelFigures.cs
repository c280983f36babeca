using System.Globalization;
using System.Net;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Bench;

/// <summary>
/// The keyed tunnel figures: TCP throughput (iperf3, one stream) through two NetDev tunnels with a key
/// (AES-256-GCM per datagram, the default offloads of <c>netdev run tunnel</c>) side by side with two
/// WireGuard devices run by Debian's <c>wireguard-go</c> (user space, as NetDev is: this kernel has no
/// wireguard module), both over the same underlay (one veth between two namespaces), with the CPU time per
/// byte beside each figure and the bytes the bench process allocated per keyed datagram.
/// </summary>
/// <remarks>
/// <para>Each overlay has its own subnet (10.79.N.1 in A, .2 in B) and UDP port; the underlay is
/// 10.79.0.1 – 10.79.0.2. Runs alternate the two links (the order swapped each run), so a change in the
/// machine's load falls on both.</para>
/// <para>CPU time is what the work costs wherever it runs: the iperf3 client's and server's CPU time, plus
/// for NetDev the tunnels' own threads (in the bench process), for WireGuard both <c>wireguard-go</c>
/// processes (utime + stime of <c>/proc/PID/stat</c>: every thread, also ended ones), over the bytes the
/// receiving overlay device took in (its kernel <c>rx_bytes</c>) in the same window.</para>
/// </remarks>
internal sealed class KeyedTunnelFigures(BenchContext context)
{
    private const int IperfPort = 5203;
    private const int WireGuardPort = 51820;
    private const int TunnelPort = 4795;

    private string _a = "";
    private string _b = "";

    public void Run()
    {
        var sandbox = context.Sandbox;
        var options = context.Options;
        context.Log("== keyed");
        _a = sandbox.CreateNamespace("ka");
        _b = sandbox.CreateNamespace("kb");
        Tool.Ip(_a, "link", "add", "ul-a", "type", "veth", "peer", "name", "ul-b", "netns", _b);
        foreach (var (ns, name, address) in new[] { (_a, "ul-a", Underlay(1)), (_b, "ul-b", Underlay(2)) })
        {
            Tool.Ip(ns, "link", "set", "dev", name, "mtu", "1500", "up");
            NetworkConfiguration.AddAddress(ns, name, address, 24);
        }

        var wireGuard = WireGuard(1);
        var keyed = KeyedTunnel("tk", 2);
        Link[] links = [wireGuard, keyed];
        context.Results.AddNote($"Keyed tunnel: AES-256-GCM, default offloads (segmentation and receive coalescing), send {keyed.Driver!.SendPath}, receive {keyed.Driver.ReceivePath}, " +
            $"MTU {keyed.Mtu}; wireguard-go ({WireGuardVersion()}): MTU {wireGuard.Mtu}; both over a 1500-byte veth underlay.");
        foreach (var link in links)
        {
            // Resolves neighbours (and for WireGuard makes the handshake) before anything is timed, and proves every link carries traffic.
            Tool.Run("ip", "netns", "exec", _a, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", link.B.ToString());
        }

        var throughput = links.ToDictionary(link => link, _ => new List<double>());
        var cpu = links.ToDictionary(link => link, _ => new List<double>());
        var allocation = new List<double>();
        var loads = new List<string>();
        for (var run = 0; run < options.Runs; run++)
        {
            foreach (var link in run % 2 == 0 ? links : Enumerable.Reverse(links))
            {
                var result = Iperf(link, options.IperfSeconds);
                throughput[link].Add(result.BitsPerSecond);
                cpu[link].Add(result.CpuNanosecondsPerByte);
                if (result.AllocatedBytesPerDatagram is { } bytes)
                {
                    allocation.Add(bytes);
                }
            }
            loads.Add(Machine.LoadAverage());
            context.Log($"   tcp run {run + 1}: " + string.Join(", ", links.Select(link => $"{link.Name} {Units.BitsPerSecond(throughput[link][^1])}")) + $"; load {loads[^1]}");
        }
        foreach (var link in links)
        {
            link.Stop();
        }

        var results = context.Results;
        var loadNote = $"target from issue 14; load average after each keyed run: {string.Join("; ", loads)}";
        results.Add(new Comparison("keyed tunnel TCP, 1 stream, default offloads", wireGuard.Name, Units.BitsPerSecond, throughput[keyed], throughput[wireGuard], Target.AtLeast(2), loadNote));
        const string cpuNote = "CPU time of iperf3 client and server, plus NetDev's tunnel threads or both wireguard-go processes, " +
            "over the bytes the receiving overlay device took in (a TAP counts 14 bytes of Ethernet header per frame that a WireGuard TUN does not: about 1 % in NetDev's favour)";
        results.Add(new Comparison("CPU time per KiB carried, keyed tunnel", wireGuard.Name, NanosecondsPerKiB, cpu[keyed], cpu[wireGuard], null, cpuNote));
        Allocation.Report(context, "keyed tunnel under iperf3 (per datagram)", allocation);
    }

    private static string NanosecondsPerKiB(double nanosecondsPerByte) => (nanosecondsPerByte * 1024).ToString("#,0", CultureInfo.InvariantCulture) + " ns/KiB";

    private static IPAddress Underlay(int host) => new([10, 79, 0, (byte)host]);

    private static string WireGuardVersion() => Tool.Run("wireguard-go", "--version").Split('\n')[0].Trim();

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

    private Link WireGuard(int subnet)
    {
        // Interface names are global to a namespace only, but wireguard-go's control sockets live in the shared
        // /var/run/wireguard: the bench's PID keeps them apart from another bench's or a test's.
        var tag = (Environment.ProcessId % 100000).ToString(CultureInfo.InvariantCulture);
        var a = WireGuardEnd.Start(context.Sandbox, _a, $"kwa{tag}");
        var b = WireGuardEnd.Start(context.Sandbox, _b, $"kwb{tag}");
        var link = new Link("wireguard-go", subnet)
        {
            NameA = a.Name,
            NameB = b.Name,
            Mtu = WireGuardEnd.Mtu(_b, b.Name),
            OwnCpuNanoseconds = () => a.CpuNanoseconds() + b.CpuNanoseconds(),
            Stop = () =>
            {
                context.Sandbox.Remove(a);
                context.Sandbox.Remove(b);
            },
        };
        a.Configure(WireGuardPort, b.PublicKey, new IPEndPoint(Underlay(2), WireGuardPort), link.A, link.B);
        b.Configure(WireGuardPort, a.PublicKey, new IPEndPoint(Underlay(1), WireGuardPort), link.B, link.A);
        return link;
    }

    private Link KeyedTunnel(string prefix, int subnet)
    {
        var key = TunnelKey.Generate();
        var endA = new IPEndPoint(Underlay(1), TunnelPort);
        var endB = new IPEndPoint(Underlay(2), TunnelPort);
        var a = Start(_a, $"{prefix}-a", endA, endB, key);
        var b = Start(_b, $"{prefix}-b", endB, endA, key);
        var link = new Link("NetDev keyed tunnel", subnet)
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

    private Registration<TunnelDriver> Start(string ns, string name, IPEndPoint local, IPEndPoint remote, TunnelKey key)
    {
        var socket = NetworkNamespace.Run(ns, () => TunnelDriver.CreateSocket(local));
        // The offloads `netdev run tunnel` has by default.
        var registration = context.Sandbox.Track(TunnelDriver.CreateRegistration(BenchContext.Host(ns), socket, [remote], name,
            offloads: TunnelOffloads.SegmentationAndCoalescing, options: new TunnelOptions { Key = key }));
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

    /// <summary>One overlay between the two namespaces, on subnet 10.79.<paramref name="subnet"/>.0/24.</summary>
    private sealed class Link(string name, int subnet)
    {
        public string Name { get; } = name;

        public IPAddress A { get; } = new([10, 79, (byte)subnet, 1]);

        public IPAddress B { get; } = new([10, 79, (byte)subnet, 2]);

        public required string NameA { get; init; }

        public required string NameB { get; init; }

        public int Mtu { get; init; }

        /// <summary>For NetDev: the A end's driver.</summary>
        public TunnelDriver? Driver { get; init; }

        /// <summary>CPU time of the link's own threads or processes (NetDev's tunnel threads, the wireguard-go daemons).</summary>
        public Func<long> OwnCpuNanoseconds { get; init; } = () => 0;

        /// <summary>Datagrams both ends sent, read without allocating (0 for WireGuard).</summary>
        public Func<long> Datagrams { get; init; } = () => 0;

        /// <summary>Ends what the link runs outside the bench process once measured (the sandbox removes the rest).</summary>
        public Action Stop { get; init; } = () => { };
    }
}
