using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>A TCP stream from one namespace to another, checked byte for byte by its SHA-256.</summary>
public static class TcpTransfer
{
    /// <summary>Sends <paramref name="payload"/> from <paramref name="from"/> to <paramref name="target"/>:<paramref name="port"/> in <paramref name="to"/>; returns what arrived.</summary>
    public static (long Bytes, byte[] Hash) Run(TestNamespace from, TestNamespace to, IPAddress target, int port, byte[] payload)
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
            var sent = 0;
            while (sent < payload.Length)
            {
                sent += client.Send(payload, sent, Math.Min(256 << 10, payload.Length - sent), SocketFlags.None);
            }
            client.Shutdown(SocketShutdown.Send);
            Assert.True(receiver.Join(TimeSpan.FromSeconds(120)), "the receiver did not see the end of the stream");
        }
        Assert.Null(receiveError);
        return (receivedBytes, receivedHash);
    }
}
