using System.Runtime.ExceptionServices;

namespace NetDev.Linux;

/// <summary>
/// Runs work inside a named network namespace (one under <c>/run/netns</c>, as <c>ip netns add</c> makes).
/// Sockets and TAP queues opened by that work belong to the namespace for their whole life, whichever
/// thread uses them later — the kernel binds them to the namespace they were created in.
/// </summary>
public static class NetworkNamespace
{
    /// <summary>Where named network namespaces are bind-mounted.</summary>
    public const string Directory = "/run/netns";

    /// <summary>
    /// Runs <paramref name="work"/> on a short-lived thread that entered namespace <paramref name="name"/>,
    /// and returns its result; with a <see langword="null"/> name it runs on the calling thread.
    /// The calling thread's own namespace never changes.
    /// </summary>
    /// <exception cref="NetDevException">The namespace does not exist or cannot be entered.</exception>
    public static T Run<T>(string? name, Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (name is null)
        {
            return work();
        }
        Validate(name);
        return OnNewThread($"netns {name}", () =>
        {
            Enter(name);
            return work();
        });
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a short-lived thread that entered the namespace <paramref name="target"/>
    /// refers to (opened with <see cref="Open"/>), so work done there and a request that names the same
    /// descriptor see one namespace, even if the name under <c>/run/netns</c> is replaced meanwhile.
    /// </summary>
    internal static T Run<T>(SafeFileDescriptor target, string name, Func<T> work) =>
        OnNewThread($"netns {name}", () =>
        {
            if (Interop.SetNs(target, Interop.CLONE_NEWNET) < 0)
            {
                throw Interop.Errors.LastException("setns(CLONE_NEWNET)", name);
            }
            return work();
        });

    /// <summary>Opens named namespace <paramref name="name"/> (for <c>setns</c>, or to name it to the kernel), for <paramref name="operation"/> on <paramref name="device"/>.</summary>
    /// <exception cref="NetDevException">There is no such namespace (ENOENT), or it cannot be opened.</exception>
    internal static SafeFileDescriptor Open(string name, string operation, string? device)
    {
        Validate(name);
        var path = Path.Combine(Directory, name);
        var handle = Interop.Open(path, Interop.O_RDONLY | Interop.O_CLOEXEC);
        if (handle.IsInvalid)
        {
            var errno = Interop.Errors.LastErrno;
            handle.Dispose();
            throw errno == Errno.ENOENT
                ? new NetDevException(errno, operation, device, $"there is no network namespace '{name}' (no {path})")
                : Interop.Errors.Exception(errno, $"{operation}: open {path}", device);
        }
        return handle;
    }

    /// <summary>Runs <paramref name="work"/> inside namespace <paramref name="name"/>; see <see cref="Run{T}(string?, Func{T})"/>.</summary>
    public static void Run(string? name, Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Run(name, () =>
        {
            work();
            return true;
        });
    }

    /// <summary>
    /// Creates a new, empty named network namespace (what <c>ip netns add</c> does): a namespace made by
    /// a short-lived thread and kept alive by a bind mount at <c>/run/netns/NAME</c>.
    /// </summary>
    /// <exception cref="NetDevException">It exists already (EEXIST), or the system refused (EPERM without CAP_SYS_ADMIN).</exception>
    public static void Create(string name)
    {
        Validate(name);
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, name);
        try
        {
            using (new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
                // An empty file to bind the namespace onto.
            }
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new NetDevException(Errno.EEXIST, "create network namespace", name, "a namespace of that name exists already");
        }
        catch (UnauthorizedAccessException error)
        {
            throw new NetDevException(Errno.EACCES, "create network namespace", name, innerException: error);
        }
        try
        {
            OnNewThread($"netns create {name}", () =>
            {
                // Only this short-lived thread moves into the new namespace; the mount keeps it alive after the thread ends.
                if (Interop.Unshare(Interop.CLONE_NEWNET) < 0)
                {
                    throw Interop.Errors.LastException("unshare(CLONE_NEWNET)", name);
                }
                if (Interop.Mount("/proc/thread-self/ns/net", path, null, Interop.MS_BIND, 0) < 0)
                {
                    throw Interop.Errors.LastException($"mount --bind /proc/thread-self/ns/net {path}", name);
                }
                return true;
            });
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>
    /// Deletes a named network namespace (what <c>ip netns del</c> does). Interfaces still in it are
    /// destroyed by the kernel once nothing uses the namespace any more.
    /// </summary>
    /// <exception cref="NetDevException">The system refused.</exception>
    public static void Delete(string name)
    {
        Validate(name);
        var path = Path.Combine(Directory, name);
        if (!File.Exists(path))
        {
            return;
        }
        if (Interop.Unmount(path, Interop.MNT_DETACH) < 0)
        {
            throw Interop.Errors.LastException($"umount {path}", name);
        }
        File.Delete(path);
    }

    /// <summary>Whether a named namespace exists.</summary>
    public static bool Exists(string name)
    {
        Validate(name);
        return File.Exists(Path.Combine(Directory, name));
    }

    /// <summary>Runs <paramref name="work"/> on a thread of its own (whose namespace it may change) and returns its result.</summary>
    private static T OnNewThread<T>(string threadName, Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception error)
            {
                failure = ExceptionDispatchInfo.Capture(error);
            }
        })
        {
            IsBackground = true,
            Name = threadName,
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    private static void Validate(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/') || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a network namespace name.", nameof(name));
        }
    }

    // The thread that calls this is dedicated to the namespace from now on.
    private static void Enter(string name)
    {
        using var handle = Open(name, "enter network namespace", name);
        if (Interop.SetNs(handle, Interop.CLONE_NEWNET) < 0)
        {
            throw Interop.Errors.LastException("setns(CLONE_NEWNET)", name);
        }
    }
}
