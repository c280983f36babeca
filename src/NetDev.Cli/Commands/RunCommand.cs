using System.CommandLine;
using NetDev.Control;
using NetDev.Linux;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev run DRIVER …</c>: registers devices of one driver, brings them up, and keeps them until
/// SIGINT or SIGTERM. Each driver is a subcommand with its own options.
/// </summary>
internal static class RunCommand
{
    /// <summary><c>--no-control</c>: serve no control endpoint, so <c>netdev list/stats/ethtool</c> do not see the devices.</summary>
    public static readonly Option<bool> NoControl = new("--no-control")
    {
        Description = $"Serve no control endpoint (netdev list, stats and ethtool will not see the devices). Endpoints live in {ControlDirectory.Default} for root, $XDG_RUNTIME_DIR/netdev for others, or ${ControlPlane.DirectoryVariable}.",
        Recursive = true,
    };

    public static Command Create()
    {
        var run = new Command("run", "Run a driver's devices as real interfaces until SIGINT or SIGTERM, then print their counters.")
        {
            NoControl,
        };
        run.Subcommands.Add(RunDummyCommand.Create());
        run.Subcommands.Add(RunPairCommand.Create());
        run.Subcommands.Add(RunTunnelCommand.Create());
        return run;
    }

    /// <summary>
    /// The Linux host's options for devices in <paramref name="networkNamespace"/> (null: the CLI's own), attached
    /// to persistent TAPs when <paramref name="attach"/> (what the host could not configure then goes to <paramref name="loggerFactory"/>).
    /// </summary>
    public static LinuxHostOptions HostOptions(string? networkNamespace = null, bool attach = false, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null) =>
        new() { NetworkNamespace = networkNamespace, Attach = attach, Logger = loggerFactory?.CreateLogger("NetDev.Linux") };

    /// <summary><c>--attach NAME</c>: run the device on the persistent TAP NAME, which root made for this user, instead of creating one.</summary>
    public static Option<string?> AttachOption() => new("--attach")
    {
        Description = "Attach to the existing persistent TAP NAME (made by netdev create NAME --user USER, or ip tuntap add) instead of creating an interface; needs no privilege when the TAP is yours, and it stays when the run ends.",
        HelpName = "NAME",
    };

    /// <summary>The control endpoints' options, as the command line (<c>--no-control</c>) and environment (<c>NETDEV_RUN_DIR</c>) ask.</summary>
    public static ControlServerOptions ControlOptions(ParseResult parseResult) => ControlPlane.ServerOptions(enabled: !parseResult.GetValue(NoControl));
}
