using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    // linux/if_tun.h: _IOW('T', nr, int) = 1 << 30 | sizeof(int) << 16 | 'T' << 8 | nr.
    internal const uint TUNSETIFF = 0x400454CA;
    internal const uint TUNSETCARRIER = 0x400454E2;

    // linux/if_tun.h ifr_flags.
    internal const short IFF_TAP = 0x0002;
    internal const short IFF_MULTI_QUEUE = 0x0100;
    internal const short IFF_NO_PI = 0x1000;

    internal const int IFNAMSIZ = 16;

    /// <summary><c>struct ifreq</c> as TUNSETIFF reads it: a name and, in the union, the flags.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 40)]
    internal unsafe struct IfReq
    {
        internal fixed byte Name[IFNAMSIZ];
        internal short Flags;
    }

    [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(int fd, nuint request, void* argument);
}
