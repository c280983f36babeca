using NetDev.Diagnostics;

namespace NetDev;

/// <summary>
/// Who watches the device's frames: the captures attached to it (<see cref="FrameCapture"/>). The packet path asks
/// <see cref="Captures"/> once per frame — one branch on a field that is null while nobody captures.
/// </summary>
/// <remarks><b>Invariants.</b> <c>_captures</c> is null or a non-empty array that is never changed once
/// published: attaching or detaching publishes a new one, under <c>_capturesLock</c>.</remarks>
public abstract partial class NetDevice
{
    private readonly object _capturesLock = new();
    private volatile FrameCapture[]? _captures;

    /// <summary>Whether a capture is attached now (<see cref="FrameCapture.Start"/>, <c>netdev capture</c>).</summary>
    public bool IsCaptured => _captures is not null;

    /// <summary>The captures attached now, or null: what the packet path offers its frames to.</summary>
    internal FrameCapture[]? Captures => _captures;

    internal void AttachCapture(FrameCapture capture)
    {
        lock (_capturesLock)
        {
            _captures = [.. _captures ?? [], capture];
        }
    }

    internal void DetachCapture(FrameCapture capture)
    {
        lock (_capturesLock)
        {
            var left = (_captures ?? []).Where(attached => attached != capture).ToArray();
            _captures = left.Length == 0 ? null : left;
        }
    }

    /// <summary>Offers a frame the driver sees to every attached capture; the caller found <see cref="Captures"/> not null.</summary>
    internal static void OfferToCaptures(FrameCapture[] captures, TrafficDirection direction, SkBuff skb, DropReason? dropped)
    {
        foreach (var capture in captures)
        {
            capture.Offer(direction, skb.QueueIndex, skb.Data, dropped);
        }
    }
}
