namespace NetDev.Diagnostics;

/// <summary>
/// The names every tool shows for directions and drop reasons — metrics tags, trace events, capture comments,
/// <c>ethtool -S</c> and the control plane's JSON — made once, so they agree and naming costs nothing per use.
/// </summary>
public static class DiagnosticNames
{
    private static readonly string[] s_reasons = [.. Enum.GetValues<DropReason>().Select(reason => SnakeCase(reason.ToString()))];

    /// <summary><c>tx</c> or <c>rx</c>, as <c>ip</c> and <c>ethtool</c> name the directions.</summary>
    public static string Of(TrafficDirection direction) => direction == TrafficDirection.Transmit ? "tx" : "rx";

    /// <summary>The reason in snake case, as the kernel names its drop reasons: <c>packet_too_small</c>.</summary>
    public static string Of(DropReason reason) => (uint)reason < (uint)s_reasons.Length ? s_reasons[(int)reason] : SnakeCase(reason.ToString());

    private static string SnakeCase(string pascalCase) =>
        string.Concat(pascalCase.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));
}
