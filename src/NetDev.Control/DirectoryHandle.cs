using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NetDev.Control;

/// <summary>
/// An open control directory that this process may trust: a real directory, not a symbolic link, owned by
/// the effective user. Everything done to names in it goes through the descriptor (<c>unlinkat</c>,
/// <c>renameat</c>, <c>fchmod</c>), so a path that is swapped after the check changes nothing; and
/// <see cref="Lock"/> makes binding a socket and removing a stale one one step among NetDev processes.
/// </summary>
/// <remarks>
/// <para>Why refuse: the CLI runs as root, so a <c>NETDEV_RUN_DIR</c> that points (or links) somewhere else
/// would make root chmod that place, bind sockets in it and remove socket files there it takes for stale.</para>
/// <para><b>Invariants.</b> The descriptor refers to the directory that <see cref="Path"/> named when it
/// was opened, which was then no symbolic link and belonged to the effective user.</para>
/// </remarks>
internal sealed class DirectoryHandle : IDisposable
{
    private const int AtCurrentDirectory = -100;

    private readonly SafeFileHandle _handle;

    private DirectoryHandle(string path, SafeFileHandle handle, Interop.Statx status)
    {
        Path = path;
        _handle = handle;
        Mode = (UnixFileMode)(status.Mode & 0xfff);
    }

    /// <summary>The directory's path, as given.</summary>
    public string Path { get; }

    /// <summary>The directory's mode when it was opened.</summary>
    public UnixFileMode Mode { get; private set; }

    /// <summary>Opens <paramref name="path"/>, refusing a symbolic link, anything but a directory, and a directory of someone else's.</summary>
    /// <exception cref="DirectoryNotFoundException">Nothing is there.</exception>
    /// <exception cref="IOException">It is refused, or cannot be opened; the message says which and why.</exception>
    public static DirectoryHandle Open(string path)
    {
        // Looked at first without following, so that a link is refused before anything is opened through it.
        if (Interop.StatxPath(AtCurrentDirectory, path, Interop.AT_SYMLINK_NOFOLLOW, Interop.STATX_BASIC, out var named) != 0)
        {
            throw Failure(path, "cannot look at", Marshal.GetLastPInvokeError());
        }
        if ((named.Mode & Interop.S_IFMT) == Interop.S_IFLNK)
        {
            throw Refused(path, "it is a symbolic link");
        }
        var handle = Interop.Open(path, Interop.O_RDONLY);
        if (handle.IsInvalid)
        {
            var errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw Failure(path, "cannot open", errno);
        }
        try
        {
            if (Interop.StatxAt(handle, "", Interop.AT_EMPTY_PATH, Interop.STATX_BASIC, out var opened) != 0)
            {
                throw Failure(path, "cannot look at", Marshal.GetLastPInvokeError());
            }
            if (Identity(opened) != Identity(named))
            {
                throw Refused(path, "it was replaced while it was being opened");
            }
            if ((opened.Mode & Interop.S_IFMT) != Interop.S_IFDIR)
            {
                throw Refused(path, "it is not a directory");
            }
            var user = Interop.GetEuid();
            if (opened.Uid != user)
            {
                throw Refused(path, $"it belongs to uid {opened.Uid}, not to this user (uid {user})");
            }
            return new DirectoryHandle(path, handle, opened);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Makes the directory <paramref name="mode"/> (through its descriptor), unless it is already.</summary>
    public void SetMode(UnixFileMode mode)
    {
        if (Mode != mode)
        {
            Check(Interop.Fchmod(_handle, (uint)mode), "cannot chmod", Path);
            Mode = mode;
        }
    }

    /// <summary>
    /// Holds the directory's lock (<c>flock</c>, exclusive) until the result is disposed: every NetDev
    /// process binds its sockets and removes stale ones only while it holds it, so nobody binds a name
    /// between another's look and its removal. Each holds it for a few system calls; one that holds it for
    /// longer is stopped or stuck, so this waits at most <paramref name="timeout"/>, and calls
    /// <paramref name="slow"/> once when the wait passes <see cref="SlowLockWait"/>, so the wait can be told.
    /// </summary>
    /// <exception cref="IOException">Another process held the lock for all of <paramref name="timeout"/>, or it cannot be taken.</exception>
    public Held Lock(TimeSpan timeout, Action? slow = null)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var told = false;
        while (true)
        {
            if (Interop.Flock(_handle, Interop.LOCK_EX | Interop.LOCK_NB) == 0)
            {
                return new Held(this);
            }
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR)
            {
                continue;
            }
            // EWOULDBLOCK is EAGAIN on Linux: someone else holds the lock.
            if (errno != Errno.EAGAIN)
            {
                throw Failure(Path, "cannot lock", errno);
            }
            if (waited.Elapsed >= timeout)
            {
                throw new IOException($"cannot lock {Path}: another process held its lock for {timeout.TotalSeconds:0.#} s (a NetDev process stopped or stuck half way)");
            }
            if (!told && waited.Elapsed >= SlowLockWait && slow is not null)
            {
                told = true;
                slow();
            }
            Thread.Sleep(LockRetryInterval);
        }
    }

