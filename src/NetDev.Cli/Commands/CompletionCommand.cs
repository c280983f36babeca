using System.CommandLine;

namespace NetDev.Cli.Commands;

/// <summary>
/// Shell completion without dotnet-suggest: <c>netdev completion bash</c> prints a bash script (source it, or put it
/// in <c>/etc/bash_completion.d/netdev</c>) whose function asks <c>netdev complete</c> — hidden — for the words that
/// may come at the cursor: System.CommandLine's own completions of commands, options and the running devices' names.
/// </summary>
internal static class CompletionCommand
{
    private const string BashScript = """
        # bash completion for netdev: source this file, or install it as /etc/bash_completion.d/netdev
        _netdev_complete() {
            local IFS=$'\n'
            COMPREPLY=($(compgen -W "$(netdev complete --position "$COMP_POINT" -- "$COMP_LINE" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
        }
        complete -o default -F _netdev_complete netdev
        """;

    public static Command Create()
    {
        var shell = new Argument<string>("SHELL") { Description = "The shell: bash." };
        shell.AcceptOnlyFromAmong("bash");
        var command = new Command("completion", "Print the shell completion script for netdev (bash): source it, or install it in /etc/bash_completion.d.")
        {
            shell,
        };
        command.SetAction(_ =>
        {
            Console.Out.WriteLine(BashScript);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The hidden <c>netdev complete --position N -- LINE</c> the script calls: one completion per line.</summary>
    public static Command CreateComplete(Command root)
    {
        var position = new Option<int?>("--position") { Description = "The cursor's offset in LINE." };
        var line = new Argument<string>("LINE") { Description = "The command line typed so far, program name first." };
        var command = new Command("complete", "Print the completions at a position of a netdev command line.")
        {
            Hidden = true,
        };
        command.Options.Add(position);
        command.Arguments.Add(line);
        command.SetAction(parseResult =>
        {
            var text = parseResult.GetValue(line) ?? "";
            var cursor = Math.Clamp(parseResult.GetValue(position) ?? text.Length, 0, text.Length);
            text = text[..cursor];
            // The program's name is the first word; the parser is given what follows it.
            var firstSpace = text.IndexOf(' ');
            var arguments = firstSpace < 0 ? "" : text[(firstSpace + 1)..];
            foreach (var completion in root.Parse(arguments).GetCompletions(arguments.Length))
            {
                Console.Out.WriteLine(completion.InsertText ?? completion.Label);
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
