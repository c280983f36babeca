using System.CommandLine;
using NetDev.Control;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev list</c>: every NetDev device running on the host, in any network namespace, as a table.
/// Sockets of processes that died are removed, never listed.
/// </summary>
internal static class ListCommand
{
    public static Command Create()
    {
        var command = new Command("list", "List the NetDev devices running on this host, in every network namespace.");
        command.SetAction(_ => List(Console.Out, Console.Error));
        return command;
    }

    private static int List(TextWriter output, TextWriter error)
    {
        var table = new TextTable("NAME", "NETNS", "IFINDEX", "DRIVER", "STATE", "HEALTH", "MTU", "QUEUES", "PID");
        var failed = false;
        IReadOnlyList<ControlEndpoint> endpoints;
        try
        {
            endpoints = ControlDirectory.List(ControlPlane.Directory);
        }
        catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"netdev: cannot read {ControlPlane.Directory}: {failure.Message}");
            return ExitCodes.Failure;
        }
        foreach (var endpoint in endpoints)
        {
            using var client = ControlPlane.TryConnect(endpoint, error, out var unreachable);
            failed |= unreachable;
            if (client is null)
            {
                continue;
            }
            try
            {
                var info = client.GetInfo();
                table.Add(info.Name, info.Netns ?? "-", info.Ifindex.ToString(), info.Driver, info.State, info.Health?.State ?? "-",
                    info.Mtu.ToString(), $"{info.TxQueues}/{info.RxQueues}", info.Pid.ToString());
            }
            catch (ControlException failure)
            {
                error.WriteLine($"netdev: {failure.Message}");
                failed = true;
            }
        }
        table.WriteTo(output);
        return failed ? ExitCodes.Failure : ExitCodes.Success;
    }
}
