using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace NetDev.Control;

/// <summary>
/// A connection to one running device's control endpoint: each method sends one request line and reads
/// the one response line. Not thread-safe; one request at a time.
/// </summary>
/// <remarks>
/// Every wait is bounded: connecting by the timeout given to <see cref="Connect"/>, and each request, send
/// and answer together, by the same timeout, however the endpoint dribbles its answer. An endpoint that
/// refuses the client (all its places taken) says why before it closes, and that reason is what the
/// request throws, also when the close came before the request could be sent.
/// </remarks>
/// <example>
/// <code>
/// foreach (var endpoint in ControlDirectory.List(ControlDirectory.Default))
/// {
///     using var client = ControlClient.ConnectOrRemoveStale(endpoint);
///     Console.WriteLine(client?.GetInfo());
/// }
/// </code>
/// </example>
public sealed class ControlClient : IDisposable
{
    /// <summary>How long a request may take by default before the device is deemed not answering.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    // The largest answer read: ethtool -S of 256 queues is some 100 KiB.
    private const int MaxResponseBytes = 16 << 20;

    private readonly Socket _socket;
    private readonly TimeSpan _timeout;
    private byte[] _buffer = new byte[16 * 1024];
    private int _filled;

    private ControlClient(ControlEndpoint endpoint, Socket socket, TimeSpan timeout)
    {
        Endpoint = endpoint;
        _socket = socket;
        _timeout = timeout;
    }

    /// <summary>The endpoint this client talks to.</summary>
    public ControlEndpoint Endpoint { get; }

