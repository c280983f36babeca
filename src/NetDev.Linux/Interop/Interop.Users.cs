using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    // struct passwd (pwd.h) on 64-bit Linux: char* pw_name, char* pw_passwd, uid_t pw_uid, gid_t pw_gid, …
    internal const int PasswdUidOffset = 16;
    internal const int PasswdGidOffset = 20;

    /// <summary><c>getpwnam</c>: the user's entry (through NSS, so not only <c>/etc/passwd</c>), or zero when there is none.</summary>
    [LibraryImport(Libraries.Libc, EntryPoint = "getpwnam", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint GetPwNam(string name);
}
