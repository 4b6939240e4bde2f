// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "skiff_netlink.h"

/* Closes every descriptor but the `count` ones in `keep` (which it sorts). */
static int close_all_but(int *keep, int count)
{
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int swap = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = swap;
        }
    unsigned int next = 0;
    for (int i = 0; i < count; i++) {
        if ((unsigned int)keep[i] > next && close_range(next, (unsigned int)keep[i] - 1, 0) < 0)
            return -1;
        next = (unsigned int)keep[i] + 1;
    }
    return close_range(next, ~0U, 0);
}

/* Sends the request, waits for the kernel's answer and reports its errno (0: done) as one int;
 * the caller may be gone by then (SIGPIPE is ignored, so the write fails quietly). */
static void answer_request(int sock, const void *request, size_t length, int report)
{
    int answer = 0;
    ssize_t n;
    do {
        n = send(sock, request, length, 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)length) {
        answer = n < 0 ? errno : EMSGSIZE;
    } else {
        /* The first message back is the acknowledgement (a request of its own socket). */
        char buffer[4096] __attribute__((aligned(4)));
        do {
            n = recv(sock, buffer, sizeof(buffer), 0);
        } while (n < 0 && errno == EINTR);
        const struct nlmsghdr *header = (const struct nlmsghdr *)buffer;
        if (n < 0)
            answer = errno;
        else if (n < (ssize_t)(sizeof(*header) + sizeof(int)) || header->nlmsg_type != NLMSG_ERROR)
            answer = EPROTO;
        else
            answer = -((const struct nlmsgerr *)NLMSG_DATA(header))->error;
    }
    do {
        n = write(report, &answer, sizeof(answer));
    } while (n < 0 && errno == EINTR);
    close(report);
}

/* The grandchild: no Swift, no allocation. Keeps only what it was given, answers the request
 * if there is one, then holds on until the caller closes `release`, so that its copies of the
 * held descriptors are the last. */
static void run_request(int sock, const void *request, size_t length, int report, int release, const int *hold,
                        int hold_count)
{
    int keep[3 + SKIFF_DETACHED_HOLD_MAX];
    int kept = 0;
    if (request != NULL) {
        keep[kept++] = sock;
        keep[kept++] = report;
    }
    keep[kept++] = release;
    for (int i = 0; i < hold_count; i++)
        keep[kept++] = hold[i];
    struct sigaction ignore = { .sa_handler = SIG_IGN };
    if (setsid() < 0 || sigaction(SIGPIPE, &ignore, NULL) < 0 || close_all_but(keep, kept) < 0)
        _exit(126);
    ssize_t n;
    if (request != NULL)
        answer_request(sock, request, length, report);
    /* The caller has closed its copies of what is held when it closes `release`. */
    char byte;
    do {
        n = read(release, &byte, 1);
    } while (n > 0 || (n < 0 && errno == EINTR));
    _exit(0);
}

int skiff_netlink_request_detached(int sock, const void *request, size_t length, int report, int release,
                                   const int *hold, int hold_count)
{
    if (hold_count < 0 || hold_count > SKIFF_DETACHED_HOLD_MAX) {
        errno = EINVAL;
        return -1;
    }
    /* _Fork: no atfork handlers, so nothing of the Swift runtime runs in either child. */
    pid_t child = _Fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        pid_t grandchild = _Fork();
        if (grandchild == 0)
            run_request(sock, request, length, report, release, hold, hold_count);
        _exit(grandchild < 0 ? 1 : 0);
    }
    int status = 0;
    pid_t waited;
    do {
        waited = waitpid(child, &status, 0);
    } while (waited < 0 && errno == EINTR);
    if (waited < 0)
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = EAGAIN; /* the middle child could not fork */
        return -1;
    }
    return 0;
}
