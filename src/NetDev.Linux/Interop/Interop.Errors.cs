using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    /// <summary>
    /// The one place where an errno becomes an exception. The values themselves are the core's
    /// <see cref="NetDev.Errno"/>, so the host and <see cref="NetDevException"/> share one table.
    /// </summary>
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
}
