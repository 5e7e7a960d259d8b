/*
 * dns-server: the DNS server bench/dns.sh resolves against, fast enough that the resolvers, not it, set the pace.
 *
 *   dns-server PORT
 *
 * Binds 127.0.0.1:PORT (UDP), prints "ready" and answers until killed: every A question with 127.0.0.1 (TTL 300),
 * every other question with no data. It blocks in recvmmsg until one query is there and takes the others already
 * queued with it (MSG_WAITFORONE), so a lone query is answered as soon as by a recvfrom loop, and a burst costs one
 * receive and one send call instead of one of each per query. A datagram that is not a query with one question is
 * dropped.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o dns-server bench/dns-server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define MAX_QUERY 512
#define HEADER_SIZE 12

/* The question's name (a pointer to offset 12), A, IN, TTL 300, 4 bytes: 127.0.0.1. */
static const uint8_t answer[] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 127, 0, 0, 1};

/* Where the single question of a query ends, or 0 when the datagram is not such a query. */
static size_t question_end(const uint8_t *message, size_t length) {
    if (length < HEADER_SIZE || (message[2] & 0x80) || message[4] != 0 || message[5] != 1) {
        return 0;
    }
    size_t offset = HEADER_SIZE;
    while (offset < length && message[offset] != 0) {
        if (message[offset] & 0xC0) {
            return 0;
        }
        offset += 1 + message[offset];
    }
    return offset + 5 <= length ? offset + 5 : 0;
}

/* Turns the query into its reply in place; returns the reply's length, or 0 to drop it. */
static size_t make_reply(uint8_t *message, size_t length) {
    size_t end = question_end(message, length);
    if (end == 0) {
        return 0;
    }
    message[2] = 0x81; /* QR, RD */
    message[3] = 0x80; /* RA, NOERROR */
    memset(message + 6, 0, 6);
    if (message[end - 4] == 0 && message[end - 3] == 1) { /* type A */
        message[7] = 1;
        memcpy(message + end, answer, sizeof answer);
        end += sizeof answer;
    }
    return end;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: dns-server PORT\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("dns-server");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    static uint8_t buffers[BATCH][MAX_QUERY + sizeof answer];
    static struct sockaddr_storage sources[BATCH];
    static struct iovec received_vectors[BATCH], reply_vectors[BATCH];
    static struct mmsghdr received[BATCH], replies[BATCH];
    for (int i = 0; i < BATCH; i++) {
        received_vectors[i] = (struct iovec){.iov_base = buffers[i], .iov_len = MAX_QUERY};
    }
    while (1) {
        for (int i = 0; i < BATCH; i++) {
            received[i].msg_hdr = (struct msghdr){
                .msg_name = &sources[i], .msg_namelen = sizeof sources[i], .msg_iov = &received_vectors[i], .msg_iovlen = 1};
        }
        int count = recvmmsg(fd, received, BATCH, MSG_WAITFORONE, NULL);
        if (count < 0) {
            continue; /* EINTR, or an ICMP error left by a resolver that went away */
        }
        int reply_count = 0;
        for (int i = 0; i < count; i++) {
            size_t length = make_reply(buffers[i], received[i].msg_len);
            if (length == 0) {
                continue;
            }
            reply_vectors[reply_count] = (struct iovec){.iov_base = buffers[i], .iov_len = length};
            replies[reply_count].msg_hdr = (struct msghdr){
                .msg_name = &sources[i], .msg_namelen = received[i].msg_hdr.msg_namelen, .msg_iov = &reply_vectors[reply_count], .msg_iovlen = 1};
            reply_count++;
        }
        for (int sent = 0; sent < reply_count;) {
            int n = sendmmsg(fd, replies + sent, (unsigned)(reply_count - sent), 0);
            sent += n > 0 ? n : 1; /* a refused reply (its resolver gone) is skipped */
        }
    }
}
