using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NetDev.Analyzers;

internal sealed partial class OwnershipFlowAnalysis
{
    /// <summary>
    /// One fixed-point computation over the blocks <c>[first, last]</c>: the whole graph, or one
    /// <c>finally</c> region applied to a single incoming state.
    /// </summary>
    /// <remarks><b>Invariants.</b> <c>_input[i]</c> is null exactly while block <c>first + i</c> has not been
    /// reached; every state stored in it is owned by this run and only grows.</remarks>
    private sealed class RegionRun
    {
        private readonly OwnershipFlowAnalysis _analysis;
        private readonly int _first;
        private readonly int _last;
        private readonly OwnershipState?[] _input;
        private readonly Dictionary<ControlFlowRegion, OwnershipState> _exceptional = [];
        private readonly SortedSet<int> _work = [];
        private bool _reporting;

        public RegionRun(OwnershipFlowAnalysis analysis, int first, int last, int entry, OwnershipState input)
        {
            _analysis = analysis;
            _first = first;
            _last = last;
            _input = new OwnershipState?[last - first + 1];
            _input[entry - first] = input;
            _work.Add(entry);
        }

        /// <summary>For a run over a finally region: the join of the states that complete it normally.</summary>
        public OwnershipState? FinallyExit { get; private set; }

        private ControlFlowGraph Graph => _analysis._graph;

        public void Solve()
        {
            while (_work.Count > 0)
            {
                var ordinal = _work.Min;
                _work.Remove(ordinal);
                Process(Graph.Blocks[ordinal], _input[ordinal - _first]!.Clone(), reporter: null);
            }
        }

        /// <summary>Walks the final states once more, this time reporting.</summary>
        public void Report()
        {
            _reporting = true;
            for (var ordinal = _first; ordinal <= _last; ordinal++)
            {
                if (_input[ordinal - _first] is { } state)
                {
                    Process(Graph.Blocks[ordinal], state.Clone(), _analysis._sink);
                }
            }
        }

        private bool InRange(ControlFlowRegion region) => region.FirstBlockOrdinal >= _first && region.LastBlockOrdinal <= _last;

        private bool InRange(int ordinal) => ordinal >= _first && ordinal <= _last;

        private void Process(BasicBlock block, OwnershipState state, DiagnosticSink? reporter)
        {
            var transfer = new Transfer(_analysis, state, reporter);
            var tryRegions = EnclosingTryRegions(block);
            foreach (var operation in block.Operations)
            {
                RecordExceptional(tryRegions, state);
                transfer.Statement(operation);
            }
            var value = block.BranchValue;
            if (value is not null)
            {
                RecordExceptional(tryRegions, state);
                if (block.FallThroughSuccessor?.Semantics == ControlFlowBranchSemantics.Return)
                {
                    transfer.Returned(value);
                }
                else
                {
                    transfer.Statement(value);
                }
            }
            if (block.ConditionKind == ControlFlowConditionKind.None || value is null)
            {
                Follow(block, block.FallThroughSuccessor, state, reporter);
                return;
            }
            var conditionalHolds = block.ConditionKind == ControlFlowConditionKind.WhenTrue;
            Follow(block, block.ConditionalSuccessor, transfer.Refine(value, conditionalHolds), reporter);
            Follow(block, block.FallThroughSuccessor, transfer.Refine(value, !conditionalHolds), reporter);
        }

        private List<ControlFlowRegion> EnclosingTryRegions(BasicBlock block)
        {
            var regions = new List<ControlFlowRegion>();
            for (var region = block.EnclosingRegion; region is not null; region = region.EnclosingRegion)
            {
                if (region.Kind == ControlFlowRegionKind.Try && InRange(region))
                {
                    regions.Add(region);
                }
            }
            return regions;
        }

        /// <summary>Any operation in a try may throw: its handlers start from every state seen there.</summary>
        private void RecordExceptional(List<ControlFlowRegion> tryRegions, OwnershipState state)
        {
            if (_reporting)
            {
                return;
            }
            foreach (var tryRegion in tryRegions)
            {
                var thrown = _analysis.WithoutLocalsOf(tryRegion, state);
                if (_exceptional.TryGetValue(tryRegion, out var known))
                {
                    if (!known.JoinWith(thrown))
                    {
                        continue;
                    }
                }
                else
                {
                    _exceptional[tryRegion] = known = thrown;
                }
                var handlers = tryRegion.EnclosingRegion!.NestedRegions.Where(r => r != tryRegion);
                foreach (var handler in handlers)
                {
                    Enter(handler.FirstBlockOrdinal, known);
                }
            }
        }

