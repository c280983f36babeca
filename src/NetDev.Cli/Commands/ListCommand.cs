using System.CommandLine;
using NetDev.Control;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev list</c>: every NetDev device running on the host, in any network namespace, as a table.
/// Sockets of processes that died are removed, never listed; a namespace deleted under a device still
/// running is shown as <c>NAME (deleted)</c>.
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
                table.Add(info.Name, NamespaceColumn(info.Netns), info.Ifindex.ToString(), info.Driver, info.State, info.Health?.State ?? "-",
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

    /// <summary>
    /// The namespace a device is in, as it is now: a namespace deleted with <c>ip netns del</c> lives on,
    /// unnamed, while a device's sockets hold it (until its owner notices and removes the device), so the
    /// name it had is marked as deleted rather than shown as if one could still enter it.
    /// </summary>
    private static string NamespaceColumn(string? networkNamespace) => networkNamespace switch
    {
        null => "-",
        _ when !File.Exists(Path.Combine(NetDev.Linux.NetworkNamespace.Directory, networkNamespace)) => $"{networkNamespace} (deleted)",
        _ => networkNamespace,
    };
}
