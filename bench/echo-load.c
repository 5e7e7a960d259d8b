/*
 * echo-load: a load generator for raw TCP echo servers (wrk, but for echo).
 *
 *   echo-load throughput HOST PORT CONNECTIONS TOTAL_BYTES
 *   echo-load pingpong   HOST PORT CONNECTIONS MESSAGE_BYTES SECONDS
 *
 * throughput: every connection streams its share of TOTAL_BYTES through the echo, sending and
 *   receiving at the same time, and checks every byte that comes back against the pattern
 *   byte(k) = k % 251 at its stream offset k. Prints
 *   "throughput connections=N bytes=B seconds=S MBps=X".
 * pingpong: every connection sends one MESSAGE_BYTES message, waits for all of it to come back,
 *   counts a round trip and sends the next, for SECONDS. Prints
 *   "pingpong connections=N message_bytes=M seconds=S messages=K msgs_per_s=X".
 *
 * Single thread, nonblocking sockets, one level-triggered epoll instance. Any data mismatch,
 * early EOF or socket error is fatal: a message on stderr and exit status 1. Bad arguments:
 * usage on stderr and exit status 2.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o echo-load bench/echo-load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)  /* largest single send / recv */
#define PERIOD 251          /* pattern period: byte(k) = k % PERIOD */
#define MAX_EVENTS 256
#define MAX_CONNECTIONS (1 << 20)

static unsigned char pattern[CHUNK + PERIOD]; /* pattern[i] = i % PERIOD */
static unsigned char scratch[CHUNK];          /* receive buffer shared by all connections */

static void usage(void)
{
    fprintf(stderr,
            "usage: echo-load throughput HOST PORT CONNECTIONS TOTAL_BYTES\n"
            "       echo-load pingpong   HOST PORT CONNECTIONS MESSAGE_BYTES SECONDS\n");
    exit(2);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("echo-load: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t parse_u64(const char *s, const char *what, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "echo-load: bad %s '%s' (expected an integer in %" PRIu64 "..%" PRIu64 ")\n",
                what, s, min, max);
        usage();
    }
    return v;
}

static double parse_seconds(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v > 0) || v > 1e6) {
        fprintf(stderr, "echo-load: bad SECONDS '%s' (expected a positive number)\n", s);
        usage();
    }
    return v;
}

static double now_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime: %s", strerror(errno));
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Blocking connect (finishing it with poll if a signal interrupts it), then TCP_NODELAY and
 * O_NONBLOCK. */
static int open_connection(const struct sockaddr_in *addr, int index)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("connection %d: socket: %s", index, strerror(errno));
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) {
        if (errno != EINTR)
            die("connection %d: connect: %s", index, strerror(errno));
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int r;
        while ((r = poll(&p, 1, -1)) < 0 && errno == EINTR)
            ;
        if (r < 0)
            die("connection %d: poll: %s", index, strerror(errno));
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            die("connection %d: getsockopt(SO_ERROR): %s", index, strerror(errno));
        if (err != 0)
            die("connection %d: connect: %s", index, strerror(err));
    }
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die("connection %d: setsockopt(TCP_NODELAY): %s", index, strerror(errno));
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        die("connection %d: fcntl(O_NONBLOCK): %s", index, strerror(errno));
    return fd;
}

static void epoll_set(int ep, int op, int fd, uint32_t events, uint32_t index)
{
    struct epoll_event ev = { .events = events, .data.u32 = index };
    if (epoll_ctl(ep, op, fd, &ev) != 0)
        die("connection %u: epoll_ctl: %s", index, strerror(errno));
}

static int wait_events(int ep, struct epoll_event *events, int timeout_ms)
{
    int n = epoll_wait(ep, events, MAX_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        die("epoll_wait: %s", strerror(errno));
    }
    return n;
}

/* ---------------------------------------------------------------- throughput */

struct stream {
    int fd;           /* -1 once done and closed */
    uint64_t share;   /* bytes this connection sends and expects back */
    uint64_t sent;
    uint64_t received;
};

/* Sends until the share is out or the socket buffer is full. When everything is out, shuts
 * down the write side and stops asking for EPOLLOUT. */
static void stream_send(int ep, struct stream *s, uint32_t index)
{
    while (s->sent < s->share) {
        uint64_t left = s->share - s->sent;
        size_t want = left < CHUNK ? (size_t)left : CHUNK;
        ssize_t n = send(s->fd, pattern + s->sent % PERIOD, want, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            die("connection %u: send at stream offset %" PRIu64 " (%" PRIu64 " bytes echoed back so far): %s",
                index, s->sent, s->received, strerror(errno));
        }
        s->sent += (uint64_t)n;
        if ((size_t)n < want)
            return; /* buffer full: level-triggered EPOLLOUT tells us when there is room */
    }
    if (shutdown(s->fd, SHUT_WR) != 0)
        die("connection %u: shutdown: %s", index, strerror(errno));
    epoll_set(ep, EPOLL_CTL_MOD, s->fd, EPOLLIN, index);
}

