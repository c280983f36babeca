using System.CommandLine;

namespace NetDev.Cli.Commands;

/// <summary>The <c>--json</c> option every command that prints has: the control plane's JSON (docs/control-plane.md) instead of text.</summary>
internal static class JsonOption
{
    public static Option<bool> Create(string what) => new("--json", "-j")
    {
        Description = $"Print {what} as JSON (schema: docs/control-plane.md).",
    };
}
