using System.Globalization;

namespace NetDev.Bench;

/// <summary>
/// The "bytes allocated per frame" rows. Each value is what the whole process allocated during a window
/// of steady traffic (GC.GetTotalAllocatedBytes, precise) divided by the frames NetDev handled in it. The
/// bench only sleeps during the window, but the runtime's own background work is counted too, so a path
/// that allocates nothing per frame shows a few thousandths at most; one object per frame shows as 24 or more.
/// </summary>
internal static class Allocation
{
    /// <summary>
    /// Below this a window counts as allocation-free: it is far under one object per frame (≥ 24 bytes)
    /// and under one small object per 64-frame batch (≈ 0.4), but above the background noise.
    /// </summary>
    public const double AllocationFreeBelow = 0.05;

    public static void Report(BenchContext context, string path, IReadOnlyList<double> bytesPerFrame)
    {
        var values = bytesPerFrame.Where(value => !double.IsNaN(value)).ToList();
        if (values.Count == 0)
        {
            context.Results.Add(new ReportRow($"bytes allocated per frame, {path}", "not measured", "0 (C)", "—", "0", null,
                "no window long enough, or no frames counted"));
            return;
        }
        var median = Statistics.Median(values);
        context.Results.Add(
            new ReportRow($"bytes allocated per frame, {path}", Units.BytesPerFrame(median), "0 (C: no allocation in its loop)", "—", "0", median < AllocationFreeBelow),
            $"bytes allocated per frame, {path}: [{string.Join(", ", values.Select(value => value.ToString("0.####", CultureInfo.InvariantCulture)))}]");
    }
}