    /// <summary>How long a NetDev process waits for another's hold on the lock unless told otherwise (<see cref="ControlServerOptions.LockTimeout"/>).</summary>
    internal static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a wait for the lock is a NetDev process's few system calls; a longer one is told.</summary>
    internal static readonly TimeSpan SlowLockWait = TimeSpan.FromSeconds(1);

    // Short against a holder's few system calls, long against the cost of a try.
    private static readonly TimeSpan LockRetryInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>Which file <paramref name="name"/> is now (the link itself, not followed), or <see langword="null"/> if there is none.</summary>
    public FileIdentity? Identify(string name)
    {
        if (Interop.StatxAt(_handle, name, Interop.AT_SYMLINK_NOFOLLOW, Interop.STATX_BASIC, out var status) == 0)
        {
            return Identity(status);
        }
        var errno = Marshal.GetLastPInvokeError();
        return errno == Errno.ENOENT ? null : throw Failure(Combine(name), "cannot look at", errno);
    }

    /// <summary>Removes <paramref name="name"/>; nothing to do if it is gone already.</summary>
    public void Remove(string name)
    {
        if (Interop.UnlinkAt(_handle, name, 0) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != Errno.ENOENT)
        {
            throw Failure(Combine(name), "cannot remove", errno);
        }
    }

    /// <summary>Renames <paramref name="from"/> to <paramref name="to"/>, replacing what was there in one step.</summary>
    public void Rename(string from, string to) => Check(Interop.RenameAt(_handle, from, _handle, to), "cannot rename to", Combine(to));

    /// <summary>Sets the mode of <paramref name="name"/>.</summary>
    public void SetMode(string name, UnixFileMode mode) => Check(Interop.FchmodAt(_handle, name, (uint)mode, 0), "cannot chmod", Combine(name));

    /// <summary>The path of <paramref name="name"/> in the directory.</summary>
    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => _handle.Dispose();

    /// <summary>The directory's lock, released on dispose.</summary>
    public readonly struct Held(DirectoryHandle directory) : IDisposable
    {
        /// <inheritdoc/>
        public void Dispose() => Interop.Flock(directory._handle, Interop.LOCK_UN);
    }

    private static FileIdentity Identity(in Interop.Statx status) => new(status.DevMajor, status.DevMinor, status.Ino);

    private static void Check(int result, string what, string path)
    {
        if (result != 0)
        {
            throw Failure(path, what, Marshal.GetLastPInvokeError());
        }
    }

    private static IOException Refused(string path, string why) =>
        new($"{path} is refused as a control directory: {why}");

    private static IOException Failure(string path, string what, int errno) => errno == Errno.ENOENT
        ? new DirectoryNotFoundException($"{what} {path}: {Errno.DescriptionOf(errno)}")
        : new IOException($"{what} {path}: {Errno.DescriptionOf(errno)}");
}

/// <summary>Which file a name refers to: its device and inode, the same for as long as the file lives.</summary>
internal readonly record struct FileIdentity(uint DevMajor, uint DevMinor, ulong Inode);
