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
        var json = JsonOption.Create("one array of the devices' info objects");
        var command = new Command("list", "List the NetDev devices running on this host, in every network namespace.")
        {
            json,
        };
        command.SetAction(parseResult => List(parseResult.GetValue(json), Console.Out, Console.Error));
        return command;
    }

    private static int List(bool json, TextWriter output, TextWriter error)
    {
        var clients = ControlPlane.ConnectAll(error, out var failed);
        if (clients is null)
        {
            return ExitCodes.Failure;
        }
        var infos = new List<DeviceInfoReport>();
        foreach (var client in clients)
        {
            using (client)
            {
                try
                {
                    infos.Add(client.GetInfo());
                }
                catch (ControlException failure)
                {
                    error.WriteLine($"netdev: {failure.Message}");
                    failed = true;
                }
            }
        }
        if (json)
        {
            output.WriteLine(ControlProtocol.ToJson(infos));
            return failed ? ExitCodes.Failure : ExitCodes.Success;
        }
        // The last error goes last: the one cell of any length.
        var table = new TextTable("NAME", "NETNS", "IFINDEX", "DRIVER", "STATE", "HEALTH", "MTU", "QUEUES", "PID", "ERRORS", "LAST_ERROR");
        foreach (var info in infos)
        {
            table.Add(info.Name, NamespaceColumn(info.Netns), info.Ifindex.ToString(), info.Driver, info.State, info.Health?.State ?? "-",
                info.Mtu.ToString(), $"{info.TxQueues}/{info.RxQueues}", info.Pid.ToString(), info.Health?.Errors.ToString() ?? "-", info.Health?.LastError ?? "-");
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
