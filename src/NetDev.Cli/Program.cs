using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using NetDev.Cli;
using NetDev.Cli.Commands;

// A plain command named "netdev" rather than a RootCommand, whose name would be the assembly's (NetDev.Cli).
var root = new Command("netdev", "Run NetDev drivers as real Linux network interfaces.")
{
    new HelpOption(),
    new VersionOption(),
    GlobalOptions.Verbose,
};
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(ListCommand.Create());
root.Subcommands.Add(StatsCommand.Create());
root.Subcommands.Add(EthtoolCommand.Create());
root.Subcommands.Add(PersistentTapCommands.Create());
root.Subcommands.Add(PersistentTapCommands.Delete());

var parseResult = root.Parse(args);
if (parseResult.Action is ParseErrorAction)
{
    // Usage errors go to stderr with the usage, and exit 2 as getopt-style tools do (the library says 1).
    parseResult.Invoke(new InvocationConfiguration { Output = Console.Error, Error = Console.Error });
    return ExitCodes.Usage;
}
// Commands that run until a signal handle SIGINT and SIGTERM themselves (see TerminationSignal).
return parseResult.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });
