using System.Globalization;

namespace NetDev.Bench;

/// <summary>Which way a figure improves.</summary>
internal enum Better
{
    Higher,
    Lower,
}

/// <summary>A target of issue 7, as a ratio to the baseline.</summary>
internal sealed record Target(double Ratio, Better Better)
{
    public static Target AtLeast(double ratio) => new(ratio, Better.Higher);

    public static Target AtMost(double ratio) => new(ratio, Better.Lower);

    public string Text => (Better == Better.Higher ? "≥ " : "≤ ") + Ratio.ToString("0.0#", CultureInfo.InvariantCulture) + "×";

    public bool IsMet(double ratio) => Better == Better.Higher ? ratio >= Ratio : ratio <= Ratio;
}

/// <summary>
/// One figure measured side by side: NetDev's value and the baseline's in each run, taken back to back.
/// The ratio is the median of the per-run ratios (each run pairs two adjacent windows, so a change in the
/// machine's load between runs cancels out); the two value columns are the medians of each side.
/// <see cref="Subject"/> names the measured side in the per-run details (NetDev unless a figure compares two baselines).
/// </summary>
internal sealed record Comparison(
    string Figure,
    string BaselineName,
    Func<double, string> Format,
    IReadOnlyList<double> NetDev,
    IReadOnlyList<double> Baseline,
    Target? Target,
    string? Note = null,
    string Subject = "NetDev")
{
    public double NetDevMedian => Statistics.Median(NetDev);

    public double BaselineMedian => Statistics.Median(Baseline);

    public double Ratio => Statistics.Median(NetDev.Zip(Baseline, (netdev, baseline) => netdev / baseline).ToList());

    public ReportRow ToRow() => new(
        Figure,
        Format(NetDevMedian),
        $"{Format(BaselineMedian)} ({BaselineName})",
        Ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×",
        Target?.Text ?? "—",
        Target?.IsMet(Ratio),
        Note);

    public string Details() =>
        $"{Figure}: {Subject} [{string.Join(", ", NetDev.Select(Format))}], {BaselineName} [{string.Join(", ", Baseline.Select(Format))}], " +
        $"per-run ratios [{string.Join(", ", NetDev.Zip(Baseline, (n, b) => (n / b).ToString("0.00", CultureInfo.InvariantCulture)))}]";
}

/// <summary>A line of the results table; <see cref="Pass"/> is null when the issue sets no target for it.</summary>
internal sealed record ReportRow(string Figure, string NetDev, string Baseline, string Ratio, string Target, bool? Pass, string? Note = null);

/// <summary>Everything one run of the suite found.</summary>
internal sealed class Results
{
    private readonly List<ReportRow> _rows = [];
    private readonly List<string> _details = [];
    private readonly List<string> _notes = [];
    private readonly List<(string Title, IReadOnlyList<string> Lines)> _sections = [];

    public IReadOnlyList<ReportRow> Rows => _rows;

    public IReadOnlyList<string> Details => _details;

    public IReadOnlyList<string> Notes => _notes;

    /// <summary>Sections of their own (markdown lines), after the table: the mixed soak's ledgers.</summary>
    public IReadOnlyList<(string Title, IReadOnlyList<string> Lines)> Sections => _sections;

    public void AddSection(string title, IReadOnlyList<string> lines) => _sections.Add((title, lines));

    public void Add(Comparison comparison)
    {
        _rows.Add(comparison.ToRow());
        _details.Add(comparison.Details());
    }

    public void Add(ReportRow row, string? details = null)
    {
        _rows.Add(row);
        if (details is not null)
        {
            _details.Add(details);
        }
    }

    public void AddDetail(string details) => _details.Add(details);

    public void AddNote(string note)
    {
        if (!_notes.Contains(note))
        {
            _notes.Add(note);
        }
    }
}

internal static class Statistics
{
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}

/// <summary>How figures are written.</summary>
internal static class Units
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string FramesPerSecond(double value) => (value / 1000).ToString("#,0", Invariant) + " k frames/s";

    public static string BitsPerSecond(double value) => (value / 1e9).ToString("0.00", Invariant) + " Gbit/s";

    public static string Nanoseconds(double value) => value.ToString("#,0", Invariant) + " ns";

    public static string Microseconds(double value) => value.ToString("0", Invariant) + " µs";

    public static string BytesPerFrame(double value) => value.ToString("0.###", Invariant) + " B/frame";

    public static string MiB(long kib) => (kib / 1024.0).ToString("0.0", Invariant) + " MiB";

    public static string Count(long value) => value.ToString("#,0", Invariant);
}
