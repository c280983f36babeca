using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace NetDev.Cli;

/// <summary>Options every command accepts, and what they set up.</summary>
internal static class GlobalOptions
{
    /// <summary><c>--verbose</c>: log the framework's progress, not only its warnings and errors.</summary>
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Log what the devices do (to stderr), not only warnings and errors.",
        Recursive = true,
    };

    /// <summary>
    /// A logger factory writing to stderr only, so that stdout carries nothing but the command's own
    /// lines (scripts and tests read it), one line per entry (<see cref="OneLineConsoleFormatter"/>).
    /// Dispose it to flush the queued messages.
    /// </summary>
    /// <remarks>The formatter is registered as a plain service rather than with <c>AddConsoleFormatter</c>,
    /// which also binds its options from configuration by reflection: the CLI has no configuration, and the
    /// reflection would keep the tool from being compiled ahead of time.</remarks>
    public static ILoggerFactory CreateLoggerFactory(ParseResult parseResult)
    {
        var level = parseResult.GetValue(Verbose) ? LogLevel.Debug : LogLevel.Warning;
        return LoggerFactory.Create(logging => logging
            .SetMinimumLevel(level)
            .AddConsole(console =>
            {
                console.LogToStandardErrorThreshold = LogLevel.Trace;
                console.FormatterName = OneLineConsoleFormatter.FormatterName;
            })
            .Services.TryAddEnumerable(ServiceDescriptor.Singleton<ConsoleFormatter, OneLineConsoleFormatter>()));
    }
}
