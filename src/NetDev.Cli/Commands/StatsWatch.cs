using System.Diagnostics;
using System.Text.Json;
using NetDev.Control;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev stats --watch SECONDS</c>: every SECONDS, each device's rates over the interval just past — packets and
/// bits per second each way, drops and errors per second — as a table, or one JSON object per device per line,
/// until SIGINT or SIGTERM. A device that appears is shown from its second look on; one that goes is left out.
/// </summary>
internal static class StatsWatch
{
    public static int Run(string? device, TimeSpan interval, bool json, TextWriter output, TextWriter error)
    {
        using var termination = new TerminationSignal(error);
        if (device is not null)
        {
            // An unknown or ambiguous name is said at once, as without --watch.
            using var client = ControlPlane.Connect(device, error);
            if (client is null)
            {
                return ExitCodes.Failure;
            }
        }
        var previous = new Dictionary<string, LinkStats64>();
        var lastLook = Stopwatch.GetTimestamp();
        while (true)
        {
            var reports = StatsCommand.Read(error, out _, device: device);
            if (reports is null)
            {
                return ExitCodes.Failure;
            }
            var elapsed = Stopwatch.GetElapsedTime(lastLook).TotalSeconds;
            lastLook = Stopwatch.GetTimestamp();
            var rates = reports
                .Where(report => previous.ContainsKey(Key(report)))
                .Select(report => Rates.Between(report, previous[Key(report)], elapsed))
                .ToList();
            previous = reports.ToDictionary(Key, report => report.Stats64);
            Print(rates, json, output);
            if (termination.WaitHandle.WaitOne(interval))
            {
                return ExitCodes.Success;
            }
        }
    }

    private static string Key(DeviceStatsReport report) => report.Netns is null ? report.Name : $"{report.Name}@{report.Netns}";

    private static void Print(List<Rates> rates, bool json, TextWriter output)
    {
        if (rates.Count == 0)
        {
            return;
        }
        if (json)
        {
            foreach (var rate in rates)
            {
                output.WriteLine(JsonSerializer.Serialize(rate, CliJsonContext.Default.Rates));
            }
        }
        else
        {
            var table = new TextTable("NAME", "RX_PKT/S", "RX_BIT/S", "TX_PKT/S", "TX_BIT/S", "RX_DROP/S", "TX_DROP/S", "RX_ERR/S", "TX_ERR/S");
            foreach (var r in rates)
            {
                table.Add(r.Netns is null ? r.Name : $"{r.Name}@{r.Netns}", r.RxPacketsPerSecond.ToString(), r.RxBitsPerSecond.ToString(),
                    r.TxPacketsPerSecond.ToString(), r.TxBitsPerSecond.ToString(), r.RxDroppedPerSecond.ToString(), r.TxDroppedPerSecond.ToString(),
                    r.RxErrorsPerSecond.ToString(), r.TxErrorsPerSecond.ToString());
            }
            table.WriteTo(output, alignRight: true);
            output.WriteLine();
        }
        output.Flush();
    }
}

/// <summary>One device's rates over one interval of <c>netdev stats --watch</c>, whole numbers per second.</summary>
internal sealed record Rates(
    string Name,
    string? Netns,
    long RxPacketsPerSecond,
    long RxBitsPerSecond,
    long TxPacketsPerSecond,
    long TxBitsPerSecond,
    long RxDroppedPerSecond,
    long TxDroppedPerSecond,
    long RxErrorsPerSecond,
    long TxErrorsPerSecond)
{
    public static Rates Between(DeviceStatsReport now, LinkStats64 before, double seconds)
    {
        var s = now.Stats64;
        long Rate(long later, long earlier) => seconds <= 0 ? 0 : (long)Math.Round(Math.Max(0, later - earlier) / seconds);
        return new Rates(now.Name, now.Netns,
            Rate(s.RxPackets, before.RxPackets), 8 * Rate(s.RxBytes, before.RxBytes),
            Rate(s.TxPackets, before.TxPackets), 8 * Rate(s.TxBytes, before.TxBytes),
            Rate(s.RxDropped, before.RxDropped), Rate(s.TxDropped, before.TxDropped),
            Rate(s.RxErrors, before.RxErrors), Rate(s.TxErrors, before.TxErrors));
    }
}
