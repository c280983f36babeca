using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    /// <summary>The one place where an errno becomes an exception.</summary>
    internal static class Errors
    {
        /// <summary>The errno of the last failed native call on this thread.</summary>
        internal static int LastErrno => Marshal.GetLastPInvokeError();

        /// <summary>An exception for <paramref name="errno"/> with the system's own text for it.</summary>
        internal static NetDevException Exception(int errno, string operation, string? device) =>
            new(errno, operation, device, Marshal.GetPInvokeErrorMessage(errno));

        /// <summary>An exception for the last native call's errno.</summary>
        internal static NetDevException LastException(string operation, string? device) =>
            Exception(LastErrno, operation, device);

        /// <summary>Throws for a negative <paramref name="result"/>; returns it otherwise.</summary>
        internal static int ThrowIfFailed(int result, string operation, string? device) =>
            result < 0 ? throw LastException(operation, device) : result;
    }

    /// <summary>errno values the host reacts to (asm-generic/errno-base.h, errno.h).</summary>
    internal static class Errno
    {
        internal const int EPERM = 1;
        internal const int ENOENT = 2;
        internal const int EINTR = 4;
        internal const int EIO = 5;
        internal const int EAGAIN = 11;
        internal const int EBUSY = 16;
        internal const int EINVAL = 22;
        internal const int ENOSYS = 38;
        internal const int ETIME = 62;
        internal const int EBADFD = 77;
        internal const int EOPNOTSUPP = 95;
        internal const int ENOBUFS = 105;
        internal const int ECANCELED = 125;
    }
}
