using System.Runtime.InteropServices;

namespace NetDev.Linux;

internal static partial class Interop
{
    // Syscall numbers: io_uring came after the tables were unified, so they are the same on every architecture.
    private const long SYS_io_uring_setup = 425;
    private const long SYS_io_uring_enter = 426;
    private const long SYS_io_uring_register = 427;

    // linux/io_uring.h: io_uring_params.flags.
    internal const uint IORING_SETUP_CQSIZE = 1U << 3;
    internal const uint IORING_SETUP_SUBMIT_ALL = 1U << 7;
    internal const uint IORING_SETUP_R_DISABLED = 1U << 6;
    internal const uint IORING_SETUP_SINGLE_ISSUER = 1U << 12;
    internal const uint IORING_SETUP_DEFER_TASKRUN = 1U << 13;

    // io_uring_params.features.
    internal const uint IORING_FEAT_SINGLE_MMAP = 1U << 0;
    internal const uint IORING_FEAT_NODROP = 1U << 1;
    internal const uint IORING_FEAT_EXT_ARG = 1U << 8;

    // mmap offsets of the rings and the submission entries.
    internal const long IORING_OFF_SQ_RING = 0;
    internal const long IORING_OFF_CQ_RING = 0x8000000;
    internal const long IORING_OFF_SQES = 0x10000000;

    // io_uring_enter flags.
    internal const uint IORING_ENTER_GETEVENTS = 1U << 0;
    internal const uint IORING_ENTER_EXT_ARG = 1U << 3;

    // io_uring_register opcodes.
    internal const uint IORING_REGISTER_FILES = 2;
    internal const uint IORING_UNREGISTER_FILES = 3;
    internal const uint IORING_REGISTER_PROBE = 8;
    internal const uint IORING_REGISTER_ENABLE_RINGS = 12;
    internal const ushort IO_URING_OP_SUPPORTED = 1;
    internal const uint IORING_REGISTER_PBUF_RING = 22;
    internal const uint IORING_UNREGISTER_PBUF_RING = 23;

    // Opcodes (enum io_uring_op).
    internal const byte IORING_OP_READV = 1;
    internal const byte IORING_OP_ASYNC_CANCEL = 14;
    internal const byte IORING_OP_READ = 22;
    internal const byte IORING_OP_WRITEV = 2;
    internal const byte IORING_OP_WRITE = 23;

    // rw_flags of a read or write entry: fail with EAGAIN rather than wait (uapi/linux/fs.h).
    internal const uint RWF_NOWAIT = 0x00000008;
    internal const byte IORING_OP_READ_MULTISHOT = 49;

    // io_uring_sqe.flags.
    internal const byte IOSQE_FIXED_FILE = 1 << 0;
    internal const byte IOSQE_BUFFER_SELECT = 1 << 5;

    // io_uring_cqe.flags.
    internal const uint IORING_CQE_F_BUFFER = 1U << 0;
    internal const uint IORING_CQE_F_MORE = 1U << 1;
    internal const int IORING_CQE_BUFFER_SHIFT = 16;

    // io_uring_sqe.cancel_flags.
    internal const uint IORING_ASYNC_CANCEL_ALL = 1U << 0;
    internal const uint IORING_ASYNC_CANCEL_ANY = 1U << 2;

    /// <summary><c>struct io_sqring_offsets</c>: where the submission ring's fields lie in its mapping.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoSqRingOffsets
    {
        internal uint Head;
        internal uint Tail;
        internal uint RingMask;
        internal uint RingEntries;
        internal uint Flags;
        internal uint Dropped;
        internal uint Array;
        internal uint Reserved1;
        internal ulong UserAddress;
    }

    /// <summary><c>struct io_cqring_offsets</c>: where the completion ring's fields lie in its mapping.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoCqRingOffsets
    {
        internal uint Head;
        internal uint Tail;
        internal uint RingMask;
        internal uint RingEntries;
        internal uint Overflow;
        internal uint Cqes;
        internal uint Flags;
        internal uint Reserved1;
        internal ulong UserAddress;
    }

    /// <summary><c>struct io_uring_params</c> (120 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoUringParams
    {
        internal uint SqEntries;
        internal uint CqEntries;
        internal uint Flags;
        internal uint SqThreadCpu;
        internal uint SqThreadIdle;
        internal uint Features;
        internal uint WqFd;
        internal fixed uint Reserved[3];
        internal IoSqRingOffsets SqOffsets;
        internal IoCqRingOffsets CqOffsets;
    }

