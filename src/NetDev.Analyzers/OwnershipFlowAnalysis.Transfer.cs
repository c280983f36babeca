using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NetDev.Analyzers;

internal sealed partial class OwnershipFlowAnalysis
{
    /// <summary>What an operation does with an SkBuff value it receives.</summary>
    private enum SinkKind
    {
        /// <summary>Reads or changes the frame: it must be live.</summary>
        Use,

        /// <summary>Looks at the handle only (<c>IsLive</c>, <c>==</c>, <c>ToString</c>): fine even when dead.</summary>
        Neutral,

        /// <summary>Throws the value away (an expression statement, <c>_ =</c>).</summary>
        Discard,

        /// <summary><c>Consume()</c> or <c>Drop(reason)</c>.</summary>
        Release,

        /// <summary>Passed to a [TakesOwnership] parameter: released as far as the caller is concerned.</summary>
        Transfer,

        /// <summary>Stored in a field, array, collection or property, or returned: alive, but owned elsewhere.</summary>
        Keep,

        /// <summary>Passed by <c>ref</c> or <c>out</c>: the callee may have replaced it, so nothing is known.</summary>
        Unknown,
    }

    /// <summary>An SkBuff value: which tracked entities it may be, and whether it is a fresh frame.</summary>
    private readonly struct Value(ImmutableArray<int> entities, IOperation? freshFrom)
    {
        public static Value None => new(ImmutableArray<int>.Empty, null);

        public ImmutableArray<int> Entities { get; } = entities.IsDefault ? ImmutableArray<int>.Empty : entities;

        /// <summary>The call or await that produced a frame nobody holds yet.</summary>
        public IOperation? FreshFrom { get; } = freshFrom;
    }

    /// <summary>The effect of a block's operations on one state, in evaluation order.</summary>
    private sealed class Transfer(OwnershipFlowAnalysis analysis, OwnershipState state, DiagnosticSink? reporter)
    {
        private KnownSymbols Known => analysis._known;

        public void Statement(IOperation operation)
        {
            if (operation is IExpressionStatementOperation statement)
            {
                operation = statement.Operation;
                if (analysis.IsSkBuffValued(operation))
                {
                    Sink(Evaluate(operation), SinkKind.Discard, operation);
                    return;
                }
            }
            Visit(operation);
        }

        /// <summary>The value of a <c>return</c>: an SkBuff returned goes to the caller.</summary>
        public void Returned(IOperation value)
        {
            if (analysis.IsSkBuffValued(value))
            {
                Sink(Evaluate(value), SinkKind.Keep, value);
            }
            else
            {
                Visit(value);
            }
        }

        /// <summary>
        /// The state on the edge where <paramref name="condition"/> evaluated to <paramref name="holds"/>:
        /// <c>if (skb.IsLive)</c> separates the paths where the frame was released from the others.
        /// </summary>
        public OwnershipState Refine(IOperation condition, bool holds)
        {
            var negated = false;
            while (condition is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not)
            {
                condition = not.Operand;
                negated = !negated;
            }
            if (condition is not IPropertyReferenceOperation { Property.Name: "IsLive", Instance: { } instance } property
                || !Known.IsSkBuff(property.Property.ContainingType))
            {
                return state;
            }
            var live = holds != negated;
            var refined = state.Clone();
            foreach (var entity in analysis.AliasesOf(StripConversions(instance)))
            {
                var flags = refined[entity];
                var narrowed = live ? flags & ~Ownership.Released : flags & Ownership.Released;
                refined.Set(entity, narrowed == Ownership.None ? Ownership.Unowned : narrowed);
            }
            return refined;
        }

        private Value Evaluate(IOperation operation)
        {
            operation = StripConversions(operation);
            switch (operation)
            {
                case ILocalReferenceOperation or IParameterReferenceOperation or IFlowCaptureReferenceOperation:
                    return new Value(analysis.AliasesOf(operation).ToImmutableArray(), null);
                case IInvocationOperation invocation:
                    Invocation(invocation);
                    return new Value(ImmutableArray<int>.Empty, analysis.ProducesOwnedFrame(invocation) ? invocation : null);
                case IAwaitOperation awaited:
                    Visit(awaited.Operation);
                    return new Value(ImmutableArray<int>.Empty, analysis.ProducesOwnedFrame(awaited) ? awaited : null);
                case ISimpleAssignmentOperation assignment:
                    Assignment(assignment);
                    return Value.None;
                default:
                    Visit(operation);
                    return Value.None;
            }
        }

