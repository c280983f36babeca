using System.CommandLine;
using NetDev.Linux;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev create NAME --user USER [--queues N] [--offloads] [--netns NS]</c> and
/// <c>netdev delete NAME [--netns NS]</c>: root makes a persistent TAP once, owned by a user whose
/// processes then run a driver on it without privilege (<c>netdev run dummy --attach NAME</c>).
/// </summary>
internal static class PersistentTapCommands
{
    private const int MaxQueues = 256;

    public static Command Create()
    {
        var name = TapName();
        var user = new Option<string?>("--user", "-u")
        {
            Description = "The user (name or uid) who may attach to the TAP without privilege [default: root alone].",
            HelpName = "USER",
        };
        var queues = new Option<int>("--queues", "-q")
        {
            Description = $"The queues a driver attaches with, 1 to {MaxQueues}; more than one makes a multi-queue TAP.",
            DefaultValueFactory = _ => 1,
            HelpName = "N",
        };
        queues.Validators.Add(result => OptionValidation.RequireRange(result, 1, MaxQueues));
        var offloads = new Option<bool>("--offloads")
        {
            Description = "Make the TAP with a virtio-net header per frame (IFF_VNET_HDR), for drivers that take offloads.",
        };
        var netns = NetnsOption();
        var command = new Command("create", "Make a persistent TAP that a user's drivers attach to without privilege (as root; it stays until netdev delete).")
        {
            name,
            user,
            queues,
            offloads,
            netns,
        };
        command.SetAction(parseResult =>
        {
            var tap = parseResult.GetValue(name)!;
            try
            {
                var owner = parseResult.GetValue(user) is { } who ? PersistentTap.LookUpUser(who).Uid : (int?)null;
                PersistentTap.Create(tap, new PersistentTapOptions
                {
                    OwnerUid = owner,
                    Queues = parseResult.GetValue(queues),
                    Offloads = parseResult.GetValue(offloads),
                    NetworkNamespace = parseResult.GetValue(netns),
                });
            }
            catch (ArgumentException error)
            {
                Console.Error.WriteLine($"netdev create: {OptionValidation.Reason(error)} See 'netdev create --help'.");
                return ExitCodes.Usage;
            }
            catch (NetDevException failure)
            {
                Console.Error.WriteLine($"netdev: {failure.Message}");
                return ExitCodes.Failure;
            }
            Console.Out.WriteLine($"created: {tap}");
            return ExitCodes.Success;
        });
        return command;
    }

    public static Command Delete()
    {
        var name = TapName();
        var netns = NetnsOption();
        var command = new Command("delete", "Remove a persistent TAP made by netdev create (as root); a driver attached to it loses it.")
        {
            name,
            netns,
        };
        command.SetAction(parseResult =>
        {
            var tap = parseResult.GetValue(name)!;
            try
            {
                PersistentTap.Delete(tap, parseResult.GetValue(netns));
            }
            catch (NetDevException failure)
            {
                Console.Error.WriteLine($"netdev: {failure.Message}");
                return ExitCodes.Failure;
            }
            Console.Out.WriteLine($"deleted: {tap}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Argument<string> TapName() => new("NAME") { Description = "The TAP interface's name." };

    private static Option<string?> NetnsOption() => new("--netns")
    {
        Description = "The network namespace (ip netns) the TAP is in [default: the one netdev runs in].",
        HelpName = "NS",
    };
}
