using System.CommandLine;

namespace NetDev.Cli.Commands;

/// <summary>The IFNAME argument of the commands that talk to a running device.</summary>
internal static class DeviceArgument
{
    public static Argument<string> Create() => new("IFNAME")
    {
        Description = "The device: NAME, or NAME@NETNS when several network namespaces have a device of that name.",
    };
}
