using System.Net.Sockets;
using System.Text;

namespace NetDev.Control.Tests;

/// <summary>
/// The control plane under abuse: clients that never send, clients that never read, endpoints that answer
/// a byte at a time or refuse before the request. Nobody holds the endpoint for long, and the client always
/// ends with the server's reason or its own timeout.
/// </summary>
public sealed class ControlAbuseTests : ControlTest
{
    [Fact]
    public void SilentClientsAreClosedAndTheEndpointServesAgain()
    {
        using var dummy = RegisterDummy("ndtab0");
        var endpoint = ControlDirectory.List(RunDir.Path).Single();
        var silent = Enumerable.Range(0, ControlListener.MaxConnections).Select(_ => ConnectRaw(endpoint)).ToList();
        try
        {
            // Each of the eight hears the end of its connection, unasked: none of them ever sends a byte.
            foreach (var socket in silent)
            {
                socket.ReceiveTimeout = HangBound;
                Assert.Equal(0, socket.Receive(new byte[64]));
            }

            Wait.Until(() => TryInfo(endpoint), "the endpoint serves a client once the silent ones are gone");
        }
        finally
        {
            silent.ForEach(socket => socket.Dispose());
        }
    }

    [Fact]
    public void AClientThatNeverReadsIsClosed()
    {
        using var dummy = RegisterDummy("ndtab0");
        var endpoint = ControlDirectory.List(RunDir.Path).Single();
        using var greedy = ConnectRaw(endpoint);
        greedy.Blocking = false;
        var requests = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"request\": \"statistics\"}\n", 150)));

        // Ask until nothing more fits: the server's answers fill its side, then it stops reading, then ours fills.
        Wait.Until(() => TrySend(greedy, requests) == SocketError.WouldBlock, "the client's requests no longer fit");

        // Until the server gives up writing, a send finds no room; afterwards the connection is gone.
        Wait.Until(() => TrySend(greedy, "\n"u8.ToArray()) is SocketError.Shutdown or SocketError.ConnectionReset,
            "the server closed the connection of a client that never reads", seconds: 60);
        Wait.Until(() => TryInfo(endpoint), "the endpoint serves others meanwhile and after");
    }

    [Fact]
    public async Task AnEndpointThatDripsItsAnswerDoesNotHoldTheClient()
    {
        var endpoint = ControlEndpoint.For(RunDir.Path, "ndtdrip", null);
        using var listener = ListenRaw(endpoint);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var drip = Task.Run(async () =>
        {
            using var served = await listener.AcceptAsync(stop.Token);
            // A byte at a time, never a newline: each read gets something, the answer never ends.
            while (!stop.IsCancellationRequested)
            {
                await served.SendAsync("{"u8.ToArray(), stop.Token);
                await Task.Delay(50, stop.Token);
            }
        }, stop.Token);
        try
        {
            using var client = ControlClient.Connect(endpoint, TimeSpan.FromSeconds(1));

            // Bounded only so that a hang fails this test instead of the run; how long it takes is not asserted.
            var failure = await Assert.ThrowsAsync<ControlException>(() => Task.Run(client.GetInfo, stop.Token).WaitAsync(TimeSpan.FromSeconds(HangBound / 1000), stop.Token));
            Assert.Contains("did not answer within 1 s", failure.Message);
        }
        finally
        {
            stop.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => drip);
        }
    }

    [Fact]
    public void TheServersReasonIsReadEvenWhenItClosedBeforeTheRequest()
    {
        var endpoint = ControlEndpoint.For(RunDir.Path, "ndtfull", null);
        using var listener = ListenRaw(endpoint);
        using var client = ControlClient.Connect(endpoint);
        // As an endpoint serving all the clients it may does: it says why and closes, before the request comes.
        using (var refused = listener.Accept())
        {
            refused.Send(ControlResponder.Error("the endpoint serves 8 clients at once; try again"));
        }

        var failure = Assert.Throws<ControlException>(() => client.GetInfo());

        Assert.Equal("ndtfull: the endpoint serves 8 clients at once; try again", failure.Message);
    }

    /// <summary>How long a read may wait before the test counts it as a hang (milliseconds).</summary>
    private const int HangBound = 60_000;

    private static Socket ConnectRaw(ControlEndpoint endpoint)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(endpoint.Path));
        return socket;
    }

    private static Socket ListenRaw(ControlEndpoint endpoint)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(endpoint.Path));
        socket.Listen();
        return socket;
    }

    private static SocketError TrySend(Socket socket, byte[] data)
    {
        try
        {
            socket.Send(data);
            return SocketError.Success;
        }
        catch (SocketException error)
        {
            return error.SocketErrorCode;
        }
    }
}
