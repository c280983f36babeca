using System.Runtime.InteropServices;

namespace NetDev.Linux;

// Calls that take a descriptor take its SafeFileDescriptor, whose marshaller holds a reference for the
// call. The raw-int read is the one exception: a loop that holds a long-lived reference on its
// descriptors reads each frame with them.
internal static partial class Interop
{
    /// <summary><c>read</c> on a raw descriptor, for a loop that holds a long-lived reference on it (see
    /// <see cref="SafeFileDescriptor"/>): the per-frame read then costs no reference count.</summary>
    [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
    internal static unsafe partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Libraries.Libc, EntryPoint = "write", SetLastError = true)]
    internal static unsafe partial nint Write(SafeFileDescriptor fd, byte* buffer, nuint count);

    /// <summary><c>struct iovec</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoVec
    {
        internal byte* Base;
        internal nuint Length;
    }

    [LibraryImport(Libraries.Libc, EntryPoint = "writev", SetLastError = true)]
    internal static unsafe partial nint WriteV(SafeFileDescriptor fd, IoVec* vectors, int count);
}
