using System.CommandLine.Parsing;

namespace NetDev.Cli;

/// <summary>Checks shared by several commands' options.</summary>
internal static class OptionValidation
{
    /// <summary>Adds an error unless the option's value lies within <paramref name="min"/>..<paramref name="max"/>.</summary>
    public static void RequireRange(OptionResult result, int min, int max)
    {
        // A token that is no number has its own conversion error; reading its value here would throw.
        if (result.Tokens.Count > 0 && !int.TryParse(result.Tokens[^1].Value, out _))
        {
            return;
        }
        var value = result.GetValueOrDefault<int>();
        if (value < min || value > max)
        {
            result.AddError($"{result.IdentifierToken?.Value ?? result.Option.Name} must be between {min} and {max}; got {value}.");
        }
    }

    /// <summary>
    /// The message of an <see cref="ArgumentException"/> a device threw for a bad setting, without the
    /// "(Parameter 'value')" .NET appends: the user named no parameter.
    /// </summary>
    public static string Reason(ArgumentException error) =>
        error.ParamName is null ? error.Message : error.Message.Replace($" (Parameter '{error.ParamName}')", "");
}
