namespace NetDev.Linux.Loop;

/// <summary>An eventfd that wakes a loop blocked in <c>poll</c>: teardown and queue wake-ups use it.</summary>
/// <remarks><b>Invariants.</b> The descriptor is non-blocking, so <see cref="Signal"/> never blocks and
/// <see cref="Clear"/> never waits.</remarks>
internal sealed class WakeSignal : IDisposable
{
    private readonly SafeFileDescriptor _fd;

    internal WakeSignal(string device)
    {
        var fd = Interop.EventFd(0, Interop.EFD_CLOEXEC | Interop.EFD_NONBLOCK);
        if (fd < 0)
        {
            throw Interop.Errors.LastException("eventfd", device);
        }
        _fd = new SafeFileDescriptor(fd);
    }

    internal SafeFileDescriptor Descriptor => _fd;

    /// <summary>Makes the descriptor readable; signals add up until cleared.</summary>
    internal unsafe void Signal()
    {
        var one = 1UL;
        var added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            // SAFETY: one is a local 8-byte counter increment, as eventfd expects; the fd is kept open by the reference.
            _ = Interop.Write(_fd.Fd, (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // A loop that already ended needs no wake-up.
        }
        finally
        {
            if (added)
            {
                _fd.DangerousRelease();
            }
        }
    }

    /// <summary>Resets the counter; called by the woken loop with a reference held.</summary>
    internal unsafe void Clear(int fd)
    {
        ulong value;
        // SAFETY: value is a local of the 8 bytes eventfd reads out.
        _ = Interop.Read(fd, (byte*)&value, sizeof(ulong));
    }

    public void Dispose() => _fd.Dispose();
}
