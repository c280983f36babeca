using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev run tunnel --local ADDR:PORT --remote ADDR:PORT [--name T | --attach T] [--netns NS]</c>: an Ethernet
/// overlay carried in UDP datagrams to a peer instance (see docs/tunnel.md).
/// </summary>
internal static class RunTunnelCommand
{
    public static Command Create()
    {
        var name = new Option<string?>("--name", "-n")
        {
            Description = $"Interface name, or a template with %d that the kernel numbers [default: {TunnelDriver.DefaultNameTemplate}].",
            HelpName = "NAME",
        };
        var local = new Option<IPEndPoint>("--local", "-l")
        {
            Description = "The UDP address and port this end listens on and sends from, such as 10.0.0.1:4789 or [fd00::1]:4789.",
            HelpName = "ADDR:PORT",
            Required = true,
            CustomParser = ParseEndPoint,
        };
        var remote = new Option<IPEndPoint>("--remote", "-r")
        {
            Description = "The peer instance's UDP address and port; datagrams from anywhere else are dropped and counted.",
            HelpName = "ADDR:PORT",
            Required = true,
            CustomParser = ParseEndPoint,
        };
        var offloads = new Option<string>("--offloads")
        {
            Description = "none: wire-size frames from the kernel; segmentation: 64 KiB frames cut into datagrams here; "
                + "coalescing: also merge received TCP segments before handing them to the kernel.",
            HelpName = "MODE",
            DefaultValueFactory = _ => "segmentation",
        };
        offloads.AcceptOnlyFromAmong("none", "segmentation", "coalescing");
        var netns = new Option<string?>("--netns")
        {
            Description = "The network namespace (ip netns) of the device and of its UDP socket [default: the one netdev runs in].",
            HelpName = "NS",
        };

        var attach = RunCommand.AttachOption();
        var command = new Command("tunnel", "An Ethernet overlay in UDP: frames sent on the device go to the peer instance, frames from it come out of the device.")
        {
            name,
            local,
            remote,
            offloads,
            netns,
            attach,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(attach) is { } attached && (result.GetValue(name) is not null || attached.Contains('%')))
            {
                result.AddError($"--attach '{attached}' names the one existing TAP to run on; it takes neither --name nor a template.");
            }
        });
        command.SetAction(parseResult =>
        {
            using var loggerFactory = GlobalOptions.CreateLoggerFactory(parseResult);
            var ns = parseResult.GetValue(netns);
            var localEndPoint = parseResult.GetValue(local)!;
            Registration<TunnelDriver> registration;
            try
            {
                var socket = NetworkNamespace.Run(ns, () => TunnelDriver.CreateSocket(localEndPoint));
                registration = TunnelDriver.CreateRegistration(new LinuxHost(RunCommand.HostOptions(ns, parseResult.GetValue(attach) is not null, loggerFactory)),
                    socket, parseResult.GetValue(remote)!, name: parseResult.GetValue(attach) ?? parseResult.GetValue(name), loggerFactory: loggerFactory,
                    offloads: parseResult.GetValue(offloads) switch
                    {
                        "none" => TunnelOffloads.None,
                        "coalescing" => TunnelOffloads.SegmentationAndCoalescing,
                        _ => TunnelOffloads.Segmentation,
                    });
            }
            catch (ArgumentException error)
            {
                Console.Error.WriteLine($"netdev run tunnel: {OptionValidation.Reason(error)} See 'netdev run tunnel --help'.");
                return ExitCodes.Usage;
            }
            catch (NetDevException failure)
            {
                Console.Error.WriteLine($"netdev: {failure.Message}");
                return ExitCodes.Failure;
            }
            return DeviceRunner.Run([DeviceGroup.Of(registration)], RunCommand.ControlOptions(parseResult), Console.Out, Console.Error);
        });
        return command;
    }

    private static IPEndPoint? ParseEndPoint(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (IPEndPoint.TryParse(text, out var endPoint) && endPoint.Port != 0)
        {
            return endPoint;
        }
        result.AddError($"'{text}' is not an address with a port, such as 10.0.0.1:4789 or [fd00::1]:4789.");
        return null;
    }
}
