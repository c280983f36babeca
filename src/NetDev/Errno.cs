namespace NetDev;

/// <summary>
/// The Linux errno values NetDev meets (<c>asm-generic/errno-base.h</c>, <c>errno.h</c>), with their names
/// and texts, so messages read like the kernel's. The one errno table: <see cref="NetDevException.Errno"/>
/// holds one of these values (or any other errno the system reported), and the Linux host's native calls
/// compare against the same constants.
/// </summary>
/// <remarks>Values are plain <see langword="int"/>s, as the kernel hands them out (negated in io_uring
/// completions and netlink acknowledgements), so an errno this table does not name still round-trips.</remarks>
public static class Errno
{
    /// <summary>Operation not permitted.</summary>
    public const int EPERM = 1;
    /// <summary>No such file or directory.</summary>
    public const int ENOENT = 2;
    /// <summary>Interrupted system call.</summary>
    public const int EINTR = 4;
    /// <summary>Input/output error.</summary>
    public const int EIO = 5;
    /// <summary>Bad file descriptor.</summary>
    public const int EBADF = 9;
    /// <summary>Resource temporarily unavailable.</summary>
    public const int EAGAIN = 11;
    /// <summary>Cannot allocate memory.</summary>
    public const int ENOMEM = 12;
    /// <summary>Permission denied.</summary>
    public const int EACCES = 13;
    /// <summary>Device or resource busy.</summary>
    public const int EBUSY = 16;
    /// <summary>File exists.</summary>
    public const int EEXIST = 17;
    /// <summary>No such device.</summary>
    public const int ENODEV = 19;
    /// <summary>Invalid argument.</summary>
    public const int EINVAL = 22;
    /// <summary>Too many open files.</summary>
    public const int EMFILE = 24;
    /// <summary>Inappropriate ioctl for device.</summary>
    public const int ENOTTY = 25;
    /// <summary>Numerical result out of range.</summary>
    public const int ERANGE = 34;
    /// <summary>Function not implemented.</summary>
    public const int ENOSYS = 38;
    /// <summary>Timer expired.</summary>
    public const int ETIME = 62;
    /// <summary>File descriptor in bad state.</summary>
    public const int EBADFD = 77;
    /// <summary>Message too long.</summary>
    public const int EMSGSIZE = 90;
    /// <summary>Protocol not available (an option the protocol does not know).</summary>
    public const int ENOPROTOOPT = 92;
    /// <summary>Operation not supported.</summary>
    public const int EOPNOTSUPP = 95;
    /// <summary>Address already in use.</summary>
    public const int EADDRINUSE = 98;
    /// <summary>Cannot assign requested address.</summary>
    public const int EADDRNOTAVAIL = 99;
    /// <summary>Network is down.</summary>
    public const int ENETDOWN = 100;
    /// <summary>Network is unreachable.</summary>
    public const int ENETUNREACH = 101;
    /// <summary>No buffer space available.</summary>
    public const int ENOBUFS = 105;
    /// <summary>Connection timed out.</summary>
    public const int ETIMEDOUT = 110;
    /// <summary>Connection refused.</summary>
    public const int ECONNREFUSED = 111;
    /// <summary>No route to host.</summary>
    public const int EHOSTUNREACH = 113;
    /// <summary>Operation canceled.</summary>
    public const int ECANCELED = 125;

    private static readonly Dictionary<int, (string Name, string Text)> Known = new()
    {
        [EPERM] = ("EPERM", "Operation not permitted"),
        [ENOENT] = ("ENOENT", "No such file or directory"),
        [EINTR] = ("EINTR", "Interrupted system call"),
        [EIO] = ("EIO", "Input/output error"),
        [EBADF] = ("EBADF", "Bad file descriptor"),
        [EAGAIN] = ("EAGAIN", "Resource temporarily unavailable"),
        [ENOMEM] = ("ENOMEM", "Cannot allocate memory"),
        [EACCES] = ("EACCES", "Permission denied"),
        [EBUSY] = ("EBUSY", "Device or resource busy"),
        [EEXIST] = ("EEXIST", "File exists"),
        [ENODEV] = ("ENODEV", "No such device"),
        [EINVAL] = ("EINVAL", "Invalid argument"),
        [EMFILE] = ("EMFILE", "Too many open files"),
        [ENOTTY] = ("ENOTTY", "Inappropriate ioctl for device"),
        [ERANGE] = ("ERANGE", "Numerical result out of range"),
        [ENOSYS] = ("ENOSYS", "Function not implemented"),
        [ETIME] = ("ETIME", "Timer expired"),
        [EBADFD] = ("EBADFD", "File descriptor in bad state"),
        [EMSGSIZE] = ("EMSGSIZE", "Message too long"),
        [ENOPROTOOPT] = ("ENOPROTOOPT", "Protocol not available"),
        [EOPNOTSUPP] = ("EOPNOTSUPP", "Operation not supported"),
        [EADDRINUSE] = ("EADDRINUSE", "Address already in use"),
        [EADDRNOTAVAIL] = ("EADDRNOTAVAIL", "Cannot assign requested address"),
        [ENETDOWN] = ("ENETDOWN", "Network is down"),
        [ENETUNREACH] = ("ENETUNREACH", "Network is unreachable"),
        [ENOBUFS] = ("ENOBUFS", "No buffer space available"),
        [ETIMEDOUT] = ("ETIMEDOUT", "Connection timed out"),
        [ECONNREFUSED] = ("ECONNREFUSED", "Connection refused"),
        [EHOSTUNREACH] = ("EHOSTUNREACH", "No route to host"),
        [ECANCELED] = ("ECANCELED", "Operation canceled"),
    };

    /// <summary>The symbolic name of <paramref name="errno"/>, such as <c>EPERM</c>, or <c>errno N</c>.</summary>
    public static string NameOf(int errno) => Known.TryGetValue(errno, out var e) ? e.Name : $"errno {errno}";

    /// <summary>The usual text for <paramref name="errno"/>, or <c>Unknown error N</c>.</summary>
    public static string DescriptionOf(int errno) => Known.TryGetValue(errno, out var e) ? e.Text : $"Unknown error {errno}";
}
