using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace NetDev.Hosting;

/// <summary>
/// NetDev's console log lines, one per entry. On a terminal: <c>HH:mm:ss.fff info: category[event] message</c>.
/// Under systemd with the output going to the journal (<c>JOURNAL_STREAM</c> set): <c>&lt;6&gt;category[event] message</c>,
/// the syslog priority prefix journald turns into the entry's priority (so <c>journalctl -p warning</c> works),
/// without a timestamp of its own, since journald stamps each line.
/// </summary>
/// <remarks>A <see cref="NetDevException"/> is an expected condition whose message says everything (the system
/// refused, a device went away), so only its message follows, never a stack trace; any other exception is a bug,
/// and its stack trace follows on the same line.</remarks>
public sealed class NetDevConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    /// <summary>The name the console logger is told to use.</summary>
    public const string FormatterName = "netdev";

    /// <summary>The environment variable systemd sets when standard output or error goes to the journal.</summary>
    public const string JournalStreamVariable = "JOURNAL_STREAM";

    private readonly bool _journal = Environment.GetEnvironmentVariable(JournalStreamVariable) is { Length: > 0 };

    /// <inheritdoc/>
    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter) =>
        WriteLine(textWriter, logEntry.LogLevel, logEntry.Category, logEntry.EventId, logEntry.Formatter(logEntry.State, logEntry.Exception),
            logEntry.Exception, _journal);

    /// <summary>Writes one entry as one line, for the journal (<paramref name="journal"/>) or a terminal.</summary>
    public static void WriteLine(TextWriter writer, LogLevel level, string category, EventId eventId, string message, Exception? exception, bool journal)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(journal ? $"<{SyslogPriority(level)}>" : $"{DateTime.Now:HH:mm:ss.fff} {Abbreviation(level)}: ");
        writer.Write($"{category}[{eventId.Id}] {message.ReplaceLineEndings(" ")}");
        switch (exception)
        {
            case null:
                break;
            case NetDevException expected when !message.Contains(expected.Message, StringComparison.Ordinal):
                writer.Write($": {expected.Message}");
                break;
            case NetDevException:
                break;
            default:
                writer.Write(' ');
                writer.Write(exception.ToString().ReplaceLineEndings(" "));
                break;
        }
        writer.WriteLine();
    }

    /// <summary>syslog's priority for a log level (sd-daemon.h: 3 error, 4 warning, 6 info, 7 debug).</summary>
    private static int SyslogPriority(LogLevel level) => level switch
    {
        LogLevel.Critical => 2,
        LogLevel.Error => 3,
        LogLevel.Warning => 4,
        LogLevel.Information => 6,
        _ => 7,
    };

    private static string Abbreviation(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}

/// <summary>Adds <see cref="NetDevConsoleFormatter"/> to a logging set-up.</summary>
public static class NetDevConsoleLoggingExtensions
{
    /// <summary>
    /// Logs to the console (standard error) in <see cref="NetDevConsoleFormatter"/>'s lines, which journald
    /// reads well under systemd; replaces the console's other formatters.
    /// </summary>
    public static ILoggingBuilder AddNetDevConsole(this ILoggingBuilder logging)
    {
        ArgumentNullException.ThrowIfNull(logging);
        return logging.AddConsole(console =>
            {
                console.LogToStandardErrorThreshold = LogLevel.Trace;
                console.FormatterName = NetDevConsoleFormatter.FormatterName;
            })
            .AddConsoleFormatter<NetDevConsoleFormatter, ConsoleFormatterOptions>();
    }
}
