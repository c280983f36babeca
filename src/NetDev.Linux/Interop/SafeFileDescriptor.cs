using System.Runtime.InteropServices;

namespace NetDev.Linux;

/// <summary>
/// An owned Linux file descriptor, closed exactly once. Native calls that take a descriptor take this type,
/// so the marshaller holds a reference for the length of each call and a descriptor closed meanwhile makes the
/// call throw <see cref="ObjectDisposedException"/> instead of reaching a reused number. (The handle travels
/// pointer-sized where C takes an <c>int</c>; every 64-bit Linux ABI passes it in a register of which the
/// callee reads the low half.)
/// </summary>
/// <remarks><b>Invariants.</b> <c>handle</c> is an open descriptor owned by this object until
/// <see cref="ReleaseHandle"/> closes it, or -1 when the call that should have opened it failed. Code that
/// uses the raw value (<see cref="Fd"/>: a loop that polls or reads it for its whole life, an io_uring
/// submission entry) holds one long-lived reference taken with <see cref="SafeHandle.DangerousAddRef"/> for
/// as long as it does.</remarks>
internal sealed class SafeFileDescriptor : SafeHandle
{
    /// <summary>Takes ownership of <paramref name="fd"/>, or of nothing when it is negative (a failed call's result).</summary>
    internal SafeFileDescriptor(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    /// <summary>The raw descriptor, for calls made while a reference is held.</summary>
    internal int Fd => (int)handle;

    /// <summary>
    /// Takes the long-lived reference of a loop that uses <see cref="Fd"/> for its whole life and returns the raw
    /// descriptor; <paramref name="held"/> records it for <see cref="ReleaseHold"/>.
    /// </summary>
    internal int Hold(ref bool held)
    {
        DangerousAddRef(ref held);
        return Fd;
    }

    /// <summary>Gives back the reference <see cref="Hold"/> took, if <paramref name="held"/> says it did.</summary>
    internal void ReleaseHold(ref bool held)
    {
        if (held)
        {
            held = false;
            DangerousRelease();
        }
    }

    protected override bool ReleaseHandle() => Interop.Close((int)handle) == 0;
}
