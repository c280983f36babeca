using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>A TCP stream from one namespace to another, checked byte for byte by its SHA-256.</summary>
public static class TcpTransfer
{
    private const int ChunkLength = 256 << 10;

    /// <summary>Sends <paramref name="payload"/> from <paramref name="from"/> to <paramref name="target"/>:<paramref name="port"/> in <paramref name="to"/>; returns what arrived.</summary>
    public static (long Bytes, byte[] Hash) Run(TestNamespace from, TestNamespace to, IPAddress target, int port, byte[] payload) =>
        Transfer(from, to, target, port, client =>
        {
            var sent = 0;
            while (sent < payload.Length)
            {
                sent += client.Send(payload, sent, Math.Min(ChunkLength, payload.Length - sent), SocketFlags.None);
            }
        });

    /// <summary>
    /// Streams random bytes from <paramref name="from"/> to <paramref name="target"/>:<paramref name="port"/> in
    /// <paramref name="to"/> for as long as <paramref name="during"/> runs (on a thread of its own, started once
    /// the connection stands), and <paramref name="atLeast"/> bytes in any case; returns what was sent and what arrived.
    /// </summary>
    /// <exception cref="Exception">Whatever <paramref name="during"/> threw, once the stream has ended.</exception>
    public static (long SentBytes, byte[] SentHash, long ReceivedBytes, byte[] ReceivedHash) RunWhile(
        TestNamespace from, TestNamespace to, IPAddress target, int port, Action during, long atLeast = 1 << 20)
    {
        var chunk = new byte[ChunkLength];
        Random.Shared.NextBytes(chunk);
        using var sentHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long sentBytes = 0;
        var (receivedBytes, receivedHash) = Transfer(from, to, target, port, client =>
        {
            var events = Task.Factory.StartNew(during, TaskCreationOptions.LongRunning);
            while (!events.IsCompleted || sentBytes < atLeast)
            {
                // A different stream each round, so a chunk delivered twice or left out changes the hash.
                chunk[0]++;
                var sent = client.Send(chunk, SocketFlags.None);
                sentHash.AppendData(chunk, 0, sent);
                sentBytes += sent;
            }
            events.GetAwaiter().GetResult();
        });
        return (sentBytes, sentHash.GetHashAndReset(), receivedBytes, receivedHash);
    }

    /// <summary>Connects, lets <paramref name="send"/> write the stream, ends it and returns what the listener read.</summary>
    private static (long Bytes, byte[] Hash) Transfer(TestNamespace from, TestNamespace to, IPAddress target, int port, Action<Socket> send)
    {
        using var listener = to.Run(() =>
        {
            var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(target, port));
            socket.Listen(1);
            return socket;
        });
        long receivedBytes = -1;
        byte[] receivedHash = [];
        Exception? receiveError = null;
        var receiver = new Thread(() =>
        {
            try
            {
                using var connection = listener.Accept();
                connection.ReceiveTimeout = 60_000;
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[64 << 10];
                long total = 0;
                int read;
                while ((read = connection.Receive(buffer)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    total += read;
                }
                receivedHash = hash.GetHashAndReset();
                receivedBytes = total;
            }
            catch (Exception error)
            {
                receiveError = error;
            }
        }) { IsBackground = true, Name = "tcp receiver" };
        receiver.Start();

        using (var client = from.Run(() => new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp)))
        {
            client.SendTimeout = 60_000;
            client.Connect(new IPEndPoint(target, port));
            send(client);
            client.Shutdown(SocketShutdown.Send);
            Assert.True(receiver.Join(TimeSpan.FromSeconds(120)), "the receiver did not see the end of the stream");
        }
        Assert.Null(receiveError);
        return (receivedBytes, receivedHash);
    }
}
