using System.Globalization;
using NetDev.Drivers.Dummy;

namespace NetDev.Bench;

/// <summary>
/// The tx path: frames per second the kernel transmits through a NetDev dummy device (TAP read → pool →
/// StartXmit → count → Consume), against <c>tapread</c>, a C loop that reads the same kind of TAP. Both
/// interfaces sit in one namespace, configured alike (MTU 1500, txqueuelen 1000, no ARP, no multicast);
/// <c>tapgen</c> floods whichever is measured with 60-byte frames, and the kernel counts the frames the
/// reader took (tx_packets).
/// </summary>
internal sealed class TxFigures(BenchContext context)
{
    private const string NetDevName = "nd0";
    private const string BaselineName = "c0";

    public void Run(int queues)
    {
        var sandbox = context.Sandbox;
        var options = context.Options;
        var label = $"tx, {queues} queue{(queues > 1 ? "s" : "")}";
        context.Log($"== {label}");
        var ns = sandbox.CreateNamespace($"tx{queues}");
        var registration = sandbox.Track(DummyDriver.CreateRegistration(BenchContext.Host(ns), NetDevName, queues));
        registration.Register();
        context.Watch(registration.Device);
        registration.Device.BringUp();
        var device = registration.Device;

        var reader = sandbox.StartBaseline(context.Baselines.TapRead,
            ["--netns", ns, "--name", BaselineName, "--queues", queues.ToString(CultureInfo.InvariantCulture)], "tapread");
        reader.WaitForLine("ready", TimeSpan.FromSeconds(10), context.Cancellation);
        Tool.Ip(ns, "link", "set", "dev", BaselineName, "mtu", "1500", "txqueuelen", "1000", "arp", "off", "multicast", "off", "up");

        // The device's queue loops are named "netdev nd0 qN"; the reader's threads are all its own.
        RateWindow NetDevWindow() => Window(ns, NetDevName, () => CpuTime.OfOwnThreads($"netdev {NetDevName} q"), () => TxPackets(device));
        RateWindow BaselineWindow() => Window(ns, BaselineName, () => CpuTime.OfProcess(reader.Id), null);

        var netdev = new List<RateWindow>();
        var baseline = new List<RateWindow>();
        for (var run = 0; run < options.Runs; run++)
        {
            // Which side goes first alternates, so a drift in the machine's load favours neither.
            if (run % 2 == 0)
            {
                netdev.Add(NetDevWindow());
                baseline.Add(BaselineWindow());
            }
            else
            {
                baseline.Add(BaselineWindow());
                netdev.Add(NetDevWindow());
            }
            if (reader.HasExited)
            {
                throw new BenchException($"tapread ended during the {label} figure: {reader.Errors}");
            }
            context.Log($"   run {run + 1}: NetDev {Units.FramesPerSecond(netdev[^1].FramesPerSecond)} (dropped {Units.FramesPerSecond(netdev[^1].DroppedPerSecond)}), " +
                $"C {Units.FramesPerSecond(baseline[^1].FramesPerSecond)} (dropped {Units.FramesPerSecond(baseline[^1].DroppedPerSecond)})");
        }
        sandbox.Stop(reader);
        sandbox.Remove(registration);
        sandbox.DeleteNamespace(ns);

        context.Results.Add(new Comparison($"tx frames/s, 60-byte frames, {queues} queue{(queues > 1 ? "s" : "")} (dummy)", "C read loop",
            Units.FramesPerSecond, [.. netdev.Select(w => w.FramesPerSecond)], [.. baseline.Select(w => w.FramesPerSecond)], Target.AtLeast(1.0)));
        context.Results.AddDetail($"tx {queues}q offered but dropped by the TAP (reader too slow; shows the generator outran both readers): " +
            $"NetDev [{string.Join(", ", netdev.Select(w => Units.FramesPerSecond(w.DroppedPerSecond)))}], " +
            $"C [{string.Join(", ", baseline.Select(w => Units.FramesPerSecond(w.DroppedPerSecond)))}]");
        context.Results.Add(new Comparison($"CPU time per frame, tx, {queues} queue{(queues > 1 ? "s" : "")}", "C read loop", Units.Nanoseconds,
            [.. netdev.Select(w => w.CpuNanosecondsPerFrame)], [.. baseline.Select(w => w.CpuNanosecondsPerFrame)], null,
            "CPU time of the reading threads (queue loops; tapread's threads) over frames read, kernel time included"));
        Allocation.Report(context, $"tx path, {queues} queue{(queues > 1 ? "s" : "")}", [.. netdev.Select(w => w.AllocatedBytesPerFrame ?? double.NaN)]);
    }

    private RateWindow Window(string ns, string device, Func<long> cpuNanoseconds, Func<long>? netdevFrames)
    {
        var generator = context.Sandbox.StartBaseline(context.Baselines.TapGen, ["--netns", ns, "--dev", device, "--flows", "64"], "tapgen");
        try
        {
            generator.WaitForLine("ready", TimeSpan.FromSeconds(10), context.Cancellation);
            var window = RateWindow.Measure(context, ns, device, counters => counters.TxPackets, counters => counters.TxDropped, cpuNanoseconds, netdevFrames);
            if (generator.HasExited)
            {
                throw new BenchException($"tapgen ended during a window: {generator.Errors}");
            }
            return window;
        }
        finally
        {
            context.Sandbox.Stop(generator);
        }
    }

    /// <summary>The device's transmitted frames over all queues; reads counters only (no allocation).</summary>
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
}
