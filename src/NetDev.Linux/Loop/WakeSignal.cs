namespace NetDev.Linux.Loop;

/// <summary>An eventfd that wakes a loop blocked in <c>poll</c>: teardown and queue wake-ups use it.</summary>
/// <remarks><b>Invariants.</b> The descriptor is non-blocking, so <see cref="Signal"/> never blocks and
/// <see cref="Clear"/> never waits.</remarks>
internal sealed class WakeSignal : IDisposable
{
    private readonly SafeFileDescriptor _fd;

    internal WakeSignal(string device)
    {
        _fd = Interop.EventFd(0, Interop.EFD_CLOEXEC | Interop.EFD_NONBLOCK);
        if (_fd.IsInvalid)
        {
            throw Interop.Errors.LastException("eventfd", device);
        }
    }

    internal SafeFileDescriptor Descriptor => _fd;

    /// <summary>Makes the descriptor readable; signals add up until cleared.</summary>
    internal unsafe void Signal()
    {
        var one = 1UL;
        try
        {
            // SAFETY: one is a local 8-byte counter increment, as eventfd expects.
            _ = Interop.Write(_fd, (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // A loop that already ended needs no wake-up.
        }
    }

    /// <summary>Resets the counter; called by the woken loop, which holds a long-lived reference on <see cref="Descriptor"/>.</summary>
    internal unsafe void Clear(int fd)
    {
        ulong value;
        // SAFETY: value is a local of the 8 bytes eventfd reads out.
        _ = Interop.Read(fd, (byte*)&value, sizeof(ulong));
    }

    public void Dispose() => _fd.Dispose();
}
