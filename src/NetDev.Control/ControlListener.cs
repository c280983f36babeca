using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace NetDev.Control;

/// <summary>
/// One bound control socket: accepts clients at <see cref="Endpoint"/> and answers each request line
/// through a <see cref="ControlResponder"/>. A <see cref="ControlServer"/> has one at a time and binds a
/// new one when its device moves.
/// </summary>
/// <remarks>
/// <para>It runs as a small async loop, apart from the device's queue threads, so a slow or silent client
/// holds up nobody but itself.</para>
/// <para><b>Invariants.</b> While the listener lives the socket file at <see cref="Endpoint"/> is its own
/// listening socket; <see cref="Dispose"/> cancels every pending accept and read, waits for the loops to
/// end, and removes the file. At most <see cref="MaxConnections"/> clients are served at once.</para>
/// </remarks>
internal sealed class ControlListener : IDisposable
{
    /// <summary>Clients served at once; a further one is told so and closed.</summary>
    internal const int MaxConnections = 8;

    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly ControlResponder _responder;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly DateTime _boundAt;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Task> _connections = [];
    private readonly Task _acceptLoop;
    private int _disposed;

    private ControlListener(ControlEndpoint endpoint, ControlResponder responder, ILogger logger, Socket listener)
    {
        Endpoint = endpoint;
        _responder = responder;
        _logger = logger;
        _listener = listener;
        _boundAt = File.GetLastWriteTimeUtc(endpoint.Path);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Where the listener listens.</summary>
    public ControlEndpoint Endpoint { get; }

    /// <summary>
    /// Binds <paramref name="endpoint"/> (its directory made the owner's alone first) and starts accepting.
    /// A socket file there that nobody answers any more is taken over.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be made, or another running process serves the endpoint.</exception>
    /// <exception cref="SocketException">The socket cannot be bound (a path longer than <c>sun_path</c>, for instance).</exception>
    public static ControlListener Bind(string directory, ControlEndpoint endpoint, ControlResponder responder, ILogger logger)
    {
        ControlDirectory.Prepare(directory);
        return new ControlListener(endpoint, responder, logger, Listen(endpoint));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        _listener.Dispose();
        Task[] loops;
        lock (_connections)
        {
            loops = [_acceptLoop, .. _connections];
        }
        // The loops end on cancellation; only a driver operation stuck in a request could hold one.
        if (!Task.WaitAll(loops, StopTimeout))
        {
            _logger.LogWarning("{Device}: the control endpoint's requests did not finish within {Seconds} s", Endpoint.Name, StopTimeout.TotalSeconds);
        }
        RemoveSocketFile();
        _stopping.Dispose();
    }

    private static Socket Listen(ControlEndpoint endpoint)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Control endpoints exist on Linux only.");
        }
        var address = new UnixDomainSocketEndPoint(endpoint.Path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            try
            {
                socket.Bind(address);
            }
            catch (SocketException error) when (error.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                if (IsServed(address))
                {
                    throw new IOException($"{endpoint.Path} is served by another running process", error);
                }
                // Left by a process that died: it answers nobody, so it is ours to replace.
                File.Delete(endpoint.Path);
                socket.Bind(address);
            }
            // The directory is 0700 already, so nobody else could reach the socket before this.
            File.SetUnixFileMode(endpoint.Path, OwnerReadWrite);
            socket.Listen(MaxConnections);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static bool IsServed(UnixDomainSocketEndPoint address)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(address);
            return true;
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false;
        }
    }

    private async Task AcceptLoopAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException error)
            {
                // Out of descriptors, for instance: say so and try again shortly rather than spin.
                _logger.LogWarning("{Device}: control endpoint accept failed: {Reason}", Endpoint.Name, error.Message);
                try
                {
                    await Task.Delay(AcceptRetryDelay, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            lock (_connections)
            {
                if (_connections.Count >= MaxConnections)
                {
                    RefuseBusy(client);
                    continue;
                }
                var connection = ServeAsync(client, stopping);
                _connections.Add(connection);
                _ = connection.ContinueWith(done =>
                {
                    lock (_connections)
                    {
                        _connections.Remove(done);
                    }
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    private void RefuseBusy(Socket client)
    {
        using (client)
        {
            try
            {
                client.Blocking = false;
                client.Send(ControlResponder.Error($"the endpoint serves {MaxConnections} clients at once; try again"));
            }
            catch (SocketException)
            {
                // The client is refused either way; the close tells it.
            }
        }
    }

    /// <summary>Reads request lines and answers each until the client closes, the line is too long, or the server stops.</summary>
    private async Task ServeAsync(Socket client, CancellationToken stopping)
    {
        await Task.Yield();
        using var stream = new NetworkStream(client, ownsSocket: true);
        var buffer = new byte[ControlProtocol.MaxRequestBytes];
        var filled = 0;
        try
        {
            while (true)
            {
                int newline;
                while ((newline = buffer.AsSpan(0, filled).IndexOf((byte)'\n')) < 0)
                {
                    if (filled == buffer.Length)
                    {
                        await stream.WriteAsync(ControlResponder.Error($"a request line has at most {ControlProtocol.MaxRequestBytes} bytes"), stopping).ConfigureAwait(false);
                        return;
                    }
                    var read = await stream.ReadAsync(buffer.AsMemory(filled), stopping).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }
                    filled += read;
                }
                var line = buffer.AsSpan(0, newline).TrimEnd((byte)'\r');
                var response = line.IsEmpty ? ControlResponder.Error("empty request line") : _responder.Answer(line);
                buffer.AsSpan(newline + 1, filled - newline - 1).CopyTo(buffer);
                filled -= newline + 1;
                await stream.WriteAsync(response, stopping).ConfigureAwait(false);
            }
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The server is stopping or the client went away; either way this conversation is over.
        }
    }

    private void RemoveSocketFile()
    {
        try
        {
            // A file bound later (by a new device of the same name) is not ours to remove.
            if (File.Exists(Endpoint.Path) && File.GetLastWriteTimeUtc(Endpoint.Path) == _boundAt)
            {
                File.Delete(Endpoint.Path);
            }
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("{Device}: could not remove {Path}: {Reason}", Endpoint.Name, Endpoint.Path, error.Message);
        }
    }
}
