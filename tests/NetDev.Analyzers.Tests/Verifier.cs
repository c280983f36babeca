using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;
using NetDev.Analyzers.CodeFixes;

namespace NetDev.Analyzers.Tests;

/// <summary>
/// Runs the analyzer (and its fixes) over test sources compiled against this machine's .NET reference
/// assemblies and the real NetDev assembly, so the rules are tested against the API drivers use.
/// </summary>
/// <remarks>
/// The testing library's own reference sets download packages at run time; these tests must run offline,
/// so the references come from the installed SDK's reference pack (or, failing that, from the running
/// runtime's assemblies).
/// </remarks>
internal static class Verifier
{
    /// <summary>Usings every snippet starts with.</summary>
    public const string Usings = """
        using System;
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using NetDev;

        """;

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    /// <summary>Expects exactly the diagnostics marked in <paramref name="source"/> (<c>{|NETDEV001:…|}</c>) and <paramref name="expected"/>.</summary>
    public static Task AnalyzeAsync(string source, params DiagnosticResult[] expected)
    {
        var test = new CSharpAnalyzerTest<SkBuffOwnershipAnalyzer, DefaultVerifier> { TestCode = Usings + source };
        Configure(test.TestState, test);
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>Applies the code fixes to <paramref name="source"/> and expects <paramref name="fixedSource"/>.</summary>
    public static Task FixAsync(string source, string fixedSource, int iterations = 1)
    {
        var test = new CSharpCodeFixTest<SkBuffOwnershipAnalyzer, SkBuffCodeFixProvider, DefaultVerifier>
        {
            TestCode = Usings + source,
            FixedCode = Usings + fixedSource,
            NumberOfFixAllIterations = iterations,
            NumberOfIncrementalIterations = iterations,
        };
        Configure(test.TestState, test);
        Configure(test.FixedState, test);
        return test.RunAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>References for a test that brings whole files of the repository as its sources.</summary>
    public static void ConfigureForProjectSources(AnalyzerTest<DefaultVerifier> test) => Configure(test.TestState, test);

    private static void Configure(SolutionState state, AnalyzerTest<DefaultVerifier> test)
    {
        // An empty package-free set: nothing is resolved or downloaded, everything comes from References.
        test.ReferenceAssemblies = new ReferenceAssemblies("net10.0");
        state.AdditionalReferences.AddRange(References.Value);
    }

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var paths = FrameworkReferencePaths().ToList();
        paths.Add(typeof(SkBuff).Assembly.Location);
        paths.Add(typeof(Microsoft.Extensions.Logging.ILogger).Assembly.Location);
        return [.. paths.Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))];
    }

    private static IEnumerable<string> FrameworkReferencePaths()
    {
        // The runtime lives in <dotnet>/shared/Microsoft.NETCore.App/<version>/; its reference pack in
        // <dotnet>/packs/Microsoft.NETCore.App.Ref/<version>/ref/net<major>.<minor>/.
        var runtimeDirectory = RuntimeEnvironment.GetRuntimeDirectory();
        var dotnetRoot = Path.GetFullPath(Path.Combine(runtimeDirectory, "..", "..", ".."));
        var packs = Path.Combine(dotnetRoot, "packs", "Microsoft.NETCore.App.Ref");
        var framework = $"net{Environment.Version.Major}.{Environment.Version.Minor}";
        if (Directory.Exists(packs))
        {
            var referenceDirectory = Directory.GetDirectories(packs)
                .Select(version => Path.Combine(version, "ref", framework))
                .Where(Directory.Exists)
                .OrderByDescending(path => Version.TryParse(Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(path))), out var v) ? v : new Version())
                .FirstOrDefault();
            if (referenceDirectory is not null)
            {
                return Directory.GetFiles(referenceDirectory, "*.dll");
            }
        }
        var trusted = (string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "";
        return trusted.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(path => Path.GetFileName(path).StartsWith("System.", StringComparison.Ordinal)
                || Path.GetFileName(path) is "mscorlib.dll" or "netstandard.dll");
    }
}