        private void Visit(IOperation? operation)
        {
            switch (operation)
            {
                case null:
                    return;
                case IInvocationOperation invocation:
                    Invocation(invocation);
                    return;
                case IObjectCreationOperation creation:
                    Arguments(creation.Arguments, creation.Constructor, creation);
                    Visit(creation.Initializer);
                    return;
                case ISimpleAssignmentOperation assignment:
                    Assignment(assignment);
                    return;
                case IFlowCaptureOperation capture:
                    Capture(capture);
                    return;
                case IReturnOperation returned:
                    // yield return: the consumer of the iterator takes the frame.
                    if (returned.ReturnedValue is { } value)
                    {
                        Returned(value);
                    }
                    return;
                case IAnonymousFunctionOperation or IFlowAnonymousFunctionOperation or ILocalFunctionOperation:
                    // Analyzed on their own graphs; variables they capture are not tracked here.
                    return;
                default:
                    foreach (var child in operation.ChildOperations)
                    {
                        if (analysis.IsSkBuffValued(child))
                        {
                            Sink(Evaluate(child), KindFor(operation, child), child);
                        }
                        else
                        {
                            Visit(child);
                        }
                    }
                    return;
            }
        }

        private SinkKind KindFor(IOperation parent, IOperation child) => parent switch
        {
            IPropertyReferenceOperation property when property.Instance == child =>
                property.Property.Name == "IsLive" && Known.IsSkBuff(property.Property.ContainingType) ? SinkKind.Neutral : SinkKind.Use,
            IBinaryOperation or IIsPatternOperation or IIsTypeOperation or IInterpolationOperation or INameOfOperation => SinkKind.Neutral,
            IArgumentOperation argument => ArgumentKind(argument.Parameter, argument.Parent switch
            {
                IInvocationOperation invocation => invocation.TargetMethod,
                IObjectCreationOperation creation => creation.Constructor,
                IPropertyReferenceOperation property => property.Property.GetMethod ?? property.Property.SetMethod,
                _ => null,
            }),
            IArrayInitializerOperation or ITupleOperation or IAnonymousObjectCreationOperation or ICollectionExpressionOperation
                or IReturnOperation or IPropertyInitializerOperation or IFieldInitializerOperation => SinkKind.Keep,
            _ => SinkKind.Use,
        };

        private SinkKind ArgumentKind(IParameterSymbol? parameter, IMethodSymbol? method)
        {
            if (parameter is null)
            {
                return SinkKind.Use;
            }
            if (parameter.RefKind is RefKind.Ref or RefKind.Out)
            {
                return SinkKind.Unknown;
            }
            if (Known.TakesOwnership(parameter))
            {
                return SinkKind.Transfer;
            }
            // Generic containers (List<T>.Add, Queue<T>.Enqueue, ChannelWriter<T>.TryWrite) store what they get.
            if (parameter.OriginalDefinition.Type.TypeKind == TypeKind.TypeParameter)
            {
                return SinkKind.Keep;
            }
            return SinkKind.Use;
        }

        private static bool IsDisposeLike(string name) => name is "Dispose" or "DisposeAsync" or "Close";

        private void Invocation(IInvocationOperation invocation)
        {
            var method = invocation.TargetMethod;
            var receiver = Value.None;
            var hasReceiver = invocation.Instance is { } instance && analysis.IsSkBuffValued(instance);
            if (hasReceiver)
            {
                receiver = Evaluate(invocation.Instance!);
            }
            else
            {
                Visit(invocation.Instance);
            }
            Arguments(invocation.Arguments, method, invocation);
            if (!hasReceiver)
            {
                return;
            }
            SinkKind kind;
            if (Known.IsSkBuff(method.ContainingType) && method.Name is "Consume" or "Drop")
            {
                kind = SinkKind.Release;
            }
            else if (method.Name is "Equals" or "GetHashCode" or "ToString" or "GetType")
            {
                kind = SinkKind.Neutral;
            }
            else
            {
                kind = SinkKind.Use;
                if (IsDisposeLike(method.Name))
                {
                    ReportDisposeLike(invocation);
                }
            }
            // A use is shown on the receiver; a release on the whole call, which a fix may remove.
            Sink(receiver, kind, kind == SinkKind.Release ? invocation : invocation.Instance!);
        }

