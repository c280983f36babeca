using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using NetDev.Hosting;

namespace NetDev.Cli;

/// <summary>
/// The CLI's log lines on stderr: <see cref="NetDevConsoleFormatter"/>'s, one line per entry, with syslog
/// priorities when the output goes to the journal, and no stack trace for a <see cref="NetDevException"/>.
/// </summary>
/// <remarks>A device deleted from outside (ENODEV, logged as an error or as the device degrading) is not logged at all: the runner says so
/// in one sentence of its own (see <see cref="DeviceRunner"/>), whichever of the device's threads noticed first.</remarks>
internal sealed class OneLineConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    /// <summary>The name the console logger is told to use.</summary>
    public const string FormatterName = "netdev-cli";

    private readonly bool _journal = Environment.GetEnvironmentVariable(NetDevConsoleFormatter.JournalStreamVariable) is { Length: > 0 };

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var exception = logEntry.Exception;
        if (logEntry.LogLevel >= LogLevel.Warning && DeviceRunner.IsDeviceLost(exception))
        {
            return;
        }
        NetDevConsoleFormatter.WriteLine(textWriter, logEntry.LogLevel, logEntry.Category, logEntry.EventId,
            logEntry.Formatter(logEntry.State, exception), exception, _journal);
    }
}
