using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    internal const int EFD_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;

    /// <summary><c>eventfd</c>; the descriptor is invalid when the call failed, and the errno is the call's.</summary>
    internal static SafeFileDescriptor EventFd(uint initialValue, int flags) => new(EventFdRaw(initialValue, flags));

    [LibraryImport(Libraries.Libc, EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFdRaw(uint initialValue, int flags);
}
