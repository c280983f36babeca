using System.CommandLine;
using NetDev.Control;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev stats [IFNAME] [--json] [--queues] [--watch SECONDS]</c>: a running device's counters — or every
/// device's, with no IFNAME — read from its control endpoint (as <c>ip -s link</c> shows the kernel's); with
/// <c>--watch</c>, rates every SECONDS until SIGINT. The <c>--json</c> schema is in docs/control-plane.md.
/// </summary>
internal static class StatsCommand
{
    public static Command Create()
    {
        var device = DeviceArgument.Create();
        device.Arity = ArgumentArity.ZeroOrOne;
        device.Description += " Every running device when left out.";
        var json = JsonOption.Create("the counters (one object for IFNAME, an array for every device; with --watch one rates object per line)");
        var queues = new Option<bool>("--queues", "-q")
        {
            Description = "Add each queue's counters.",
        };
        var watch = new Option<double?>("--watch", "-w")
        {
            Description = "Print the rates every SECONDS (packets, bits, drops and errors per second) until SIGINT.",
            HelpName = "SECONDS",
        };
        watch.Validators.Add(result =>
        {
            if (result.GetValue(watch) is { } seconds && (seconds < 0.1 || seconds > 3600 || double.IsNaN(seconds)))
            {
                result.AddError("--watch takes 0.1 to 3600 seconds.");
            }
        });
        var command = new Command("stats", "Show running NetDev devices' counters: rtnl_link_stats64, drops by reason, and per queue; or their rates.")
        {
            device,
            json,
            queues,
            watch,
        };
        command.SetAction(parseResult =>
        {
            var name = parseResult.GetValue(device);
            var asJson = parseResult.GetValue(json);
            if (parseResult.GetValue(watch) is { } seconds)
            {
                return StatsWatch.Run(name, TimeSpan.FromSeconds(seconds), asJson, Console.Out, Console.Error);
            }
            return name is null ? All(asJson, parseResult.GetValue(queues)) : One(name, asJson, parseResult.GetValue(queues));
        });
        return command;
    }

    private static int One(string name, bool json, bool queues)
    {
        using var client = ControlPlane.Connect(name, Console.Error);
        if (client is null)
        {
            return ExitCodes.Failure;
        }
        DeviceStatsReport report;
        try
        {
            report = client.GetStats(queues);
        }
        catch (ControlException failure)
        {
            Console.Error.WriteLine($"netdev: {failure.Message}");
            return ExitCodes.Failure;
        }
        if (json)
        {
            Console.Out.WriteLine(ControlProtocol.ToJson(report));
        }
        else
        {
            Write(report, Console.Out);
        }
        return ExitCodes.Success;
    }

    private static int All(bool json, bool queues)
    {
        var reports = Read(Console.Error, out var failed, queues);
        if (reports is null)
        {
            return ExitCodes.Failure;
        }
        if (json)
        {
            Console.Out.WriteLine(ControlProtocol.ToJson(reports));
        }
        else
        {
            foreach (var report in reports)
            {
                Write(report, Console.Out);
            }
        }
        return failed ? ExitCodes.Failure : ExitCodes.Success;
    }

    /// <summary>Every running device's counters (those <paramref name="device"/> names, when given); null when the directory cannot be read.</summary>
    internal static List<DeviceStatsReport>? Read(TextWriter error, out bool failed, bool queues = false, string? device = null)
    {
        var clients = ControlPlane.ConnectAll(error, out failed, device);
        if (clients is null)
        {
            return null;
        }
        var reports = new List<DeviceStatsReport>();
        foreach (var client in clients)
        {
            using (client)
            {
                try
                {
                    reports.Add(client.GetStats(queues));
                }
                catch (ControlException failure)
                {
                    error.WriteLine($"netdev: {failure.Message}");
                    failed = true;
                }
            }
        }
        return reports;
    }

    internal static void Write(DeviceStatsReport report, TextWriter output)
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
