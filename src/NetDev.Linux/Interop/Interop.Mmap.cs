using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    internal const int PROT_READ = 0x1;
    internal const int PROT_WRITE = 0x2;
    internal const int MAP_SHARED = 0x01;
    internal const int MAP_POPULATE = 0x08000;

    /// <summary>What <c>mmap</c> returns on failure.</summary>
    internal static readonly nint MAP_FAILED = -1;

    [LibraryImport(Libraries.Libc, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint MemoryMap(nint address, nuint length, int protection, int flags, SafeFileDescriptor fd, long offset);

    [LibraryImport(Libraries.Libc, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int MemoryUnmap(nint address, nuint length);
}
