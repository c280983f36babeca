using System.Text;

namespace NetDev.Bench;

/// <summary>The markdown report: the command, the machine, the table, then every run's numbers.</summary>
internal static class Report
{
    public static string Write(string command, BenchOptions options, IReadOnlyList<(string What, string Value)> machine,
        string loadAtStart, string loadAtEnd, TimeSpan duration, Results results, IReadOnlyCollection<string> deviceErrors)
    {
        var text = new StringBuilder();
        text.AppendLine("# NetDev benchmark results");
        text.AppendLine();
        text.AppendLine($"Command: `{command}`  ");
        text.AppendLine($"Finished: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, after {duration.TotalMinutes:0.0} min  ");
        text.AppendLine($"Settings: {options.Describe()}  ");
        text.AppendLine($"Load average (1/5/15 min) at start: {loadAtStart}; at end: {loadAtEnd}");
        text.AppendLine();
        text.AppendLine("| machine | |");
        text.AppendLine("| --- | --- |");
        foreach (var (what, value) in machine)
        {
            text.AppendLine($"| {what} | {value} |");
        }
        text.AppendLine();
        text.AppendLine("## Figures");
        text.AppendLine();
        text.AppendLine("Values are medians over the runs; the ratio is NetDev ÷ baseline, the median of the per-run ratios");
        text.AppendLine("(each run measures both sides back to back). Targets are issue 7's. See bench/README.md for what each figure measures.");
        text.AppendLine();
        text.AppendLine("| figure | NetDev | baseline | ratio | target | result |");
        text.AppendLine("| --- | --- | --- | --- | --- | --- |");
        var footnotes = new List<string>();
        foreach (var row in results.Rows)
        {
            var figure = row.Figure;
            if (row.Note is { } note)
            {
                if (!footnotes.Contains(note))
                {
                    footnotes.Add(note);
                }
                figure += $" [{footnotes.IndexOf(note) + 1}]";
            }
            var result = row.Pass switch
            {
                true => "pass",
                false => "**FAIL**",
                null => row.Target == "—" ? "(no target)" : "not measured",
            };
            text.AppendLine($"| {figure} | {row.NetDev} | {row.Baseline} | {row.Ratio} | {row.Target} | {result} |");
        }
        text.AppendLine();
        for (var i = 0; i < footnotes.Count; i++)
        {
            text.AppendLine($"[{i + 1}] {footnotes[i]}  ");
        }
        foreach (var (title, lines) in results.Sections)
        {
            text.AppendLine();
            text.AppendLine($"## {title}");
            text.AppendLine();
            foreach (var line in lines)
            {
                text.AppendLine(line);
            }
        }
        text.AppendLine();
        text.AppendLine("## Every run");
        text.AppendLine();
        foreach (var line in results.Details)
        {
            text.AppendLine($"- {line}");
        }
        if (results.Notes.Count > 0 || deviceErrors.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("## Notes");
            text.AppendLine();
            foreach (var note in results.Notes)
            {
                text.AppendLine($"- {note}");
            }
            foreach (var error in deviceErrors)
            {
                text.AppendLine($"- device error: {error}");
            }
        }
        return text.ToString();
    }
}
