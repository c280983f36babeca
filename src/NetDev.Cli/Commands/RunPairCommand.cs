using System.CommandLine;
using NetDev.Drivers.Pair;
using NetDev.Linux;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev run pair [--name A] [--peer-name B] [--netns NS1] [--peer-netns NS2] [--queues N]</c>: two
/// devices joined back to back, like <c>ip link add A type veth peer name B</c>; what one transmits the
/// other receives.
/// </summary>
internal static class RunPairCommand
{
    private const int MaxQueues = 256;

    public static Command Create()
    {
        var name = new Option<string>("--name", "-n")
        {
            Description = "The first end's name, or a template with %d that the kernel numbers.",
            HelpName = "NAME",
            DefaultValueFactory = _ => PairDriver.DefaultNameTemplate,
        };
        var peerName = new Option<string?>("--peer-name", "-p")
        {
            Description = "The other end's name or template. Defaults to --name when the ends are in different namespaces or --name is a template "
                + "(the kernel then numbers both: pair0 and pair1); required when both ends share a namespace and --name is a plain name.",
            HelpName = "NAME",
        };
        var netns = new Option<string?>("--netns")
        {
            Description = "The network namespace (ip netns) of the first end [default: the one netdev runs in].",
            HelpName = "NS",
        };
        var peerNetns = new Option<string?>("--peer-netns")
        {
            Description = "The network namespace of the other end [default: the one netdev runs in].",
            HelpName = "NS",
        };
        var queues = new Option<int>("--queues", "-q")
        {
            Description = $"Transmit and receive queues per end, 1 to {MaxQueues}; queue i of one end feeds queue i of the other.",
            DefaultValueFactory = _ => 1,
            HelpName = "N",
        };
        queues.Validators.Add(result => OptionValidation.RequireRange(result, 1, MaxQueues));

        var command = new Command("pair", "Two devices joined back to back, like veth: what one sends the other receives. "
            + "Prints 'ready: NAME' for the first end, then for the other; on SIGINT or SIGTERM, one counters line for each, in that order.")
        {
            name,
            peerName,
            netns,
            peerNetns,
            queues,
        };
        command.Validators.Add(result =>
        {
            // Under --help the default may not have been filled in; there is nothing to check then.
            if (result.GetValue(name) is not { } first)
            {
                return;
            }
            if (result.GetValue(peerName) is null && result.GetValue(netns) == result.GetValue(peerNetns) && !first.Contains('%'))
            {
                result.AddError($"both ends would be called '{first}' in one namespace; give --peer-name, a template such as '{first}%d', or --peer-netns.");
            }
        });

        command.SetAction(parseResult =>
        {
            using var loggerFactory = GlobalOptions.CreateLoggerFactory(parseResult);
            var firstName = parseResult.GetValue(name)!;
            var host = new LinuxHost(RunCommand.HostOptions(parseResult.GetValue(netns)));
            var peerHost = new LinuxHost(RunCommand.HostOptions(parseResult.GetValue(peerNetns)));
            PairRegistration pair;
            try
            {
                pair = PairDriver.Create(host, firstName, peerHost, parseResult.GetValue(peerName) ?? firstName, parseResult.GetValue(queues), loggerFactory);
            }
            catch (ArgumentException error)
            {
                // The devices check the names against the kernel's rules; a bad one is a usage error.
                Console.Error.WriteLine($"netdev run pair: {OptionValidation.Reason(error)} See 'netdev run pair --help'.");
                return ExitCodes.Usage;
            }
            return DeviceRunner.Run([DeviceGroup.Of(pair)], RunCommand.ControlOptions(parseResult), Console.Out, Console.Error, parseResult.GetValue(RunCommand.Json));
        });
        return command;
    }
}
