using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using NetDev.Diagnostics;

namespace NetDev.Control;

/// <summary>
/// What a control endpoint says: one response line for each request line, read from the device as it is
/// at that moment (counters are plain snapshots, no lock), with no knowledge of sockets.
/// </summary>
/// <param name="device">The device answered for.</param>
/// <param name="networkNamespace">The name of the namespace the endpoint serves the device in, asked at each answer (it changes when the device moves).</param>
internal sealed class ControlResponder(NetDevice device, Func<string?> networkNamespace)
{
    private readonly NetDevice _device = device;
    private readonly Func<string?> _networkNamespace = networkNamespace;

    /// <summary>
    /// Answers a request line that may turn the connection into a stream (<c>capture</c>, <c>monitor</c>): then the
    /// stream writes its own answer and everything after; otherwise <see cref="Answer"/>'s line.
    /// </summary>
    public ControlAnswer AnswerOrStream(ReadOnlySpan<byte> line)
    {
        ControlRequest? request = null;
        try
        {
            request = JsonSerializer.Deserialize(line, ControlJsonContext.Default.ControlRequest);
        }
        catch (JsonException)
        {
            // Answer says so.
        }
        return request?.Request switch
        {
            ControlRequests.Capture => new(null, new CaptureSession(_device, request.Drops).RunAsync),
            ControlRequests.Monitor => new(null, new MonitorSession(_device, _networkNamespace).RunAsync),
            _ => new(Answer(line), null),
        };
    }

    /// <summary>Answers one request line; never throws (a failure is an error response).</summary>
    public byte[] Answer(ReadOnlySpan<byte> line)
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
                ControlRequests.Stop => Error("stop ends a capture; no capture runs on this connection"),
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

    private DeviceInfoReport Info()
    {
        var driver = _device.GetDriverInfo();
        return new DeviceInfoReport(
            _device.Name,
            _networkNamespace(),
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
            ControlProtocol.Version,
            HealthReport.Of(_device));
    }

    private DeviceStatsReport Stats(bool withQueues) => DeviceStatsReport.Of(_device, _networkNamespace(), withQueues);

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

    /// <summary>A success response line: <c>{"ok": true, "result": VALUE}</c>.</summary>
    public static byte[] Result<T>(T value, JsonTypeInfo<T> typeInfo)
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

    /// <summary>An error response line: <c>{"ok": false, "error": MESSAGE}</c>.</summary>
    public static byte[] Error(string message)
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
}

/// <summary>
/// What a request line gets: a response line, or a stream that takes the connection over (it writes its own
/// first line) until it ends.
/// </summary>
/// <param name="Line">The response line, when the request is answered with one.</param>
/// <param name="Stream">The stream, when the request starts one: it gets the connection and the server's stopping token.</param>
internal readonly record struct ControlAnswer(byte[]? Line, Func<Stream, CancellationToken, Task>? Stream);
