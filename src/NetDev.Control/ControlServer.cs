using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace NetDev.Control;

/// <summary>
/// A device's control endpoint: a Unix socket that answers one JSON request per line with one JSON
/// response per line (docs/control-plane.md), for <c>netdev list</c>, <c>stats</c> and <c>ethtool</c>.
/// Whoever owns the device starts it once the device is registered and disposes it before the device
/// goes; the host knows nothing of it.
/// </summary>
/// <example>
/// <code>
/// registration.Register();
/// using var control = ControlServer.Start(registration.Device);   // null if it could not be served
/// registration.Device.BringUp();
/// </code>
/// </example>
/// <remarks>
/// <para>The endpoint follows its device. Every <see cref="FollowInterval"/> the server compares the
/// device's <see cref="NetDevice.Name"/> and <see cref="NetDevice.NetworkNamespace"/> with the name and
/// namespace its socket is named after; when the device was renamed or has moved, the old socket goes and
/// one of the new name is bound (so for at most one interval after a rename or a move the device is listed
/// under its old name). When the device is no longer registered the socket goes too: a vanished device is
/// not listed. The check reads two fields, off the packet path.</para>
/// <para>The server only reads counters (plain snapshots, no lock) and configuration, so it never holds
/// up a frame.</para>
/// <para><b>Invariants.</b> At most one socket is bound at a time, named after <see cref="Endpoint"/>.
/// After construction only the watch loop replaces the listener, and <see cref="Dispose"/> waits for that
/// loop to end before it disposes the last listener, so no socket outlives the server.</para>
/// </remarks>
public sealed class ControlServer : IDisposable
{
    /// <summary>How often the server checks whether its device was renamed, moved or went away.</summary>
    public static readonly TimeSpan FollowInterval = TimeSpan.FromMilliseconds(100);

    private readonly NetDevice _device;
    private readonly ControlServerOptions _options;
    private readonly ControlResponder _responder;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _watch;
    private volatile ControlEndpoint _endpoint;
    private ControlListener? _listener;
    private int _disposed;

    private ControlServer(NetDevice device, ControlServerOptions options, ControlEndpoint endpoint)
    {
        _device = device;
        _options = options;
        _endpoint = endpoint;
        _responder = new ControlResponder(device, () => _endpoint.NetworkNamespace);
        _listener = ControlListener.Bind(options.Directory, endpoint, _responder, device.Logger, options);
        _watch = Task.Run(WatchAsync);
    }

    /// <summary>
    /// Where the device is served: its name, the namespace it is in, the socket's path. After a move whose
    /// new socket could not be bound, where it would be.
    /// </summary>
    public ControlEndpoint Endpoint => _endpoint;

    /// <summary>
    /// Starts serving <paramref name="device"/>'s control endpoint, named after the device and its network
    /// namespace (the device's own; for a device in the caller's namespace, the name under
    /// <c>/run/netns</c> that the calling thread's namespace has, if any). A device works without its
    /// endpoint, so a failure to serve one is logged as a warning and gives <see langword="null"/>; so
    /// does <see cref="ControlServerOptions.Enabled"/> turned off.
    /// </summary>
    /// <exception cref="InvalidOperationException">The device is not registered (its name is not final yet).</exception>
    public static ControlServer? Start(NetDevice device, ControlServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        options ??= new ControlServerOptions();
        if (!options.Enabled)
        {
            return null;
        }
        if (!device.IsRegistered)
        {
            throw new InvalidOperationException($"{device.Name} is not registered; start its control endpoint after Register.");
        }
        ControlEndpoint? endpoint = null;
        try
        {
            endpoint = ControlEndpoint.For(options.Directory, device.Name, device.NetworkNamespace ?? NamespaceIdentity.OfCurrentThread());
            var server = new ControlServer(device, options, endpoint);
            device.Logger.LogDebug("{Device}: control endpoint {Path}", device.Name, endpoint.Path);
            return server;
        }
        catch (Exception error) when (IsEnvironmentFailure(error))
        {
            WarnUnserved(device, endpoint?.Path ?? options.Directory, error);
            return null;
        }
    }

    /// <summary>Removes the endpoint: pending accepts and reads are cancelled and the socket file goes.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        // The watch may be binding a socket right now; once it has ended, the listener left is the last one.
        _watch.GetAwaiter().GetResult();
        _listener?.Dispose();
        _listener = null;
        _stopping.Dispose();
    }

    private async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(FollowInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                if (!_device.IsRegistered)
                {
                    // The device let go of its interface; so does its endpoint.
                    _listener?.Dispose();
                    _listener = null;
                    _device.Logger.LogDebug("{Device}: no longer registered; control endpoint {Path} removed", _endpoint.Name, _endpoint.Path);
                    return;
                }
                // A device only moves to a named namespace; null means it has not moved since Start.
                var networkNamespace = _device.NetworkNamespace ?? _endpoint.NetworkNamespace;
                var name = _device.Name;
                if (name != _endpoint.Name || networkNamespace != _endpoint.NetworkNamespace)
                {
                    Follow(name, networkNamespace);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    /// <summary>Serves the device under <paramref name="name"/> in <paramref name="networkNamespace"/>, what it is called and where it is now; the old socket goes first.</summary>
    private void Follow(string name, string? networkNamespace)
    {
        _listener?.Dispose();
        _listener = null;
        var endpoint = _endpoint = ControlEndpoint.For(_options.Directory, name, networkNamespace);
        try
        {
            _listener = ControlListener.Bind(_options.Directory, endpoint, _responder, _device.Logger, _options);
            _device.Logger.LogDebug("{Device}: control endpoint moved to {Path}", endpoint.Name, endpoint.Path);
        }
        catch (Exception error) when (IsEnvironmentFailure(error))
        {
            // Tried once per rename or move: the endpoint names the new place, so the next check finds nothing to do.
            WarnUnserved(_device, endpoint.Path, error);
        }
    }

    private static bool IsEnvironmentFailure(Exception error) =>
        error is IOException or SocketException or UnauthorizedAccessException or ArgumentException;

    private static void WarnUnserved(NetDevice device, string path, Exception error) =>
        device.Logger.LogWarning("{Device}: no control endpoint ({Path}): {Reason}; netdev list/stats/ethtool will not see it",
            device.Name, path, error.Message);
}
