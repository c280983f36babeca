namespace NetDev.Cli;

/// <summary>Rows printed as columns aligned with spaces, a header first, as <c>ip</c> and <c>ss</c> do.</summary>
internal sealed class TextTable(params string[] header)
{
    private readonly List<string[]> _rows = [header];

    /// <summary>Adds a row; it must have one cell per header column.</summary>
    public void Add(params string[] cells)
    {
        if (cells.Length != header.Length)
        {
            throw new ArgumentException($"A row has {header.Length} cells; got {cells.Length}.", nameof(cells));
        }
        _rows.Add(cells);
    }

    /// <summary>
    /// Writes every row after <paramref name="indent"/>, each column as wide as its widest cell, two spaces
    /// apart; numbers (when <paramref name="alignRight"/>) right-aligned, the last column unpadded otherwise.
    /// </summary>
    public void WriteTo(TextWriter output, string indent = "", bool alignRight = false)
    {
        var widths = Enumerable.Range(0, header.Length).Select(column => _rows.Max(row => row[column].Length)).ToArray();
        foreach (var row in _rows)
        {
            var cells = row.Select((cell, column) =>
                alignRight ? cell.PadLeft(widths[column]) : column == row.Length - 1 ? cell : cell.PadRight(widths[column]));
            output.WriteLine(indent + string.Join("  ", cells).TrimEnd());
        }
    }
}
