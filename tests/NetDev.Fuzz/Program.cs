using SharpFuzz;

namespace NetDev.Fuzz;

/// <summary>
/// <c>NetDev.Fuzz TARGET</c> runs one target on standard input under afl-fuzz (SharpFuzz's fork server;
/// outside afl-fuzz, once); <c>NetDev.Fuzz TARGET PATH...</c> replays files or folders of inputs and says
/// which input fails and how; <c>NetDev.Fuzz list</c> names the targets.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["list"])
        {
            foreach (var (name, _) in FuzzTargets.All)
            {
                Console.WriteLine(name);
            }
            return 0;
        }
        if (args.Length == 0 || FuzzTargets.Find(args[0]) is not { } target)
        {
            Console.Error.WriteLine($"usage: NetDev.Fuzz TARGET [PATH...] | list; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
            return 2;
        }
        if (args.Length == 1)
        {
            // Each input is read whole: the targets parse a span, as the code they test does.
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var input = new MemoryStream();
                stream.CopyTo(input);
                target(input.GetBuffer().AsSpan(0, (int)input.Length));
            });
            return 0;
        }
        return Replay(args[0], target, args[1..]);
    }

    private static int Replay(string name, FuzzTarget target, string[] paths)
    {
        var files = paths.SelectMany(path => Directory.Exists(path) ? Directory.GetFiles(path).Order(StringComparer.Ordinal) : (IEnumerable<string>)[path]).ToArray();
        foreach (var file in files)
        {
            try
            {
                target(File.ReadAllBytes(file));
            }
            catch (Exception error)
            {
                Console.Error.WriteLine($"{name}: {file} fails: {error}");
                return 1;
            }
        }
        Console.WriteLine($"{name}: {files.Length} inputs, no failure");
        return 0;
    }
}
