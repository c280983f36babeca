using System.CommandLine;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev run DRIVER …</c>: registers devices of one driver, brings them up, and keeps them until
/// SIGINT or SIGTERM. Each driver is a subcommand with its own options.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var run = new Command("run", "Run a driver's devices as real interfaces until SIGINT or SIGTERM, then print their counters.");
        run.Subcommands.Add(RunDummyCommand.Create());
        return run;
    }
}
