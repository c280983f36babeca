using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev run tunnel --local ADDR:PORT (--remote ADDR:PORT | --peer ADDR:PORT…) [--key-file FILE] [--name T | --attach T] [--netns NS]</c>:
/// an Ethernet overlay carried in UDP datagrams to peer instances (see docs/tunnel.md). Without a key it is
/// unauthenticated, and the help says so.
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
        var remote = new Option<IPEndPoint?>("--remote", "-r")
        {
            Description = "The peer instance's UDP address and port (the same as one --peer).",
            HelpName = "ADDR:PORT",
            CustomParser = ParseEndPoint,
        };
        var peers = new Option<IPEndPoint[]>("--peer", "-p")
        {
            Description = "A peer instance's UDP address and port; repeat it for more peers (up to 256). Frames to a MAC address "
                + "learned behind one peer go to that peer; broadcast, multicast and unknown ones to every peer.",
            HelpName = "ADDR:PORT",
            AllowMultipleArgumentsPerToken = false,
            CustomParser = ParseEndPoints,
        };
        var keyFile = new Option<FileInfo?>("--key-file", "-k")
        {
            Description = "A file holding the overlay's key (32 bytes in base64, from 'netdev genkey' or 'wg genkey'): every datagram "
                + "is then encrypted and authenticated (AES-256-GCM), and forged, altered or replayed ones are dropped. "
                + "WITHOUT A KEY THE TUNNEL IS UNAUTHENTICATED: anyone who can send UDP from a peer's address can inject "
                + "frames (like VXLAN; for trusted networks only).",
            HelpName = "FILE",
        };
        var fdbAgeing = new Option<int>("--fdb-ageing")
        {
            Description = "Seconds a learned MAC address stays behind its peer without a frame from it.",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => (int)TunnelFdb.DefaultAgeing.TotalSeconds,
        };
        fdbAgeing.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 1_000_000)
            {
                result.AddError("--fdb-ageing is 1 to 1000000 seconds.");
            }
        });
        var offloads = new Option<string>("--offloads")
        {
            Description = "none: wire-size frames from the kernel; segmentation: 64 KiB frames cut into datagrams here; "
                + "coalescing: also merge received TCP segments before handing them to the kernel.",
            HelpName = "MODE",
            DefaultValueFactory = _ => "coalescing",
        };
        offloads.AcceptOnlyFromAmong("none", "segmentation", "coalescing");
        var netns = new Option<string?>("--netns")
        {
            Description = "The network namespace (ip netns) of the device and of its UDP socket [default: the one netdev runs in].",
            HelpName = "NS",
        };

        var attach = RunCommand.AttachOption();
        var command = new Command("tunnel", "An Ethernet overlay in UDP: frames sent on the device go to the peer instances, frames from them come "
            + "out of the device. Unauthenticated unless --key-file is given (datagrams from other addresses are dropped, but a "
            + "forged source address is not detected without a key).")
        {
            name,
            local,
            remote,
            peers,
            keyFile,
            fdbAgeing,
            offloads,
            netns,
            attach,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(remote) is null && result.GetResult(peers) is null)
            {
                result.AddError("Name the other end with --remote ADDR:PORT, or each of several with --peer ADDR:PORT.");
            }
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
            TunnelKey? key;
            try
            {
                key = parseResult.GetValue(keyFile) is { } file ? TunnelKey.ReadFile(file.FullName) : null;
            }
            catch (Exception error) when (error is FormatException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"netdev run tunnel: the key file cannot be used: {error.Message}");
                return ExitCodes.Usage;
            }
            IReadOnlyList<IPEndPoint> peerList = [.. parseResult.GetValue(remote) is { } one ? [one] : Array.Empty<IPEndPoint>(),
                .. parseResult.GetValue(peers) ?? []];
            var options = new TunnelOptions { Key = key, FdbAgeing = TimeSpan.FromSeconds(parseResult.GetValue(fdbAgeing)) };
            try
            {
                var socket = NetworkNamespace.Run(ns, () => TunnelDriver.CreateSocket(localEndPoint));
                registration = TunnelDriver.CreateRegistration(new LinuxHost(RunCommand.HostOptions(ns, parseResult.GetValue(attach) is not null, loggerFactory)),
                    socket, peerList, name: parseResult.GetValue(attach) ?? parseResult.GetValue(name), loggerFactory: loggerFactory, options: options,
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
            return DeviceRunner.Run([DeviceGroup.Of(registration)], RunCommand.ControlOptions(parseResult), Console.Out, Console.Error, parseResult.GetValue(RunCommand.Json));
        });
        return command;
    }

    private static IPEndPoint? ParseEndPoint(ArgumentResult result) =>
        TryParse(result, result.Tokens.Count > 0 ? result.Tokens[^1].Value : "");

    private static IPEndPoint[] ParseEndPoints(ArgumentResult result) =>
        [.. result.Tokens.Select(token => TryParse(result, token.Value)).OfType<IPEndPoint>()];

    private static IPEndPoint? TryParse(ArgumentResult result, string text)
    {
        if (IPEndPoint.TryParse(text, out var endPoint) && endPoint.Port != 0)
        {
            return endPoint;
        }
        result.AddError($"'{text}' is not an address with a port, such as 10.0.0.1:4789 or [fd00::1]:4789.");
        return null;
    }
}
