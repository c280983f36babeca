using System.Reflection;
using System.Runtime.InteropServices;

namespace NetDev.Tests.Model;

/// <summary>Failure messages a person can act on: operation, device, errno text and name, and a hint for missing privileges.</summary>
public sealed class NetDevExceptionTests
{
    [Fact]
    public void PermissionDeniedSaysHowToGetThePermission()
    {
        var error = new NetDevException(Errno.EPERM, "TUNSETIFF", "dummy%d");

        Assert.Equal("TUNSETIFF on dummy%d failed: Operation not permitted (EPERM); run as root or grant CAP_NET_ADMIN", error.Message);
        Assert.True(error.IsPermissionDenied);
        Assert.Equal("EPERM", error.ErrnoName);
        Assert.Equal(Errno.EPERM, error.Errno);
        Assert.Equal("TUNSETIFF", error.Operation);
        Assert.Equal("dummy%d", error.Device);
    }

    [Fact]
    public void AccessDeniedCarriesTheSameHintEvenWithTheSystemsOwnText()
    {
        var error = new NetDevException(Errno.EACCES, "open /dev/net/tun", null, "Permission denied");

        Assert.Equal("open /dev/net/tun failed: Permission denied (EACCES); run as root or grant CAP_NET_ADMIN", error.Message);
        Assert.True(error.IsPermissionDenied);
        Assert.Null(error.Device);
    }

    [Fact]
    public void OtherErrorsHaveNoPrivilegeHint()
    {
        var error = new NetDevException(Errno.EEXIST, "RTM_NEWLINK", "dummy0");

        Assert.Equal("RTM_NEWLINK on dummy0 failed: File exists (EEXIST)", error.Message);
        Assert.False(error.IsPermissionDenied);
        Assert.DoesNotContain("CAP_NET_ADMIN", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSystemsTextReplacesTheBuiltInOne()
    {
        var error = new NetDevException(Errno.EBUSY, "TUNSETIFF", "tap0", "Device or resource busy (tap in use)");

        Assert.Equal("TUNSETIFF on tap0 failed: Device or resource busy (tap in use) (EBUSY)", error.Message);
    }

    [Fact]
    public void AnEmptyDescriptionFallsBackToTheBuiltInText()
    {
        var error = new NetDevException(Errno.ENODEV, "SIOCGIFINDEX", "eth9", "");

        Assert.Equal("SIOCGIFINDEX on eth9 failed: No such device (ENODEV)", error.Message);
    }

    [Theory]
    [InlineData(Errno.ENODEV, "the interface was deleted by someone else", "the interface was deleted by someone else")]
    [InlineData(Errno.ENODEV, null, "No such device")]
    [InlineData(Errno.ENODEV, "", "No such device")]
    [InlineData(0, null, "unknown error")]
    public void DescriptionIsTheTextAloneWithoutOperationDeviceOrErrnoName(int errno, string? description, string expected)
    {
        Assert.Equal(expected, new NetDevException(errno, "RTM_DELLINK", "pa", description).Description);
    }

    [Fact]
    public void AnUnknownErrnoIsShownByNumber()
    {
        var error = new NetDevException(4095, "ioctl", "x0");

        Assert.Equal("ioctl on x0 failed: Unknown error 4095 (errno 4095)", error.Message);
        Assert.Equal("errno 4095", error.ErrnoName);
        Assert.False(error.IsPermissionDenied);
    }

    [Fact]
    public void AFailureWithoutErrnoUsesItsDescription()
    {
        Assert.Equal("queue loop on eth0 failed: ring corrupted", new NetDevException(0, "queue loop", "eth0", "ring corrupted").Message);
        Assert.Equal("queue loop failed: unknown error", new NetDevException(0, "queue loop", null).Message);
    }

    [Fact]
    public void TheCauseIsKept()
    {
        var cause = new IOException("read failed");

        var error = new NetDevException(Errno.EIO, "read", "tap0", innerException: cause);

        Assert.Same(cause, error.InnerException);
    }

    [Theory]
    [InlineData(1, "EPERM", "Operation not permitted")]
    [InlineData(2, "ENOENT", "No such file or directory")]
    [InlineData(4, "EINTR", "Interrupted system call")]
    [InlineData(5, "EIO", "Input/output error")]
    [InlineData(9, "EBADF", "Bad file descriptor")]
    [InlineData(11, "EAGAIN", "Resource temporarily unavailable")]
    [InlineData(12, "ENOMEM", "Cannot allocate memory")]
    [InlineData(13, "EACCES", "Permission denied")]
    [InlineData(16, "EBUSY", "Device or resource busy")]
    [InlineData(17, "EEXIST", "File exists")]
    [InlineData(19, "ENODEV", "No such device")]
    [InlineData(22, "EINVAL", "Invalid argument")]
    [InlineData(24, "EMFILE", "Too many open files")]
    [InlineData(25, "ENOTTY", "Inappropriate ioctl for device")]
    [InlineData(34, "ERANGE", "Numerical result out of range")]
    [InlineData(38, "ENOSYS", "Function not implemented")]
    [InlineData(95, "EOPNOTSUPP", "Operation not supported")]
    [InlineData(98, "EADDRINUSE", "Address already in use")]
    [InlineData(99, "EADDRNOTAVAIL", "Cannot assign requested address")]
    [InlineData(100, "ENETDOWN", "Network is down")]
    [InlineData(105, "ENOBUFS", "No buffer space available")]
    [InlineData(110, "ETIMEDOUT", "Connection timed out")]
    [InlineData(62, "ETIME", "Timer expired")]
    [InlineData(77, "EBADFD", "File descriptor in bad state")]
    [InlineData(125, "ECANCELED", "Operation canceled")]
    public void ErrnoNamesMatchLinux(int errno, string name, string text)
    {
        Assert.Equal(name, Errno.NameOf(errno));
        Assert.Equal(text, Errno.DescriptionOf(errno));
        Assert.Equal($"op failed: {text} ({name})" + (errno is 1 or 13 ? "; run as root or grant CAP_NET_ADMIN" : ""),
            new NetDevException(errno, "op", null).Message);
    }

    [Fact]
    public void ErrnoConstantsHaveLinuxValues()
    {
        Assert.Equal(1, Errno.EPERM);
        Assert.Equal(13, Errno.EACCES);
        Assert.Equal(17, Errno.EEXIST);
        Assert.Equal(19, Errno.ENODEV);
        Assert.Equal(22, Errno.EINVAL);
        Assert.Equal(95, Errno.EOPNOTSUPP);
        Assert.Equal(105, Errno.ENOBUFS);
    }

    [Fact]
    public void EveryErrnoConstantHasItsOwnNameAndTheSystemsText()
    {
        var constants = typeof(Errno).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).ToArray();
        Assert.NotEmpty(constants);
        foreach (var constant in constants)
        {
            var value = (int)constant.GetRawConstantValue()!;
            Assert.Equal(constant.Name, Errno.NameOf(value));
            Assert.Equal(Marshal.GetPInvokeErrorMessage(value), Errno.DescriptionOf(value));
        }
    }

    [Fact]
    public void ErrnoNamesOfUnknownValues()
    {
        Assert.Equal("errno 0", Errno.NameOf(0));
        Assert.Equal("Unknown error -3", Errno.DescriptionOf(-3));
    }
}