        private void Arguments(ImmutableArray<IArgumentOperation> arguments, IMethodSymbol? method, IOperation call)
        {
            // Every argument is evaluated before the callee takes any of them.
            List<(Value Value, SinkKind Kind, IArgumentOperation Argument)>? handed = null;
            foreach (var argument in arguments.OrderBy(a => a.Syntax.SpanStart))
            {
                if (!analysis.IsSkBuffValued(argument.Value))
                {
                    Visit(argument.Value);
                    continue;
                }
                var kind = ArgumentKind(argument.Parameter, method);
                if (method is { IsExtensionMethod: true } && argument.Parameter?.Ordinal == 0 && IsDisposeLike(method.Name))
                {
                    ReportDisposeLike(call);
                }
                (handed ??= []).Add((Evaluate(argument.Value), kind, argument));
            }
            if (handed is null)
            {
                return;
            }
            foreach (var (value, kind, argument) in handed)
            {
                Sink(value, kind, argument.Value);
            }
        }

        private void Assignment(ISimpleAssignmentOperation assignment)
        {
            var target = assignment.Target;
            if (!analysis.IsSkBuffValued(assignment.Value))
            {
                Visit(target);
                Visit(assignment.Value);
                return;
            }
            var targetEntity = TrackedVariable(target);
            if (targetEntity is null)
            {
                // Evaluate the parts of a field, element or property target (its instance and indices).
                foreach (var child in target.ChildOperations)
                {
                    Visit(child);
                }
            }
            var value = Evaluate(assignment.Value);
            if (targetEntity is not { } entity)
            {
                Sink(value, target is IDiscardOperation ? SinkKind.Discard : SinkKind.Keep, assignment.Value);
                return;
            }
            if (value.FreshFrom is null && value.Entities.Length == 1 && value.Entities[0] == entity)
            {
                return;
            }
            if ((state[entity] & Ownership.Owned) != 0 && reporter is not null)
            {
                var info = analysis._entities[entity];
                var fix = state[entity] == Ownership.Owned && assignment.Syntax.Parent is ExpressionStatementSyntax ? SkBuffRules.FixInsertBefore : null;
                reporter.Report(SkBuffRules.Leak, assignment.Syntax.GetLocation(), info.Name, DeclarationOf(info), FixProperties(info.Name, fix),
                    $"SkBuff '{info.Name}'", "it is overwritten here while it may still own a frame");
            }
            if (value.FreshFrom is not null)
            {
                state.Set(entity, Ownership.Owned);
                return;
            }
            foreach (var source in value.Entities)
            {
                if (analysis._entities[source].IsCapture)
                {
                    if ((state[source] & Ownership.Owned) != 0)
                    {
                        state.Set(entity, Ownership.Owned);
                        state.Set(source, Ownership.Unowned);
                        return;
                    }
                    continue;
                }
                // A copy of the handle: the new variable holds the frame, the old one handed it over.
                state.CopyFrom(entity, source);
                if ((state[source] & Ownership.Owned) != 0)
                {
                    state.Set(source, (state[source] & ~Ownership.Owned) | Ownership.Kept);
                }
                return;
            }
            state.Set(entity, Ownership.Unowned);
        }

        private int? TrackedVariable(IOperation target) => target switch
        {
            ILocalReferenceOperation local when analysis._bySymbol.TryGetValue(local.Local, out var entity) => entity,
            IParameterReferenceOperation parameter when analysis._bySymbol.TryGetValue(parameter.Parameter, out var entity) => entity,
            _ => null,
        };

        private void Capture(IFlowCaptureOperation capture)
        {
            if (!analysis.IsSkBuffValued(capture.Value))
            {
                Visit(capture.Value);
                return;
            }
            var value = Evaluate(capture.Value);
            if (value.FreshFrom is not null && analysis._byCapture.TryGetValue(capture.Id, out var entity))
            {
                state.Set(entity, Ownership.Owned);
            }
        }

