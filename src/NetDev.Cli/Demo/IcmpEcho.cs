using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NetDev.Linux;

namespace NetDev.Cli.Demo;

/// <summary>ICMP echo (ping) done in-process over a raw socket opened inside a network namespace.</summary>
internal static class IcmpEcho
{
    private const int PayloadLength = 56;

    /// <summary>
    /// Sends <paramref name="count"/> echo requests to <paramref name="target"/> from namespace
    /// <paramref name="networkNamespace"/>, one every <paramref name="interval"/>, and returns the round
    /// trip time of each one answered (a lost one is <see langword="null"/>).
    /// </summary>
    public static IReadOnlyList<TimeSpan?> Ping(string networkNamespace, IPAddress target, int count, TimeSpan interval, TimeSpan timeout, CancellationToken cancellation)
    {
        using var socket = NetworkNamespace.Run(networkNamespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp));
        socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        var identifier = (ushort)Environment.ProcessId;
        var results = new List<TimeSpan?>(count);
        var request = new byte[8 + PayloadLength];
        var reply = new byte[1500];
        for (var sequence = 1; sequence <= count; sequence++)
        {
            cancellation.ThrowIfCancellationRequested();
            BuildRequest(request, identifier, (ushort)sequence);
            var sent = Stopwatch.GetTimestamp();
            socket.SendTo(request, new IPEndPoint(target, 0));
            results.Add(AwaitReply(socket, reply, identifier, (ushort)sequence, sent, timeout));
            if (sequence < count)
            {
                cancellation.WaitHandle.WaitOne(interval);
            }
        }
        return results;
    }

    private static TimeSpan? AwaitReply(Socket socket, byte[] buffer, ushort identifier, ushort sequence, long sent, TimeSpan timeout)
    {
        while (Stopwatch.GetElapsedTime(sent) < timeout)
        {
            int received;
            try
            {
                received = socket.Receive(buffer);
            }
            catch (SocketException error) when (error.SocketErrorCode == SocketError.TimedOut)
            {
                return null;
            }
            var elapsed = Stopwatch.GetElapsedTime(sent);
            // A raw IPv4 socket delivers the IP header too.
            var headerLength = (buffer[0] & 0x0F) * 4;
            if (received < headerLength + 8)
            {
                continue;
            }
            var icmp = buffer.AsSpan(headerLength, received - headerLength);
            if (icmp[0] == 0 && BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]) == identifier && BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]) == sequence)
            {
                return elapsed;
            }
        }
        return null;
    }

    private static void BuildRequest(Span<byte> packet, ushort identifier, ushort sequence)
    {
        packet.Clear();
        packet[0] = 8; // echo request
        BinaryPrimitives.WriteUInt16BigEndian(packet[4..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(packet[6..], sequence);
        for (var i = 8; i < packet.Length; i++)
        {
            packet[i] = (byte)i;
        }
        BinaryPrimitives.WriteUInt16BigEndian(packet[2..], Checksum(packet));
    }

    /// <summary>The Internet checksum (RFC 1071) of <paramref name="data"/>.</summary>
    internal static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (var i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }
        if (data.Length % 2 == 1)
        {
            sum += (uint)data[^1] << 8;
        }
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }
}
