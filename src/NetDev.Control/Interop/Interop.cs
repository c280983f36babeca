using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NetDev.Control;

/// <summary>
/// The few native calls the control plane needs that .NET has no API for: opening a directory, asking who
/// owns a file without following a link (<c>statx</c>, whose layout is the same on every architecture),
/// locking a directory, and naming files relative to a directory's descriptor. Only
/// <see cref="DirectoryHandle"/> calls them; nothing above it sees an errno.
/// </summary>
internal static partial class Interop
{
    private const string Libc = "libc";

    internal const int O_RDONLY = 0;
    internal const int O_CLOEXEC = 0x80000;
    internal const int AT_SYMLINK_NOFOLLOW = 0x100;
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const uint STATX_BASIC = 0x7ff;
    internal const int LOCK_EX = 2;
    internal const int LOCK_NB = 4;
    internal const int LOCK_UN = 8;
    internal const ushort S_IFMT = 0xf000;
    internal const ushort S_IFDIR = 0x4000;
    internal const ushort S_IFLNK = 0xa000;

    /// <summary>The start of <c>struct statx</c> (linux/stat.h), padded to its full 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct Statx
    {
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    /// <summary><c>open</c>; the handle is invalid when the call failed, and the errno is the call's.</summary>
    internal static SafeFileHandle Open(string path, int flags) => new(OpenRaw(path, flags | O_CLOEXEC), ownsHandle: true);

    // open returns a C int, which a SafeHandle return (pointer-sized) would not read sign-correctly.
    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint OpenRaw(string path, int flags);

    [LibraryImport(Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int StatxAt(SafeFileHandle directory, string path, int flags, uint mask, out Statx result);

    [LibraryImport(Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int StatxPath(int directory, string path, int flags, uint mask, out Statx result);

    [LibraryImport(Libc, EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(SafeFileHandle file, int operation);

    [LibraryImport(Libc, EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int Fchmod(SafeFileHandle file, uint mode);

    [LibraryImport(Libc, EntryPoint = "fchmodat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int FchmodAt(SafeFileHandle directory, string name, uint mode, int flags);

    [LibraryImport(Libc, EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int UnlinkAt(SafeFileHandle directory, string name, int flags);

    [LibraryImport(Libc, EntryPoint = "renameat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int RenameAt(SafeFileHandle fromDirectory, string from, SafeFileHandle toDirectory, string to);

    [LibraryImport(Libc, EntryPoint = "geteuid")]
    internal static partial uint GetEuid();
}
