// SPDX-License-Identifier: Apache-2.0
/*
 * shim-update: sends containerd's Task.Update to a task's shim, as containerd itself does for a
 * resource update (Debian's ctr 1.6 has no `update`): ttrpc over the shim's unix socket, the
 * protobuf written by hand. The shim turns it into `<runtime> update --resources -`.
 *   shim-update STATE NAMESPACE ID RESOURCES-JSON   (STATE: containerd's, e.g. /run/containerd)
 * Exit 0 when the shim says the update was made; else its message on stderr, exit 1.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static size_t varint(uint8_t *out, uint64_t value)
{
    size_t n = 0;
    do {
        out[n] = value & 0x7f;
        value >>= 7;
        if (value)
            out[n] |= 0x80;
        n++;
    } while (value);
    return n;
}

/* Field `number` as length-delimited bytes. */
static size_t field(uint8_t *out, int number, const void *bytes, size_t length)
{
    size_t n = varint(out, (uint64_t)(number << 3 | 2));
    n += varint(out + n, length);
    memcpy(out + n, bytes, length);
    return n + length;
}

static uint64_t read_varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t value = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        value |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    return value;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: shim-update STATE NAMESPACE ID RESOURCES-JSON\n");
        return 2;
    }
    char path[512], address[512] = "";
    snprintf(path, sizeof(path), "%s/io.containerd.runtime.v2.task/%s/%s/address", argv[1], argv[2], argv[3]);
    FILE *file = fopen(path, "r");
    if (!file || !fgets(address, sizeof(address), file)) {
        perror(path);
        return 1;
    }
    fclose(file);
    address[strcspn(address, "\r\n")] = 0;
    const char *socket_path = strncmp(address, "unix://", 7) == 0 ? address + 7 : address;

    static uint8_t any[65536], update[65536], request[65536], frame[65546];
    const char *type = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
    size_t n = field(any, 1, type, strlen(type));
    n += field(any + n, 2, argv[4], strlen(argv[4]));
    size_t u = field(update, 1, argv[3], strlen(argv[3]));
    u += field(update + u, 2, any, n);
    size_t r = field(request, 1, "containerd.task.v2.Task", 23);
    r += field(request + r, 2, "Update", 6);
    r += field(request + r, 3, update, u);
    uint32_t length = htonl((uint32_t)r), stream = htonl(1);
    memcpy(frame, &length, 4);
    memcpy(frame + 4, &stream, 4);
    frame[8] = 1; /* request */
    frame[9] = 0;
    memcpy(frame + 10, request, r);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un to = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof(to.sun_path)) {
        fprintf(stderr, "%s: the socket path is too long\n", socket_path);
        return 1;
    }
    memcpy(to.sun_path, socket_path, strlen(socket_path) + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
        perror(socket_path);
        return 1;
    }
    if (write(fd, frame, 10 + r) != (ssize_t)(10 + r)) {
        perror("sending the request");
        return 1;
    }
    uint8_t header[10];
    size_t got = 0;
    while (got < 10) {
        ssize_t k = read(fd, header + got, 10 - got);
        if (k <= 0) {
            perror("reading the answer");
            return 1;
        }
        got += (size_t)k;
    }
    uint32_t answer_length;
    memcpy(&answer_length, header, 4);
    answer_length = ntohl(answer_length);
    uint8_t *answer = malloc(answer_length + 1);
    got = 0;
    while (answer && got < answer_length) {
        ssize_t k = read(fd, answer + got, answer_length - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    if (!answer || got != answer_length) {
        fprintf(stderr, "a short answer\n");
        return 1;
    }
    /* Response { Status status = 1; ... }, Status { int32 code = 1; string message = 2; } */
    const uint8_t *p = answer, *end = answer + answer_length;
    while (p < end) {
        uint64_t tag = read_varint(&p, end);
        if ((tag & 7) != 2) {
            read_varint(&p, end);
            continue;
        }
        uint64_t size = read_varint(&p, end);
        if (tag >> 3 == 1) {
            const uint8_t *s = p, *s_end = p + size;
            uint64_t code = 0;
            const char *message = "";
            size_t message_length = 0;
            while (s < s_end) {
                uint64_t t = read_varint(&s, s_end);
                if ((t & 7) == 0) {
                    uint64_t v = read_varint(&s, s_end);
                    if (t >> 3 == 1)
                        code = v;
                } else {
                    uint64_t l = read_varint(&s, s_end);
                    if (t >> 3 == 2) {
                        message = (const char *)s;
                        message_length = l;
                    }
                    s += l;
                }
            }
            if (code != 0) {
                fprintf(stderr, "%.*s\n", (int)message_length, message);
                return 1;
            }
        }
        p += size;
    }
    return 0;
}
