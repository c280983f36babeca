// Shared by the test projects that need a control socket left by a dead process; linked into each.
using System.Net.Sockets;

namespace NetDev.TestSupport;

/// <summary>Socket files with no listener, as a process killed with SIGKILL leaves them.</summary>
public static class StaleSocket
{
    /// <summary>Leaves a socket file at <paramref name="path"/> that nobody listens on, and returns the path.</summary>
    public static string Make(string path)
    {
        var bound = path + ".bound";
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // Bound but never listening: connecting is refused as it is for a dead process's socket. A listening
            // one would be answered for a moment by a child that another test thread forks meanwhile (it holds
            // a copy of the descriptor until it executes), and look served.
            socket.Bind(new UnixDomainSocketEndPoint(bound));
            // .NET removes the path it bound when the socket is closed (a dying process does not); the socket
            // renamed away from that path stays behind, with nobody listening.
            File.Move(bound, path, overwrite: true);
        }
        return path;
    }
}
