/*
 * seccomp-listener SOCKET ERRNO: a test listener for SCMP_ACT_NOTIFY. Accepts one
 * connection on the AF_UNIX socket SOCKET, receives the container process state (printed
 * to stdout) and the notify descriptor, then answers every notification with -ERRNO,
 * printing "notified syscall=N", until the container is gone.
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
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: seccomp-listener SOCKET ERRNO\n");
        return 2;
    }
    int answer = atoi(argv[2]);
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
    int client = accept(server, NULL, NULL);
    if (client < 0) {
        perror("seccomp-listener: accept");
        return 2;
    }
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
        memset(response, 0, sizes.seccomp_notif_resp);
        response->id = request->id;
        response->error = -answer;
        if (ioctl(notify, SECCOMP_IOCTL_NOTIF_SEND, response) < 0 && errno != ENOENT)
            perror("seccomp-listener: send");
    }
    return 0;
}
