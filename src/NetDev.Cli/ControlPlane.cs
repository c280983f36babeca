using System.Net.Sockets;
using NetDev.Control;

namespace NetDev.Cli;

/// <summary>
/// Where the CLI finds running devices: their control sockets in <c>/run/netdev</c> (for root; another user's
/// in <see cref="ControlDirectory.ForCurrentUser"/>), or in the directory the <c>NETDEV_RUN_DIR</c> environment
/// variable names (tests use a temporary one).
/// </summary>
internal static class ControlPlane
{
    /// <summary>The environment variable that moves the control directory.</summary>
    public const string DirectoryVariable = "NETDEV_RUN_DIR";

    /// <summary>The control directory in force.</summary>
    public static string Directory =>
        Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } directory ? directory : ControlDirectory.ForCurrentUser;

    /// <summary>The options of the endpoints this process serves for its own devices: in <see cref="Directory"/>, unless <paramref name="enabled"/> is false.</summary>
    public static ControlServerOptions ServerOptions(bool enabled) => new() { Directory = Directory, Enabled = enabled };

    /// <summary>
    /// Connects to the one running device that <paramref name="device"/> names (<c>NAME</c> or
    /// <c>NAME@NETNS</c>); otherwise writes why to <paramref name="error"/> and returns null: no such
    /// device, or several namespaces have one of that name. Sockets left by dead processes are removed on
    /// the way.
    /// </summary>
    public static ControlClient? Connect(string device, TextWriter error)
    {
        var live = new List<ControlClient>();
        var unreachable = false;
        try
        {
            foreach (var endpoint in ControlDirectory.List(Directory).Where(endpoint => endpoint.Matches(device)))
            {
                if (TryConnect(endpoint, error, out var failed) is { } client)
                {
                    live.Add(client);
                }
                unreachable |= failed;
            }
        }
        catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"netdev: cannot read {Directory}: {failure.Message}");
            live.ForEach(client => client.Dispose());
            return null;
        }
        switch (live.Count)
        {
            case 1:
                return live[0];
            case 0 when unreachable:
                // Why was said already.
                return null;
            case 0:
                error.WriteLine($"netdev: no running NetDev device is called '{device}' (see 'netdev list').");
                return null;
            default:
                var names = string.Join(", ", live.Select(client => client.Endpoint.DisplayName));
                live.ForEach(client => client.Dispose());
                error.WriteLine($"netdev: '{device}' is in several network namespaces ({names}); name one as NAME@NETNS.");
                return null;
        }
    }

    /// <summary>
    /// Connects to <paramref name="endpoint"/>; null when it is stale (then removed) or cannot be reached, busy
    /// included (then <paramref name="unreachable"/> is set and why is written to <paramref name="error"/>).
    /// Neither waits longer than <see cref="ControlClient.DefaultTimeout"/>.
    /// </summary>
    public static ControlClient? TryConnect(ControlEndpoint endpoint, TextWriter error, out bool unreachable)
    {
        unreachable = false;
        try
        {
            return ControlClient.ConnectOrRemoveStale(endpoint);
        }
        catch (SocketException failure) when (failure.SocketErrorCode == SocketError.WouldBlock)
        {
            unreachable = true;
            error.WriteLine($"netdev: {endpoint.DisplayName} is busy: its endpoint took no connection within {ControlClient.DefaultTimeout.TotalSeconds:0} s; try again");
            return null;
        }
        catch (Exception failure) when (failure is SocketException or IOException or UnauthorizedAccessException)
        {
            unreachable = true;
            error.WriteLine($"netdev: cannot reach {endpoint.DisplayName} at {endpoint.Path}: {failure.Message}");
            return null;
        }
    }
}
