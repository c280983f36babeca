/*
 * What every baseline program shares: argument parsing, entering a named network namespace, creating a
 * TAP queue exactly as NetDev's Linux host does (IFF_TAP | IFF_NO_PI, IFF_MULTI_QUEUE when there is more
 * than one queue), and dying with the bench that started it.
 *
 * The programs are kept minimal on purpose: each is the plainest C loop that does the same job as the
 * NetDev path it is compared with, so a ratio below 1 means NetDev costs more than the system calls.
 */
#ifndef NETDEV_BENCH_COMMON_H
#define NETDEV_BENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char *program_name = "baseline";

static inline void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: ", program_name);
    vfprintf(stderr, format, args);
    if (errno != 0) {
        fprintf(stderr, ": %s", strerror(errno));
    }
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

/* The value after "--name" in argv, or fallback when absent (NULL fallback: the option is required). */
static inline const char *option(int argc, char **argv, const char *name, const char *fallback)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return argv[i + 1];
        }
    }
    if (fallback == NULL) {
        errno = 0;
        die("missing option %s", name);
    }
    return fallback;
}

static inline int flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * The bench kills its baselines when it is done, but if the bench itself dies (SIGKILL, a crash) a
 * forgotten baseline would keep its TAP and its namespace alive: die with the parent instead.
 */
static inline void die_with_parent(void)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
        die("prctl(PR_SET_PDEATHSIG)");
    }
    if (getppid() == 1) {
        exit(1); /* the parent was already gone before the signal was armed: we were handed to init */
    }
}

/* Moves the (still single-threaded) process into /run/netns/NAME; sockets and TAPs made afterwards live there. */
static inline void enter_netns(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        die("open %s", path);
    }
    if (setns(fd, CLONE_NEWNET) < 0) {
        die("setns %s", path);
    }
    close(fd);
}

/* Opens one queue of TAP interface NAME (creating it with the first queue); blocking descriptor. */
static inline int open_tap_queue(const char *name, int multi_queue, int vnet_hdr)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        die("open /dev/net/tun");
    }
    struct ifreq request;
    memset(&request, 0, sizeof request);
    if (strlen(name) >= IFNAMSIZ) {
        errno = 0;
        die("interface name %s is too long", name);
    }
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    request.ifr_flags = IFF_TAP | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0) | (vnet_hdr ? IFF_VNET_HDR : 0);
    if (ioctl(fd, TUNSETIFF, &request) < 0) {
        die("TUNSETIFF %s", name);
    }
    return fd;
}

/* Tells the bench the interfaces exist (it configures them with ip), on one line. */
static inline void announce_ready(void)
{
    printf("ready\n");
    fflush(stdout);
}

#endif
