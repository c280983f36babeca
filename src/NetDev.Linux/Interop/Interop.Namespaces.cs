using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    internal const int CLONE_NEWNET = 0x40000000;

    [LibraryImport(Libraries.Libc, EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(SafeFileDescriptor fd, int namespaceType);

    [LibraryImport(Libraries.Libc, EntryPoint = "unshare", SetLastError = true)]
    internal static partial int Unshare(int flags);
}
