using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using NetDev.Drivers.Pair;
using NetDev.Linux;

namespace NetDev.Bench;

/// <summary>
/// The pair figures: TCP throughput (iperf3, one stream) and ping RTT between two namespaces joined by
/// NetDev's pair driver, against <c>taprelay</c> (a C relay between two TAPs, with the same offload
/// settings) and the kernel's veth pair (the ceiling); then a soak of the pair for the memory figures
/// (GC collections per generation, bytes allocated per frame, peak RSS).
/// </summary>
/// <remarks>All links exist side by side between the same two namespaces, each on its own subnet
/// (10.77.N.1 in A, 10.77.N.2 in B); an iperf3 server in B serves one test at a time.</remarks>
internal sealed partial class PairFigures(BenchContext context)
{
    private const int IperfPort = 5201;

    private string _a = "";
    private string _b = "";

    public void Run()
    {
        var sandbox = context.Sandbox;
        var options = context.Options;
        context.Log("== pair");
        _a = sandbox.CreateNamespace("a");
        _b = sandbox.CreateNamespace("b");

        var plain = NetDevPair("nd", 1, DeviceFeatures.None);
        var offloaded = NetDevPair("no", 5, DeviceFeatures.All);
        var relay = CRelay("c", 2, offloads: false);
        var relayOffloaded = CRelay("co", 3, offloads: true);
        var veth = Veth("v", 4);
        Link[] links = [plain, offloaded, relay, relayOffloaded, veth];
        context.Log($"   NetDev pair with offloads: {offloaded.Features} accepted; C relay with offloads: TUNSETOFFLOAD as in taprelay.c");
        context.Results.AddNote($"Offloads the kernel accepted for NetDev's offloaded pair: {offloaded.Features}.");

        foreach (var link in links)
        {
            // Resolves neighbours before anything is timed, and proves every link carries traffic.
            Ping(link, 3);
        }

        var throughput = links.ToDictionary(link => link, _ => new List<double>());
        var cpu = links.ToDictionary(link => link, _ => new List<double>());
        var allocation = new Dictionary<Link, List<double>> { [plain] = [], [offloaded] = [] };
        for (var run = 0; run < options.Runs; run++)
        {
            foreach (var link in Rotate(links, run))
            {
                var result = Iperf(link, options.IperfSeconds);
                throughput[link].Add(result.BitsPerSecond);
                cpu[link].Add(result.CpuNanosecondsPerFrame);
                if (result.AllocatedBytesPerFrame is { } bytes)
                {
                    allocation[link].Add(bytes);
                }
            }
            context.Log($"   tcp run {run + 1}: " + string.Join(", ", links.Select(link => $"{link.Name} {Units.BitsPerSecond(throughput[link][^1])}")));
        }

        var rtt = links.ToDictionary(link => link, _ => new List<double>());
        for (var run = 0; run < options.Runs; run++)
        {
            foreach (var link in Rotate(links, run))
            {
                rtt[link].Add(Ping(link, options.Pings));
            }
            context.Log($"   rtt run {run + 1}: " + string.Join(", ", links.Select(link => $"{link.Name} {Units.Microseconds(rtt[link][^1])}")));
        }

        var results = context.Results;
        results.Add(new Comparison("pair TCP, 1 stream, no offloads", relay.Name, Units.BitsPerSecond, throughput[plain], throughput[relay], Target.AtLeast(1.0),
            "same settings as the C relay; the issue's TCP target is set for the offload case"));
        results.Add(new Comparison("pair TCP, 1 stream, with offloads", relayOffloaded.Name, Units.BitsPerSecond, throughput[offloaded], throughput[relayOffloaded], Target.AtLeast(1.0)));
        results.Add(new Comparison("pair TCP, 1 stream, with offloads, vs veth", veth.Name, Units.BitsPerSecond, throughput[offloaded], throughput[veth], Target.AtLeast(0.6)));
        results.Add(new Comparison("pair TCP, 1 stream, no offloads, vs veth", veth.Name, Units.BitsPerSecond, throughput[plain], throughput[veth], null));
        results.Add(new Comparison("ping RTT, no offloads (median of each run)", relay.Name, Units.Microseconds, rtt[plain], rtt[relay], Target.AtMost(1.2)));
        results.Add(new Comparison("ping RTT, with offloads (median of each run)", relayOffloaded.Name, Units.Microseconds, rtt[offloaded], rtt[relayOffloaded], Target.AtMost(1.2)));
        results.Add(new Comparison("ping RTT, no offloads, vs veth", veth.Name, Units.Microseconds, rtt[plain], rtt[veth], null));
        const string cpuNote = "CPU time of the forwarding threads (both ends' queue loops; taprelay's threads) over frames they read, during iperf3";
        results.Add(new Comparison("CPU time per frame forwarded, pair, no offloads", relay.Name, Units.Nanoseconds, cpu[plain], cpu[relay], null, cpuNote));
        results.Add(new Comparison("CPU time per frame forwarded, pair, with offloads", relayOffloaded.Name, Units.Nanoseconds, cpu[offloaded], cpu[relayOffloaded], null, cpuNote));
        Allocation.Report(context, "pair under iperf3, no offloads", allocation[plain]);
        Allocation.Report(context, "pair under iperf3, with offloads", allocation[offloaded]);

        if (options.Soak > TimeSpan.Zero)
        {
            Soak(offloaded, relayOffloaded);
        }
    }

