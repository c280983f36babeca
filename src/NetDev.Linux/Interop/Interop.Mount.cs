using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    internal const ulong MS_BIND = 0x1000;
    internal const int MNT_DETACH = 0x2;

    [LibraryImport(Libraries.Libc, EntryPoint = "mount", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Mount(string source, string target, string? fileSystemType, ulong flags, nint data);

    [LibraryImport(Libraries.Libc, EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Unmount(string target, int flags);
}
