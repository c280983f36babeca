using NetDev.Linux.Netlink;

namespace NetDev.Fuzz;

/// <summary>
/// The rtnetlink parser on arbitrary receive buffers, as the link monitor and the request path read them:
/// split into messages, link messages parsed into the state the core compares, error messages read.
/// </summary>
internal static class RtnetlinkTarget
{
    /// <summary>Input: what one <c>recv</c> on an rtnetlink socket returned.</summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        var buffer = new FuzzInput(input).Rest;
        var consumed = 0;
        // The monitor's path: the link messages of a notification buffer.
        RtNetlinkSocket.ParseNotifications(buffer, []);
        // The request path's: every message, errors included.
        foreach (var message in RtNetlinkSocket.Split(buffer))
        {
            FuzzFailure.Check(message.Payload.Length + Rtnl.NlMsgHeaderLength <= buffer.Length - consumed, "rtnetlink: a message reaches past the buffer");
            consumed += Rtnl.Align(message.Payload.Length + Rtnl.NlMsgHeaderLength);
            switch (message.Type)
            {
                case Rtnl.RTM_NEWLINK or Rtnl.RTM_DELLINK:
                    var link = LinkMessage.Parse(message.Payload);
                    FuzzFailure.Check(link is not null || message.Payload.Length < Rtnl.IfInfoMsgLength, "rtnetlink: a whole link message was not parsed");
                    _ = link?.ToLinkState();
                    break;
                case Rtnl.NLMSG_ERROR:
                    try
                    {
                        RtNetlinkSocket.ThrowIfError(message.Payload, "RTM_NEWLINK", "fuzz0");
                    }
                    catch (NetDevException)
                    {
                        // The kernel's refusal, as the request path reports it.
                    }
                    break;
            }
        }
    }
}