    /// <summary>
    /// Runs iperf3 over the offloaded NetDev pair for the soak duration, counting garbage collections per
    /// generation, bytes allocated per frame and the bench process's peak RSS, which is compared with the
    /// C relay's (same traffic, same settings).
    /// </summary>
    private void Soak(Link link, Link relay)
    {
        var seconds = (int)Math.Ceiling(context.Options.Soak.TotalSeconds);
        context.Log($"== memory soak: {seconds} s of iperf3 over {link.Name}");
        var relayPeak = relay.Relay?.PeakResidentKiB();
        // Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS, so the figure is the soak's.
        File.WriteAllText("/proc/self/clear_refs", "5");
        var collections = new[] { GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2) };
        var (bitsPerSecond, bytesPerFrame, _) = Iperf(link, seconds);
        var after = new[] { GC.CollectionCount(0) - collections[0], GC.CollectionCount(1) - collections[1], GC.CollectionCount(2) - collections[2] };
        var peak = ProcStatus.ReadKiB("/proc/self/status", "VmHWM:") ?? 0;
        context.Log($"   {Units.BitsPerSecond(bitsPerSecond)}; GC gen0/gen1/gen2 {after[0]}/{after[1]}/{after[2]}; peak RSS {Units.MiB(peak)}");

        var results = context.Results;
        results.Add(new ReportRow($"GC collections in a {seconds} s pair soak (gen0 / gen1 / gen2)", $"{after[0]} / {after[1]} / {after[2]}",
            "none (C)", "—", "no gen2", after[2] == 0));
        Allocation.Report(context, $"pair, {seconds} s soak", bytesPerFrame is { } bytes ? [bytes] : []);
        results.Add(new ReportRow("peak RSS during the soak", $"{Units.MiB(peak)} (whole bench process)",
            relayPeak is { } kib ? $"{Units.MiB(kib)} ({relay.Name})" : "unknown",
            relayPeak is { } relayKib && relayKib > 0 ? ((double)peak / relayKib).ToString("0.0", CultureInfo.InvariantCulture) + "×" : "—",
            "—", null, "the .NET runtime and the bench itself included"));
    }

    /// <summary>
    /// One iperf3 test over <paramref name="link"/>. Inside it, leaving out its first and last second
    /// (processes start and end, output is read), the window where the bench only sleeps: frames
    /// forwarded and CPU time spent per frame, and for NetDev the bytes the process allocated per frame.
    /// </summary>
    private IperfResult Iperf(Link link, int seconds)
    {
        // A server per test (-1: it serves one and ends): a long-lived iperf3 server closes and reopens its
        // listening socket between tests, so a client that follows at once can find nobody listening.
        var server = context.Sandbox.StartIn(_b, "iperf3 server", "iperf3", "-s", "-1", "-p", IperfPort.ToString(CultureInfo.InvariantCulture));
        IperfServer.WaitForListener(context.Sandbox, _b, IperfPort, server);
        var client = context.Sandbox.StartIn(_a, "iperf3 client", "iperf3", "-c", link.B.ToString(), "-p", IperfPort.ToString(CultureInfo.InvariantCulture),
            "-t", seconds.ToString(CultureInfo.InvariantCulture), "-J");
        double? bytesPerFrame = null;
        var cpuPerFrame = double.NaN;
        try
        {
            if (seconds >= 3)
            {
                context.Sandbox.Sleep(TimeSpan.FromSeconds(1));
                var forwardedBefore = link.ForwardedByKernelCount(_a, _b);
                var cpuBefore = link.CpuNanoseconds?.Invoke() ?? 0;
                var framesBefore = link.Frames?.Invoke() ?? 0;
                var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                context.Sandbox.Sleep(TimeSpan.FromSeconds(seconds - 2));
                var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                var counted = (link.Frames?.Invoke() ?? 0) - framesBefore;
                var cpu = (link.CpuNanoseconds?.Invoke() ?? 0) - cpuBefore;
                var forwarded = link.ForwardedByKernelCount(_a, _b) - forwardedBefore;
                if (link.Frames is not null)
                {
                    bytesPerFrame = counted > 0 ? (double)allocated / counted : double.NaN;
                }
                if (link.CpuNanoseconds is not null && forwarded > 0)
                {
                    cpuPerFrame = (double)cpu / forwarded;
                }
            }
            var output = client.WaitForOutput(TimeSpan.FromSeconds(seconds + 30), context.Cancellation);
            var bits = IperfOutput.ReceivedBitsPerSecond(output, link.Name, client.Errors);
            return new IperfResult(bits, bytesPerFrame, cpuPerFrame);
        }
        finally
        {
            context.Sandbox.Stop(client);
            context.Sandbox.Stop(server);
        }
    }

    /// <summary>Pings across <paramref name="link"/> every 10 ms and returns the median RTT in microseconds.</summary>
    private double Ping(Link link, int count)
    {
        var ping = context.Sandbox.StartIn(_a, "ping", "ping", "-n", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", "0.01", "-W", "1", link.B.ToString());
        string output;
        try
        {
            output = ping.WaitForOutput(TimeSpan.FromSeconds(count * 0.01 + 30), context.Cancellation);
        }
        catch (BenchException error)
        {
            throw new BenchException($"ping across {link.Name} failed; is the link carrying traffic? {error.Message}");
        }
        finally
        {
            context.Sandbox.Stop(ping);
        }
        var times = RoundTripTime().Matches(output).Select(match => double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) * 1000).ToList();
        if (times.Count < count / 2)
        {
            throw new BenchException($"ping across {link.Name}: only {times.Count} of {count} answered.");
        }
        return Statistics.Median(times);
    }

    private Link NetDevPair(string prefix, int subnet, DeviceFeatures features)
    {
        var pair = context.Sandbox.Track(PairDriver.Create(BenchContext.Host(_a), $"{prefix}-a", BenchContext.Host(_b), $"{prefix}-b", features: features));
        pair.Register();
        context.Watch(pair.First.Device);
        context.Watch(pair.Second.Device);
        pair.BringUp();
        var link = new Link(features == DeviceFeatures.None ? "NetDev pair" : "NetDev pair, offloads", subnet)
        {
            NameA = pair.First.Device.Name,
            NameB = pair.Second.Device.Name,
            Frames = () => TxPackets(pair.First.Device) + TxPackets(pair.Second.Device),
            // Queue loops are named "netdev <device> qN"; both ends' names start with the prefix.
            CpuNanoseconds = () => CpuTime.OfOwnThreads($"netdev {prefix}-"),
            Features = pair.First.Device.Features,
        };
        NetworkConfiguration.AddAddress(_a, pair.First.Device.Name, link.A, 24);
        NetworkConfiguration.AddAddress(_b, pair.Second.Device.Name, link.B, 24);
        return link;
    }

    private Link CRelay(string prefix, int subnet, bool offloads)
    {
        List<string> arguments = ["--netns-a", _a, "--name-a", $"{prefix}-a", "--netns-b", _b, "--name-b", $"{prefix}-b"];
        if (offloads)
        {
            arguments.Add("--offload");
        }
        var relay = context.Sandbox.StartBaseline(context.Baselines.TapRelay, arguments, "taprelay");
        relay.WaitForLine("ready", TimeSpan.FromSeconds(10), context.Cancellation);
        var link = new Link(offloads ? "C relay, offloads" : "C relay", subnet)
        {
            NameA = $"{prefix}-a",
            NameB = $"{prefix}-b",
            Relay = relay,
            CpuNanoseconds = () => CpuTime.OfProcess(relay.Id),
        };
        Configure(link);
        return link;
    }

    private Link Veth(string prefix, int subnet)
    {
        Tool.Ip(_a, "link", "add", $"{prefix}-a", "type", "veth", "peer", "name", $"{prefix}-b", "netns", _b);
        var link = new Link("veth", subnet) { NameA = $"{prefix}-a", NameB = $"{prefix}-b" };
        Configure(link);
        return link;
    }

    /// <summary>Gives a baseline link what NetDev gives its devices: MTU 1500, txqueuelen 1000, up, addressed.</summary>
    private void Configure(Link link)
    {
        foreach (var (ns, name, address) in new[] { (_a, link.NameA, link.A), (_b, link.NameB, link.B) })
        {
            Tool.Ip(ns, "link", "set", "dev", name, "mtu", "1500", "txqueuelen", "1000", "up");
            NetworkConfiguration.AddAddress(ns, name, address, 24);
        }
    }

    private static IEnumerable<Link> Rotate(Link[] links, int run) => links.Skip(run % links.Length).Concat(links.Take(run % links.Length));

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

    private readonly record struct IperfResult(double BitsPerSecond, double? AllocatedBytesPerFrame, double CpuNanosecondsPerFrame);

    [GeneratedRegex(@"time=([0-9.]+) ms")]
    private static partial Regex RoundTripTime();

    /// <summary>One link between the two namespaces, on subnet 10.77.<paramref name="subnet"/>.0/24.</summary>
    private sealed class Link(string name, int subnet)
    {
        public string Name { get; } = name;

        public IPAddress A { get; } = new([10, 77, (byte)subnet, 1]);

        public IPAddress B { get; } = new([10, 77, (byte)subnet, 2]);

        public required string NameA { get; init; }

        public required string NameB { get; init; }

        /// <summary>For NetDev links and C relays: CPU time of the threads that forward frames.</summary>
        public Func<long>? CpuNanoseconds { get; init; }

        /// <summary>Frames read out of both interfaces by their user-space side, by the kernel's count (tx_packets).</summary>
        public long ForwardedByKernelCount(string namespaceA, string namespaceB) =>
            LinkCounters.Read(namespaceA, NameA).TxPackets + LinkCounters.Read(namespaceB, NameB).TxPackets;

        /// <summary>For NetDev links: frames forwarded so far, both directions (read without allocating).</summary>
        public Func<long>? Frames { get; init; }

        /// <summary>For NetDev links: the offloads the system accepted.</summary>
        public DeviceFeatures Features { get; init; }

        /// <summary>For C relays: the relay process.</summary>
        public ChildProcess? Relay { get; init; }
    }
}
