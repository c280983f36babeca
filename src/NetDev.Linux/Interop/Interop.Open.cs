using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    internal const int O_RDONLY = 0x0;
    internal const int O_RDWR = 0x2;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;

    /// <summary><c>open</c>; the descriptor is invalid when the call failed, and the errno is the call's.</summary>
    internal static SafeFileDescriptor Open(string path, int flags) => new(OpenRaw(path, flags));

    // Descriptor-returning calls return a C int, which a SafeHandle return (pointer-sized) would not read
    // sign-correctly, so each one is wrapped by hand.
    [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int OpenRaw(string path, int flags);

    [LibraryImport(Libraries.Libc, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);
}
