/*
 * Baseline of the pair figures: the plainest relay between two TAPs in two namespaces, what the pair
 * driver does in NetDev. One thread per direction reads a frame from one TAP and writes it to the other.
 *
 *   taprelay --netns-a NS --name-a IF --netns-b NS --name-b IF [--offload]
 *
 * With --offload both TAPs carry a virtio_net_hdr (IFF_VNET_HDR) and accept checksum and TCP (and, where
 * the kernel takes it, UDP) segmentation offloads (TUNSETOFFLOAD), so 64 KiB GSO frames cross as they
 * are, header and all: the same settings NetDev's pair uses with offloads on.
 *
 * Prints "ready" once both interfaces exist, then relays until it is killed.
 */
#include "common.h"

#include <pthread.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

struct direction {
    int from;
    int to;
};

static void *relay(void *argument)
{
    struct direction *direction = argument;
    static __thread unsigned char frame[65536 + 256];
    for (;;) {
        ssize_t length = read(direction->from, frame, sizeof frame);
        if (length < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("read");
        }
        if (write(direction->to, frame, (size_t)length) < 0 && errno != EINTR) {
            /* As a cable would, lose a frame the other side refuses (down, full) and go on. */
            if (errno != EIO && errno != EAGAIN && errno != EINVAL) {
                die("write");
            }
        }
    }
    return NULL;
}

static void enable_offloads(int fd, const char *name)
{
    unsigned long tcp = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    /* UDP segmentation came in Linux 6.2; older kernels refuse the whole request, so ask again without it. */
    if (ioctl(fd, TUNSETOFFLOAD, tcp | TUN_F_USO4 | TUN_F_USO6) < 0 && ioctl(fd, TUNSETOFFLOAD, tcp) < 0) {
        die("TUNSETOFFLOAD %s", name);
    }
}

static int open_end(const char *netns, const char *name, int offload)
{
    enter_netns(netns);
    int fd = open_tap_queue(name, 0, offload);
    if (offload) {
        int header_size = 10; /* struct virtio_net_hdr, as NetDev uses */
        if (ioctl(fd, TUNSETVNETHDRSZ, &header_size) < 0) {
            die("TUNSETVNETHDRSZ %s", name);
        }
        enable_offloads(fd, name);
    }
    return fd;
}

int main(int argc, char **argv)
{
    program_name = "taprelay";
    die_with_parent();
    int offload = flag(argc, argv, "--offload");
    int a = open_end(option(argc, argv, "--netns-a", NULL), option(argc, argv, "--name-a", NULL), offload);
    int b = open_end(option(argc, argv, "--netns-b", NULL), option(argc, argv, "--name-b", NULL), offload);
    announce_ready();
    struct direction a_to_b = {a, b}, b_to_a = {b, a};
    pthread_t threads[2];
    if (pthread_create(&threads[0], NULL, relay, &a_to_b) != 0 || pthread_create(&threads[1], NULL, relay, &b_to_a) != 0) {
        die("pthread_create");
    }
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    return 0;
}
