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
/// holds up nobody but itself, and that only for a while: a client that sends no whole request line within
/// <see cref="ControlServerOptions.IdleTimeout"/>, or does not take an answer within
/// <see cref="ControlServerOptions.WriteTimeout"/>, is closed, so the <see cref="MaxConnections"/> places
/// cannot be held by clients that do nothing.</para>
/// <para>The socket is bound under a temporary name (<c>NAME.sock~</c>) and renamed into place once it
/// listens, all while the directory's lock is held (<see cref="DirectoryHandle.Lock"/>); removals happen
/// under the same lock. So a name is never seen refusing because its socket is half made, a stale socket is
/// replaced in one step, and nobody removes a socket another process bound meanwhile. (.NET removes the path
/// it bound when the socket is closed; that is the temporary name, gone since the rename.)</para>
/// <para><b>Invariants.</b> While the listener lives the socket file at <see cref="Endpoint"/> is its own
/// listening socket (<see cref="_identity"/>), unless someone outside NetDev removed it; <see cref="Dispose"/>
/// removes that file only if it is still its own, cancels every pending accept and read, and waits for the
/// loops to end. At most <see cref="MaxConnections"/> clients are served at once.</para>
/// </remarks>
internal sealed class ControlListener : IDisposable
{
    /// <summary>Clients served at once; a further one is told so and closed.</summary>
    internal const int MaxConnections = 8;

    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const string BindingSuffix = "~";
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    private readonly ControlResponder _responder;
    private readonly ILogger _logger;
    private readonly DirectoryHandle _directory;
    private readonly Socket _listener;
    private readonly FileIdentity _identity;
    private readonly TimeSpan _idleTimeout;
    private readonly TimeSpan _writeTimeout;
    private readonly TimeSpan _lockTimeout;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Task> _connections = [];
    private readonly Task _acceptLoop;
    private int _disposed;

