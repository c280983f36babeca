using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Simplification;

namespace NetDev.Analyzers.CodeFixes;

/// <summary>
/// The obvious repairs of SkBuff rule violations: drop a leaking frame where it leaks, return Ok after a
/// release, remove a second release, mark a parameter [TakesOwnership], replace Dispose with Drop.
/// </summary>
/// <remarks>
/// The analyzer decides whether a fix is obvious and says which in the diagnostic's properties (a drop is
/// only offered where the frame is owned on every path reaching the exit, since elsewhere it would turn a
/// leak into a double release); this provider only edits syntax.
/// </remarks>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(SkBuffCodeFixProvider)), Shared]
public sealed class SkBuffCodeFixProvider : CodeFixProvider
{
    private const string DropReasonNotSpecified = "global::NetDev.DropReason.NotSpecified";

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(
        SkBuffRules.Leak.Id,
        SkBuffRules.DoubleRelease.Id,
        SkBuffRules.StartXmitOkLeak.Id,
        SkBuffRules.StartXmitBusyAfterRelease.Id,
        SkBuffRules.DisposeStyleRelease.Id,
        SkBuffRules.BorrowedReleased.Id);

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return;
        }
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(SkBuffRules.FixProperty, out var fix) || fix is null)
            {
                continue;
            }
            diagnostic.Properties.TryGetValue(SkBuffRules.VariableProperty, out var variable);
            var action = Create(context.Document, root, diagnostic, fix, variable);
            if (action is not null)
            {
                context.RegisterCodeFix(action, diagnostic);
            }
        }
    }

    private static CodeAction? Create(Document document, SyntaxNode root, Diagnostic diagnostic, string fix, string? variable)
    {
        var span = diagnostic.Location.SourceSpan;
        switch (fix)
        {
            case SkBuffRules.FixInsertBefore when variable is not null
                && root.FindNode(span).FirstAncestorOrSelf<StatementSyntax>() is { } statement:
                return Action($"Drop '{variable}' here (DropReason.NotSpecified)", fix,
                    _ => Task.FromResult(document.WithSyntaxRoot(InsertBefore(root, statement, DropStatement(variable)))));
            case SkBuffRules.FixAppendToBlock when variable is not null
                && root.FindToken(span.Start).Parent is BlockSyntax block:
                return Action($"Drop '{variable}' at the end of the block (DropReason.NotSpecified)", fix,
                    _ => Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(block, block.AddStatements(DropStatement(variable))))));
            case SkBuffRules.FixRemoveRelease when root.FindNode(span).FirstAncestorOrSelf<ExpressionStatementSyntax>() is { } release
                && release.Parent is BlockSyntax or SwitchSectionSyntax:
                return Action("Remove the second release", fix,
                    _ => Task.FromResult(document.WithSyntaxRoot(root.RemoveNode(release, SyntaxRemoveOptions.KeepNoTrivia)!)));
            case SkBuffRules.FixReturnOk when ReturnedExpression(root.FindNode(span)) is { } returned:
                return Action("Return TxResult.Ok: the frame was released", fix,
                    _ => Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(returned, Qualified("global::NetDev.TxResult.Ok").WithTriviaFrom(returned)))));
            case SkBuffRules.FixReplaceWithDrop when root.FindNode(span) is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax access } call:
                return Action("Release with Drop(DropReason.NotSpecified)", fix,
                    _ => Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(call, DropCall(access.Expression).WithTriviaFrom(call)))));
            case SkBuffRules.FixTakeOwnership when variable is not null:
                return Action($"Mark parameter '{variable}' [TakesOwnership]", fix,
                    _ => Task.FromResult(AddTakesOwnership(document, root, span, variable)));
            default:
                return null;
        }
    }

    private static CodeAction Action(string title, string equivalenceKey, System.Func<CancellationToken, Task<Document>> change) =>
        CodeAction.Create(title, change, equivalenceKey);

    private static StatementSyntax DropStatement(string variable) =>
        SyntaxFactory.ExpressionStatement(DropCall(SyntaxFactory.IdentifierName(variable)))
            .WithAdditionalAnnotations(Formatter.Annotation);

    private static InvocationExpressionSyntax DropCall(ExpressionSyntax receiver) =>
        SyntaxFactory.InvocationExpression(
            SyntaxFactory.MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, receiver.WithoutTrivia(), SyntaxFactory.IdentifierName("Drop")),
            SyntaxFactory.ArgumentList(SyntaxFactory.SingletonSeparatedList(SyntaxFactory.Argument(Qualified(DropReasonNotSpecified)))));

    private static ExpressionSyntax Qualified(string name) =>
        SyntaxFactory.ParseExpression(name).WithAdditionalAnnotations(Simplifier.Annotation);

    /// <summary>Puts <paramref name="added"/> right before <paramref name="statement"/>, making a block if the statement is embedded.</summary>
    private static SyntaxNode InsertBefore(SyntaxNode root, StatementSyntax statement, StatementSyntax added)
    {
        if (statement.Parent is BlockSyntax or SwitchSectionSyntax)
        {
            return root.InsertNodesBefore(statement, [added]);
        }
        var block = SyntaxFactory.Block(added, statement.WithoutTrivia())
            .WithTriviaFrom(statement)
            .WithAdditionalAnnotations(Formatter.Annotation);
        return root.ReplaceNode(statement, block);
    }

    private static ExpressionSyntax? ReturnedExpression(SyntaxNode node) => node switch
    {
        ReturnStatementSyntax { Expression: { } expression } => expression,
        ArrowExpressionClauseSyntax arrow => arrow.Expression,
        _ => node.FirstAncestorOrSelf<ReturnStatementSyntax>()?.Expression,
    };

    private static Document AddTakesOwnership(Document document, SyntaxNode root, Microsoft.CodeAnalysis.Text.TextSpan span, string name)
    {
        var node = root.FindNode(span);
        var parameter = node.AncestorsAndSelf()
            .Select(ancestor => ancestor switch
            {
                BaseMethodDeclarationSyntax method => method.ParameterList.Parameters,
                LocalFunctionStatementSyntax localFunction => localFunction.ParameterList.Parameters,
                ParenthesizedLambdaExpressionSyntax lambda => lambda.ParameterList.Parameters,
                _ => default(SeparatedSyntaxList<ParameterSyntax>?),
            })
            .Where(list => list is not null)
            .SelectMany(list => list!.Value)
            .FirstOrDefault(p => p.Identifier.ValueText == name);
        if (parameter is null)
        {
            return document;
        }
        var attribute = SyntaxFactory.Attribute((NameSyntax)SyntaxFactory.ParseName("global::NetDev.TakesOwnership").WithAdditionalAnnotations(Simplifier.Annotation));
        var updated = parameter.AddAttributeLists(SyntaxFactory.AttributeList(SyntaxFactory.SingletonSeparatedList(attribute)))
            .WithAdditionalAnnotations(Formatter.Annotation);
        return document.WithSyntaxRoot(root.ReplaceNode(parameter, updated));
    }
}
