namespace NetDev.Linux;

/// <summary>
/// Every native call of NetDev's Linux host, one file per call family, as dotnet/runtime's
/// <c>Interop/Unix</c>. Nothing outside this folder calls native code, and nothing above it sees an errno:
/// <see cref="Errors"/> turns failures into <see cref="NetDevException"/> in one place.
/// </summary>
internal static partial class Interop
{
    internal static class Libraries
    {
        internal const string Libc = "libc";
    }
}
