using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NetDev.Analyzers;

/// <summary>
/// Makes SkBuff misuse a build error: a frame leaked, used after release or released twice on some path,
/// and a StartXmit whose result contradicts what it did with the frame (rules NETDEV001–NETDEV007).
/// </summary>
/// <remarks>
/// Each method body, lambda and local function is analyzed on its control-flow graph (see
/// <see cref="OwnershipFlowAnalysis"/>); compilations that do not reference NetDev are skipped at once.
/// </remarks>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class SkBuffOwnershipAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => SkBuffRules.All;

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            if (KnownSymbols.TryCreate(start.Compilation) is not { } known)
            {
                return;
            }
            start.RegisterOperationAction(c => AnalyzeBody(c, known), OperationKind.MethodBody, OperationKind.ConstructorBody);
            start.RegisterOperationAction(c => AnalyzeUsing(c, known), OperationKind.Using, OperationKind.UsingDeclaration);
        });
    }

    private static void AnalyzeBody(OperationAnalysisContext context, KnownSymbols known)
    {
        if (context.ContainingSymbol is not IMethodSymbol method || !MentionsSkBuff(context.Operation, method, known))
        {
            return;
        }
        var graph = context.GetControlFlowGraph();
        OwnershipFlowAnalysis.AnalyzeWithNested(known, graph, method, context.ReportDiagnostic);
    }

    /// <summary>A cheap filter: most methods never touch a frame and need no graph.</summary>
    private static bool MentionsSkBuff(IOperation body, IMethodSymbol method, KnownSymbols known) =>
        method.Parameters.Any(p => known.IsSkBuff(p.Type))
        || body.Descendants().Any(o => known.IsSkBuff(o.Type) || o is IAnonymousFunctionOperation or ILocalFunctionOperation);

    /// <summary>
    /// NETDEV006 for <c>using</c> on a wrapper that holds an SkBuff: SkBuff itself cannot be in a
    /// <c>using</c> (it is not IDisposable, so that is already a compile error), but a disposable wrapper
    /// brings back the implicit release NetDev leaves out on purpose.
    /// </summary>
    private static void AnalyzeUsing(OperationAnalysisContext context, KnownSymbols known)
    {
        var resources = context.Operation switch
        {
            IUsingOperation usingStatement => ResourceTypes(usingStatement.Resources),
            IUsingDeclarationOperation declaration => ResourceTypes(declaration.DeclarationGroup),
            _ => ImmutableArray<ITypeSymbol>.Empty,
        };
        foreach (var type in resources)
        {
            if (HoldsSkBuff(type, known))
            {
                context.ReportDiagnostic(Diagnostic.Create(SkBuffRules.DisposeStyleRelease, context.Operation.Syntax.GetLocation(),
                    $"'{type.Name}' holds an SkBuff and is disposed by 'using'"));
                return;
            }
        }
    }

    private static ImmutableArray<ITypeSymbol> ResourceTypes(IOperation resources) => resources switch
    {
        IVariableDeclarationGroupOperation group => group.Declarations
            .SelectMany(d => d.Declarators)
            .Select(d => d.Symbol.Type)
            .ToImmutableArray(),
        _ => resources.Type is { } type ? ImmutableArray.Create(type) : ImmutableArray<ITypeSymbol>.Empty,
    };

    private static bool HoldsSkBuff(ITypeSymbol type, KnownSymbols known)
    {
        if (type is INamedTypeSymbol named && named.TypeArguments.Any(known.IsSkBuff))
        {
            return true;
        }
        return type.GetMembers().OfType<IFieldSymbol>().Any(f => !f.IsStatic && known.IsSkBuff(f.Type));
    }
}
