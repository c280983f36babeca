using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace NetDev.Analyzers;

/// <summary>The diagnostics of NetDev's SkBuff ownership rules; docs/safety.md explains each one.</summary>
public static class SkBuffRules
{
    private const string Category = "Reliability";

    /// <summary>NETDEV001: an owned SkBuff goes out of scope, is overwritten or is discarded without being released.</summary>
    public static readonly DiagnosticDescriptor Leak = new(
        id: "NETDEV001",
        title: "SkBuff not released on some path",
        messageFormat: "{0} is not released on some path: {1}; release it with Consume() or Drop(reason), pass it to a [TakesOwnership] parameter, store it, or return it",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "Whoever holds an SkBuff owns its frame and must release it exactly once. A frame that is never released stays out of its pool until the device is torn down, where the pool reports it as leaked.");

    /// <summary>NETDEV002: an SkBuff is used after it was released or handed over.</summary>
    public static readonly DiagnosticDescriptor UseAfterRelease = new(
        id: "NETDEV002",
        title: "SkBuff used after release",
        messageFormat: "SkBuff '{0}' is used after it was released or handed over{1}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "After Consume, Drop or a call that takes ownership, the frame's buffer belongs to its pool again and may already carry another frame; every member of a released SkBuff throws SkBuffMisuseException.");

    /// <summary>NETDEV003: an SkBuff is released twice, or released after its ownership was passed on.</summary>
    public static readonly DiagnosticDescriptor DoubleRelease = new(
        id: "NETDEV003",
        title: "SkBuff released twice",
        messageFormat: "SkBuff '{0}' is released here after it was {1}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "A frame is released exactly once. A second release throws SkBuffMisuseException; releasing a frame that was stored, returned or copied away kills the copy that now owns it.");

    /// <summary>NETDEV004: StartXmit returns Ok while it still owns the frame and has not kept it.</summary>
    public static readonly DiagnosticDescriptor StartXmitOkLeak = new(
        id: "NETDEV004",
        title: "StartXmit returns Ok without releasing or keeping the frame",
        messageFormat: "StartXmit returns TxResult.Ok here while '{0}' is neither released nor kept on some path; after Ok the frame is the driver's to release",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "Ownership of the frame arrives with StartXmit's parameter. TxResult.Ok says the driver took it: by then the driver has released it or stored it to release later.");

    /// <summary>NETDEV005: StartXmit returns Busy after it released or kept the frame.</summary>
    public static readonly DiagnosticDescriptor StartXmitBusyAfterRelease = new(
        id: "NETDEV005",
        title: "StartXmit returns Busy after releasing the frame",
        messageFormat: "StartXmit returns TxResult.Busy here although '{0}' was released or kept on some path; Busy hands the frame back to the framework, which retries that very frame",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "TxResult.Busy leaves the frame with the framework, which offers the same frame again later; a frame the driver released or stored cannot be retried.");

    /// <summary>NETDEV006: an SkBuff is released through a Dispose-style method or a using-disposed wrapper.</summary>
    public static readonly DiagnosticDescriptor DisposeStyleRelease = new(
        id: "NETDEV006",
        title: "SkBuff released through Dispose",
        messageFormat: "{0}: an SkBuff has no implicit release; release it explicitly with Consume() or Drop(reason) so every path says what became of the frame",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "SkBuff is not IDisposable on purpose: a Dispose-based release runs on every path, including those where the frame was handed on, and carries no drop reason.");

    /// <summary>NETDEV007: a borrowed SkBuff parameter is released, stored or returned.</summary>
    public static readonly DiagnosticDescriptor BorrowedReleased = new(
        id: "NETDEV007",
        title: "Borrowed SkBuff parameter released or kept",
        messageFormat: "Parameter '{0}' is borrowed (its caller still owns the frame) but is {1} here; mark the parameter [TakesOwnership] if the method takes the frame",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "An SkBuff parameter without [TakesOwnership] is borrowed: the caller keeps ownership and will release the frame, so the method must not release, store or return it.");

    /// <summary>Every rule, for <c>SupportedDiagnostics</c>.</summary>
    public static ImmutableArray<DiagnosticDescriptor> All { get; } = ImmutableArray.Create(
        Leak, UseAfterRelease, DoubleRelease, StartXmitOkLeak, StartXmitBusyAfterRelease, DisposeStyleRelease, BorrowedReleased);

    /// <summary>Diagnostic property: the SkBuff variable a code fix should release.</summary>
    public const string VariableProperty = "Variable";

    /// <summary>Diagnostic property: how a code fix may repair the diagnostic (one of the <c>Fix*</c> values).</summary>
    public const string FixProperty = "Fix";

    /// <summary>Insert a release of the variable before the statement at the diagnostic's location.</summary>
    public const string FixInsertBefore = "InsertBefore";

    /// <summary>Append a release of the variable to the block whose closing brace is the diagnostic's location.</summary>
    public const string FixAppendToBlock = "AppendToBlock";

    /// <summary>Make the StartXmit return at the diagnostic's location return <c>TxResult.Ok</c>.</summary>
    public const string FixReturnOk = "ReturnOk";

    /// <summary>Remove the release statement at the diagnostic's location.</summary>
    public const string FixRemoveRelease = "RemoveRelease";

    /// <summary>Put [TakesOwnership] on the parameter named by <see cref="VariableProperty"/>.</summary>
    public const string FixTakeOwnership = "TakeOwnership";

    /// <summary>Replace the Dispose-style call at the diagnostic's location with <c>Drop(DropReason.NotSpecified)</c>.</summary>
    public const string FixReplaceWithDrop = "ReplaceWithDrop";
}
