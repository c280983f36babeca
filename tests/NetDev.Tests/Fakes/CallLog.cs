namespace NetDev.Tests.Fakes;

/// <summary>
/// The calls a fake host and a test driver saw, in the order they happened, so a test can assert an
/// order across objects (driver Stop before the link goes away, and so on).
/// </summary>
public sealed class CallLog
{
    private readonly List<string> _entries = [];

    public void Add(string entry)
    {
        lock (_entries)
        {
            _entries.Add(entry);
        }
    }

    public IReadOnlyList<string> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public int Count(string entry) => Entries.Count(e => e == entry);

    /// <summary>The entries that are among <paramref name="wanted"/>, in order: the part of the story a test is about.</summary>
    public IReadOnlyList<string> Only(params string[] wanted) => [.. Entries.Where(wanted.Contains)];
}
