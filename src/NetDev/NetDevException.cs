namespace NetDev;

/// <summary>
/// The one exception NetDev throws for a failed operation on a device: it carries the errno the
/// operating system (or a driver) reported, the operation that failed and the device it was for.
/// </summary>
/// <remarks>
/// The message is one sentence a person can act on, for example
/// <c>TUNSETIFF on dummy%d failed: Operation not permitted (EPERM); run as root or grant CAP_NET_ADMIN</c>.
/// Missing privileges (EPERM, EACCES) always carry the hint, wherever they come from.
/// </remarks>
public class NetDevException : Exception
{
    /// <summary>Creates the exception for <paramref name="operation"/> on <paramref name="device"/>.</summary>
    /// <param name="errno">The Linux errno value (positive, one of <see cref="NetDev.Errno"/> or any other), or 0 when no errno applies.</param>
    /// <param name="operation">What was attempted, such as <c>TUNSETIFF</c> or <c>RTM_NEWLINK</c>.</param>
    /// <param name="device">The device name (or name template), or <see langword="null"/> when none applies.</param>
    /// <param name="description">The system's text for the errno; a built-in text is used when omitted.</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public NetDevException(int errno, string operation, string? device, string? description = null, Exception? innerException = null)
        : base(Format(errno, operation, device, description), innerException)
    {
        Errno = errno;
        Operation = operation;
        Device = device;
        Description = errno == 0
            ? description ?? "unknown error"
            : string.IsNullOrEmpty(description) ? NetDev.Errno.DescriptionOf(errno) : description;
    }

    /// <summary>What went wrong in words, without the operation, device or errno name: the system's text for the errno, or the one given.</summary>
    public string Description { get; }

    /// <summary>The errno value (positive; the names are in <see cref="NetDev.Errno"/>), or 0 when the failure has none.</summary>
    public int Errno { get; }

    /// <summary>The symbolic errno name, such as <c>EPERM</c>.</summary>
    public string ErrnoName => NetDev.Errno.NameOf(Errno);

    /// <summary>The operation that failed.</summary>
    public string Operation { get; }

    /// <summary>The device the operation was for, or <see langword="null"/>.</summary>
    public string? Device { get; }

    /// <summary>Whether the failure is a missing privilege (EPERM or EACCES).</summary>
    public bool IsPermissionDenied => Errno is NetDev.Errno.EPERM or NetDev.Errno.EACCES;

    private static string Format(int errno, string operation, string? device, string? description)
    {
        var where = device is null ? operation : $"{operation} on {device}";
        if (errno == 0)
        {
            return $"{where} failed: {description ?? "unknown error"}";
        }
        var text = string.IsNullOrEmpty(description) ? NetDev.Errno.DescriptionOf(errno) : description;
        var message = $"{where} failed: {text} ({NetDev.Errno.NameOf(errno)})";
        if (errno is NetDev.Errno.EPERM or NetDev.Errno.EACCES)
        {
            message += "; run as root or grant CAP_NET_ADMIN";
        }
        return message;
    }
}
