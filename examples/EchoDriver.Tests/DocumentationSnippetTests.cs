namespace NetDev.Examples.Echo.Tests;

/// <summary>
/// The code in docs/first-driver.md and the README's complete driver is code of examples/, which CI builds:
/// each C# block must appear, line for line (indentation aside), in a source file there.
/// </summary>
public sealed class DocumentationSnippetTests
{
    private static readonly string Root = FindRoot();

    public static TheoryData<string> Documents => ["docs/first-driver.md", "README.md"];

    [Theory]
    [MemberData(nameof(Documents))]
    public void EveryCSharpBlockIsCodeOfTheExamples(string document)
    {
        var sources = Directory.EnumerateFiles(Path.Combine(Root, "examples"), "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(path => (Path: path, Lines: Normalise(File.ReadAllText(path))))
            .ToList();
        var blocks = CSharpBlocks(File.ReadAllText(Path.Combine(Root, document))).ToList();

        Assert.NotEmpty(blocks);
        foreach (var block in blocks)
        {
            var lines = Normalise(block);
            Assert.True(sources.Any(source => Contains(source.Lines, lines)),
                $"This block of {document} is not in any file of examples/:{Environment.NewLine}{block}");
        }
    }

    private static IEnumerable<string> CSharpBlocks(string markdown)
    {
        const string Fence = "```";
        var at = 0;
        while ((at = markdown.IndexOf(Fence + "csharp\n", at, StringComparison.Ordinal)) >= 0)
        {
            var start = at + Fence.Length + "csharp\n".Length;
            var end = markdown.IndexOf("\n" + Fence, start, StringComparison.Ordinal);
            yield return markdown[start..end];
            at = end;
        }
    }

    // Indentation aside, and without a block's closing "// …" that marks where the file goes on.
    private static string[] Normalise(string code) =>
        [.. code.Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0 && line != "// …")];

    private static bool Contains(string[] file, string[] block)
    {
        for (var i = 0; i + block.Length <= file.Length; i++)
        {
            if (file.AsSpan(i, block.Length).SequenceEqual(block))
            {
                return true;
            }
        }
        return false;
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NetDev.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"No NetDev.slnx above {AppContext.BaseDirectory}.");
    }
}
