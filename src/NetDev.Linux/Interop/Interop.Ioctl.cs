using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    // linux/if_tun.h: _IOW('T', nr, int) = 1 << 30 | sizeof(int) << 16 | 'T' << 8 | nr.
    internal const uint TUNSETIFF = 0x400454CA;
    internal const uint TUNSETCARRIER = 0x400454E2;
    internal const uint TUNSETOFFLOAD = 0x400454D0;
    internal const uint TUNSETPERSIST = 0x400454CB;
    internal const uint TUNSETOWNER = 0x400454CC;
    internal const uint TUNSETGROUP = 0x400454CE;

    // linux/if_tun.h TUNSETOFFLOAD flags.
    internal const uint TUN_F_CSUM = 0x01;
    internal const uint TUN_F_TSO4 = 0x02;
    internal const uint TUN_F_TSO6 = 0x04;
    internal const uint TUN_F_TSO_ECN = 0x08;
    internal const uint TUN_F_USO4 = 0x20;
    internal const uint TUN_F_USO6 = 0x40;

    // linux/if_tun.h ifr_flags.
    internal const short IFF_TAP = 0x0002;
    internal const short IFF_MULTI_QUEUE = 0x0100;
    internal const short IFF_NO_PI = 0x1000;
    internal const short IFF_VNET_HDR = 0x4000;
    internal const short IFF_TUN_EXCL = unchecked((short)0x8000);

    internal const int IFNAMSIZ = 16;

    /// <summary><c>struct ifreq</c> as TUNSETIFF reads it: a name and, in the union, the flags.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 40)]
    internal unsafe struct IfReq
    {
        internal fixed byte Name[IFNAMSIZ];
        internal short Flags;
    }

    [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(SafeFileDescriptor fd, nuint request, void* argument);
}
