using System.Text.Json.Serialization;
using NetDev.Cli.Commands;

namespace NetDev.Cli;

/// <summary>The JSON the CLI writes of its own (beyond the control plane's): snake_case, as the protocol's.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(Rates))]
[JsonSerializable(typeof(ReadyLine))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

/// <summary>What <c>netdev run --json</c> prints for each device once every device is up: <c>{"ready":"dummy0"}</c>.</summary>
/// <param name="Ready">The interface name.</param>
internal sealed record ReadyLine(string Ready);
