using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NetDev.Analyzers;

/// <summary>
/// Follows every SkBuff of one method (or lambda, or local function) through its control-flow graph and
/// reports the paths on which a frame leaks, is used after release, is released twice, or breaks the
/// StartXmit contract.
/// </summary>
/// <remarks>
/// <para>A forward may-analysis: each variable's state is the set of <see cref="Ownership"/> values it can
/// have on some path reaching a point, so "on some path" diagnostics fall out of a union join. Branches,
/// loops and switch are edges of the graph; <c>finally</c> blocks are applied on each edge that runs them
/// (so the state after a <c>finally</c> stays specific to the jump that entered it); <c>catch</c> blocks
/// start from the join of the states before every operation of their <c>try</c>, since any of them may
/// throw.</para>
/// <para><b>Invariants.</b> Entities are fixed before the analysis starts. Block input states only grow,
/// so the fixed point is reached; diagnostics are only produced in the single reporting pass over the
/// final states, so each is reported once.</para>
/// </remarks>
internal sealed partial class OwnershipFlowAnalysis
{
    private readonly KnownSymbols _known;
    private readonly ControlFlowGraph _graph;
    private readonly List<Entity> _entities = [];
    private readonly Dictionary<ISymbol, int> _bySymbol = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<CaptureId, int> _byCapture = [];
    private readonly Dictionary<CaptureId, HashSet<int>> _captureAliases = [];
    private readonly Dictionary<(int Region, OwnershipState Input), OwnershipState> _finallyEffects = [];
    private readonly DiagnosticSink _sink;
    private readonly Dictionary<(int Entity, SyntaxNodeOrToken Exit), Ownership> _exitFlags = [];
    private readonly List<(int Entity, SyntaxNodeOrToken Exit, string How)> _leaks = [];

    private OwnershipFlowAnalysis(KnownSymbols known, ControlFlowGraph graph, IMethodSymbol method, DiagnosticSink sink)
    {
        _known = known;
        _graph = graph;
        Method = method;
        IsStartXmit = known.IsStartXmit(method);
        _sink = sink;
    }

    public IMethodSymbol Method { get; }

    public bool IsStartXmit { get; }

    /// <summary>Analyzes <paramref name="graph"/> and every lambda and local function inside it.</summary>
    public static void AnalyzeWithNested(KnownSymbols known, ControlFlowGraph graph, IMethodSymbol method, Action<Diagnostic> report)
    {
        var sink = new DiagnosticSink(report);
        AnalyzeRecursively(known, graph, method, sink, depth: 0);
    }

