using System.CommandLine;
using NetDev.Drivers.Dummy;
using NetDev.Linux;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev run dummy [--name NAME] [--queues N] [--count N] [--attach NAME]</c>: <c>dummy.c</c>'s module as a
/// command, <c>--count</c> being its <c>numdummies</c>; <c>--attach</c> runs it on a persistent TAP instead.
/// </summary>
internal static class RunDummyCommand
{
    private const int MaxQueues = 256;
    private const int MaxCount = 64;

    public static Command Create()
    {
        var name = new Option<string?>("--name", "-n")
        {
            Description = $"Interface name, or a template with %d that the kernel numbers [default: {DummyDriver.DefaultNameTemplate}].",
            HelpName = "NAME",
        };
        var queues = new Option<int>("--queues", "-q")
        {
            Description = $"Transmit and receive queues per device, 1 to {MaxQueues}.",
            DefaultValueFactory = _ => 1,
            HelpName = "N",
        };
        var count = new Option<int>("--count", "-c")
        {
            Description = $"How many devices (the kernel's numdummies), 1 to {MaxCount}; more than one needs a name with %d.",
            DefaultValueFactory = _ => 1,
            HelpName = "N",
        };
        var attach = RunCommand.AttachOption();
        queues.Validators.Add(result => OptionValidation.RequireRange(result, 1, MaxQueues));
        count.Validators.Add(result => OptionValidation.RequireRange(result, 1, MaxCount));

        var command = new Command("dummy", "Dummy devices: every frame sent on them is counted and freed (drivers/net/dummy.c).")
        {
            name,
            queues,
            count,
            attach,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(attach) is { } attached)
            {
                if (result.GetValue(name) is not null || result.GetValue(count) > 1 || attached.Contains('%'))
                {
                    result.AddError($"--attach '{attached}' names the one existing TAP to run on; it takes neither --name, --count nor a template.");
                }
                return;
            }
            if (result.GetValue(name) is not { } chosen)
            {
                return;
            }
            if (chosen.Contains('%') && !chosen.Contains("%d"))
            {
                result.AddError($"--name '{chosen}': the only template the kernel numbers is %d.");
            }
            else if (result.GetValue(count) > 1 && !chosen.Contains("%d"))
            {
                result.AddError($"--name '{chosen}' names one interface, but --count asks for {result.GetValue(count)}; use a template such as '{chosen}%d'.");
            }
        });

        command.SetAction(parseResult =>
        {
            using var loggerFactory = GlobalOptions.CreateLoggerFactory(parseResult);
            var attached = parseResult.GetValue(attach);
            var host = new LinuxHost(RunCommand.HostOptions(attach: attached is not null, loggerFactory: loggerFactory));
            var devices = new List<Registration<DummyDriver>>();
            try
            {
                for (var i = 0; i < parseResult.GetValue(count); i++)
                {
                    devices.Add(DummyDriver.CreateRegistration(host, attached ?? parseResult.GetValue(name), parseResult.GetValue(queues), loggerFactory));
                }
            }
            catch (ArgumentException error)
            {
                // The device checks the name against the kernel's rules; a bad one is a usage error.
                devices.ForEach(device => device.Dispose());
                Console.Error.WriteLine($"netdev run dummy: {OptionValidation.Reason(error)} See 'netdev run dummy --help'.");
                return ExitCodes.Usage;
            }
            return DeviceRunner.Run([.. devices.Select(DeviceGroup.Of)], RunCommand.ControlOptions(parseResult), Console.Out, Console.Error);
        });
        return command;
    }
}
