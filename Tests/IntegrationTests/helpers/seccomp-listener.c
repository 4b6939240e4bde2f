// SPDX-License-Identifier: Apache-2.0
/*
 * seccomp-listener SOCKET ANSWER [HOLD_FILE]: a test listener for SCMP_ACT_NOTIFY. Accepts
 * connections on the AF_UNIX socket SOCKET (one per process with a filter: the container's,
 * then each exec's), receives the state (printed to stdout) and the notify descriptor, and
 * answers every notification with -ANSWER, or lets the syscall run when ANSWER is
 * "continue", printing "notified syscall=N". With HOLD_FILE, the second connection's first
 * notification (an exec's own execve) is held, printing "held pid=N", until HOLD_FILE exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int answer, let_run;
static const char *hold_file;

static int serve(int client, int hold);

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: seccomp-listener SOCKET ERRNO|continue [HOLD_FILE]\n");
        return 2;
    }
    let_run = strcmp(argv[2], "continue") == 0;
    answer = let_run ? 0 : atoi(argv[2]);
    hold_file = argc == 4 ? argv[3] : NULL;
    alarm(120); /* a test that fails before connecting must not leave us waiting forever */
    int server = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", argv[1]);
    unlink(argv[1]);
    if (server < 0 || bind(server, (struct sockaddr *)&address, sizeof(address)) < 0 || listen(server, 1) < 0) {
        perror("seccomp-listener: listening");
        return 2;
    }
    printf("listening\n");
    fflush(stdout);
    signal(SIGCHLD, SIG_IGN);
    for (int connection = 1;; connection++) {
        int client = accept(server, NULL, NULL);
        if (client < 0) {
            perror("seccomp-listener: accept");
            return 2;
        }
        /* The first connection alone is served here (the original one-listener use);
         * with HOLD_FILE every connection gets a process of its own. */
        if (!hold_file)
            return serve(client, 0);
        pid_t child = fork();
        if (child == 0) {
            close(server);
            _exit(serve(client, connection == 2));
        }
        close(client);
    }
}

static int serve(int client, int hold)
{
    alarm(120); /* nor may a connection's process outlive a failed test */
    char state[8192];
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { state, sizeof(state) - 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
    ssize_t n = recvmsg(client, &msg, 0);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (n <= 0 || !c || c->cmsg_type != SCM_RIGHTS) {
        fprintf(stderr, "seccomp-listener: no descriptor received\n");
        return 2;
    }
    state[n] = 0;
    int notify;
    memcpy(&notify, CMSG_DATA(c), sizeof(int));
    printf("state %s\n", state);
    fflush(stdout);
    struct seccomp_notif_sizes sizes;
    if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) {
        perror("seccomp-listener: sizes");
        return 2;
    }
    struct seccomp_notif *request = calloc(1, sizes.seccomp_notif);
    struct seccomp_notif_resp *response = calloc(1, sizes.seccomp_notif_resp);
    for (;;) {
        memset(request, 0, sizes.seccomp_notif);
        if (ioctl(notify, SECCOMP_IOCTL_NOTIF_RECV, request) < 0) {
            if (errno == EINTR)
                continue;
            break; /* ENOENT: the filter's processes are gone */
        }
        printf("notified syscall=%d\n", request->data.nr);
        fflush(stdout);
        if (hold) {
            printf("held pid=%u\n", request->pid);
            fflush(stdout);
            while (access(hold_file, F_OK) != 0)
                usleep(10000);
            hold = 0;
        }
        memset(response, 0, sizes.seccomp_notif_resp);
        response->id = request->id;
        if (let_run)
            response->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        else
            response->error = -answer;
        if (ioctl(notify, SECCOMP_IOCTL_NOTIF_SEND, response) < 0 && errno != ENOENT)
            perror("seccomp-listener: send");
    }
    return 0;
}
