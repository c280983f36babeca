/*
 * The traffic generator of the tx figures, the same for NetDev and for the C baseline: it makes the
 * kernel transmit 60-byte Ethernet frames (IPv4/UDP) on an interface as fast as it can, the way pktgen
 * does, through an AF_PACKET socket with PACKET_QDISC_BYPASS and sendmmsg batches. Frames cycle through
 * FLOWS UDP source ports so a multi-queue TAP spreads them over its queues (it picks a queue by flow hash).
 *
 *   tapgen --netns NS --dev IF [--flows N] [--batch N] [--dst MAC]
 *
 * --dst sets the frames' destination MAC address (02:00:00:00:00:02 by default, another host's; the peers
 * figures address a learned tunnel end, or ff:ff:ff:ff:ff:ff).
 *
 * Prints "ready" once the socket is bound, then sends until it is killed. The frames nobody reads in
 * time are dropped by the TAP (tx_dropped), so the reader's speed, not the generator's, is measured.
 */
#include "common.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/socket.h>

#define FRAME_LENGTH 60
#define MAX_BATCH 256

static unsigned short ip_checksum(const unsigned char *header, size_t length)
{
    unsigned long sum = 0;
    for (size_t i = 0; i + 1 < length; i += 2) {
        sum += (unsigned long)(header[i] << 8 | header[i + 1]);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (unsigned short)~sum;
}

/* A 60-byte frame to destination: Ethernet, IPv4 10.77.0.1 -> 10.77.0.2, UDP source port 10000 + flow to port 9, zero padding. */
static void build_frame(unsigned char *frame, int flow, const unsigned char *destination)
{
    static const unsigned char source[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    memset(frame, 0, FRAME_LENGTH);
    memcpy(frame, destination, 6);
    memcpy(frame + 6, source, 6);
    frame[12] = 0x08; /* IPv4 */
    unsigned char *ip = frame + 14;
    int ip_length = FRAME_LENGTH - 14;
    ip[0] = 0x45;
    ip[2] = (unsigned char)(ip_length >> 8);
    ip[3] = (unsigned char)ip_length;
    ip[8] = 64;
    ip[9] = 17; /* UDP */
    const unsigned char from[4] = {10, 77, 0, 1}, to[4] = {10, 77, 0, 2};
    memcpy(ip + 12, from, 4);
    memcpy(ip + 16, to, 4);
    unsigned short checksum = ip_checksum(ip, 20);
    ip[10] = (unsigned char)(checksum >> 8);
    ip[11] = (unsigned char)checksum;
    unsigned char *udp = ip + 20;
    int port = 10000 + flow;
    int udp_length = ip_length - 20;
    udp[0] = (unsigned char)(port >> 8);
    udp[1] = (unsigned char)port;
    udp[3] = 9;
    udp[4] = (unsigned char)(udp_length >> 8);
    udp[5] = (unsigned char)udp_length; /* checksum 0: none, allowed over IPv4 */
}

int main(int argc, char **argv)
{
    program_name = "tapgen";
    die_with_parent();
    const char *netns = option(argc, argv, "--netns", NULL);
    const char *device = option(argc, argv, "--dev", NULL);
    int flows = atoi(option(argc, argv, "--flows", "64"));
    int batch = atoi(option(argc, argv, "--batch", "64"));
    const char *destination_text = option(argc, argv, "--dst", "02:00:00:00:00:02");
    unsigned char destination[6];
    if (sscanf(destination_text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &destination[0], &destination[1], &destination[2],
               &destination[3], &destination[4], &destination[5]) != 6) {
        errno = 0;
        die("--dst must be a MAC address such as 02:00:00:00:00:02; got %s", destination_text);
    }
    if (flows < 1 || flows > 1000 || batch < 1 || batch > MAX_BATCH) {
        errno = 0;
        die("--flows must be 1 to 1000 and --batch 1 to %d", MAX_BATCH);
    }
    enter_netns(netns);
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: sends only, hears nothing */
    if (fd < 0) {
        die("socket(AF_PACKET)");
    }
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0) {
        die("PACKET_QDISC_BYPASS");
    }
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_ifindex = (int)if_nametoindex(device);
    if (address.sll_ifindex == 0) {
        die("if_nametoindex %s", device);
    }
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        die("bind %s", device);
    }

    unsigned char *frames = calloc((size_t)flows, FRAME_LENGTH);
    if (frames == NULL) {
        die("calloc");
    }
    for (int flow = 0; flow < flows; flow++) {
        build_frame(frames + (size_t)flow * FRAME_LENGTH, flow, destination);
    }
    struct iovec vectors[MAX_BATCH];
    struct mmsghdr messages[MAX_BATCH];
    memset(messages, 0, sizeof messages);
    announce_ready();
    for (int next_flow = 0;;) {
        for (int i = 0; i < batch; i++) {
            vectors[i].iov_base = frames + (size_t)next_flow * FRAME_LENGTH;
            vectors[i].iov_len = FRAME_LENGTH;
            messages[i].msg_hdr.msg_iov = &vectors[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            next_flow = (next_flow + 1) % flows;
        }
        if (sendmmsg(fd, messages, (unsigned int)batch, 0) < 0 && errno != ENOBUFS && errno != EINTR && errno != EAGAIN) {
            die("sendmmsg on %s", device);
        }
    }
}
