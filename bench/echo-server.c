/*
 * echo-server: a reference TCP echo server in C, the baseline the .NET servers are compared with.
 *
 *   echo-server PORT
 *
 * Listens on 127.0.0.1:PORT, prints "ready" once listening and runs until SIGTERM or SIGINT
 * (exit status 0). Single thread, one level-triggered epoll instance. Each connection reads into
 * its own 64 KiB buffer and writes everything back; when a write is partial the rest stays pending
 * and the connection stops reading until EPOLLOUT has drained it (backpressure, no bytes dropped).
 * The peer's EOF, seen only once nothing is pending, closes the connection; errors close it
 * quietly.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o echo-server bench/echo-server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE (64 * 1024)
#define MAX_EVENTS 256

struct connection {
    int fd;
    uint32_t events;  /* current epoll interest: EPOLLIN, or EPOLLOUT while output is pending */
    size_t start;     /* pending output is buffer[start, end) */
    size_t end;
    unsigned char buffer[BUFFER_SIZE];
};

/* epoll data.ptr values for the two non-connection descriptors */
static char listener_tag, signal_tag;

static void die(const char *what)
{
    fprintf(stderr, "echo-server: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void close_connection(struct connection *c)
{
    close(c->fd); /* also removes it from the epoll set */
    free(c);
}

static int set_interest(int ep, struct connection *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        return -1;
    c->events = events;
    return 0;
}

/* Writes buffer[start, end). Returns 1 when all of it is out, 0 when the socket buffer is full,
 * -1 on error. */
static int flush_pending(struct connection *c)
{
    while (c->start < c->end) {
        ssize_t n = send(c->fd, c->buffer + c->start, c->end - c->start, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->start += (size_t)n;
    }
    c->start = c->end = 0;
    return 1;
}

/* Readable (or error/hang-up) with nothing pending: read and echo until the socket is drained
 * or a write blocks. Returns -1 when the connection should be closed. */
static int on_readable(int ep, struct connection *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->buffer, BUFFER_SIZE, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        if (n == 0)
            return -1; /* peer EOF and nothing pending: close, which sends our FIN */
        c->start = 0;
        c->end = (size_t)n;
        int r = flush_pending(c);
        if (r < 0)
            return -1;
        if (r == 0)
            return set_interest(ep, c, EPOLLOUT); /* stop reading until the rest is out */
        if (n < BUFFER_SIZE)
            return 0; /* probably drained; level-triggered EPOLLIN reports any more */
    }
}

/* Writable (or error/hang-up) with output pending. Returns -1 when the connection should be
 * closed. */
static int on_writable(int ep, struct connection *c)
{
    int r = flush_pending(c);
    if (r < 0)
        return -1;
    if (r == 1)
        return set_interest(ep, c, EPOLLIN);
    return 0;
}

static void accept_all(int ep, int listener)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            /* EMFILE, ENOBUFS, ...: report and try again on the next readiness */
            fprintf(stderr, "echo-server: accept4: %s\n", strerror(errno));
            return;
        }
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
            close(fd);
            continue;
        }
        struct connection *c = malloc(sizeof *c);
        if (c == NULL) {
            fprintf(stderr, "echo-server: out of memory\n");
            close(fd);
            continue;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        c->start = c->end = 0;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            fprintf(stderr, "echo-server: epoll_ctl: %s\n", strerror(errno));
            close_connection(c);
        }
    }
}

int main(int argc, char **argv)
{
    char *end;
    long port = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || argv[1][0] == '\0' || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "usage: echo-server PORT\n");
        return 2;
    }

    /* SIGTERM/SIGINT arrive through a signalfd in the epoll set; SIGPIPE is ignored. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (sigprocmask(SIG_BLOCK, &stop, NULL) != 0)
        die("sigprocmask");
    int sfd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        die("signalfd");
    struct sigaction ignore = { .sa_handler = SIG_IGN };
    if (sigaction(SIGPIPE, &ignore, NULL) != 0)
        die("sigaction");

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0)
        die("socket");
    int one = 1;
    if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        die("setsockopt(SO_REUSEADDR)");
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0)
        die("bind");
    if (listen(listener, 1024) != 0)
        die("listen");

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listener_tag };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) != 0)
        die("epoll_ctl(listener)");
    ev.data.ptr = &signal_tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) != 0)
        die("epoll_ctl(signalfd)");

    printf("ready\n");
    if (fflush(stdout) != 0)
        die("stdout");

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &signal_tag)
                return 0;
            if (tag == &listener_tag) {
                accept_all(ep, listener);
                continue;
            }
            struct connection *c = tag;
            /* errors and hang-ups surface as results of the call the current state makes */
            int r = c->events == EPOLLIN ? on_readable(ep, c) : on_writable(ep, c);
            if (r < 0)
                close_connection(c);
        }
    }
}
