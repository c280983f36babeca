using System.Buffers;
using NetDev.Diagnostics;

namespace NetDev.Control;

/// <summary>
/// A <c>capture</c> request's connection: a <see cref="FrameCapture"/> attached to the device for as long as the
/// client stays, its frames written as pcapng (<see cref="PcapNg"/>). The client ends it with a <c>stop</c> line —
/// then what is left in the ring and the statistics block go out before the close — or by going away, which
/// detaches the capture at once.
/// </summary>
/// <remarks>
/// The device never waits for the client: frames go into the capture's bounded ring on the queues' threads and
/// this loop empties it, so a client that reads slowly loses frames, counted in the statistics block, and holds up
/// nothing else. While the ring is empty the loop sleeps <see cref="PollInterval"/>: the packet path signals nobody.
/// </remarks>
internal sealed class CaptureSession(NetDevice device, bool includeDrops)
{
    /// <summary>How long the loop sleeps when the ring is empty.</summary>
    internal static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    // Enough for a burst of small frames per write, and for one frame of the largest.
    private const int FlushBytes = 256 << 10;

    public async Task RunAsync(Stream connection, CancellationToken stopping)
    {
        using var capture = FrameCapture.Start(device, includeDrops);
        var output = new ArrayBufferWriter<byte>(FlushBytes + FrameCapture.DefaultSnapLength + 1024);
        output.Write(ControlResponder.Result(new CaptureStartReport("pcapng", capture.SnapLength), ControlJsonContext.Default.CaptureStartReport));
        PcapNg.WriteHeader(output, device.Name, capture.SnapLength);
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var clientStop = WatchClientAsync(connection, ended);
        var frame = new byte[capture.SnapLength];
        try
        {
            while (!ended.IsCancellationRequested)
            {
                while (output.WrittenCount < FlushBytes && capture.TryRead(frame, out var info))
                {
                    PcapNg.WritePacket(output, info, frame.AsSpan(0, info.CapturedLength));
                }
                if (output.WrittenCount > 0)
                {
                    // Not cancelled by a stop: a block half written would spoil the stream. A client gone fails it.
                    await connection.WriteAsync(output.WrittenMemory, stopping).ConfigureAwait(false);
                    output.ResetWrittenCount();
                    continue;
                }
                await Task.Delay(PollInterval, ended.Token).ConfigureAwait(false);
            }
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client asked to stop, went away, or the server stops.
        }
        // A failed write ends the capture too; a stop that came first is still known.
        await ended.CancelAsync().ConfigureAwait(false);
        if (!await clientStop.ConfigureAwait(false) || stopping.IsCancellationRequested)
        {
            return;
        }
        // Asked to stop: what the ring still holds, then the statistics, then the close.
        capture.Dispose();
        output.ResetWrittenCount();
        while (capture.TryRead(frame, out var info))
        {
            PcapNg.WritePacket(output, info, frame.AsSpan(0, info.CapturedLength));
        }
        PcapNg.WriteStatistics(output, (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100, capture.Captured, capture.Lost);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(ControlClient.DefaultTimeout);
        await connection.WriteAsync(output.WrittenMemory, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>Reads what the client sends: true once it sent a line (a stop), false when it went away; either ends the capture.</summary>
    private static async Task<bool> WatchClientAsync(Stream connection, CancellationTokenSource ended)
    {
        var buffer = new byte[ControlProtocol.MaxRequestBytes];
        try
        {
            while (true)
            {
                var read = await connection.ReadAsync(buffer, ended.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return false;
                }
                if (buffer.AsSpan(0, read).Contains((byte)'\n'))
                {
                    return true;
                }
            }
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            await ended.CancelAsync().ConfigureAwait(false);
        }
    }
}
