using System.CommandLine;
using NetDev.Cli.Demo;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev demo</c>: the project's main job — two namespaces joined by the pair driver, a ping and a
/// TCP transfer across, figures and counters, and everything removed afterwards.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var pings = new Option<int>("--pings")
        {
            Description = "Echo requests to send, 1 to 1000.",
            DefaultValueFactory = _ => 5,
            HelpName = "N",
        };
        var megabytes = new Option<int>("--megabytes")
        {
            Description = "MiB to send over TCP, 1 to 4096.",
            DefaultValueFactory = _ => 64,
            HelpName = "N",
        };
        var queues = new Option<int>("--queues")
        {
            Description = "Queues per pair end, 1 to 16.",
            DefaultValueFactory = _ => 1,
            HelpName = "N",
        };
        var noOffloads = new Option<bool>("--no-offloads")
        {
            Description = "Carry wire-size frames with complete checksums instead of 64 KiB segments with partial ones.",
        };
        pings.Validators.Add(result => Range(result, 1, 1000));
        megabytes.Validators.Add(result => Range(result, 1, 4096));
        queues.Validators.Add(result => Range(result, 1, 16));

        var command = new Command("demo", "Join two new network namespaces with the pair driver, ping and run a TCP transfer across, print the figures, and remove everything.")
        {
            pings,
            megabytes,
            queues,
            noOffloads,
        };
        command.SetAction(parseResult =>
        {
            using var loggerFactory = GlobalOptions.CreateLoggerFactory(parseResult);
            using var termination = new TerminationSignal();
            var scenario = new DemoScenario(
                new DemoOptions(parseResult.GetValue(pings), parseResult.GetValue(megabytes) * 1024L * 1024, parseResult.GetValue(queues), !parseResult.GetValue(noOffloads)),
                ControlPlane.ServerOptions(enabled: true), Console.Out, loggerFactory);
            try
            {
                var ok = scenario.RunAsync(termination.Token).GetAwaiter().GetResult();
                return ok ? ExitCodes.Success : ExitCodes.Failure;
            }
            catch (OperationCanceledException) when (termination.IsReceived)
            {
                Console.Error.WriteLine("netdev: demo interrupted; everything it made was removed");
                return ExitCodes.Interrupted;
            }
            catch (NetDevException failure)
            {
                Console.Error.WriteLine($"netdev: {failure.Message}");
                return ExitCodes.Failure;
            }
        });
        return command;
    }

    private static void Range(System.CommandLine.Parsing.OptionResult result, int min, int max)
    {
        if (result.Tokens.Count > 0 && !int.TryParse(result.Tokens[^1].Value, out _))
        {
            return;
        }
        var value = result.GetValueOrDefault<int>();
        if (value < min || value > max)
        {
            result.AddError($"{result.IdentifierToken?.Value ?? result.Option.Name} must be between {min} and {max}; got {value}.");
        }
    }
}
