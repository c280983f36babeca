using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    internal const int AF_NETLINK = 16;
    internal const int SOCK_RAW = 3;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOCK_NONBLOCK = 0x800;
    internal const int NETLINK_ROUTE = 0;
    internal const int SOL_NETLINK = 270;
    internal const int NETLINK_EXT_ACK = 11;
    internal const int SOL_SOCKET = 1;
    internal const int SO_RCVBUF = 8;
    internal const int MSG_DONTWAIT = 0x40;

    /// <summary><c>struct sockaddr_nl</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SockAddrNetlink
    {
        internal ushort Family;
        internal ushort Padding;
        internal uint PortId;
        internal uint Groups;
    }

    /// <summary><c>socket</c>; the descriptor is invalid when the call failed, and the errno is the call's.</summary>
    internal static SafeFileDescriptor Socket(int domain, int type, int protocol) => new(SocketRaw(domain, type, protocol));

    [LibraryImport(Libraries.Libc, EntryPoint = "socket", SetLastError = true)]
    private static partial int SocketRaw(int domain, int type, int protocol);

    [LibraryImport(Libraries.Libc, EntryPoint = "bind", SetLastError = true)]
    internal static unsafe partial int Bind(SafeFileDescriptor fd, void* address, uint addressLength);

    [LibraryImport(Libraries.Libc, EntryPoint = "send", SetLastError = true)]
    internal static unsafe partial nint Send(SafeFileDescriptor fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Libraries.Libc, EntryPoint = "recv", SetLastError = true)]
    internal static unsafe partial nint Receive(SafeFileDescriptor fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Libraries.Libc, EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSocketOption(SafeFileDescriptor fd, int level, int name, void* value, uint valueLength);
}