    /// <summary><c>struct io_uring_sqe</c> (64 bytes), with the union members the host uses.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    internal struct IoUringSqe
    {
        [FieldOffset(0)] internal byte Opcode;
        [FieldOffset(1)] internal byte Flags;
        [FieldOffset(2)] internal ushort IoPriority;
        [FieldOffset(4)] internal int Fd;
        [FieldOffset(8)] internal ulong Offset;
        [FieldOffset(16)] internal ulong Address;
        [FieldOffset(24)] internal uint Length;
        [FieldOffset(28)] internal uint OpFlags;
        [FieldOffset(32)] internal ulong UserData;
        [FieldOffset(40)] internal ushort BufferIndex;
        [FieldOffset(40)] internal ushort BufferGroup;
        [FieldOffset(42)] internal ushort Personality;
        [FieldOffset(44)] internal int FileIndex;
        [FieldOffset(48)] internal ulong Address3;
        [FieldOffset(56)] internal ulong Padding2;
    }

    /// <summary><c>struct io_uring_cqe</c> (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoUringCqe
    {
        internal ulong UserData;
        internal int Result;
        internal uint Flags;
    }

    /// <summary><c>struct io_uring_probe</c> (16 bytes), followed by <see cref="OpsLength"/> <see cref="IoUringProbeOp"/>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoUringProbe
    {
        internal byte LastOp;
        internal byte OpsLength;
        internal ushort Reserved;
        internal fixed uint Reserved2[3];
    }

    /// <summary><c>struct io_uring_probe_op</c> (8 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoUringProbeOp
    {
        internal byte Op;
        internal byte Reserved;
        internal ushort Flags;
        internal uint Reserved2;
    }

    /// <summary><c>struct io_uring_buf</c>: one buffer of a provided-buffer ring (16 bytes).</summary>
    /// <remarks>The ring's tail is a 16-bit field overlaid on the first entry's <see cref="Reserved"/>.</remarks>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoUringBuf
    {
        internal ulong Address;
        internal uint Length;
        internal ushort BufferId;
        internal ushort Reserved;
    }

    /// <summary><c>struct io_uring_buf_reg</c>: registers a provided-buffer ring (40 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoUringBufReg
    {
        internal ulong RingAddress;
        internal uint RingEntries;
        internal ushort GroupId;
        internal ushort Flags;
        internal fixed ulong Reserved[3];
    }

    /// <summary><c>struct io_uring_getevents_arg</c>: a wait with a timeout (IORING_ENTER_EXT_ARG).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoUringGetEventsArg
    {
        internal ulong SignalMask;
        internal uint SignalMaskSize;
        internal uint MinWaitMicroseconds;
        internal ulong Timespec;
    }

    /// <summary><c>struct __kernel_timespec</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct KernelTimespec
    {
        internal long Seconds;
        internal long Nanoseconds;
    }

    // glibc has no wrappers for the io_uring calls; syscall(2) is variadic, but only integer arguments pass
    // through it, which every Linux ABI .NET runs on places exactly as for a fixed-argument call.
    [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
    private static partial long SystemCall(long number, nint argument1, nint argument2, nint argument3, nint argument4, nint argument5, nint argument6);

    [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
    private static partial long SystemCall(long number, SafeFileDescriptor fd, nint argument2, nint argument3, nint argument4, nint argument5, nint argument6);

    internal static unsafe int IoUringSetup(uint entries, IoUringParams* parameters) =>
        (int)SystemCall(SYS_io_uring_setup, (nint)entries, (nint)parameters, 0, 0, 0, 0);

    // The ring's user holds one long-lived reference on the ring descriptor from enabling it to closing it
    // (see IoUring), so enter and register take the raw value; only a probe before that takes the handle.
    internal static unsafe int IoUringEnter(int fd, uint toSubmit, uint minComplete, uint flags, void* argument, nuint argumentSize) =>
        (int)SystemCall(SYS_io_uring_enter, fd, (nint)toSubmit, (nint)minComplete, (nint)flags, (nint)argument, (nint)argumentSize);

    internal static unsafe int IoUringRegister(int fd, uint opcode, void* argument, uint count) =>
        (int)SystemCall(SYS_io_uring_register, fd, (nint)opcode, (nint)argument, (nint)count, 0, 0);

    internal static unsafe int IoUringRegister(SafeFileDescriptor fd, uint opcode, void* argument, uint count) =>
        (int)SystemCall(SYS_io_uring_register, fd, (nint)opcode, (nint)argument, (nint)count, 0, 0);
}
