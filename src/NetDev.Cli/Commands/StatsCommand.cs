using System.CommandLine;
using NetDev.Control;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev stats IFNAME [--json] [--queues]</c>: a running device's counters, read from its control
/// endpoint (as <c>ip -s link</c> shows the kernel's). The <c>--json</c> schema is in docs/control-plane.md.
/// </summary>
internal static class StatsCommand
{
    public static Command Create()
    {
        var device = DeviceArgument.Create();
        var json = new Option<bool>("--json", "-j")
        {
            Description = "Print the counters as one JSON object (schema: docs/control-plane.md).",
        };
        var queues = new Option<bool>("--queues", "-q")
        {
            Description = "Add each queue's counters.",
        };
        var command = new Command("stats", "Show a running NetDev device's counters: rtnl_link_stats64, drops by reason, and per queue.")
        {
            device,
            json,
            queues,
        };
        command.SetAction(parseResult =>
        {
            using var client = ControlPlane.Connect(parseResult.GetValue(device)!, Console.Error);
            if (client is null)
            {
                return ExitCodes.Failure;
            }
            DeviceStatsReport report;
            try
            {
                report = client.GetStats(parseResult.GetValue(queues));
            }
            catch (ControlException failure)
            {
                Console.Error.WriteLine($"netdev: {failure.Message}");
                return ExitCodes.Failure;
            }
            if (parseResult.GetValue(json))
            {
                Console.Out.WriteLine(ControlProtocol.ToJson(report));
            }
            else
            {
                Write(report, Console.Out);
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static void Write(DeviceStatsReport report, TextWriter output)
    {
        var s = report.Stats64;
        output.WriteLine($"{report.Name}{(report.Netns is null ? "" : "@" + report.Netns)}: ifindex {report.Ifindex}");
        if (report.Health is { } health)
        {
            output.WriteLine($"    health: {health.State}, {health.Errors} error(s){(health.LastError is { } last ? $"; last: {last}" : "")}");
        }
        Block(output, "RX:", ("bytes", s.RxBytes), ("packets", s.RxPackets), ("errors", s.RxErrors), ("dropped", s.RxDropped),
            ("missed", s.RxMissedErrors), ("mcast", s.Multicast));
        Block(output, "RX errors:", ("length", s.RxLengthErrors), ("crc", s.RxCrcErrors), ("frame", s.RxFrameErrors),
            ("fifo", s.RxFifoErrors), ("overrun", s.RxOverErrors), ("nohandler", s.RxNoHandler));
        Block(output, "TX:", ("bytes", s.TxBytes), ("packets", s.TxPackets), ("errors", s.TxErrors), ("dropped", s.TxDropped),
            ("carrier", s.TxCarrierErrors), ("collsns", s.Collisions));
        Block(output, "TX errors:", ("aborted", s.TxAbortedErrors), ("fifo", s.TxFifoErrors));
        output.WriteLine("    Drops by reason:");
        if (report.Drops.Count == 0)
        {
            output.WriteLine("        none");
        }
        else
        {
            var drops = new TextTable("DIR", "REASON", "FRAMES");
            foreach (var drop in report.Drops)
            {
                drops.Add(drop.Direction, drop.Reason, drop.Count.ToString());
            }
            drops.WriteTo(output, "        ");
        }
        if (report.Queues is { } queues)
        {
            output.WriteLine("    Queues:");
            var table = new TextTable("QUEUE", "TX_PACKETS", "TX_BYTES", "TX_ERRORS", "TX_DROPPED", "TX_BUSY", "TX_TIMEOUTS", "TX_STOPPED",
                "RX_PACKETS", "RX_BYTES", "RX_ERRORS", "RX_DROPPED");
            foreach (var q in queues)
            {
                table.Add(q.Index.ToString(), q.TxPackets.ToString(), q.TxBytes.ToString(), q.TxErrors.ToString(), q.TxDropped.ToString(),
                    q.TxBusy.ToString(), q.TxTimeouts.ToString(), q.TxStopped ? "yes" : "no",
                    q.RxPackets.ToString(), q.RxBytes.ToString(), q.RxErrors.ToString(), q.RxDropped.ToString());
            }
            table.WriteTo(output, "        ", alignRight: true);
        }
    }

    /// <summary>A labelled pair of lines, names above their values, as <c>ip -s link</c> prints them.</summary>
    private static void Block(TextWriter output, string label, params (string Name, long Value)[] counters)
    {
        var table = new TextTable([.. counters.Select(counter => counter.Name)]);
        table.Add([.. counters.Select(counter => counter.Value.ToString())]);
        output.WriteLine($"    {label}");
        table.WriteTo(output, "        ", alignRight: true);
    }
}
