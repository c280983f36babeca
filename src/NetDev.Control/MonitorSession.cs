using System.Text.Json;
using System.Threading.Channels;
using NetDev.Diagnostics;

namespace NetDev.Control;

/// <summary>
/// A <c>monitor</c> request's connection: one JSON line per event (<see cref="MonitorEvent"/>) until the client goes
/// away or the endpoint stops — the link's state at the start and whenever it changes, each error no caller could
/// hear, the device becoming degraded, and once a second the frames dropped since the last look, by reason.
/// </summary>
/// <remarks>
/// Errors arrive on the threads that saw them (a queue's, the host's event thread), which must not wait for a
/// client: they go into a bounded queue, and what does not fit is counted and said in a <c>lost</c> line. The
/// state and the drops are read every <see cref="PollInterval"/> from fields and counters, off the packet path.
/// </remarks>
internal sealed class MonitorSession(NetDevice device, Func<string?> networkNamespace)
{
    /// <summary>How often the link's state is looked at.</summary>
    internal static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private static readonly TimeSpan DropInterval = TimeSpan.FromSeconds(1);
    private const int QueuedEvents = 256;

    private readonly Channel<MonitorEvent> _events = Channel.CreateBounded<MonitorEvent>(
        new BoundedChannelOptions(QueuedEvents) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private long _lost;

    public async Task RunAsync(Stream connection, CancellationToken stopping)
    {
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var clientGone = WatchClientAsync(connection, ended);
        device.Error += OnError;
        device.Degraded += OnDegraded;
        try
        {
            await connection.WriteAsync(ControlResponder.Result(new MonitorStart(ControlRequests.Monitor), ControlJsonContext.Default.MonitorStart), ended.Token).ConfigureAwait(false);
            var link = (State: (string?)null, Carrier: false, Mtu: 0);
            var drops = Drops();
            var lastDropLook = Environment.TickCount64;
            using var timer = new PeriodicTimer(PollInterval);
            do
            {
                var now = (State: device.IsUp ? "up" : "down", device.Carrier, device.Mtu);
                if (now != link)
                {
                    link = now;
                    await Write(connection, Event("link") with { State = now.State, Carrier = now.Carrier, Mtu = now.Mtu }, ended.Token).ConfigureAwait(false);
                }
                while (_events.Reader.TryRead(out var queued))
                {
                    await Write(connection, queued, ended.Token).ConfigureAwait(false);
                }
                if (Interlocked.Exchange(ref _lost, 0) is var lost and > 0)
                {
                    await Write(connection, Event("lost") with { Count = lost }, ended.Token).ConfigureAwait(false);
                }
                if (Environment.TickCount64 - lastDropLook >= DropInterval.TotalMilliseconds)
                {
                    lastDropLook = Environment.TickCount64;
                    var current = Drops();
                    var since = current
                        .Select(drop => (drop.Key, Count: drop.Value - drops.GetValueOrDefault(drop.Key)))
                        .Where(drop => drop.Count > 0)
                        .Select(drop => new DropCountReport(DiagnosticNames.Of(drop.Key.Direction), DiagnosticNames.Of(drop.Key.Reason), drop.Count))
                        .ToArray();
                    drops = current;
                    if (since.Length > 0)
                    {
                        await Write(connection, Event("drops") with { Drops = since }, ended.Token).ConfigureAwait(false);
                    }
                }
            }
            while (await timer.WaitForNextTickAsync(ended.Token).ConfigureAwait(false));
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client went away, or the endpoint stops.
        }
        finally
        {
            device.Error -= OnError;
            device.Degraded -= OnDegraded;
            await ended.CancelAsync().ConfigureAwait(false);
            await clientGone.ConfigureAwait(false);
        }
    }

    private Dictionary<(TrafficDirection Direction, DropReason Reason), long> Drops() =>
        device.GetDropCounts().ToDictionary(drop => (drop.Direction, drop.Reason), drop => drop.Count);

    private MonitorEvent Event(string kind) => new(kind, device.Name, networkNamespace());

    private void OnError(object? sender, DeviceErrorEventArgs error) =>
        Queue(Event("error") with { Message = error.Exception.Message, Errors = device.ErrorCount });

    private void OnDegraded(object? sender, DeviceErrorEventArgs reason) =>
        Queue(Event("degraded") with { Message = reason.Exception.Message, Errors = device.ErrorCount });

    private void Queue(MonitorEvent monitorEvent)
    {
        if (!_events.Writer.TryWrite(monitorEvent))
        {
            Interlocked.Increment(ref _lost);
        }
    }

    private static async Task Write(Stream connection, MonitorEvent monitorEvent, CancellationToken cancellation)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(monitorEvent, ControlJsonContext.Default.MonitorEvent);
        await connection.WriteAsync(line, cancellation).ConfigureAwait(false);
        await connection.WriteAsync("\n"u8.ToArray(), cancellation).ConfigureAwait(false);
    }

    /// <summary>Waits for the client to close (whatever it sends is ignored); then the stream ends.</summary>
    private static async Task WatchClientAsync(Stream connection, CancellationTokenSource ended)
    {
        var buffer = new byte[256];
        try
        {
            while (await connection.ReadAsync(buffer, ended.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Ended either way.
        }
        finally
        {
            await ended.CancelAsync().ConfigureAwait(false);
        }
    }
}
