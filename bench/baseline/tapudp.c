/*
 * Reference of the tunnel figures: about the least user-space work a tunnel made of a TAP and a UDP socket
 * can do, to show how close to the kernel's VXLAN such a design comes on this machine. One process per end,
 * one thread per direction:
 *
 *   TAP -> UDP  reads a frame as the kernel hands it over (virtio_net_hdr and a GSO frame of up to 64 KiB),
 *               cuts it into chunks that fit the underlay, each behind an 8-byte header (frame number, chunk
 *               index, chunk count), and sends them with one sendmsg per 40 chunks (UDP_SEGMENT), the chunks
 *               pointing into the frame: no copy, no checksum, no segmentation in user space.
 *   UDP -> TAP  receives many datagrams per call (UDP_GRO) and writes each whole frame, virtio_net_hdr and
 *               all, to the TAP with one writev over the chunks where they were received: no copy either.
 *
 * It is not a usable tunnel: one lost datagram loses the whole 64 KiB frame, nothing is checked, and the
 * chunks mean nothing to any other implementation. NetDev's tunnel instead sends every TCP segment as an
 * Ethernet frame of its own (as VXLAN and WireGuard do), which costs it the segmentation, the checksums and
 * the coalescing this program leaves out.
 *
 *   tapudp --netns NS --name IF --local ADDR --remote ADDR --port PORT
 *
 * Prints "ready" once the TAP and the socket exist, then relays until it is killed.
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

enum {
    DATAGRAM = 1472,                      /* a 1500-byte underlay less IPv4 and UDP headers */
    HEADER = 8,
    CHUNK = DATAGRAM - HEADER,
    CHUNKS_PER_SEND = 40,                 /* 40 x 1472 bytes stay under IPv4's 64 KiB datagram limit */
    MAX_CHUNKS = (65536 + 256) / CHUNK + 1,
    RECEIVE_BUFFERS = 8,                  /* a frame spans at most 2 receives; older chunks are given up */
    BUFFER_SIZE = 65536,
};

struct chunk_header {
    uint32_t frame;
    uint16_t index;
    uint16_t count;
};

static int tap;
static int udp;

static void *tap_to_udp(void *unused)
{
    (void)unused;
    static unsigned char frame[65536 + 256];
    struct chunk_header headers[MAX_CHUNKS];
    struct iovec vectors[2 * MAX_CHUNKS];
    char control[CMSG_SPACE(sizeof(uint16_t))];
    uint32_t number = 0;
    for (;;) {
        ssize_t length = read(tap, frame, sizeof frame);
        if (length < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("read");
        }
        int count = (int)((length + CHUNK - 1) / CHUNK);
        for (int i = 0; i < count; i++) {
            headers[i] = (struct chunk_header){number, (uint16_t)i, (uint16_t)count};
            size_t offset = (size_t)i * CHUNK;
            vectors[2 * i] = (struct iovec){&headers[i], HEADER};
            vectors[2 * i + 1] = (struct iovec){frame + offset, (size_t)length - offset < CHUNK ? (size_t)length - offset : CHUNK};
        }
        number++;
        for (int first = 0; first < count; first += CHUNKS_PER_SEND) {
            int chunks = count - first < CHUNKS_PER_SEND ? count - first : CHUNKS_PER_SEND;
            struct msghdr message = {.msg_iov = &vectors[2 * first], .msg_iovlen = (size_t)(2 * chunks)};
            if (chunks > 1) {
                message.msg_control = control;
                message.msg_controllen = sizeof control;
                struct cmsghdr *header = CMSG_FIRSTHDR(&message);
                header->cmsg_level = SOL_UDP;
                header->cmsg_type = UDP_SEGMENT;
                header->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                uint16_t size = DATAGRAM;
                memcpy(CMSG_DATA(header), &size, sizeof size);
            }
            /* Like a cable, lose what cannot be sent (the peer not there yet: ECONNREFUSED) and go on. */
            if (sendmsg(udp, &message, 0) < 0 && errno != ECONNREFUSED && errno != EINTR && errno != ENOBUFS) {
                die("sendmsg");
            }
        }
    }
    return NULL;
}

/* The frame being put together from its chunks, as vectors into the receive buffers. */
struct assembly {
    int active;
    uint32_t frame;
    int count;
    int received;
    long first_receive; /* the receive whose buffer holds chunk 0 */
    struct iovec vectors[MAX_CHUNKS];
};

