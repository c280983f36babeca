using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    internal const int SOL_UDP = 17;
    /// <summary><c>UDP_SEGMENT</c> (<c>linux/udp.h</c>): the datagram size a send is cut into by the kernel (UDP GSO).</summary>
    internal const int UDP_SEGMENT = 103;
    /// <summary><c>UDP_GRO</c>: receive merged datagrams, with their size in a control message.</summary>
    internal const int UDP_GRO = 104;
    internal const int MSG_TRUNC = 0x20;
    internal const int MSG_WAITFORONE = 0x10000;
    internal const short POLLOUT = 0x004;

    /// <summary><c>struct msghdr</c> (LP64: 56 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct MessageHeader
    {
        internal byte* Name;
        internal uint NameLength;
        internal IoVec* Vectors;
        internal nuint VectorCount;
        internal byte* Control;
        internal nuint ControlLength;
        internal int Flags;
    }

    /// <summary><c>struct mmsghdr</c>: a message and, after the call, how many bytes it carried.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MultiMessageHeader
    {
        internal MessageHeader Header;
        internal uint Length;
    }

    /// <summary><c>struct cmsghdr</c> (LP64: 16 bytes; the data follows, aligned to 8).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ControlMessageHeader
    {
        internal nuint Length;
        internal int Level;
        internal int Type;
    }

    /// <summary><c>CMSG_ALIGN</c>: control messages are aligned to the size of a <c>long</c>.</summary>
    internal static int ControlAlign(int length) => (length + 7) & ~7;

    /// <summary><c>CMSG_LEN</c>.</summary>
    internal static unsafe int ControlLength(int dataLength) => ControlAlign(sizeof(ControlMessageHeader)) + dataLength;

    /// <summary><c>CMSG_SPACE</c>.</summary>
    internal static unsafe int ControlSpace(int dataLength) => ControlAlign(sizeof(ControlMessageHeader)) + ControlAlign(dataLength);

    [LibraryImport(Libraries.Libc, EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMessage(SafeSocketHandle fd, MessageHeader* message, int flags);

    [LibraryImport(Libraries.Libc, EntryPoint = "sendmmsg", SetLastError = true)]
    internal static unsafe partial int SendMessages(SafeSocketHandle fd, MultiMessageHeader* messages, uint count, int flags);

    [LibraryImport(Libraries.Libc, EntryPoint = "recvmsg", SetLastError = true)]
    internal static unsafe partial nint ReceiveMessage(SafeSocketHandle fd, MessageHeader* message, int flags);

    [LibraryImport(Libraries.Libc, EntryPoint = "recvmmsg", SetLastError = true)]
    internal static unsafe partial int ReceiveMessages(SafeSocketHandle fd, MultiMessageHeader* messages, uint count, int flags, void* timeout);

    [LibraryImport(Libraries.Libc, EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSocketOption(SafeSocketHandle fd, int level, int name, void* value, uint valueLength);

    [LibraryImport(Libraries.Libc, EntryPoint = "getsockopt", SetLastError = true)]
    internal static unsafe partial int GetSocketOption(SafeSocketHandle fd, int level, int name, void* value, uint* valueLength);

    /// <summary><c>poll</c> on one socket, for a bounded wait until it can send again.</summary>
    internal static unsafe int PollSocket(SafeSocketHandle fd, short events, int timeoutMilliseconds)
    {
        var added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            var entry = new PollFd { Fd = (int)fd.DangerousGetHandle(), Events = events };
            // SAFETY: entry lives on this stack frame for the whole call, and the reference taken above keeps
            // the descriptor from being closed (and its number reused) until the call returned.
            return Poll(&entry, 1, timeoutMilliseconds);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }
}
