/*
 * Baseline of the rx path: the plainest program that hands frames to the kernel through a TAP.
 * One thread writes the same frame in a loop, as the bench's NetDev driver calls NetifRx in a loop.
 *
 *   tapwrite --netns NS --name IF --frame HEX
 *
 * Prints "ready" once the interface exists, waits for a line on standard input (the bench sends it once
 * the interface is up), then writes until it is killed.
 */
#include "common.h"

static size_t parse_hex(const char *text, unsigned char *out, size_t room)
{
    size_t length = strlen(text);
    if (length % 2 != 0 || length / 2 > room) {
        errno = 0;
        die("--frame must be an even number of hex digits, at most %zu bytes", room);
    }
    for (size_t i = 0; i < length / 2; i++) {
        unsigned int byte;
        if (sscanf(text + 2 * i, "%2x", &byte) != 1) {
            errno = 0;
            die("--frame has a non-hex digit at %zu", 2 * i);
        }
        out[i] = (unsigned char)byte;
    }
    return length / 2;
}

int main(int argc, char **argv)
{
    program_name = "tapwrite";
    die_with_parent();
    const char *netns = option(argc, argv, "--netns", NULL);
    const char *name = option(argc, argv, "--name", NULL);
    unsigned char frame[2048];
    size_t length = parse_hex(option(argc, argv, "--frame", NULL), frame, sizeof frame);
    enter_netns(netns);
    int fd = open_tap_queue(name, 0, 0);
    announce_ready();
    char line[16];
    if (fgets(line, sizeof line, stdin) == NULL) {
        return 0; /* the bench ended before starting us */
    }
    for (;;) {
        if (write(fd, frame, length) < 0 && errno != EINTR) {
            die("write");
        }
    }
}
