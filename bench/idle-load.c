/*
 * idle-load: opens many HTTP/1.1 keep-alive connections, makes one request on each, then holds
 * them idle, so a benchmark can read what an idle connection costs the server.
 *
 *   idle-load HOST PORT PATH CONNECTIONS
 *
 * Opens CONNECTIONS connections one after another; on each sends "GET PATH" and reads the whole
 * response (headers, then Content-Length bytes of body). Then prints "held connections=N" and
 * waits for a line on stdin. On that line (or EOF) it makes a second request on every connection,
 * proving the server kept them all, prints "alive connections=N" and exits.
 *
 * Any failure (connect, a closed connection, a status other than 200, no Content-Length) is fatal:
 * a message on stderr and exit status 1. Bad arguments: usage on stderr and exit status 2.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o idle-load bench/idle-load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESPONSE_MAX 65536

static char response[RESPONSE_MAX];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("idle-load: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void send_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t sent = send(fd, data, length, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            die("send: %s", strerror(errno));
        }
        data += sent;
        length -= (size_t)sent;
    }
}

/* Reads one response: headers up to the blank line, then the body its Content-Length announces. */
static void read_response(int fd, int index)
{
    size_t have = 0;
    char *body = NULL;
    long content_length = -1;
    for (;;) {
        if (have == RESPONSE_MAX)
            die("connection %d: response larger than %d bytes", index, RESPONSE_MAX);
        ssize_t received = recv(fd, response + have, RESPONSE_MAX - have, 0);
        if (received < 0) {
            if (errno == EINTR)
                continue;
            die("connection %d: recv: %s", index, strerror(errno));
        }
        if (received == 0)
            die("connection %d: closed by the server", index);
        have += (size_t)received;
        if (body == NULL) {
            body = memmem(response, have, "\r\n\r\n", 4);
            if (body == NULL)
                continue;
            body += 4;
            if (strncmp(response, "HTTP/1.1 200 ", 13) != 0)
                die("connection %d: %.*s", index, (int)(strchr(response, '\r') - response), response);
            char *header = memmem(response, (size_t)(body - response), "\r\nContent-Length:", 17);
            if (header == NULL)
                die("connection %d: response without Content-Length", index);
            content_length = strtol(header + 17, NULL, 10);
        }
        if ((long)(response + have - body) >= content_length)
            return;
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: idle-load HOST PORT PATH CONNECTIONS\n");
        return 2;
    }
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    int count = atoi(argv[4]);
    if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1 || address.sin_port == 0 || count <= 0) {
        fprintf(stderr, "usage: idle-load HOST PORT PATH CONNECTIONS\n");
        return 2;
    }

    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < (rlim_t)count + 16)
        die("%d connections need more file descriptors than the limit of %lu", count, (unsigned long)limit.rlim_cur);

    char request[512];
    int request_length = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", argv[3], argv[1], argv[2]);
    int *fds = calloc((size_t)count, sizeof *fds);
    if (fds == NULL)
        die("out of memory");

    for (int i = 0; i < count; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0)
            die("socket: %s", strerror(errno));
        if (connect(fds[i], (struct sockaddr *)&address, sizeof address) < 0)
            die("connection %d: connect: %s", i, strerror(errno));
        send_all(fds[i], request, (size_t)request_length);
        read_response(fds[i], i);
    }
    printf("held connections=%d\n", count);
    fflush(stdout);

    char line[64];
    if (fgets(line, sizeof line, stdin) == NULL && ferror(stdin))
        die("stdin: %s", strerror(errno));

    for (int i = 0; i < count; i++) {
        send_all(fds[i], request, (size_t)request_length);
        read_response(fds[i], i);
        close(fds[i]);
    }
    printf("alive connections=%d\n", count);
    free(fds);
    return 0;
}