    private ControlListener(ControlEndpoint endpoint, ControlResponder responder, ILogger logger, ControlServerOptions options,
        DirectoryHandle directory, Socket listener, FileIdentity identity)
    {
        Endpoint = endpoint;
        _responder = responder;
        _logger = logger;
        _idleTimeout = options.IdleTimeout;
        _writeTimeout = options.WriteTimeout;
        _lockTimeout = options.LockTimeout;
        _directory = directory;
        _listener = listener;
        _identity = identity;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Where the listener listens.</summary>
    public ControlEndpoint Endpoint { get; }

    /// <summary>
    /// Binds <paramref name="endpoint"/> (its directory checked and made the owner's alone first) and starts
    /// accepting, with the timeouts of <paramref name="options"/> (the defaults when null). A socket file
    /// there that nobody answers any more is taken over.
    /// </summary>
    /// <exception cref="IOException">The directory is refused or cannot be made, or another running process serves the endpoint.</exception>
    /// <exception cref="SocketException">The socket cannot be bound (a path longer than <c>sun_path</c>, for instance).</exception>
    public static ControlListener Bind(string directory, ControlEndpoint endpoint, ControlResponder responder, ILogger logger,
        ControlServerOptions? options = null)
    {
        options ??= new ControlServerOptions();
        var handle = ControlDirectory.Prepare(directory);
        try
        {
            using (handle.Lock(options.LockTimeout, () => LogLockWait(logger, endpoint, handle.Path, "bind")))
            {
                var (socket, identity) = Listen(handle, endpoint);
                return new ControlListener(endpoint, responder, logger, options, handle, socket, identity);
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        try
        {
            using (_directory.Lock(_lockTimeout, () => LogLockWait(_logger, Endpoint, _directory.Path, "remove")))
            {
                // A file bound later under this name (after someone removed ours) is not ours to remove.
                var name = Path.GetFileName(Endpoint.Path);
                if (_directory.Identify(name) == _identity)
                {
                    _directory.Remove(name);
                }
                // Under the lock too: .NET removes the temporary name it bound, which another may be binding now.
                _listener.Dispose();
            }
        }
        catch (IOException error)
        {
            _listener.Dispose();
            _logger.LogWarning("{Device}: could not remove {Path}: {Reason}", Endpoint.Name, Endpoint.Path, error.Message);
        }
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
        _directory.Dispose();
        _stopping.Dispose();
    }

    private static void LogLockWait(ILogger logger, ControlEndpoint endpoint, string directory, string action) =>
        logger.LogWarning("{Device}: waiting for the lock on {Directory}, which another process holds, to {Action} {Path}",
            endpoint.Name, directory, action, endpoint.Path);

    /// <summary>Binds and listens at <paramref name="endpoint"/>; the caller holds the directory's lock.</summary>
    private static (Socket Socket, FileIdentity Identity) Listen(DirectoryHandle directory, ControlEndpoint endpoint)
    {
        var name = Path.GetFileName(endpoint.Path);
        var binding = name + BindingSuffix;
        if (directory.Identify(name) is not null && IsServed(endpoint.Path))
        {
            throw new IOException($"{endpoint.Path} is served by another running process");
        }
        // Under the lock a temporary name is only ever one a process killed half way through left.
        directory.Remove(binding);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(directory.Combine(binding)));
            // The directory is 0700 already, so nobody else could reach the socket before this.
            directory.SetMode(binding, OwnerReadWrite);
            socket.Listen(MaxConnections);
            var identity = directory.Identify(binding) ?? throw new IOException($"{directory.Combine(binding)} vanished while it was being bound");
            // Replaces a stale socket, if there is one, in one step: the name never goes missing.
            directory.Rename(binding, name);
            return (socket, identity);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Whether a process listens at <paramref name="path"/> (one too busy to take a connection now counts).</summary>
    private static bool IsServed(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
        {
            SendTimeout = (int)ProbeTimeout.TotalMilliseconds,
        };
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false;
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.WouldBlock)
        {
            return true;
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

    /// <summary>
    /// Reads request lines and answers each until the client closes, the line is too long, the client is
    /// idle or does not read for too long, or the server stops.
    /// </summary>
    private async Task ServeAsync(Socket client, CancellationToken stopping)
    {
        await Task.Yield();
        using var stream = new NetworkStream(client, ownsSocket: true);
        // One per connection, not per request: re-armed for each wait, and stopped between them.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var buffer = new byte[ControlProtocol.MaxRequestBytes];
        var filled = 0;
        var waitingFor = "a request";
        try
        {
            while (true)
            {
                // The whole line must come within the idle timeout: a byte now and then does not keep a place.
                waitingFor = "a request";
                deadline.CancelAfter(_idleTimeout);
                int newline;
                while ((newline = buffer.AsSpan(0, filled).IndexOf((byte)'\n')) < 0)
                {
                    if (filled == buffer.Length)
                    {
                        waitingFor = "the client to read";
                        deadline.CancelAfter(_writeTimeout);
                        await stream.WriteAsync(ControlResponder.Error($"a request line has at most {ControlProtocol.MaxRequestBytes} bytes"), deadline.Token).ConfigureAwait(false);
                        return;
                    }
                    var read = await stream.ReadAsync(buffer.AsMemory(filled), deadline.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }
                    filled += read;
                }
                if (!deadline.TryReset())
                {
                    // The line came as the time ran out (or the server stops): the connection is over either way.
                    return;
                }
                var line = buffer.AsSpan(0, newline).TrimEnd((byte)'\r');
                var answer = line.IsEmpty ? new ControlAnswer(ControlResponder.Error("empty request line"), null) : _responder.AnswerOrStream(line);
                buffer.AsSpan(newline + 1, filled - newline - 1).CopyTo(buffer);
                filled -= newline + 1;
                if (answer.Stream is { } streamed)
                {
                    // The stream has the connection from here on (the deadline was reset above): it ends when the client goes.
                    await streamed(stream, stopping).ConfigureAwait(false);
                    return;
                }
                var response = answer.Line!;
                waitingFor = "the client to read";
                deadline.CancelAfter(_writeTimeout);
                await stream.WriteAsync(response, deadline.Token).ConfigureAwait(false);
                if (!deadline.TryReset())
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            _logger.LogDebug("{Device}: closed a control connection that kept its place waiting for {What}", Endpoint.Name, waitingFor);
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The server is stopping or the client went away; either way this conversation is over.
        }
    }
}
