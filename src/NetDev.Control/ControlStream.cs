using System.Net.Sockets;

namespace NetDev.Control;

/// <summary>
/// What a streaming request (<c>capture</c>, <c>monitor</c>) sends after its answer line, as a read-only stream
/// over the client's connection. Reads wait as long as the endpoint has nothing to say; after <see cref="Stop"/>
/// the end must come within the client's timeout. Ends (reads 0) when the endpoint closes; an endpoint gone
/// unexpectedly ends it too.
/// </summary>
/// <remarks><b>Invariants.</b> The client owns the connection: disposing the stream does not close it, disposing
/// the client does (and ends a pending read).</remarks>
public sealed class ControlStream : Stream
{
    private readonly ControlClient _client;

    internal ControlStream(ControlClient client) => _client = client;

    /// <summary>Asks the endpoint to end the stream: a capture sends what it still holds and its statistics, then closes.</summary>
    /// <exception cref="ControlException">The endpoint is gone.</exception>
    public void Stop()
    {
        try
        {
            _client.StopStream();
        }
        catch (SocketException error)
        {
            throw new ControlException($"{_client.Endpoint.DisplayName}: {error.Message}", error);
        }
    }

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        try
        {
            return _client.ReadStream(buffer);
        }
        catch (SocketException error)
        {
            throw new IOException($"{_client.Endpoint.DisplayName}: {error.Message}", error);
        }
        catch (ObjectDisposedException)
        {
            // The client was disposed to end a pending read.
            return 0;
        }
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
