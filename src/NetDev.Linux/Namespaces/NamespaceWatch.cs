using System.Text;

namespace NetDev.Linux.Namespaces;

/// <summary>
/// Hears a named network namespace being deleted (<c>ip netns del</c> unmounts and unlinks
/// <c>/run/netns/NAME</c>) through inotify on that directory, so the link monitor can poll it beside its
/// rtnetlink socket: no polling of the file system.
/// </summary>
/// <remarks>
/// A device keeps its namespace alive (its sockets refer to it), so the kernel says nothing when the name
/// goes: the namespace lives on unnamed, reachable only through the process. The name disappearing is the
/// only sign that someone wanted it gone.
/// <para><b>Invariants.</b> The inotify descriptor is non-blocking and watches <see cref="NetworkNamespace.Directory"/>
/// for deletions and moves out, from construction until <see cref="Dispose"/>.</para>
/// </remarks>
internal sealed class NamespaceWatch : IDisposable
{
    private readonly SafeFileDescriptor _fd;
    private readonly byte[] _name;

    /// <summary>Watches for namespace <paramref name="name"/> to go; throws <see cref="NetDevException"/> when inotify is refused.</summary>
    internal NamespaceWatch(string name, string device)
    {
        Name = name;
        _name = Encoding.UTF8.GetBytes(name);
        _fd = Interop.InotifyInit(Interop.IN_CLOEXEC | Interop.IN_NONBLOCK);
        if (_fd.IsInvalid)
        {
            throw Interop.Errors.LastException("inotify_init1", device);
        }
        if (Interop.InotifyAddWatch(_fd, NetworkNamespace.Directory, Interop.IN_DELETE | Interop.IN_MOVED_FROM | Interop.IN_ONLYDIR) < 0)
        {
            var error = Interop.Errors.LastException($"inotify_add_watch {NetworkNamespace.Directory}", device);
            _fd.Dispose();
            throw error;
        }
    }

    /// <summary>The namespace watched.</summary>
    internal string Name { get; }

    /// <summary>The inotify descriptor, to poll for readability.</summary>
    internal SafeFileDescriptor Descriptor => _fd;

    /// <summary>Whether the namespace's name is gone now (also if it went before the watch began).</summary>
    internal bool IsGone => !File.Exists(Path.Combine(NetworkNamespace.Directory, Name));

    /// <summary>
    /// Reads every pending event from <paramref name="fd"/> (the descriptor, held by the caller) and returns
    /// whether one of them removed the watched name.
    /// </summary>
    internal unsafe bool ReadRemoved(int fd)
    {
        const int BufferSize = 4096;
        var buffer = stackalloc byte[BufferSize];
        var removed = false;
        while (true)
        {
            // SAFETY: buffer is BufferSize bytes on this stack frame; read writes at most that many.
            var read = Interop.Read(fd, buffer, BufferSize);
            if (read <= 0)
            {
                // EAGAIN: drained. Any other failure leaves the watch quiet, which is what it was before.
                return removed;
            }
            var offset = 0;
            while (offset + sizeof(Interop.InotifyEvent) <= read)
            {
                // SAFETY: the kernel wrote whole events; offset + header lies inside the bytes read.
                var header = *(Interop.InotifyEvent*)(buffer + offset);
                var nameStart = offset + sizeof(Interop.InotifyEvent);
                if (nameStart + header.NameLength > read)
                {
                    break;
                }
                // SAFETY: the name's NameLength bytes (NUL-padded) lie inside the bytes read, checked above.
                var name = new ReadOnlySpan<byte>(buffer + nameStart, (int)header.NameLength);
                var end = name.IndexOf((byte)0);
                removed |= (end < 0 ? name : name[..end]).SequenceEqual(_name);
                offset = nameStart + (int)header.NameLength;
            }
        }
    }

    public void Dispose() => _fd.Dispose();
}
