using System.IO.Pipes;
using NetDev.Linux.Loop;

namespace NetDev.Linux.Tests;

/// <summary>
/// The batched writer after a failed <c>io_uring_enter</c>: what the failed batch queued must never be
/// submitted by a later one. The writes go to a pipe, which takes RWF_NOWAIT writes as a TAP does and
/// shows exactly what the kernel was asked to write.
/// </summary>
public sealed class IoUringWriterTests
{
    [Fact]
    public void ABatchWhoseSubmissionFailedLeavesNothingALaterBatchSubmits()
    {
        using var pipe = new AnonymousPipeServerStream(PipeDirection.In);
        var writeFd = (int)pipe.ClientSafePipeHandle.DangerousGetHandle();
        var pool = new SkBuffPool();
        Exception? failure = null;
        var laterOutcome = new DropReason?[1] { DropReason.NotSpecified };

        // The writer belongs to this test's thread (made now, or by an earlier test on it).
        var writer = IoUringWriter.ForCurrentThread(writeFd, "pipe");
        Assert.True(writer is not null, $"batched writes are unavailable: {IoUringWriter.Unavailable?.Message}");
        // The ring has one issuer, the thread that made it: from another thread io_uring_enter fails (EEXIST)
        // with the batch's entries already queued in the ring.
        var failed = Frames(pool, 3, 0xAA);
        OnAnotherThread(() => failure = Record.Exception(() => writer!.Write(writeFd, failed, virtioNetHeader: false, new DropReason?[3])));
        Assert.IsType<NetDevException>(failure);
        // The failed batch's buffers go back to the pool and are used again, as they would be at once.
        foreach (var frame in failed)
        {
            frame.Drop(DropReason.TransmitError);
        }
        var later = Frames(pool, 1, 0xBB);
        writer.Write(writeFd, later, virtioNetHeader: false, laterOutcome);
        var expected = later[0].Data.ToArray();
        later[0].Consume();

        pipe.DisposeLocalCopyOfClientHandle();
        using var written = new MemoryStream();
        pipe.CopyTo(written);
        Assert.Null(laterOutcome[0]);
        // Only the later batch's one frame was written: none of the failed batch's entries went with it.
        Assert.Equal(expected, written.ToArray());
        Assert.True(pool.CheckLeaks().IsClean);
    }

    private static SkBuff[] Frames(SkBuffPool pool, int count, byte fill)
    {
        var frames = new SkBuff[count];
        for (var i = 0; i < count; i++)
        {
            frames[i] = pool.Rent();
            frames[i].Put(60 + i).Fill((byte)(fill + i));
        }
        return frames;
    }

    private static void OnAnotherThread(Action action)
    {
        var thread = new Thread(() => action());
        thread.Start();
        thread.Join();
    }
}
