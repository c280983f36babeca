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
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter(name);
                result = work();
            }
            catch (Exception error)
            {
                failure = ExceptionDispatchInfo.Capture(error);
            }
        })
        {
            IsBackground = true,
            Name = $"netns {name}",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    /// <summary>Runs <paramref name="work"/> inside namespace <paramref name="name"/>; see <see cref="Run{T}"/>.</summary>
    public static void Run(string? name, Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Run(name, () =>
        {
            work();
            return true;
        });
    }

    /// <summary>Whether a named namespace exists.</summary>
    public static bool Exists(string name)
    {
        Validate(name);
        return File.Exists(Path.Combine(Directory, name));
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
        var path = Path.Combine(Directory, name);
        var fd = Interop.Open(path, Interop.O_RDONLY | Interop.O_CLOEXEC);
        if (fd < 0)
        {
            throw Interop.Errors.LastException($"open {path}", name);
        }
        using var handle = new SafeFileDescriptor(fd);
        if (Interop.SetNs(fd, Interop.CLONE_NEWNET) < 0)
        {
            throw Interop.Errors.LastException("setns(CLONE_NEWNET)", name);
        }
    }
}
