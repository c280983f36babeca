namespace NetDev.Cli;

/// <summary>The process exit codes every command uses.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Success = 0;

    /// <summary>The system refused (no privilege, no such device, …); stderr says why.</summary>
    public const int Failure = 1;

    /// <summary>The command line was wrong; stderr has the error and the usage.</summary>
    public const int Usage = 2;

    /// <summary>
    /// <c>netdev run</c>: a device was removed from outside (<c>ip link del</c>, or <c>ip netns del</c> of its
    /// namespace); stderr says which in one sentence, the others were removed and every device's counters printed.
    /// </summary>
    public const int DeviceLost = 3;

    /// <summary>SIGINT or SIGTERM ended the command early (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
}
