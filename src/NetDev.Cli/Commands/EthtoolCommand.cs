using System.CommandLine;
using NetDev.Control;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev ethtool [-i|-S|-g|-T] IFNAME</c>: a running device's ethtool operations, printed as
/// <c>ethtool</c> prints them. The kernel answers real <c>ethtool</c> for a TAP itself, knowing nothing of
/// the driver behind it, so these come from the device's control endpoint.
/// </summary>
internal static class EthtoolCommand
{
    public static Command Create()
    {
        var device = DeviceArgument.Create();
        var driver = new Option<bool>("--driver", "-i") { Description = "Show the driver's name, version and bus (get_drvinfo)." };
        var statistics = new Option<bool>("--statistics", "-S") { Description = "Show the device's named counters (get_ethtool_stats)." };
        var ring = new Option<bool>("--show-ring", "-g") { Description = "Show the ring sizes (get_ringparam)." };
        var timestamping = new Option<bool>("--show-time-stamping", "-T") { Description = "Show the timestamping capabilities (get_ts_info)." };
        var json = JsonOption.Create("the view's object");
        var command = new Command("ethtool", "Show a running NetDev device's ethtool information; with no option, its link settings.")
        {
            device,
            json,
            driver,
            statistics,
            ring,
            timestamping,
        };
        command.Validators.Add(result =>
        {
            var chosen = new Option<bool>[] { driver, statistics, ring, timestamping }.Where(option => result.GetValue(option)).ToArray();
            if (chosen.Length > 1)
            {
                result.AddError($"Choose one of {string.Join(", ", chosen.Select(option => option.Aliases.First()))}.");
            }
        });
        command.SetAction(parseResult =>
        {
            using var client = ControlPlane.Connect(parseResult.GetValue(device)!, Console.Error);
            if (client is null)
            {
                return ExitCodes.Failure;
            }
            var output = Console.Out;
            var name = client.Endpoint.Name;
            try
            {
                var asJson = parseResult.GetValue(json);
                if (parseResult.GetValue(driver))
                {
                    var info = client.GetDriverInfo();
                    Print(asJson, ControlProtocol.ToJson(info), () => WriteDriverInfo(info, output), output);
                }
                else if (parseResult.GetValue(statistics))
                {
                    var counters = client.GetStatistics();
                    Print(asJson, ControlProtocol.ToJson(new StatisticsReport(counters)), () => WriteStatistics(counters, output), output);
                }
                else if (parseResult.GetValue(ring))
                {
                    var rings = client.GetRingParameters();
                    Print(asJson, ControlProtocol.ToJson(rings), () => WriteRingParameters(name, rings, output), output);
                }
                else if (parseResult.GetValue(timestamping))
                {
                    var report = client.GetTimestamping();
                    Print(asJson, ControlProtocol.ToJson(report), () => WriteTimestamping(name, report, output), output);
                }
                else
                {
                    var settings = client.GetLinkSettings();
                    Print(asJson, ControlProtocol.ToJson(settings), () => WriteLinkSettings(name, settings, output), output);
                }
            }
            catch (ControlException failure)
            {
                Console.Error.WriteLine($"netdev: {failure.Message}");
                return ExitCodes.Failure;
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The view as one JSON line, or as ethtool prints it.</summary>
    private static void Print(bool json, string asJson, Action asText, TextWriter output)
    {
        if (json)
        {
            output.WriteLine(asJson);
        }
        else
        {
            asText();
        }
    }

    private static void WriteDriverInfo(DriverInfo info, TextWriter output)
    {
        output.WriteLine($"driver: {info.Driver}");
        output.WriteLine($"version: {info.Version}");
        output.WriteLine($"firmware-version: {info.FirmwareVersion}");
        output.WriteLine("expansion-rom-version: ");
        output.WriteLine($"bus-info: {info.BusInfo}");
        // What the control endpoint serves: named counters, nothing of tests, EEPROM, registers or private flags.
        output.WriteLine("supports-statistics: yes");
        output.WriteLine("supports-test: no");
        output.WriteLine("supports-eeprom-access: no");
        output.WriteLine("supports-register-dump: no");
        output.WriteLine("supports-priv-flags: no");
    }

    private static void WriteStatistics(IReadOnlyList<NamedCounter> statistics, TextWriter output)
    {
        output.WriteLine("NIC statistics:");
        foreach (var counter in statistics)
        {
            output.WriteLine($"     {counter.Name}: {counter.Value}");
        }
    }

    private static void WriteRingParameters(string name, RingParameters ring, TextWriter output)
    {
        output.WriteLine($"Ring parameters for {name}:");
        output.WriteLine("Pre-set maximums:");
        WriteRings(ring.RxMax, ring.TxMax, output);
        output.WriteLine("Current hardware settings:");
        WriteRings(ring.Rx, ring.Tx, output);
    }

    private static void WriteRings(int rx, int tx, TextWriter output)
    {
        output.WriteLine($"RX:\t\t\t{rx}");
        output.WriteLine("RX Mini:\t\tn/a");
        output.WriteLine("RX Jumbo:\t\tn/a");
        output.WriteLine($"TX:\t\t\t{tx}");
    }

    private static void WriteTimestamping(string name, TimestampingReport report, TextWriter output)
    {
        output.WriteLine($"Time stamping parameters for {name}:");
        output.WriteLine("Capabilities:");
        foreach (var capability in report.Capabilities)
        {
            output.WriteLine($"\t{capability}");
        }
        output.WriteLine($"PTP Hardware Clock: {(report.PhcIndex < 0 ? "none" : report.PhcIndex.ToString())}");
        output.WriteLine("Hardware Transmit Timestamp Modes: none");
        output.WriteLine("Hardware Receive Filter Modes: none");
    }

    private static void WriteLinkSettings(string name, LinkSettingsReport settings, TextWriter output)
    {
        output.WriteLine($"Settings for {name}:");
        output.WriteLine($"\tSpeed: {(settings.SpeedMbps is { } speed ? $"{speed}Mb/s" : "Unknown!")}");
        output.WriteLine($"\tDuplex: {settings.Duplex switch { "full" => "Full", "half" => "Half", _ => "Unknown! (255)" }}");
        output.WriteLine($"\tAuto-negotiation: {(settings.Autonegotiation ? "on" : "off")}");
        output.WriteLine($"\tPort: {settings.Port}");
        output.WriteLine($"\tLink detected: {(settings.LinkDetected ? "yes" : "no")}");
    }
}