static void take_chunk(struct assembly *assembly, unsigned char *datagram, size_t length, long receive)
{
    if (length <= HEADER) {
        return;
    }
    struct chunk_header header;
    memcpy(&header, datagram, HEADER);
    if (header.index == 0) {
        /* A new frame; whatever was still missing chunks is lost, as a cut-off IP fragment train is. */
        *assembly = (struct assembly){.active = 1, .frame = header.frame, .count = header.count, .first_receive = receive};
    } else if (!assembly->active || header.frame != assembly->frame || header.index != assembly->received) {
        assembly->active = 0;
        return;
    }
    if (header.count > MAX_CHUNKS || header.count != assembly->count) {
        assembly->active = 0;
        return;
    }
    assembly->vectors[assembly->received++] = (struct iovec){datagram + HEADER, length - HEADER};
    if (assembly->received == assembly->count) {
        if (writev(tap, assembly->vectors, assembly->count) < 0 && errno != EIO && errno != EAGAIN && errno != EINVAL) {
            die("writev");
        }
        assembly->active = 0;
    }
}

static void *udp_to_tap(void *unused)
{
    (void)unused;
    static unsigned char buffers[RECEIVE_BUFFERS][BUFFER_SIZE];
    static struct assembly assembly;
    char control[CMSG_SPACE(sizeof(int))];
    for (long receive = 0;; receive++) {
        if (assembly.active && receive - assembly.first_receive >= RECEIVE_BUFFERS) {
            assembly.active = 0; /* its first chunks' buffer is about to be overwritten */
        }
        unsigned char *buffer = buffers[receive % RECEIVE_BUFFERS];
        struct iovec vector = {buffer, BUFFER_SIZE};
        struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        ssize_t length = recvmsg(udp, &message, 0);
        if (length < 0) {
            if (errno == EINTR || errno == ECONNREFUSED) {
                continue;
            }
            die("recvmsg");
        }
        size_t segment = (size_t)length;
        for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
            if (header->cmsg_level == SOL_UDP && header->cmsg_type == UDP_GRO) {
                int size;
                memcpy(&size, CMSG_DATA(header), sizeof size);
                segment = (size_t)size;
            }
        }
        for (size_t offset = 0; offset < (size_t)length; offset += segment) {
            size_t remaining = (size_t)length - offset;
            take_chunk(&assembly, buffer + offset, remaining < segment ? remaining : segment, receive);
        }
    }
    return NULL;
}

static struct sockaddr_in address(const char *text, int port)
{
    struct sockaddr_in result = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, text, &result.sin_addr) != 1) {
        errno = 0;
        die("not an IPv4 address: %s", text);
    }
    return result;
}

int main(int argc, char **argv)
{
    program_name = "tapudp";
    die_with_parent();
    const char *name = option(argc, argv, "--name", NULL);
    int port = atoi(option(argc, argv, "--port", NULL));
    struct sockaddr_in local = address(option(argc, argv, "--local", NULL), port);
    struct sockaddr_in remote = address(option(argc, argv, "--remote", NULL), port);
    enter_netns(option(argc, argv, "--netns", NULL));

    tap = open_tap_queue(name, 0, 1);
    int header_size = 10; /* struct virtio_net_hdr, as NetDev uses */
    if (ioctl(tap, TUNSETVNETHDRSZ, &header_size) < 0) {
        die("TUNSETVNETHDRSZ %s", name);
    }
    if (ioctl(tap, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) < 0) {
        die("TUNSETOFFLOAD %s", name);
    }

    udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (udp < 0) {
        die("socket");
    }
    int buffer = 8 << 20, on = 1; /* the buffers NetDev's tunnel asks for */
    if (setsockopt(udp, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) < 0 ||
        setsockopt(udp, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) < 0 ||
        setsockopt(udp, SOL_UDP, UDP_GRO, &on, sizeof on) < 0) {
        die("setsockopt");
    }
    if (bind(udp, (struct sockaddr *)&local, sizeof local) < 0 || connect(udp, (struct sockaddr *)&remote, sizeof remote) < 0) {
        die("bind/connect");
    }
    announce_ready();
    pthread_t threads[2];
    if (pthread_create(&threads[0], NULL, tap_to_udp, NULL) != 0 || pthread_create(&threads[1], NULL, udp_to_tap, NULL) != 0) {
        die("pthread_create");
    }
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    return 0;
}
