using NetDev.Hosting;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>Sees a frame a device hands to the system, before the system takes it; must not release it.</summary>
/// <param name="queue">The queue it is delivered on.</param>
/// <param name="skb">The frame, still owned by the framework.</param>
public delegate void DeliveryObserver(int queue, SkBuff skb);

/// <summary>
/// A host around another host (test or Linux) that shows the test every frame a device delivers to the
/// system (<see cref="IHostLink.DeliverToSystem"/>) with its whole <see cref="SkBuff"/> state, offloads
/// included, which neither host's own capture keeps. Everything else goes to the inner host unchanged.
/// </summary>
/// <remarks>The observer runs on the delivering thread (a queue's thread on Linux), once per frame.</remarks>
public sealed class ObservedHost(INetDeviceHost inner, DeliveryObserver observer) : INetDeviceHost
{
    public string Name => $"observed {inner.Name}";

    public IHostLink CreateLink(LinkRequest request) => new ObservedLink(inner.CreateLink(request), observer);

    /// <summary>Forwards every member to the inner link, the optional ones too, so the device sees the inner host's behaviour.</summary>
    private sealed class ObservedLink(IHostLink link, DeliveryObserver observer) : IHostLink
    {
        public string Name => link.Name;

        public int IfIndex => link.IfIndex;

        public DeviceFeatures Features => link.Features;

        public string? NetworkNamespace => link.NetworkNamespace;

        public ITransmitSource OpenTransmitSource(int queue) => link.OpenTransmitSource(queue);

        public void Start(ILinkEvents events) => link.Start(events);

        public void Configure(LinkConfiguration change) => link.Configure(change);

        public void MoveToNetworkNamespace(string networkNamespace) => link.MoveToNetworkNamespace(networkNamespace);

        public LinkState? QueryState() => link.QueryState();

        public void SetAdminUp(bool up) => link.SetAdminUp(up);

        public DropReason? DeliverToSystem(int queue, SkBuff skb)
        {
            observer(queue, skb);
            return link.DeliverToSystem(queue, skb);
        }

        public void Dispose() => link.Dispose();
    }
}
