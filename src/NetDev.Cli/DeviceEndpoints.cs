using NetDev.Control;

namespace NetDev.Cli;

/// <summary>
/// The control endpoints of the devices this process runs, so that <c>netdev list</c>, <c>stats</c> and
/// <c>ethtool</c> see them: each is started once its device is registered, and all are removed, last first,
/// before the devices go.
/// </summary>
/// <param name="options">Where the sockets go, and whether there are any (<c>--no-control</c>).</param>
internal sealed class DeviceEndpoints(ControlServerOptions options) : IDisposable
{
    private readonly List<ControlServer> _servers = [];

    /// <summary>Serves the endpoint of each of <paramref name="devices"/> (registered); one that cannot be served is logged by the device and skipped.</summary>
    public void Serve(IEnumerable<NetDevice> devices)
    {
        foreach (var device in devices)
        {
            if (ControlServer.Start(device, options) is { } server)
            {
                _servers.Add(server);
            }
        }
    }

    /// <summary>Removes every endpoint served so far; safe to call again.</summary>
    public void Dispose()
    {
        for (var i = _servers.Count - 1; i >= 0; i--)
        {
            _servers[i].Dispose();
        }
        _servers.Clear();
    }
}
