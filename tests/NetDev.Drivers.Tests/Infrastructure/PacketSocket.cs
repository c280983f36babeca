using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>
/// An AF_PACKET socket bound to one interface that reads every frame arriving there as it was on the wire,
/// VLAN tag included: the kernel takes the outer tag of a received frame out of the data (into
/// <c>skb->vlan_tci</c>) before packet sockets see it and reports it in <c>PACKET_AUXDATA</c>, from which
/// it is put back where it was.
/// </summary>
/// <remarks>Lives in the namespace it was made in (it is created by the caller's thread there).</remarks>
public sealed partial class PacketSocket : IDisposable
{
    private const int SolPacket = 263;
    private const int PacketAuxdata = 8;
    private const ushort AllProtocols = 0x0003;
    private const uint VlanValid = 1 << 4;
    private const uint VlanTpidValid = 1 << 6;

    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[NetDevice.GsoMaxFrameLength];
    private readonly byte[] _control = new byte[64];

    /// <summary>Opens the socket, bound to interface <paramref name="ifIndex"/>, in the calling thread's namespace.</summary>
    public PacketSocket(int ifIndex)
    {
        _socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness(AllProtocols));
        try
        {
            _socket.SetRawSocketOption(SolPacket, PacketAuxdata, BitConverter.GetBytes(1));
            _socket.Bind(new RawEndPoint(EthernetFrames.PacketAddress(ifIndex, AllProtocols)));
            _socket.ReceiveTimeout = 1000;
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads frames until <paramref name="count"/> of them satisfy <paramref name="wanted"/> (others are
    /// skipped), within <paramref name="seconds"/>; returns those, in order of arrival.
    /// </summary>
    public List<byte[]> Receive(int count, Func<byte[], bool> wanted, int seconds = 30)
    {
        var frames = new List<byte[]>();
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (frames.Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{frames.Count} of {count} frames arrived within {seconds} s");
            if (ReceiveOne() is { } frame && wanted(frame))
            {
                frames.Add(frame);
            }
        }
        return frames;
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>One frame with its outer VLAN tag back in place, or null when none came within the receive timeout.</summary>
    private unsafe byte[]? ReceiveOne()
    {
        long length;
        Auxdata aux = default;
        var hasAux = false;
        // SAFETY: both arrays are pinned for the call, and the header tells recvmsg their true lengths, so the
        // kernel writes inside them only; the control data is read back within the length recvmsg reports.
        fixed (byte* data = _buffer)
        fixed (byte* control = _control)
        {
            var vector = new IoVector { Base = data, Length = (nuint)_buffer.Length };
            var header = new MessageHeader { Vector = &vector, VectorCount = 1, Control = control, ControlLength = (nuint)_control.Length };
            length = ReceiveMessage(_socket.SafeHandle, &header, MsgTrunc);
            if (length < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                return errno is Eagain or Eintr ? null : throw new SocketException(errno);
            }
            Assert.True(length <= _buffer.Length, $"a frame of {length} bytes does not fit the receive buffer");
            var used = (int)header.ControlLength;
            for (var offset = 0; offset + sizeof(ControlHeader) <= used;)
            {
                var cmsg = (ControlHeader*)(control + offset);
                if (cmsg->Level == SolPacket && cmsg->Type == PacketAuxdata)
                {
                    aux = *(Auxdata*)(control + offset + sizeof(ControlHeader));
                    hasAux = true;
                }
                offset += (int)((cmsg->Length + 7) & ~7UL);
            }
        }
        var frame = _buffer.AsSpan(0, (int)length);
        if (!hasAux || (aux.Status & VlanValid) == 0)
        {
            return frame.ToArray();
        }
        var tpid = (aux.Status & VlanTpidValid) != 0 ? aux.VlanTpid : EthernetFrames.Vlan;
        return EthernetFrames.Tagged(frame.ToArray(), (tpid, aux.VlanTci));
    }

    private const int MsgTrunc = 0x20;
    private const int Eagain = 11;
    private const int Eintr = 4;

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static unsafe partial nint ReceiveMessage(SafeHandle socket, MessageHeader* message, int flags);

    /// <summary><c>struct iovec</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary><c>struct msghdr</c> (64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vector;
        public nuint VectorCount;
        public byte* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary><c>struct cmsghdr</c> (64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ControlHeader
    {
        public ulong Length;
        public int Level;
        public int Type;
    }

    /// <summary><c>struct tpacket_auxdata</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Auxdata
    {
        public uint Status;
        public uint Length;
        public uint SnapLength;
        public ushort MacOffset;
        public ushort NetworkOffset;
        public ushort VlanTci;
        public ushort VlanTpid;
    }

    /// <summary>An endpoint that is a ready-made socket address, for <see cref="Socket.Bind"/>.</summary>
    private sealed class RawEndPoint(SocketAddress address) : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Packet;

        public override SocketAddress Serialize() => address;
    }
}
