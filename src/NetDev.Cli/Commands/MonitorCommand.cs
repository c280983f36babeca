using System.CommandLine;
using System.Text;
using System.Text.Json;
using NetDev.Control;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev monitor [IFNAME] [--json]</c>: what happens to the running devices (those IFNAME names, when given),
/// as it happens, as <c>ip monitor</c> shows the kernel's: each link's state and its changes, errors no caller could
/// hear, a device becoming degraded, drops by reason once a second, a device going — as lines, or as JSON lines
/// (docs/control-plane.md). Devices that start later are picked up within a second. Runs until SIGINT or SIGTERM.
/// </summary>
internal static class MonitorCommand
{
    private static readonly TimeSpan RescanInterval = TimeSpan.FromSeconds(1);

    public static Command Create()
    {
        var device = DeviceArgument.Create();
        device.Arity = ArgumentArity.ZeroOrOne;
        device.Description += " Every running device when left out.";
        var json = JsonOption.Create("each event as one JSON object per line");
        var command = new Command("monitor", "Stream link events, errors and drop summaries of running NetDev devices, as ip monitor does.")
        {
            device,
            json,
        };
        command.SetAction(parseResult => Run(parseResult.GetValue(device), parseResult.GetValue(json), Console.Out, Console.Error));
        return command;
    }

    private static int Run(string? device, bool json, TextWriter output, TextWriter error)
    {
        using var termination = new TerminationSignal(error);
        var watched = new Dictionary<string, Thread>();
        var clients = new List<ControlClient>();
        try
        {
            do
            {
                foreach (var client in ControlPlane.ConnectAll(error, out _, device) ?? [])
                {
                    var key = client.Endpoint.Path;
                    lock (watched)
                    {
                        if (watched.ContainsKey(key))
                        {
                            client.Dispose();
                            continue;
                        }
                        ControlStream stream;
                        try
                        {
                            stream = client.OpenMonitor();
                        }
                        catch (ControlException failure)
                        {
                            error.WriteLine($"netdev: {failure.Message}");
                            client.Dispose();
                            continue;
                        }
                        clients.Add(client);
                        var thread = new Thread(() => Follow(client, stream, json, output, termination, () =>
                        {
                            lock (watched)
                            {
                                watched.Remove(key);
                            }
                        }))
                        {
                            IsBackground = true,
                            Name = $"monitor {client.Endpoint.DisplayName}",
                        };
                        watched[key] = thread;
                        thread.Start();
                    }
                }
            }
            while (!termination.WaitHandle.WaitOne(RescanInterval));
        }
        finally
        {
            lock (watched)
            {
                // Ends every pending read; the threads stop printing.
                clients.ForEach(client => client.Dispose());
            }
        }
        return ExitCodes.Success;
    }

    /// <summary>Prints one device's events until its stream ends; then that the device went, unless this command is ending.</summary>
    private static void Follow(ControlClient client, ControlStream stream, bool json, TextWriter output, TerminationSignal termination, Action ended)
    {
        using var lines = new StreamReader(stream, Encoding.UTF8);
        try
        {
            while (lines.ReadLine() is { } line)
            {
                MonitorEvent monitorEvent;
                try
                {
                    monitorEvent = ControlProtocol.ParseMonitorEvent(Encoding.UTF8.GetBytes(line));
                }
                catch (JsonException)
                {
                    continue;
                }
                Print(monitorEvent, json, output);
            }
        }
        catch (IOException)
        {
            // The device's process went away: said below.
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        if (termination.IsReceived)
        {
            // This command ends, not the device.
            return;
        }
        ended();
        var endpoint = client.Endpoint;
        Print(new MonitorEvent("gone", endpoint.Name, endpoint.NetworkNamespace), json, output);
    }

    private static void Print(MonitorEvent e, bool json, TextWriter output)
    {
        var line = json ? ControlProtocol.ToJson(e) : Describe(e);
        lock (output)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    /// <summary>The event as one line for people: <c>dummy0@ns1: link up carrier on mtu 1500</c>.</summary>
    internal static string Describe(MonitorEvent e)
    {
        var who = e.Netns is null ? e.Name : $"{e.Name}@{e.Netns}";
        return e.Event switch
        {
            "link" => $"{who}: link {e.State} carrier {(e.Carrier == true ? "on" : "off")} mtu {e.Mtu}",
            "error" => $"{who}: error {e.Errors}: {e.Message}",
            "degraded" => $"{who}: degraded: {e.Message}",
            "drops" => $"{who}: dropped {string.Join(", ", (e.Drops ?? []).Select(drop => $"{drop.Count} {drop.Direction} {drop.Reason}"))}",
            "lost" => $"{who}: {e.Count} event(s) left out (read too slowly)",
            "gone" => $"{who}: gone",
            _ => $"{who}: {e.Event}",
        };
    }
}
