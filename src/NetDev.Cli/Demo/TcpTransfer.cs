using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NetDev.Linux;

namespace NetDev.Cli.Demo;

/// <summary>What a <see cref="TcpTransfer"/> measured.</summary>
/// <param name="Bytes">Bytes sent (and received, if <see cref="Intact"/>).</param>
/// <param name="Elapsed">From connect to the receiver's last byte.</param>
/// <param name="Intact">Whether the receiver got exactly the bytes sent (count and SHA-256).</param>
internal sealed record TransferResult(long Bytes, TimeSpan Elapsed, bool Intact)
{
    public double MegabitsPerSecond => Bytes * 8 / Elapsed.TotalSeconds / 1e6;
}

/// <summary>A TCP transfer between two network namespaces, done in-process, checked end to end.</summary>
internal static class TcpTransfer
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>
    /// Sends <paramref name="bytes"/> random bytes from <paramref name="clientNamespace"/> to a listener on
    /// <paramref name="server"/> in <paramref name="serverNamespace"/>, and compares SHA-256 of both sides.
    /// </summary>
    public static async Task<TransferResult> RunAsync(string clientNamespace, string serverNamespace, IPEndPoint server, long bytes, CancellationToken cancellation)
    {
        using var listener = NetworkNamespace.Run(serverNamespace, () =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(server);
            socket.Listen(1);
            return socket;
        });
        using var client = NetworkNamespace.Run(clientNamespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));

        var receiving = ReceiveAsync(listener, timeout.Token);
        var started = Stopwatch.GetTimestamp();
        await client.ConnectAsync(server, timeout.Token);
        using var sentHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunk = new byte[ChunkSize];
        for (long sent = 0; sent < bytes; sent += ChunkSize)
        {
            var length = (int)Math.Min(ChunkSize, bytes - sent);
            RandomNumberGenerator.Fill(chunk.AsSpan(0, length));
            sentHash.AppendData(chunk, 0, length);
            await client.SendAsync(chunk.AsMemory(0, length), SocketFlags.None, timeout.Token);
        }
        client.Shutdown(SocketShutdown.Send);
        var (received, receivedHash) = await receiving;
        var elapsed = Stopwatch.GetElapsedTime(started);
        return new TransferResult(bytes, elapsed, received == bytes && receivedHash.AsSpan().SequenceEqual(sentHash.GetHashAndReset()));
    }

    private static async Task<(long Bytes, byte[] Hash)> ReceiveAsync(Socket listener, CancellationToken cancellation)
    {
        using var connection = await listener.AcceptAsync(cancellation);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[ChunkSize];
        long total = 0;
        while (true)
        {
            var read = await connection.ReceiveAsync(buffer, SocketFlags.None, cancellation);
            if (read == 0)
            {
                return (total, hash.GetHashAndReset());
            }
            hash.AppendData(buffer, 0, read);
            total += read;
        }
    }
}
