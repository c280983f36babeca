using System.Runtime.InteropServices;

namespace NetDev.Linux;

/// <summary>An owned shared memory mapping (<c>mmap</c>), unmapped exactly once.</summary>
/// <remarks><b>Invariants.</b> <c>handle</c> is the start of a mapping of <see cref="Length"/> bytes owned
/// by this object until <see cref="ReleaseHandle"/> unmaps it; code that dereferences pointers into it
/// holds a reference taken with <see cref="SafeHandle.DangerousAddRef"/> for as long as it does.</remarks>
internal sealed class SafeMemoryMapping : SafeHandle
{
    private SafeMemoryMapping(nint address, nuint length) : base(invalidHandleValue: Interop.MAP_FAILED, ownsHandle: true)
    {
        Length = length;
        SetHandle(address);
    }

    public override bool IsInvalid => handle == Interop.MAP_FAILED || handle == 0;

    /// <summary>The mapping's length in bytes.</summary>
    internal nuint Length { get; }

    /// <summary>The first byte of the mapping, for use while a reference is held.</summary>
    internal nint Address => handle;

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> at <paramref name="offset"/>, shared and read-write.</summary>
    internal static SafeMemoryMapping Map(SafeFileDescriptor fd, nuint length, long offset, string operation, string? device)
    {
        var address = Interop.MemoryMap(0, length, Interop.PROT_READ | Interop.PROT_WRITE, Interop.MAP_SHARED | Interop.MAP_POPULATE, fd, offset);
        if (address == Interop.MAP_FAILED)
        {
            throw Interop.Errors.LastException(operation, device);
        }
        return new SafeMemoryMapping(address, length);
    }

    protected override bool ReleaseHandle() => Interop.MemoryUnmap(handle, Length) == 0;
}
