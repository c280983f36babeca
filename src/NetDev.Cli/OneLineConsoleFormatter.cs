using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace NetDev.Cli;

/// <summary>
/// The CLI's log lines on stderr: one line per entry, <c>HH:mm:ss.fff level: category[event] message</c>.
/// A <see cref="NetDevException"/> is an expected condition whose message already says everything (the
/// system refused, a device went away), so it never brings a stack trace with it; any other exception is
/// a bug, and its stack trace follows on the same line.
/// </summary>
/// <remarks>A device deleted from outside (ENODEV, logged as an error or as the device degrading) is not logged at all: the runner says so
/// in one sentence of its own (see <see cref="DeviceRunner"/>), whichever of the device's threads noticed first.</remarks>
internal sealed class OneLineConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    /// <summary>The name the console logger is told to use.</summary>
    public const string FormatterName = "netdev";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var exception = logEntry.Exception;
        if (logEntry.LogLevel >= LogLevel.Warning && DeviceRunner.IsDeviceLost(exception))
        {
            return;
        }
        var message = logEntry.Formatter(logEntry.State, exception);
        textWriter.Write($"{DateTime.Now:HH:mm:ss.fff} {Level(logEntry.LogLevel)}: {logEntry.Category}[{logEntry.EventId.Id}] {message}");
        if (exception is not null and not NetDevException)
        {
            textWriter.Write(' ');
            textWriter.Write(exception.ToString().ReplaceLineEndings(" "));
        }
        textWriter.WriteLine();
    }

    private static string Level(LogLevel level) => level switch
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
