using System.Runtime.InteropServices;

namespace NetDev.Linux;

/// <summary>An owned Linux file descriptor, closed exactly once.</summary>
/// <remarks><b>Invariants.</b> <c>handle</c> is an open descriptor owned by this object until
/// <see cref="ReleaseHandle"/> closes it; code that keeps using the raw value (a queue loop) holds a
/// reference taken with <see cref="SafeHandle.DangerousAddRef"/> for as long as it does.</remarks>
internal sealed class SafeFileDescriptor : SafeHandle
{
    internal SafeFileDescriptor(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    /// <summary>The raw descriptor, for calls made while a reference is held.</summary>
    internal int Fd => (int)handle;

    protected override bool ReleaseHandle() => Interop.Close((int)handle) == 0;
}