        private void Enter(int ordinal, OwnershipState state)
        {
            if (_reporting || !InRange(ordinal))
            {
                return;
            }
            ref var slot = ref _input[ordinal - _first];
            if (slot is null)
            {
                slot = state.Clone();
                _work.Add(ordinal);
            }
            else if (slot.JoinWith(state))
            {
                _work.Add(ordinal);
            }
        }

        private void Follow(BasicBlock source, ControlFlowBranch? branch, OwnershipState state, DiagnosticSink? reporter)
        {
            if (branch is null)
            {
                return;
            }
            state = state.Clone();
            foreach (var finallyRegion in branch.FinallyRegions)
            {
                if (InRange(finallyRegion))
                {
                    // The finally body itself is checked with every state that can enter it.
                    Enter(finallyRegion.FirstBlockOrdinal, state);
                }
                state = _analysis.ApplyFinally(finallyRegion, state);
            }
            switch (branch.Semantics)
            {
                case ControlFlowBranchSemantics.StructuredExceptionHandling:
                    if (FinallyExit is null)
                    {
                        FinallyExit = state.Clone();
                    }
                    else
                    {
                        FinallyExit.JoinWith(state);
                    }
                    return;
                case ControlFlowBranchSemantics.Throw or ControlFlowBranchSemantics.Rethrow:
                    if (reporter is not null)
                    {
                        _analysis.CheckThrow(source, branch, state);
                    }
                    return;
                case ControlFlowBranchSemantics.Error or ControlFlowBranchSemantics.ProgramTermination:
                    return;
            }
            var destination = branch.Destination;
            if (destination is null)
            {
                return;
            }
            if (destination.Kind == BasicBlockKind.Exit)
            {
                if (reporter is not null)
                {
                    _analysis.CheckMethodExit(source, branch, state, reporter);
                }
                return;
            }
            foreach (var region in branch.LeavingRegions)
            {
                _analysis.LeaveScope(region, source, branch, state, reporter);
            }
            Enter(destination.Ordinal, state);
        }
    }

    /// <summary>Locals of a region that control leaves go out of scope: an owned frame in one leaks.</summary>
    private void LeaveScope(ControlFlowRegion region, BasicBlock source, ControlFlowBranch branch, OwnershipState state, DiagnosticSink? reporter)
    {
        foreach (var local in region.Locals)
        {
            if (!_bySymbol.TryGetValue(local, out var entity))
            {
                continue;
            }
            if (reporter is not null)
            {
                ScopeEnds(entity, source, branch, state, "it goes out of scope");
            }
            state.Set(entity, Ownership.Unowned);
        }
        foreach (var capture in region.CaptureIds)
        {
            if (_byCapture.TryGetValue(capture, out var entity))
            {
                state.Set(entity, Ownership.Unowned);
            }
        }
    }

    private void CheckMethodExit(BasicBlock source, ControlFlowBranch branch, OwnershipState state, DiagnosticSink reporter)
    {
        var result = StartXmitResult(source, branch);
        for (var entity = 0; entity < _entities.Count; entity++)
        {
            var info = _entities[entity];
            if (info.IsCapture)
            {
                continue;
            }
            var flags = state[entity];
            if (info.IsStartXmitFrame)
            {
                var exit = ExitLocator.Find(source, branch, _graph.OriginalOperation.Syntax);
                var location = ExitLocator.LocationOf(exit, info.Declaration ?? Location.None);
                switch (result)
                {
                    case TxResultValue.Busy when (flags & (Ownership.Released | Ownership.Kept)) != 0:
                        reporter.Report(SkBuffRules.StartXmitBusyAfterRelease, location, info.Name, ReleaseSites(state, entity),
                            FixProperties(info.Name, (flags & Ownership.Owned) == 0 ? SkBuffRules.FixReturnOk : null), info.Name);
                        break;
                    case TxResultValue.Ok when (flags & Ownership.Owned) != 0:
                        reporter.Report(SkBuffRules.StartXmitOkLeak, location, info.Name, DeclarationOf(info),
                            FixProperties(info.Name, flags == Ownership.Owned ? ExitLocator.FixFor(exit) : null), info.Name);
                        break;
                }
                // An unknown result (not a constant) cannot be judged either way: see docs/safety.md.
                continue;
            }
            ScopeEnds(entity, source, branch, state, info.Symbol is IParameterSymbol ? "the method returns" : "it goes out of scope");
        }
    }

