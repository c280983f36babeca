using System.CommandLine;
using System.CommandLine.Completions;

namespace NetDev.Cli.Commands;

/// <summary>The IFNAME argument of the commands that talk to a running device.</summary>
internal static class DeviceArgument
{
    public static Argument<string> Create()
    {
        var argument = new Argument<string>("IFNAME")
        {
            Description = "The device: NAME, or NAME@NETNS when several network namespaces have a device of that name.",
        };
        argument.CompletionSources.Add(_ => ControlPlane.DeviceNames().Select(name => new CompletionItem(name)));
        return argument;
    }
}
