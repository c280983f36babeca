using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    // linux/inotify.h: IN_CLOEXEC and IN_NONBLOCK are O_CLOEXEC and O_NONBLOCK.
    internal const int IN_CLOEXEC = 0x80000;
    internal const int IN_NONBLOCK = 0x800;
    internal const uint IN_MOVED_FROM = 0x40;
    internal const uint IN_DELETE = 0x200;
    internal const uint IN_ONLYDIR = 0x01000000;

    /// <summary>The fixed part of <c>struct inotify_event</c>; <see cref="NameLength"/> bytes of name follow it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct InotifyEvent
    {
        internal int Watch;
        internal uint Mask;
        internal uint Cookie;
        internal uint NameLength;
    }

    /// <summary><c>inotify_init1</c>; the descriptor is invalid when the call failed, and the errno is the call's.</summary>
    internal static SafeFileDescriptor InotifyInit(int flags) => new(InotifyInitRaw(flags));

    [LibraryImport(Libraries.Libc, EntryPoint = "inotify_add_watch", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int InotifyAddWatch(SafeFileDescriptor fd, string path, uint mask);

    [LibraryImport(Libraries.Libc, EntryPoint = "inotify_init1", SetLastError = true)]
    private static partial int InotifyInitRaw(int flags);
}