    /// <summary>
    /// Connects to <paramref name="endpoint"/>; <paramref name="timeout"/> (<see cref="DefaultTimeout"/> when
    /// null) bounds the connection and, later, each request.
    /// </summary>
    /// <exception cref="SocketException">Nobody listens there (<see cref="SocketError.ConnectionRefused"/>: a stale socket),
    /// its listener took no connection within the timeout (<see cref="SocketError.WouldBlock"/>: busy), or it cannot be reached.</exception>
    public static ControlClient Connect(ControlEndpoint endpoint, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var bound = timeout ?? DefaultTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(bound, TimeSpan.Zero, nameof(timeout));
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // SO_SNDTIMEO bounds a connect too: a listener whose backlog is full gives EAGAIN then.
            socket.SendTimeout = (int)bound.TotalMilliseconds;
            socket.Connect(new UnixDomainSocketEndPoint(endpoint.Path));
            return new ControlClient(endpoint, socket, bound);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Connects to <paramref name="endpoint"/>, or, when nobody listens there any more (its process died
    /// without removing it), removes the socket file and returns <see langword="null"/>; also null when the
    /// file is gone already.
    /// </summary>
    /// <remarks>
    /// A refused file is removed only after a second look while the directory's lock is held: devices bind
    /// only while they hold it, so a refusal then means nobody serves the file, and a device that bound the
    /// name meanwhile is connected to instead of losing its socket.
    /// </remarks>
    /// <exception cref="SocketException">The endpoint exists but cannot be reached (no permission, or busy, for instance).</exception>
    /// <exception cref="IOException">The file is refused and its directory is not one to remove files from (a symbolic link, or someone else's).</exception>
    public static ControlClient? ConnectOrRemoveStale(ControlEndpoint endpoint, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        try
        {
            return Connect(endpoint, timeout);
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return RemoveIfStale(endpoint, timeout);
        }
        catch (SocketException) when (!File.Exists(endpoint.Path))
        {
            // Its device went away between the listing and the connection.
            return null;
        }
    }

    private static ControlClient? RemoveIfStale(ControlEndpoint endpoint, TimeSpan? timeout)
    {
        DirectoryHandle directory;
        try
        {
            directory = DirectoryHandle.Open(Path.GetDirectoryName(endpoint.Path) is { Length: > 0 } parent ? parent : ".");
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        using (directory)
        using (directory.Lock(DirectoryHandle.DefaultLockTimeout))
        {
            try
            {
                return Connect(endpoint, timeout);
            }
            catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionRefused)
            {
                directory.Remove(Path.GetFileName(endpoint.Path));
                return null;
            }
            catch (SocketException) when (directory.Identify(Path.GetFileName(endpoint.Path)) is null)
            {
                return null;
            }
        }
    }

    /// <summary>The device's identity and state (<c>info</c>).</summary>
    /// <exception cref="ControlException">The device answered with an error, or not at all.</exception>
    public DeviceInfoReport GetInfo() => Request(ControlRequests.Info, false, ControlJsonContext.Default.DeviceInfoReport);

    /// <summary>The device's counters (<c>stats</c>), with each queue's when <paramref name="queues"/> is true.</summary>
    /// <exception cref="ControlException">The device answered with an error, or not at all.</exception>
    public DeviceStatsReport GetStats(bool queues = false) => Request(ControlRequests.Stats, queues, ControlJsonContext.Default.DeviceStatsReport);

    /// <summary>Driver name, version and bus (<c>driver-info</c>, <c>ethtool -i</c>).</summary>
    /// <exception cref="ControlException">The device answered with an error, or not at all.</exception>
    public DriverInfo GetDriverInfo() => Request(ControlRequests.DriverInfo, false, ControlJsonContext.Default.DriverInfo);

    /// <summary>Named counters (<c>statistics</c>, <c>ethtool -S</c>), in order.</summary>
    /// <exception cref="ControlException">The device answered with an error, or not at all.</exception>
    public IReadOnlyList<NamedCounter> GetStatistics() => Request(ControlRequests.Statistics, false, ControlJsonContext.Default.StatisticsReport).Statistics;

    /// <summary>Ring sizes (<c>ring-parameters</c>, <c>ethtool -g</c>).</summary>
    /// <exception cref="ControlException">The device answered with an error, or not at all.</exception>
    public RingParameters GetRingParameters() => Request(ControlRequests.RingParameters, false, ControlJsonContext.Default.RingParameters);

    /// <summary>Speed, duplex, autonegotiation and link (<c>link-settings</c>, <c>ethtool IFNAME</c>).</summary>
    /// <exception cref="ControlException">The device answered with an error, or not at all.</exception>
    public LinkSettingsReport GetLinkSettings() => Request(ControlRequests.LinkSettings, false, ControlJsonContext.Default.LinkSettingsReport);

    /// <summary>Timestamping capabilities (<c>timestamping</c>, <c>ethtool -T</c>).</summary>
    /// <exception cref="ControlException">The device answered with an error, or not at all.</exception>
    public TimestampingReport GetTimestamping() => Request(ControlRequests.Timestamping, false, ControlJsonContext.Default.TimestampingReport);

    /// <summary>
    /// Starts a capture (<c>capture</c>): the device's frames as pcapng, read from the returned stream until
    /// <see cref="ControlStream.Stop"/> (then the statistics block comes last) or until this client is disposed.
    /// </summary>
    /// <param name="includeDrops">Capture dropped frames too, with their reason as a comment.</param>
    /// <exception cref="ControlException">The device refused, or did not answer.</exception>
    public ControlStream OpenCapture(bool includeDrops) => OpenStream(new ControlRequest(ControlRequests.Capture, false, includeDrops), ControlJsonContext.Default.CaptureStartReport);

    /// <summary>Starts an event stream (<c>monitor</c>): one JSON line per <see cref="MonitorEvent"/>, read from the returned stream.</summary>
    /// <exception cref="ControlException">The device refused, or did not answer.</exception>
    public ControlStream OpenMonitor() => OpenStream(new ControlRequest(ControlRequests.Monitor, false), ControlJsonContext.Default.MonitorStart);

    /// <summary>
    /// Sends one raw request line (without its newline) and returns the raw response line: for tools
    /// and tests that speak the protocol themselves.
    /// </summary>
    /// <exception cref="ControlException">The device did not answer.</exception>
    public string Send(string requestLine)
    {
        ArgumentNullException.ThrowIfNull(requestLine);
        return Encoding.UTF8.GetString(Exchange(Encoding.UTF8.GetBytes(requestLine + "\n")));
    }

    /// <inheritdoc/>
    public void Dispose() => _socket.Dispose();

    private T Request<T>(string request, bool queues, JsonTypeInfo<T> resultType) => Request(new ControlRequest(request, queues), resultType);

    private ControlStream OpenStream<T>(ControlRequest request, JsonTypeInfo<T> resultType)
    {
        Request(request, resultType);
        // From here on the endpoint writes when it has something: no answer is late.
        _socket.ReceiveTimeout = 0;
        return new ControlStream(this);
    }

    /// <summary>Takes bytes already read past the last response line (the start of a stream), then reads the socket; 0 at its end.</summary>
    internal int ReadStream(Span<byte> destination)
    {
        if (_filled > 0)
        {
            var taken = Math.Min(_filled, destination.Length);
            _buffer.AsSpan(0, taken).CopyTo(destination);
            _buffer.AsSpan(taken, _filled - taken).CopyTo(_buffer);
            _filled -= taken;
            return taken;
        }
        return _socket.Receive(destination);
    }

    /// <summary>Sends <c>stop</c> on a stream; from then on the end must come within the timeout.</summary>
    internal void StopStream()
    {
        _socket.ReceiveTimeout = (int)_timeout.TotalMilliseconds;
        var line = JsonSerializer.SerializeToUtf8Bytes(new ControlRequest(ControlRequests.Stop, false), ControlJsonContext.Default.ControlRequest);
        _socket.Send([.. line, (byte)'\n']);
    }

    private T Request<T>(ControlRequest request, JsonTypeInfo<T> resultType)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(request, ControlJsonContext.Default.ControlRequest);
        var response = Exchange([.. line, (byte)'\n']);
        try
        {
            using var document = JsonDocument.Parse(response);
            var root = document.RootElement;
            if (root.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True && root.TryGetProperty("result", out var result))
            {
                return result.Deserialize(resultType) ?? throw new ControlException($"{Endpoint.DisplayName} answered {request.Request} with a null result");
            }
            var message = root.TryGetProperty("error", out var error) ? error.GetString() : null;
            throw new ControlException($"{Endpoint.DisplayName}: {message ?? "an error without a message"}");
        }
        catch (JsonException error)
        {
            throw new ControlException($"{Endpoint.DisplayName} answered {request.Request} with something that is not the protocol's JSON: {error.Message}", error);
        }
    }

    /// <summary>Sends <paramref name="request"/> and returns the next response line, without its newline, all within the timeout.</summary>
    private byte[] Exchange(byte[] request)
    {
        var deadline = Environment.TickCount64 + (long)_timeout.TotalMilliseconds;
        try
        {
            _socket.Send(request);
        }
        catch (SocketException error) when (error.SocketErrorCode is SocketError.Shutdown or SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            // Closed before the request came (EPIPE): a refusal written first is still there to read.
            try
            {
                return ReadLine(deadline);
            }
            catch (ControlException)
            {
                throw new ControlException($"{Endpoint.DisplayName} closed the connection without answering: {error.Message}", error);
            }
        }
        catch (SocketException error) when (error.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            throw NotAnswered(error);
        }
        catch (SocketException error)
        {
            throw new ControlException($"{Endpoint.DisplayName}: {error.Message}", error);
        }
        return ReadLine(deadline);
    }

    /// <summary>The next response line, without its newline; it must be whole by <paramref name="deadline"/> (<see cref="Environment.TickCount64"/>).</summary>
    private byte[] ReadLine(long deadline)
    {
        try
        {
            while (true)
            {
                var newline = _buffer.AsSpan(0, _filled).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    var line = _buffer.AsSpan(0, newline).ToArray();
                    _buffer.AsSpan(newline + 1, _filled - newline - 1).CopyTo(_buffer);
                    _filled -= newline + 1;
                    return line;
                }
                if (_filled == _buffer.Length)
                {
                    if (_buffer.Length >= MaxResponseBytes)
                    {
                        throw new ControlException($"{Endpoint.DisplayName} sent a response line longer than {MaxResponseBytes} bytes");
                    }
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }
                // Each read gets what is left of the request's time, not a time of its own.
                var left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    throw NotAnswered(null);
                }
                _socket.ReceiveTimeout = (int)Math.Min(left, int.MaxValue);
                var read = _socket.Receive(_buffer.AsSpan(_filled));
                if (read == 0)
                {
                    throw new ControlException($"{Endpoint.DisplayName} closed the connection without answering");
                }
                _filled += read;
            }
        }
        catch (SocketException error) when (error.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            throw NotAnswered(error);
        }
        catch (SocketException error)
        {
            throw new ControlException($"{Endpoint.DisplayName}: {error.Message}", error);
        }
    }

    private ControlException NotAnswered(SocketException? error)
    {
        var message = $"{Endpoint.DisplayName} did not answer within {_timeout.TotalSeconds:0.#} s";
        return error is null ? new ControlException(message) : new ControlException(message, error);
    }
}

/// <summary>A control request failed: the device answered with an error, or did not answer.</summary>
public sealed class ControlException : Exception
{
    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public ControlException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and what caused it.</summary>
    public ControlException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