        private void Sink(Value value, SinkKind kind, IOperation at)
        {
            var consumes = kind is SinkKind.Release or SinkKind.Transfer or SinkKind.Keep;
            if (value.FreshFrom is { } producer && !consumes)
            {
                ReportUnheldFrame(producer);
            }
            foreach (var entity in value.Entities)
            {
                var info = analysis._entities[entity];
                var flags = state[entity];
                if (info.IsCapture)
                {
                    if (!consumes && (flags & Ownership.Owned) != 0)
                    {
                        ReportUnheldFrame(at);
                    }
                    state.Set(entity, Ownership.Unowned);
                    continue;
                }
                switch (kind)
                {
                    case SinkKind.Use:
                        if ((flags & Ownership.Released) != 0)
                        {
                            ReportUseAfterRelease(entity, flags, at);
                        }
                        break;
                    case SinkKind.Keep:
                        if ((flags & Ownership.Released) != 0)
                        {
                            ReportUseAfterRelease(entity, flags, at);
                        }
                        if (info.IsBorrowedParameter && (flags & Ownership.Borrowed) != 0)
                        {
                            ReportBorrowed(entity, at, "stored or returned");
                        }
                        state.Set(entity, Ownership.Kept);
                        break;
                    case SinkKind.Release or SinkKind.Transfer:
                        if ((flags & Ownership.Released) != 0)
                        {
                            ReportDoubleRelease(entity, at, flags == Ownership.Released ? "released" : "released on some path", flags == Ownership.Released);
                        }
                        else if ((flags & Ownership.Kept) != 0)
                        {
                            ReportDoubleRelease(entity, at, "stored, returned or copied to another variable", flags == Ownership.Kept);
                        }
                        if (info.IsBorrowedParameter && (flags & Ownership.Borrowed) != 0)
                        {
                            ReportBorrowed(entity, at, kind == SinkKind.Release ? "released" : "handed to a [TakesOwnership] parameter");
                        }
                        state.SetReleased(entity, at.Syntax);
                        break;
                    case SinkKind.Unknown:
                        state.Set(entity, Ownership.Unowned);
                        break;
                }
            }
        }

        private void ReportUnheldFrame(IOperation producer)
        {
            if (reporter is null)
            {
                return;
            }
            var source = producer is IInvocationOperation invocation ? $"The SkBuff returned by '{invocation.TargetMethod.Name}'" : "This SkBuff";
            reporter.Report(SkBuffRules.Leak, producer.Syntax.GetLocation(), "fresh", null, null, source, "nothing holds the frame after this expression");
        }

        private void ReportUseAfterRelease(int entity, Ownership flags, IOperation at)
        {
            if (reporter is null)
            {
                return;
            }
            var info = analysis._entities[entity];
            reporter.Report(SkBuffRules.UseAfterRelease, at.Syntax.GetLocation(), info.Name, ReleaseSites(state, entity), null,
                info.Name, flags == Ownership.Released ? "" : " on some path");
        }

        private void ReportDoubleRelease(int entity, IOperation at, string earlier, bool onEveryPath)
        {
            if (reporter is null)
            {
                return;
            }
            var info = analysis._entities[entity];
            // Removing the second release is only the obvious fix when the first one happened on every path.
            var statement = at.Syntax.Parent as ExpressionStatementSyntax;
            var fix = onEveryPath && statement is not null && at is IInvocationOperation ? SkBuffRules.FixRemoveRelease : null;
            reporter.Report(SkBuffRules.DoubleRelease, at.Syntax.GetLocation(), info.Name, ReleaseSites(state, entity),
                FixProperties(info.Name, fix), info.Name, earlier);
        }

        private void ReportBorrowed(int entity, IOperation at, string what)
        {
            if (reporter is null)
            {
                return;
            }
            var info = analysis._entities[entity];
            reporter.Report(SkBuffRules.BorrowedReleased, at.Syntax.GetLocation(), info.Name, DeclarationOf(info),
                FixProperties(info.Name, SkBuffRules.FixTakeOwnership), info.Name, what);
        }

        private void ReportDisposeLike(IOperation call)
        {
            if (reporter is null)
            {
                return;
            }
            var name = call is IInvocationOperation invocation ? invocation.TargetMethod.Name : "Dispose";
            var fix = name == "Dispose" && call.Syntax is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax }
                ? SkBuffRules.FixReplaceWithDrop : null;
            var properties = fix is null ? null : ImmutableDictionary<string, string?>.Empty.Add(SkBuffRules.FixProperty, fix);
            reporter.Report(SkBuffRules.DisposeStyleRelease, call.Syntax.GetLocation(), "dispose", null, properties,
                $"'{name}' is called on an SkBuff");
        }
    }
}
