// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include "skiff_netlink.h"

int skiff_netlink_socket_in(int netns_fd, int protocol)
{
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0)
        return -1;
    if (setns(netns_fd, CLONE_NEWNET) < 0) {
        int saved = errno;
        close(home);
        errno = saved;
        return -1;
    }
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    int saved = errno;
    if (setns(home, CLONE_NEWNET) < 0)
        abort(); /* this thread would go on in the task's namespace: never */
    close(home);
    errno = saved;
    return fd;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

uint64_t skiff_netns_cookie(int netns_fd)
{
    int fd = netns_fd >= 0 ? skiff_netlink_socket_in(netns_fd, NETLINK_ROUTE)
                           : socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return 0;
    uint64_t cookie = 0;
    socklen_t length = sizeof(cookie);
    int rc = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &length);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 ? cookie : 0;
}
