namespace NetDev.Offload;

/// <summary>
/// Where an offload helper hands the frames it makes: the segments of <see cref="GsoSegmenter.Segment"/>,
/// the coalesced frames of <see cref="GroCoalescer"/>. A driver's sink sends them or passes them to
/// <see cref="NetDevice.NetifRx"/>; a test's sink collects them.
/// </summary>
public interface IFrameSink
{
    /// <summary>
    /// Takes one frame. Ownership passes with the call: the sink releases the frame, or keeps it to
    /// release later, on every path. Called on the thread that called the helper.
    /// </summary>
    void Deliver([TakesOwnership] SkBuff frame);
}