    private static void AnalyzeRecursively(KnownSymbols known, ControlFlowGraph graph, IMethodSymbol method, DiagnosticSink sink, int depth)
    {
        new OwnershipFlowAnalysis(known, graph, method, sink).Run();
        // Lambdas nested this deep are generated code; stop rather than recurse without bound.
        if (depth > 32)
        {
            return;
        }
        foreach (var localFunction in graph.LocalFunctions)
        {
            AnalyzeRecursively(known, graph.GetLocalFunctionControlFlowGraph(localFunction), localFunction, sink, depth + 1);
        }
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations.Concat(block.BranchValue is { } value ? [value] : []))
            {
                foreach (var lambda in operation.DescendantsAndSelf().OfType<IFlowAnonymousFunctionOperation>())
                {
                    AnalyzeRecursively(known, graph.GetAnonymousFunctionControlFlowGraph(lambda), lambda.Symbol, sink, depth + 1);
                }
            }
        }
    }

    private void Run()
    {
        CollectEntities();
        if (_entities.Count == 0 && !HasSkBuffValues())
        {
            return;
        }
        var initial = new OwnershipState(_entities.Count);
        for (var i = 0; i < _entities.Count; i++)
        {
            initial.Set(i, _entities[i].InitialState);
        }
        var run = new RegionRun(this, 0, _graph.Blocks.Length - 1, 0, initial);
        run.Solve();
        run.Report();
        ReportLeaks(_sink);
    }

    private bool HasSkBuffValues()
    {
        foreach (var block in _graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                if (operation.DescendantsAndSelf().Any(o => _known.IsSkBuff(o.Type)))
                {
                    return true;
                }
            }
        }
        return false;
    }

    private void CollectEntities()
    {
        var captured = CapturedByNestedFunctions();
        foreach (var parameter in Method.Parameters)
        {
            if (parameter.RefKind == RefKind.None && _known.IsSkBuff(parameter.Type) && !captured.Contains(parameter))
            {
                var owned = _known.TakesOwnership(parameter) || IsStartXmit;
                Add(new Entity(parameter.Name, parameter, null, owned ? Ownership.Owned : Ownership.Borrowed,
                    isStartXmitFrame: IsStartXmit, isBorrowedParameter: !owned, declaration: parameter.Locations.FirstOrDefault()));
            }
        }
        CollectLocals(_graph.Root, captured);
        CollectCaptures();
    }

    private void CollectLocals(ControlFlowRegion region, HashSet<ISymbol> captured)
    {
        foreach (var local in region.Locals)
        {
            if (local.RefKind == RefKind.None && _known.IsSkBuff(local.Type) && !captured.Contains(local) && !_bySymbol.ContainsKey(local))
            {
                Add(new Entity(local.Name, local, null, Ownership.Unowned, isStartXmitFrame: false, isBorrowedParameter: false,
                    declaration: local.Locations.FirstOrDefault()));
            }
        }
        foreach (var nested in region.NestedRegions)
        {
            CollectLocals(nested, captured);
        }
    }

    /// <summary>
    /// Flow captures (the graph's temporaries) either alias a tracked variable, or hold a fresh frame
    /// between its producing call and its consumer (as in <c>c ? pool.Rent() : dev.AllocSkb()</c>).
    /// </summary>
    private void CollectCaptures()
    {
        var captures = _graph.Blocks
            .SelectMany(b => b.Operations)
            .SelectMany(o => o.DescendantsAndSelf())
            .OfType<IFlowCaptureOperation>()
            .Where(c => IsSkBuffValued(c.Value))
            .ToList();
        foreach (var capture in captures)
        {
            var value = StripConversions(capture.Value);
            if (ProducesOwnedFrame(value) && !_byCapture.ContainsKey(capture.Id))
            {
                _byCapture[capture.Id] = Add(new Entity("(temporary)", null, capture.Id, Ownership.Unowned, false, false, null));
            }
        }
        // Alias chains (a capture of a capture of a local) are short; iterate until nothing changes.
        bool changed;
        do
        {
            changed = false;
            foreach (var capture in captures)
            {
                var aliases = AliasesOf(StripConversions(capture.Value));
                if (aliases.Count == 0)
                {
                    continue;
                }
                if (!_captureAliases.TryGetValue(capture.Id, out var set))
                {
                    _captureAliases[capture.Id] = set = [];
                }
                foreach (var alias in aliases)
                {
                    changed |= set.Add(alias);
                }
            }
        }
        while (changed);
    }

    private HashSet<int> AliasesOf(IOperation value)
    {
        switch (value)
        {
            case ILocalReferenceOperation local when _bySymbol.TryGetValue(local.Local, out var entity):
                return [entity];
            case IParameterReferenceOperation parameter when _bySymbol.TryGetValue(parameter.Parameter, out var entity):
                return [entity];
            case IFlowCaptureReferenceOperation reference:
            {
                var result = new HashSet<int>();
                if (_captureAliases.TryGetValue(reference.Id, out var aliases))
                {
                    result.UnionWith(aliases);
                }
                if (_byCapture.TryGetValue(reference.Id, out var entity))
                {
                    result.Add(entity);
                }
                return result;
            }
            default:
                return [];
        }
    }

    /// <summary>
    /// Variables read or written inside lambdas and local functions: ownership cannot be followed into a
    /// delegate that may run at any time, so these are left out of the analysis (see docs/safety.md).
    /// </summary>
    private HashSet<ISymbol> CapturedByNestedFunctions()
    {
        var captured = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var nested in _graph.OriginalOperation.Descendants())
        {
            if (nested is not (IAnonymousFunctionOperation or ILocalFunctionOperation))
            {
                continue;
            }
            foreach (var reference in nested.Descendants())
            {
                switch (reference)
                {
                    case ILocalReferenceOperation local:
                        captured.Add(local.Local);
                        break;
                    case IParameterReferenceOperation parameter when !SymbolEqualityComparer.Default.Equals(parameter.Parameter.ContainingSymbol, OwnerOf(nested)):
                        captured.Add(parameter.Parameter);
                        break;
                }
            }
        }
        return captured;

        static ISymbol? OwnerOf(IOperation nested) => nested switch
        {
            IAnonymousFunctionOperation lambda => lambda.Symbol,
            ILocalFunctionOperation localFunction => localFunction.Symbol,
            _ => null,
        };
    }

    private int Add(Entity entity)
    {
        var index = _entities.Count;
        _entities.Add(entity);
        if (entity.Symbol is { } symbol)
        {
            _bySymbol[symbol] = index;
        }
        return index;
    }

    private bool IsSkBuffValued(IOperation? operation) => operation is not null && _known.IsSkBuff(StripConversions(operation).Type);

    private static IOperation StripConversions(IOperation operation)
    {
        while (operation is IConversionOperation conversion)
        {
            operation = conversion.Operand;
        }
        return operation;
    }

    /// <summary>Whether evaluating <paramref name="value"/> yields a frame the caller now owns.</summary>
    private bool ProducesOwnedFrame(IOperation value) => value switch
    {
        IInvocationOperation invocation => _known.IsSkBuff(invocation.Type) && ReturnsOwnership(invocation.TargetMethod),
        IAwaitOperation { Operation: var awaited } => _known.IsSkBuff(value.Type)
            && (StripConversions(awaited) is not IInvocationOperation call || ReturnsOwnership(call.TargetMethod)),
        _ => false,
    };

    /// <summary>
    /// Returning an SkBuff by value moves it to the caller, as in the seed, while properties and fields
    /// lend. Generic containers are the exception: their methods return an element (<c>T</c>) that may
    /// stay inside (<c>Peek</c>, <c>First</c>, <c>Find</c>), so only the ones that take it out count.
    /// </summary>
    private static bool ReturnsOwnership(IMethodSymbol method)
    {
        if (method.ReturnsByRef || method.ReturnsByRefReadonly)
        {
            return false;
        }
        var declared = method.OriginalDefinition.ReturnType;
        var returnsElement = declared.TypeKind == TypeKind.TypeParameter
            || declared is INamedTypeSymbol { IsGenericType: true, Name: "Task" or "ValueTask" } task
                && task.TypeArguments[0].TypeKind == TypeKind.TypeParameter;
        return !returnsElement || RemovesElement(method.Name);
    }

    private static bool RemovesElement(string name) =>
        name is "Dequeue" or "Pop" or "Take" or "Read" or "ReadAsync" or "Receive" or "ReceiveAsync" or "Exchange" or "CompareExchange"
            or "RemoveFirst" or "RemoveLast";

    /// <summary>
    /// The state a handler of <paramref name="tryRegion"/> starts from when an exception leaves it: the
    /// try's own locals are out of scope there, so a frame in one that an exception strands is not
    /// reported (nothing in the handler could release it; the pool's leak report does at run time).
    /// </summary>
    private OwnershipState WithoutLocalsOf(ControlFlowRegion tryRegion, OwnershipState state)
    {
        var result = state.Clone();
        Clear(tryRegion);
        return result;

        void Clear(ControlFlowRegion region)
        {
            foreach (var local in region.Locals)
            {
                if (_bySymbol.TryGetValue(local, out var entity))
                {
                    result.Set(entity, Ownership.Unowned);
                }
            }
            foreach (var nested in region.NestedRegions)
            {
                Clear(nested);
            }
        }
    }

    private OwnershipState ApplyFinally(ControlFlowRegion finallyRegion, OwnershipState input)
    {
        var key = (finallyRegion.FirstBlockOrdinal, input);
        if (_finallyEffects.TryGetValue(key, out var output))
        {
            return output.Clone();
        }
        var run = new RegionRun(this, finallyRegion.FirstBlockOrdinal, finallyRegion.LastBlockOrdinal, finallyRegion.FirstBlockOrdinal, input.Clone());
        run.Solve();
        output = run.FinallyExit ?? input.Clone();
        _finallyEffects[(finallyRegion.FirstBlockOrdinal, input.Clone())] = output;
        return output.Clone();
    }

    /// <summary>A tracked variable, or a flow capture that can hold a fresh frame.</summary>
    private sealed class Entity(
        string name,
        ISymbol? symbol,
        CaptureId? capture,
        Ownership initialState,
        bool isStartXmitFrame,
        bool isBorrowedParameter,
        Location? declaration)
    {
        public string Name { get; } = name;

        public ISymbol? Symbol { get; } = symbol;

        public CaptureId? Capture { get; } = capture;

        public Ownership InitialState { get; } = initialState;

        /// <summary>StartXmit's frame parameter: owned on entry, and judged by the returned TxResult.</summary>
        public bool IsStartXmitFrame { get; } = isStartXmitFrame;

        /// <summary>A parameter without [TakesOwnership]: the caller still owns its frame.</summary>
        public bool IsBorrowedParameter { get; } = isBorrowedParameter;

        public Location? Declaration { get; } = declaration;

        public bool IsCapture => Capture is not null;
    }

    /// <summary>Reports each diagnostic once, however often a path reaches it.</summary>
    private sealed class DiagnosticSink(Action<Diagnostic> report)
    {
        private readonly HashSet<(string, Location, string)> _seen = [];

        public void Report(DiagnosticDescriptor rule, Location location, string key, IEnumerable<Location>? additional,
            ImmutableDictionary<string, string?>? properties, params object[] arguments)
        {
            if (_seen.Add((rule.Id, location, key)))
            {
                report(Diagnostic.Create(rule, location, additional, properties, arguments));
            }
        }
    }
}
