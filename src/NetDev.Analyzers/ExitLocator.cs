using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;

namespace NetDev.Analyzers;

/// <summary>
/// Finds the source position of a control-flow edge, so a diagnostic can point at the <c>return</c>,
/// <c>break</c>, <c>continue</c> or closing brace where a frame leaks.
/// </summary>
/// <remarks>
/// The control-flow graph keeps the syntax of operations but not of jumps (<c>return;</c>, <c>break;</c>
/// and falling off the end all become plain edges), so the jump is recovered from the syntax around the
/// edge's source. When no position is certain the caller falls back to the variable's declaration: the
/// analysis itself never depends on this class, only where its findings are shown.
/// </remarks>
internal static class ExitLocator
{
    /// <summary>
    /// The statement the edge jumps from or to, or a closing brace token when the edge leaves a block at
    /// its end; <c>default</c> when unknown.
    /// </summary>
    public static SyntaxNodeOrToken Find(BasicBlock source, ControlFlowBranch branch, SyntaxNode body)
    {
        var value = source.BranchValue;
        if (value is not null && branch == source.FallThroughSuccessor
            && branch.Semantics is ControlFlowBranchSemantics.Return or ControlFlowBranchSemantics.Throw)
        {
            return JumpOf(value.Syntax);
        }
        if (value is not null && source.ConditionKind != ControlFlowConditionKind.None)
        {
            var conditionHolds = branch == source.ConditionalSuccessor
                ? source.ConditionKind == ControlFlowConditionKind.WhenTrue
                : source.ConditionKind == ControlFlowConditionKind.WhenFalse;
            return AlongCondition(value.Syntax, conditionHolds);
        }
        if (source.Operations.Length > 0
            && source.Operations[source.Operations.Length - 1].Syntax.FirstAncestorOrSelf<StatementSyntax>() is { } last)
        {
            return After(last);
        }
        if (source.Kind == BasicBlockKind.Entry && branch.Destination?.Kind == BasicBlockKind.Exit && BlockOf(body) is { } block)
        {
            // An empty body: the frame leaks where the method ends.
            return block.CloseBraceToken;
        }
        return default;
    }

    private static BlockSyntax? BlockOf(SyntaxNode body) => body switch
    {
        BlockSyntax block => block,
        BaseMethodDeclarationSyntax method => method.Body,
        LocalFunctionStatementSyntax localFunction => localFunction.Body,
        AccessorDeclarationSyntax accessor => accessor.Body,
        AnonymousFunctionExpressionSyntax lambda => lambda.Body as BlockSyntax,
        _ => null,
    };

    /// <summary>The return, throw or expression body that yields <paramref name="value"/>.</summary>
    private static SyntaxNodeOrToken JumpOf(SyntaxNode value)
    {
        for (var node = value; node is not null; node = node.Parent)
        {
            switch (node)
            {
                case ReturnStatementSyntax or ThrowStatementSyntax or ThrowExpressionSyntax or YieldStatementSyntax or ArrowExpressionClauseSyntax:
                    return node;
                case AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax or StatementSyntax:
                    return value;
            }
        }
        return value;
    }

    private static SyntaxNodeOrToken AlongCondition(SyntaxNode condition, bool conditionHolds)
    {
        // The graph may branch on the operand of a '!' and flip the edge instead; climb back to the
        // condition as written, flipping along.
        var node = condition;
        while (node.Parent is ParenthesizedExpressionSyntax or PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.LogicalNotExpression })
        {
            if (node.Parent is PrefixUnaryExpressionSyntax)
            {
                conditionHolds = !conditionHolds;
            }
            node = node.Parent;
        }
        switch (node.Parent)
        {
            case IfStatementSyntax ifStatement when ifStatement.Condition == node:
                return conditionHolds ? Entry(ifStatement.Statement)
                    : ifStatement.Else is { } elseClause ? Entry(elseClause.Statement) : After(ifStatement);
            case WhileStatementSyntax loop when loop.Condition == node:
                return conditionHolds ? Entry(loop.Statement) : After(loop);
            case ForStatementSyntax loop when loop.Condition == node:
                return conditionHolds ? Entry(loop.Statement) : After(loop);
            case DoStatementSyntax loop when loop.Condition == node:
                return conditionHolds ? Entry(loop.Statement) : After(loop);
            case CaseSwitchLabelSyntax { Parent: SwitchSectionSyntax section } when conditionHolds && section.Statements.Count > 0:
                return section.Statements[0];
            case CasePatternSwitchLabelSyntax { Parent: SwitchSectionSyntax section } when conditionHolds && section.Statements.Count > 0:
                return section.Statements[0];
            default:
                // A condition inside an expression ('?.', '??', '&&', '?:'): when its edge leaves the scope,
                // nothing more of the statement runs on that path, so the exit is right after it.
                return node.FirstAncestorOrSelf<StatementSyntax>() is ExpressionStatementSyntax or LocalDeclarationStatementSyntax
                    ? After(node.FirstAncestorOrSelf<StatementSyntax>()!)
                    : default;
        }
    }

    private static SyntaxNodeOrToken Entry(StatementSyntax statement) => statement is BlockSyntax block
        ? block.Statements.Count > 0 ? Entry(block.Statements[0]) : block.CloseBraceToken
        : statement;

    /// <summary>Where control goes after <paramref name="statement"/> completes normally.</summary>
    private static SyntaxNodeOrToken After(StatementSyntax statement)
    {
        switch (statement.Parent)
        {
            case BlockSyntax block:
            {
                var index = block.Statements.IndexOf(statement);
                return index + 1 < block.Statements.Count ? block.Statements[index + 1] : block.CloseBraceToken;
            }
            case SwitchSectionSyntax section:
            {
                var index = section.Statements.IndexOf(statement);
                return index + 1 < section.Statements.Count ? section.Statements[index + 1] : default;
            }
            case IfStatementSyntax ifStatement:
                return After(ifStatement);
            case ElseClauseSyntax { Parent: IfStatementSyntax ifStatement }:
                return After(ifStatement);
            case LabeledStatementSyntax labeled:
                return After(labeled);
            default:
                return default;
        }
    }

    /// <summary>The location to report at: the edge's position, else <paramref name="fallback"/>.</summary>
    public static Location LocationOf(SyntaxNodeOrToken exit, Location fallback) => IsKnown(exit)
        ? exit.GetLocation() ?? fallback
        : fallback;

    /// <summary>Whether <see cref="Find"/> found a position (default means it did not).</summary>
    public static bool IsKnown(SyntaxNodeOrToken exit) => exit.RawKind != 0;

    /// <summary>How a code fix could release a variable at <paramref name="exit"/>, or null if it cannot.</summary>
    public static string? FixFor(SyntaxNodeOrToken exit)
    {
        if (!IsKnown(exit))
        {
            return null;
        }
        if (exit.IsToken && exit.AsToken().IsKind(SyntaxKind.CloseBraceToken) && exit.Parent is BlockSyntax)
        {
            return SkBuffRules.FixAppendToBlock;
        }
        return exit.AsNode() is StatementSyntax ? SkBuffRules.FixInsertBefore : null;
    }
}
