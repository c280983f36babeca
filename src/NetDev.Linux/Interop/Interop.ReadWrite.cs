using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
    internal static unsafe partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Libraries.Libc, EntryPoint = "write", SetLastError = true)]
    internal static unsafe partial nint Write(int fd, byte* buffer, nuint count);

    /// <summary><c>struct iovec</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoVec
    {
        internal byte* Base;
        internal nuint Length;
    }

    [LibraryImport(Libraries.Libc, EntryPoint = "readv", SetLastError = true)]
    internal static unsafe partial nint ReadV(int fd, IoVec* vectors, int count);

    [LibraryImport(Libraries.Libc, EntryPoint = "writev", SetLastError = true)]
    internal static unsafe partial nint WriteV(int fd, IoVec* vectors, int count);
}
