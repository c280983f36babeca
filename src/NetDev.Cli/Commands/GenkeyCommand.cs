using System.CommandLine;
using NetDev.Drivers.Tunnel;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev genkey</c>: prints a new tunnel key (32 random bytes in base64, as <c>wg genkey</c> does), for
/// <c>netdev run tunnel --key-file</c>: <c>umask 077; netdev genkey &gt; tunnel.key</c>.
/// </summary>
internal static class GenkeyCommand
{
    public static Command Create()
    {
        var command = new Command("genkey", "Print a new random key for 'netdev run tunnel --key-file' (base64, as 'wg genkey'); "
            + "keep it secret: umask 077; netdev genkey > tunnel.key, and copy the file to every peer.");
        command.SetAction(parseResult =>
        {
            parseResult.InvocationConfiguration.Output.WriteLine(TunnelKey.Generate().ToBase64());
            return ExitCodes.Success;
        });
        return command;
    }
}
