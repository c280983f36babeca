using System.Collections.Concurrent;
using System.Diagnostics;
using NetDev.Linux;

namespace NetDev.Bench;

/// <summary>What every figure uses: the settings, the sandbox, the baselines, the results and the log.</summary>
internal sealed class BenchContext(BenchOptions options, Sandbox sandbox, Baselines baselines, Results results, TextWriter log)
{
    private readonly ConcurrentQueue<string> _deviceErrors = new();

    public BenchOptions Options => options;

    public Sandbox Sandbox => sandbox;

    public Baselines Baselines => baselines;

    public Results Results => results;

    public CancellationToken Cancellation => sandbox.Cancellation;

    /// <summary>Errors NetDev devices reported during the run (a loop that failed, a driver that threw).</summary>
    public IReadOnlyCollection<string> DeviceErrors => _deviceErrors;

    /// <summary>A Linux host making interfaces in <paramref name="networkNamespace"/> (the bench starts no control endpoints: it needs none).</summary>
    public static LinuxHost Host(string networkNamespace) =>
        new(new LinuxHostOptions { NetworkNamespace = networkNamespace });

    /// <summary>Collects what <paramref name="device"/> reports through <see cref="NetDevice.Error"/>.</summary>
    public void Watch(NetDevice device) =>
        device.Error += (_, error) => _deviceErrors.Enqueue($"{device.Name}: {error.Exception.Message}");

    public void Log(string line)
    {
        log.WriteLine(line);
        log.Flush();
    }
}

/// <summary>What one frames/s window measured.</summary>
/// <param name="FramesPerSecond">Frames per second by the kernel's counter of the side measured.</param>
/// <param name="DroppedPerSecond">Frames per second the kernel dropped at the interface meanwhile (offered but not taken).</param>
/// <param name="AllocatedBytesPerFrame">For NetDev: bytes the process allocated per frame during the window.</param>
/// <param name="CpuNanosecondsPerFrame">CPU time the measured side's threads spent per frame.</param>
internal readonly record struct RateWindow(double FramesPerSecond, double DroppedPerSecond, double? AllocatedBytesPerFrame, double CpuNanosecondsPerFrame)
{
    /// <summary>
    /// Measures one window on interface <paramref name="device"/> once traffic runs: warm-up, then the
    /// kernel's counters before and after. With <paramref name="netdevFrames"/> (NetDev's own count of
    /// the same frames, read without allocating) it also measures the bytes the whole process allocated
    /// in between; the counter reads that start processes lie outside that inner window.
    /// </summary>
    public static RateWindow Measure(BenchContext context, string networkNamespace, string device,
        Func<LinkCounters, long> frames, Func<LinkCounters, long> dropped, Func<long> cpuNanoseconds, Func<long>? netdevFrames)
    {
        context.Sandbox.Sleep(context.Options.Warmup);
        var before = LinkCounters.Read(networkNamespace, device);
        var cpuBefore = cpuNanoseconds();
        var start = Stopwatch.GetTimestamp();
        long framesBefore = 0, allocatedBefore = 0;
        if (netdevFrames is not null)
        {
            framesBefore = netdevFrames();
            allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        }
        context.Sandbox.Sleep(context.Options.Window);
        double? bytesPerFrame = null;
        if (netdevFrames is not null)
        {
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            var handled = netdevFrames() - framesBefore;
            bytesPerFrame = handled > 0 ? (double)allocated / handled : double.NaN;
        }
        var cpu = cpuNanoseconds() - cpuBefore;
        var after = LinkCounters.Read(networkNamespace, device);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var counted = frames(after) - frames(before);
        return new RateWindow(counted / seconds, (dropped(after) - dropped(before)) / seconds, bytesPerFrame,
            counted > 0 ? (double)cpu / counted : double.NaN);
    }
}
