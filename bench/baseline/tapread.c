/*
 * Baseline of the tx path: the plainest program that takes frames the kernel transmits on a TAP.
 * One thread per queue reads frames in a blocking loop and throws them away, as the dummy driver does.
 *
 *   tapread --netns NS --name IF [--queues N]
 *
 * Prints "ready" once the interface exists, then reads until it is killed.
 */
#include "common.h"

#include <pthread.h>

#define MAX_QUEUES 16

static void *read_queue(void *argument)
{
    int fd = (int)(long)argument;
    static __thread unsigned char frame[65536];
    for (;;) {
        ssize_t length = read(fd, frame, sizeof frame);
        if (length < 0 && errno != EINTR) {
            die("read");
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    program_name = "tapread";
    die_with_parent();
    const char *netns = option(argc, argv, "--netns", NULL);
    const char *name = option(argc, argv, "--name", NULL);
    int queues = atoi(option(argc, argv, "--queues", "1"));
    if (queues < 1 || queues > MAX_QUEUES) {
        errno = 0;
        die("--queues must be 1 to %d", MAX_QUEUES);
    }
    enter_netns(netns);
    int fds[MAX_QUEUES];
    for (int i = 0; i < queues; i++) {
        fds[i] = open_tap_queue(name, queues > 1, 0);
    }
    announce_ready();
    pthread_t threads[MAX_QUEUES];
    for (int i = 0; i < queues; i++) {
        if (pthread_create(&threads[i], NULL, read_queue, (void *)(long)fds[i]) != 0) {
            die("pthread_create");
        }
    }
    for (int i = 0; i < queues; i++) {
        pthread_join(threads[i], NULL);
    }
    return 0;
}