/* Reads and verifies what has arrived. Returns 1 when the connection has received its whole
 * share (it is then closed), 0 otherwise. */
static int stream_receive(struct stream *s, uint32_t index)
{
    for (;;) {
        ssize_t n = recv(s->fd, scratch, CHUNK, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            die("connection %u: recv at stream offset %" PRIu64 ": %s", index, s->received, strerror(errno));
        }
        if (n == 0)
            die("connection %u: unexpected EOF at stream offset %" PRIu64 " (expected %" PRIu64 " bytes)",
                index, s->received, s->share);
        if (s->received + (uint64_t)n > s->sent)
            die("connection %u: received %zd bytes at stream offset %" PRIu64 " but only %" PRIu64
                " were sent", index, n, s->received, s->sent);
        const unsigned char *expected = pattern + s->received % PERIOD;
        if (memcmp(scratch, expected, (size_t)n) != 0) {
            ssize_t i = 0;
            while (scratch[i] == expected[i])
                i++;
            die("connection %u: data mismatch at stream offset %" PRIu64 ": expected 0x%02x, got 0x%02x",
                index, s->received + (uint64_t)i, expected[i], scratch[i]);
        }
        s->received += (uint64_t)n;
        if (s->received == s->share) {
            if (close(s->fd) != 0)
                die("connection %u: close: %s", index, strerror(errno));
            s->fd = -1;
            return 1;
        }
        if (n < CHUNK)
            return 0; /* probably drained; level-triggered EPOLLIN reports any more */
    }
}

static void run_throughput(const struct sockaddr_in *addr, int connections, uint64_t total)
{
    struct stream *streams = calloc((size_t)connections, sizeof *streams);
    if (streams == NULL)
        die("out of memory");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));
    for (int i = 0; i < connections; i++) {
        streams[i].fd = open_connection(addr, i);
        streams[i].share = total / (uint64_t)connections;
    }
    streams[connections - 1].share += total % (uint64_t)connections;

    double start = now_seconds();
    int done = 0;
    for (int i = 0; i < connections; i++) {
        if (streams[i].share == 0) { /* more connections than bytes */
            if (close(streams[i].fd) != 0)
                die("connection %d: close: %s", i, strerror(errno));
            streams[i].fd = -1;
            done++;
        } else {
            epoll_set(ep, EPOLL_CTL_ADD, streams[i].fd, EPOLLIN | EPOLLOUT, (uint32_t)i);
        }
    }

    struct epoll_event events[MAX_EVENTS];
    while (done < connections) {
        int n = wait_events(ep, events, 1000);
        for (int e = 0; e < n; e++) {
            uint32_t index = events[e].data.u32;
            uint32_t ev = events[e].events;
            struct stream *s = &streams[index];
            if (s->fd < 0)
                continue;
            /* errors and hang-ups surface as recv results */
            if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && stream_receive(s, index)) {
                done++;
                continue;
            }
            if ((ev & EPOLLOUT) && s->sent < s->share)
                stream_send(ep, s, index);
        }
    }
    double seconds = now_seconds() - start;

    printf("throughput connections=%d bytes=%" PRIu64 " seconds=%.3f MBps=%.1f\n",
           connections, total, seconds, (double)total / seconds / 1e6);
    close(ep);
    free(streams);
}

/* ---------------------------------------------------------------- pingpong */

struct pinger {
    int fd;
    size_t sent;       /* bytes of the current message sent */
    size_t received;   /* bytes of the current message echoed back */
    uint64_t messages; /* round trips completed */
    uint32_t events;   /* current epoll interest */
};

static void pinger_interest(int ep, struct pinger *p, uint32_t index, uint32_t events)
{
    if (p->events != events) {
        epoll_set(ep, EPOLL_CTL_MOD, p->fd, events, index);
        p->events = events;
    }
}

/* Sends (the rest of) the current message; waits for EPOLLOUT if the buffer is full, else for
 * the echo. */
static void pinger_send(int ep, struct pinger *p, uint32_t index, const unsigned char *message, size_t size)
{
    while (p->sent < size) {
        ssize_t n = send(p->fd, message + p->sent, size - p->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                pinger_interest(ep, p, index, EPOLLOUT);
                return;
            }
            die("connection %u: send: %s", index, strerror(errno));
        }
        p->sent += (size_t)n;
    }
    pinger_interest(ep, p, index, EPOLLIN);
}

