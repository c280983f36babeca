using System.Buffers;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;

namespace NetDev.Linux.Control;

/// <summary>
/// A device's control endpoint: a Unix socket that answers one JSON request per line with one JSON
/// response per line (docs/control-plane.md), for <c>netdev list</c>, <c>stats</c> and <c>ethtool</c>.
/// </summary>
/// <remarks>
/// <para>It runs as a small async loop, apart from the device's queue threads: it only reads counters
/// (plain snapshots, no lock) and configuration, so it never holds up a frame, and a slow or silent
/// client holds up nobody but itself.</para>
/// <para><b>Invariants.</b> While the server lives the socket file at <see cref="Endpoint"/> is its own
/// listening socket; <see cref="Dispose"/> cancels every pending accept and read, waits for the loops to
/// end, and removes the file. At most <see cref="MaxConnections"/> clients are served at once.</para>
/// </remarks>
internal sealed class ControlServer : IDisposable
{
    /// <summary>Clients served at once; a further one is told so and closed.</summary>
    internal const int MaxConnections = 8;

    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly LinuxHostOptions _options;
    private readonly NetDevice _device;
    private readonly Socket _listener;
    private readonly DateTime _boundAt;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Task> _connections = [];
    private readonly Task _acceptLoop;
    private int _disposed;

