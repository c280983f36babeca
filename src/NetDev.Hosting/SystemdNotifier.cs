using System.Net.Sockets;
using System.Text;

namespace NetDev.Hosting;

/// <summary>
/// Tells the service manager how the service is doing (<c>sd_notify</c>): one datagram per state change,
/// such as <c>READY=1</c> or <c>STOPPING=1</c>, to the Unix datagram socket <c>NOTIFY_SOCKET</c> names.
/// systemd sets it for a unit of <c>Type=notify</c>; elsewhere it is unset and notifying does nothing.
/// </summary>
/// <remarks>A name that starts with <c>@</c> is a socket in the abstract namespace (the <c>@</c> stands for the
/// leading zero byte), as systemd's own <c>sd_notify</c> reads it. Notifying never throws: a service manager
/// that went away must not take the service with it, so a failure is returned as false.</remarks>
public sealed class SystemdNotifier
{
    /// <summary>The environment variable systemd names its notification socket in.</summary>
    public const string SocketVariable = "NOTIFY_SOCKET";

    private readonly UnixDomainSocketEndPoint? _endPoint;

    /// <summary>A notifier that sends to <paramref name="socket"/> (a path, or <c>@name</c> for an abstract socket); none when null or empty.</summary>
    /// <exception cref="ArgumentException"><paramref name="socket"/> is neither an absolute path nor an abstract name.</exception>
    public SystemdNotifier(string? socket)
    {
        if (string.IsNullOrEmpty(socket))
        {
            return;
        }
        Socket = socket;
        _endPoint = socket[0] switch
        {
            '@' => new UnixDomainSocketEndPoint("\0" + socket[1..]),
            '/' => new UnixDomainSocketEndPoint(socket),
            _ => throw new ArgumentException($"{SocketVariable}='{socket}' is neither an absolute path nor an abstract socket (@name).", nameof(socket)),
        };
    }

    /// <summary>The notifier of this process: to <c>NOTIFY_SOCKET</c>, or none (also when its value is not a socket address).</summary>
    public static SystemdNotifier FromEnvironment()
    {
        try
        {
            return new SystemdNotifier(Environment.GetEnvironmentVariable(SocketVariable));
        }
        catch (ArgumentException)
        {
            return new SystemdNotifier(null);
        }
    }

    /// <summary>The socket notified, as given; null when there is none.</summary>
    public string? Socket { get; }

    /// <summary>Whether there is a socket to notify.</summary>
    public bool IsEnabled => _endPoint is not null;

    /// <summary>
    /// Sends <paramref name="state"/> (lines of <c>KEY=value</c>, such as <c>READY=1</c>) in one datagram;
    /// true when it was sent, false when there is no socket or the send failed.
    /// </summary>
    public bool Notify(string state)
    {
        ArgumentException.ThrowIfNullOrEmpty(state);
        if (_endPoint is null)
        {
            return false;
        }
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(state), _endPoint);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
