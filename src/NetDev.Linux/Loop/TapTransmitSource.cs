using NetDev.Hosting;

namespace NetDev.Linux.Loop;

/// <summary>
/// What both ways of reading a TAP queue share: the TAP descriptor held open for the queue thread's whole
/// life, the wake eventfd, and a failure for good remembered until the engine asks for the next frame.
/// </summary>
/// <remarks><b>Invariants.</b> From <see cref="Start"/> to <see cref="Dispose"/> the source holds one
/// long-lived reference on the TAP and wake descriptors, so the raw values it polls, reads or registers stay
/// open even if the link is disposed meanwhile. It owns the wake signal, not the TAP descriptor (the link
/// does). Used by the queue's thread only, but for <see cref="Wake"/>.</remarks>
internal abstract class TapTransmitSource(SafeFileDescriptor tap, WakeSignal wake, string device, int queueIndex) : ITransmitSource
{
    private bool _tapHeld;
    private bool _wakeHeld;

    /// <summary>The interface's name, for messages.</summary>
    protected string Device => device;

    /// <summary>The queue's index, for messages.</summary>
    protected int QueueIndex => queueIndex;

    /// <summary>Why the TAP queue failed for good, until <see cref="NoFrame"/> hands it to the engine.</summary>
    protected NetDevException? Failure { get; set; }

    /// <summary>The wake signal, cleared by the source that polls it.</summary>
    protected WakeSignal WakeSignal => wake;

    public void Start(SkBuffPool pool)
    {
        var tapFd = tap.Hold(ref _tapHeld);
        var wakeFd = wake.Descriptor.Hold(ref _wakeHeld);
        Started(pool, tapFd, wakeFd);
    }

    public abstract bool TryRead(out SkBuff skb, out bool more);

    public abstract void Wait(bool wantFrames, TimeSpan? delay);

    public void Wake() => wake.Signal();

    /// <summary>On the queue's thread once it ends: the reading stops (<see cref="Stopped"/>), then the references and the wake signal go.</summary>
    public void Dispose()
    {
        try
        {
            Stopped();
        }
        finally
        {
            wake.Descriptor.ReleaseHold(ref _wakeHeld);
            tap.ReleaseHold(ref _tapHeld);
            wake.Dispose();
            // The queue's thread ends now; a pair-like driver wrote batches from it to its peer.
            IoUringWriter.ReleaseCurrentThread();
        }
    }

    /// <summary>
    /// What a TAP queue whose interface was deleted under it says (someone's <c>ip link del</c>, or its
    /// namespace destroyed): ENODEV, as the link monitor reports the same event, so an owner recognises one
    /// condition whichever thread noticed it first.
    /// </summary>
    internal static NetDevException Deleted(string operation, string device) =>
        new(Errno.ENODEV, operation, device, "the interface was deleted by someone else");


    /// <summary>Reading starts, on the queue's thread, with the raw descriptors held open.</summary>
    protected abstract void Started(SkBuffPool pool, int tapFd, int wakeFd);

    /// <summary>Reading ends: frames held are dropped, buffers given back. Runs before the references are released.</summary>
    protected abstract void Stopped();

    /// <summary>The answer when no frame is there: false, or the failure for good, thrown once.</summary>
    protected bool NoFrame(out SkBuff skb, out bool more)
    {
        skb = default;
        more = false;
        if (Failure is { } failure)
        {
            Failure = null;
            throw failure;
        }
        return false;
    }
}