    private ControlServer(LinuxHostOptions options, NetDevice device, ControlEndpoint endpoint, Socket listener)
    {
        _options = options;
        _device = device;
        Endpoint = endpoint;
        _listener = listener;
        _boundAt = File.GetLastWriteTimeUtc(endpoint.Path);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Where the server listens.</summary>
    public ControlEndpoint Endpoint { get; }

    /// <summary>
    /// Starts serving <paramref name="device"/>, interface <paramref name="name"/> in
    /// <paramref name="networkNamespace"/> (<see langword="null"/>: the calling thread's, which is then
    /// identified), unless the options turn the endpoint off. A device works without its endpoint, so a
    /// failure to serve one is logged as a warning and gives <see langword="null"/>.
    /// </summary>
    public static ControlServer? Start(LinuxHostOptions options, NetDevice device, string name, string? networkNamespace)
    {
        if (!options.ServeControlEndpoint)
        {
            return null;
        }
        ControlEndpoint? endpoint = null;
        try
        {
            endpoint = ControlEndpoint.For(options.ControlDirectory, name, networkNamespace ?? NamespaceIdentity.OfCurrentThread());
            ControlDirectory.Prepare(options.ControlDirectory);
            var server = new ControlServer(options, device, endpoint, Listen(endpoint));
            device.Logger.LogDebug("{Device}: control endpoint {Path}", name, endpoint.Path);
            return server;
        }
        catch (Exception error) when (error is IOException or SocketException or UnauthorizedAccessException or ArgumentException or NetDevException)
        {
            device.Logger.LogWarning("{Device}: no control endpoint ({Path}): {Reason}; netdev list/stats/ethtool will not see it",
                name, endpoint?.Path ?? options.ControlDirectory, error.Message);
            return null;
        }
    }

    /// <summary>
    /// Serves the device under its name in <paramref name="networkNamespace"/> instead, after a move: the
    /// old endpoint is removed. Returns the new server (null if it could not start; see <see cref="Start"/>).
    /// </summary>
    public ControlServer? MoveTo(string networkNamespace)
    {
        Dispose();
        return Start(_options, _device, Endpoint.Name, networkNamespace);
    }

    /// <summary>Answers one request line; never throws (a failure is an error response).</summary>
    internal byte[] Answer(ReadOnlySpan<byte> line)
    {
        ControlRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(line, ControlJsonContext.Default.ControlRequest);
        }
        catch (JsonException error)
        {
            return Error($"the request is not valid JSON: {error.Message}");
        }
        var name = request?.Request;
        try
        {
            var context = ControlJsonContext.Default;
            return name switch
            {
                null => Error("the request has no \"request\" field; send {\"request\": \"info\"} for instance"),
                ControlRequests.Info => Result(Info(), context.DeviceInfoReport),
                ControlRequests.Stats => Result(Stats(request!.Queues), context.DeviceStatsReport),
                ControlRequests.DriverInfo => Result(_device.GetDriverInfo(), context.DriverInfo),
                ControlRequests.Statistics => Result(new StatisticsReport([.. _device.Statistics.GetEthtoolStatistics().Select(s => new NamedCounter(s.Key, s.Value))]), context.StatisticsReport),
                ControlRequests.RingParameters => Result(_device.GetRingParameters(), context.RingParameters),
                ControlRequests.LinkSettings => Result(LinkSettings(), context.LinkSettingsReport),
                ControlRequests.Timestamping => Result(TimestampingReport.From(_device.GetTsInfo()), context.TimestampingReport),
                _ => Error($"unknown request '{name}'; known: {string.Join(", ", ControlRequests.All)}"),
            };
        }
        catch (Exception error)
        {
            // Most likely a driver's ethtool or GetStats64 operation threw: the client hears it, and so does the log.
            _device.Logger.LogWarning(error, "{Device}: control request {Request} failed", _device.Name, name);
            return Error($"{name} failed: {error.Message}");
        }
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
            _device.Logger.LogWarning("{Device}: the control endpoint's requests did not finish within {Seconds} s", Endpoint.Name, StopTimeout.TotalSeconds);
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
                _device.Logger.LogWarning("{Device}: control endpoint accept failed: {Reason}", _device.Name, error.Message);
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
                client.Send(Error($"the endpoint serves {MaxConnections} clients at once; try again"));
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
                        await stream.WriteAsync(Error($"a request line has at most {ControlProtocol.MaxRequestBytes} bytes"), stopping).ConfigureAwait(false);
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
                var response = line.IsEmpty ? Error("empty request line") : Answer(line);
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

    private DeviceInfoReport Info()
    {
        var driver = _device.GetDriverInfo();
        return new DeviceInfoReport(
            _device.Name,
            Endpoint.NetworkNamespace,
            _device.IfIndex,
            _device.DriverName,
            driver.Version,
            _device.IsUp ? "up" : "down",
            _device.Carrier,
            _device.Mtu,
            _device.MacAddress.ToString(),
            _device.TxQueueCount,
            _device.RxQueueCount,
            _device.TxQueueLength,
            Environment.ProcessId,
            ControlProtocol.Version);
    }

    private DeviceStatsReport Stats(bool withQueues)
    {
        var drops = _device.Statistics.GetDropCounts()
            .Select(drop => new DropCountReport(
                drop.Direction == TrafficDirection.Transmit ? "tx" : "rx",
                JsonNamingPolicy.SnakeCaseLower.ConvertName(drop.Reason.ToString()),
                drop.Count))
            .ToArray();
        var queues = withQueues
            ? _device.Queues.Select(queue => new QueueStatsReport(
                queue.Index,
                queue.TxPackets,
                queue.TxBytes,
                queue.TxErrors,
                queue.TxDropped,
                queue.BusyReturns,
                queue.Timeouts,
                queue.IsStopped,
                queue.RxPackets,
                queue.RxBytes,
                queue.RxErrors,
                queue.RxDropped)).ToArray()
            : null;
        return new DeviceStatsReport(_device.Name, Endpoint.NetworkNamespace, _device.IfIndex, _device.Statistics.GetLinkStats64(), drops, queues);
    }

    private LinkSettingsReport LinkSettings()
    {
        var settings = _device.GetLinkSettings();
        var duplex = settings.Duplex switch
        {
            Duplex.Full => "full",
            Duplex.Half => "half",
            _ => "unknown",
        };
        return new LinkSettingsReport(settings.SpeedMbps, duplex, settings.Autonegotiation, settings.Port, _device.Carrier);
    }

    private static byte[] Result<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteBoolean("ok", true);
            writer.WritePropertyName("result");
            JsonSerializer.Serialize(writer, value, typeInfo);
            writer.WriteEndObject();
        }
        output.Write("\n"u8);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Error(string message)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteBoolean("ok", false);
            writer.WriteString("error", message);
            writer.WriteEndObject();
        }
        output.Write("\n"u8);
        return output.WrittenSpan.ToArray();
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
            _device.Logger.LogWarning("{Device}: could not remove {Path}: {Reason}", Endpoint.Name, Endpoint.Path, error.Message);
        }
    }
}