/* Reads the echo of the current message; returns 1 when it is complete. */
static int pinger_receive(struct pinger *p, uint32_t index, const unsigned char *message, size_t size)
{
    while (p->received < size) {
        size_t want = size - p->received;
        if (want > CHUNK)
            want = CHUNK;
        ssize_t n = recv(p->fd, scratch, want, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            die("connection %u: recv: %s", index, strerror(errno));
        }
        if (n == 0)
            die("connection %u: unexpected EOF (%zu of %zu message bytes received)", index, p->received, size);
        const unsigned char *expected = message + p->received;
        if (memcmp(scratch, expected, (size_t)n) != 0) {
            size_t i = 0;
            while (scratch[i] == expected[i])
                i++;
            die("connection %u: data mismatch in message %" PRIu64 " at byte %zu (stream offset %" PRIu64
                "): expected 0x%02x, got 0x%02x", index, p->messages, p->received + i,
                p->messages * size + p->received + i, expected[i], scratch[i]);
        }
        p->received += (size_t)n;
    }
    return 1;
}

static void run_pingpong(const struct sockaddr_in *addr, int connections, size_t size, double duration)
{
    struct pinger *pingers = calloc((size_t)connections, sizeof *pingers);
    unsigned char *message = malloc(size);
    if (pingers == NULL || message == NULL)
        die("out of memory");
    for (size_t k = 0; k < size; k++)
        message[k] = (unsigned char)(k % PERIOD);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));
    for (int i = 0; i < connections; i++) {
        pingers[i].fd = open_connection(addr, i);
        pingers[i].events = EPOLLIN;
        epoll_set(ep, EPOLL_CTL_ADD, pingers[i].fd, EPOLLIN, (uint32_t)i);
    }

    double start = now_seconds();
    double deadline = start + duration;
    uint64_t messages = 0;
    for (int i = 0; i < connections; i++)
        pinger_send(ep, &pingers[i], (uint32_t)i, message, size);

    struct epoll_event events[MAX_EVENTS];
    double now;
    while ((now = now_seconds()) < deadline) {
        int timeout_ms = (int)((deadline - now) * 1000.0) + 1;
        int n = wait_events(ep, events, timeout_ms);
        if (now_seconds() >= deadline)
            break; /* time is up: whatever this batch holds is not counted */
        for (int e = 0; e < n; e++) {
            uint32_t index = events[e].data.u32;
            uint32_t ev = events[e].events;
            struct pinger *p = &pingers[index];
            if (p->sent < size) {
                if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    pinger_send(ep, p, index, message, size);
            } else if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (pinger_receive(p, index, message, size)) {
                    messages++;
                    p->messages++;
                    p->sent = 0;
                    p->received = 0;
                    pinger_send(ep, p, index, message, size);
                }
            }
        }
    }
    double seconds = now_seconds() - start;

    printf("pingpong connections=%d message_bytes=%zu seconds=%.3f messages=%" PRIu64 " msgs_per_s=%.0f\n",
           connections, size, seconds, messages, (double)messages / seconds);
    for (int i = 0; i < connections; i++)
        close(pingers[i].fd);
    close(ep);
    free(message);
    free(pingers);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    int throughput = strcmp(argv[1], "throughput") == 0;
    int pingpong = strcmp(argv[1], "pingpong") == 0;
    if ((!throughput && !pingpong) || (throughput && argc != 6) || (pingpong && argc != 7))
        usage();

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1) {
        fprintf(stderr, "echo-load: bad HOST '%s' (expected an IPv4 address)\n", argv[2]);
        usage();
    }
    addr.sin_port = htons((uint16_t)parse_u64(argv[3], "PORT", 1, 65535));
    int connections = (int)parse_u64(argv[4], "CONNECTIONS", 1, MAX_CONNECTIONS);

    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (unsigned char)(i % PERIOD);

    if (throughput) {
        uint64_t total = parse_u64(argv[5], "TOTAL_BYTES", 1, UINT64_MAX / 2);
        run_throughput(&addr, connections, total);
    } else {
        size_t size = (size_t)parse_u64(argv[5], "MESSAGE_BYTES", 1, 1u << 30);
        double seconds = parse_seconds(argv[6]);
        run_pingpong(&addr, connections, size, seconds);
    }
    if (fflush(stdout) != 0)
        die("writing the result: %s", strerror(errno));
    return 0;
}