    private void CheckThrow(BasicBlock source, ControlFlowBranch branch, OwnershipState state)
    {
        // A throw that a catch of this method may handle is not an exit; finally blocks on the way out run first.
        for (var region = source.EnclosingRegion; region is not null; region = region.EnclosingRegion)
        {
            if (region.Kind != ControlFlowRegionKind.Try)
            {
                continue;
            }
            var handlers = region.EnclosingRegion!;
            if (handlers.Kind == ControlFlowRegionKind.TryAndCatch)
            {
                return;
            }
            if (handlers.Kind == ControlFlowRegionKind.TryAndFinally)
            {
                state = ApplyFinally(handlers.NestedRegions.Last(), state);
            }
        }
        for (var entity = 0; entity < _entities.Count; entity++)
        {
            var info = _entities[entity];
            // A frame StartXmit still owns when it throws is dropped by the framework (DeviceQueue.Dispatch).
            if (!info.IsCapture && !info.IsStartXmitFrame)
            {
                ScopeEnds(entity, source, branch, state, "the method throws");
            }
        }
    }

    /// <summary>
    /// Notes that <paramref name="entity"/>'s scope ends on this edge; a leak there is reported by
    /// <see cref="ReportLeaks"/> once every edge was seen, because whether a drop may be inserted at the
    /// exit's position depends on all the edges that pass it (after an <c>if</c> without <c>else</c>,
    /// the edge that released the frame and the one that did not meet at the same closing brace).
    /// </summary>
    private void ScopeEnds(int entity, BasicBlock source, ControlFlowBranch branch, OwnershipState state, string how)
    {
        var exit = ExitLocator.Find(source, branch, _graph.OriginalOperation.Syntax);
        var flags = state[entity];
        var key = (entity, exit);
        _exitFlags[key] = _exitFlags.TryGetValue(key, out var seen) ? seen | flags : flags;
        if ((flags & Ownership.Owned) != 0)
        {
            _leaks.Add((entity, exit, how));
        }
    }

    private void ReportLeaks(DiagnosticSink reporter)
    {
        foreach (var (entity, exit, how) in _leaks)
        {
            var info = _entities[entity];
            var location = ExitLocator.LocationOf(exit, info.Declaration ?? Location.None);
            var fix = FlagsWhereFixGoes(entity, exit) == Ownership.Owned ? ExitLocator.FixFor(exit) : null;
            // Without a known exit the diagnostic sits on the declaration, so "here" would point at the wrong place.
            reporter.Report(SkBuffRules.Leak, location, info.Name, DeclarationOf(info), FixProperties(info.Name, fix),
                $"SkBuff '{info.Name}'", ExitLocator.IsKnown(exit) ? how + " here" : how + " on some path");
        }
        _leaks.Clear();
    }

    /// <summary>
    /// What <paramref name="entity"/> may hold where a fix for <paramref name="exit"/> would insert its
    /// release. Before a jump statement only that jump's edges pass; at the end of a block also every path
    /// that left a nested block at its end, since those fall through to the outer block's end.
    /// </summary>
    private Ownership FlagsWhereFixGoes(int entity, SyntaxNodeOrToken exit)
    {
        var flags = _exitFlags[(entity, exit)];
        if (!exit.IsToken || exit.Parent is not Microsoft.CodeAnalysis.CSharp.Syntax.BlockSyntax block)
        {
            return flags;
        }
        foreach (var pair in _exitFlags)
        {
            if (pair.Key.Entity == entity && pair.Key.Exit.IsToken && block.Span.Contains(pair.Key.Exit.Span))
            {
                flags |= pair.Value;
            }
        }
        return flags;
    }

    private TxResultValue StartXmitResult(BasicBlock source, ControlFlowBranch branch)
    {
        if (!IsStartXmit || branch.Semantics != ControlFlowBranchSemantics.Return || source.BranchValue is not { } value)
        {
            return TxResultValue.Unknown;
        }
        var constant = value.ConstantValue;
        if (!constant.HasValue || constant.Value is not int number)
        {
            return TxResultValue.Unknown;
        }
        return number switch
        {
            0 => TxResultValue.Ok,
            1 => TxResultValue.Busy,
            _ => TxResultValue.Unknown,
        };
    }

    private static IEnumerable<Location>? DeclarationOf(Entity info) => info.Declaration is { } declaration ? [declaration] : null;

    private static IEnumerable<Location> ReleaseSites(OwnershipState state, int entity) =>
        state.ReleasesOf(entity).Select(node => node.GetLocation()).OrderBy(l => l.SourceSpan.Start);

    private static ImmutableDictionary<string, string?> FixProperties(string variable, string? fix)
    {
        var properties = ImmutableDictionary<string, string?>.Empty.Add(SkBuffRules.VariableProperty, variable);
        return fix is null ? properties : properties.Add(SkBuffRules.FixProperty, fix);
    }

    private enum TxResultValue
    {
        Unknown,
        Ok,
        Busy,
    }
}
