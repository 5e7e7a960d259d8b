/*
 * udp-load: a load generator for UDP echo servers.
 *
 *   udp-load HOST PORT SOCKETS WINDOW BYTES SECONDS [STALL_MS]
 *
 * Each of SOCKETS connected UDP sockets keeps WINDOW datagrams of BYTES bytes in flight: every reply that
 * comes back (checked: same length, same first bytes) sends the next one. A socket that hears nothing for
 * STALL_MS (default 100) counts what it had in flight as lost and refills its window. After SECONDS prints
 * "udp sockets=N window=W bytes=B seconds=S replies=R lost=L replies_per_s=X".
 *
 * Single thread, nonblocking sockets, one epoll instance. Errors are fatal (stderr, exit 1); bad arguments
 * print usage and exit 2.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o udp-load bench/udp-load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 256
#define MAX_DATAGRAM 65507

struct flow {
    int fd;
    int in_flight;
    long long last_progress;
};

static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static unsigned char payload[MAX_DATAGRAM];
static unsigned char reply[MAX_DATAGRAM + 1];

static void fill(struct flow *f, int window, int bytes)
{
    while (f->in_flight < window) {
        ssize_t n = send(f->fd, payload, (size_t)bytes, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == ECONNREFUSED)
                return; /* full for now, or the server is not up yet: retried on the next stall check */
            die("send: %s", strerror(errno));
        }
        f->in_flight++;
    }
}

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: udp-load HOST PORT SOCKETS WINDOW BYTES SECONDS [STALL_MS]\n");
        return 2;
    }
    int sockets = atoi(argv[3]), window = atoi(argv[4]), bytes = atoi(argv[5]);
    double seconds = atof(argv[6]);
    long long stall_ns = (argc == 8 ? atoll(argv[7]) : 100) * 1000000LL;
    struct sockaddr_in server = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1 || sockets < 1 || sockets > MAX_SOCKETS || window < 1
        || bytes < 8 || bytes > MAX_DATAGRAM || seconds <= 0 || stall_ns <= 0) {
        fprintf(stderr, "usage: udp-load HOST PORT SOCKETS(1-%d) WINDOW(>0) BYTES(8-%d) SECONDS [STALL_MS(>0)]\n", MAX_SOCKETS, MAX_DATAGRAM);
        return 2;
    }
    for (int i = 0; i < bytes; i++)
        payload[i] = (unsigned char)(i * 7 + 3);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));
    static struct flow flows[MAX_SOCKETS];
    long long start = now_ns();
    for (int i = 0; i < sockets; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int buffer = 1 << 20;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer) != 0
            || connect(fd, (struct sockaddr *)&server, sizeof server) != 0)
            die("socket %d: %s", i, strerror(errno));
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl: %s", strerror(errno));
        flows[i] = (struct flow){ .fd = fd, .last_progress = start };
        fill(&flows[i], window, bytes);
    }

    long long replies = 0, lost = 0, end = start + (long long)(seconds * 1e9);
    struct epoll_event events[MAX_SOCKETS];
    for (long long now = start; now < end; now = now_ns()) {
        int n = epoll_wait(ep, events, MAX_SOCKETS, 10);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < n; e++) {
            struct flow *f = &flows[events[e].data.u32];
            for (;;) {
                ssize_t got = recv(f->fd, reply, sizeof reply, 0);
                if (got < 0) {
                    if (errno == EAGAIN)
                        break;
                    if (errno == ECONNREFUSED)
                        continue; /* an ICMP error from before the server was up */
                    die("recv: %s", strerror(errno));
                }
                if (got != bytes || memcmp(reply, payload, 8) != 0)
                    die("bad reply: %zd bytes", got);
                replies++;
                if (f->in_flight > 0)
                    f->in_flight--;
                f->last_progress = now;
            }
            fill(f, window, bytes);
        }
        for (int i = 0; i < sockets; i++) {
            if (now - flows[i].last_progress > stall_ns) {
                lost += flows[i].in_flight;
                flows[i].in_flight = 0;
                flows[i].last_progress = now;
                fill(&flows[i], window, bytes);
            }
        }
    }
    double elapsed = (now_ns() - start) / 1e9;
    printf("udp sockets=%d window=%d bytes=%d seconds=%.3f replies=%lld lost=%lld replies_per_s=%.0f\n",
           sockets, window, bytes, elapsed, replies, lost, replies / elapsed);
    return 0;
}
