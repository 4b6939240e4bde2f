// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "cshims.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/sched.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* The child of clone: no Swift, no allocation, no locks. It only makes the plan socket
 * survive the exec and becomes skiff-init. */
static void become_init(const struct skiff_spawn_request *r)
{
    static char *const empty_env[] = { NULL };
    int flags = fcntl(r->sync_fd, F_GETFD);
    if (flags < 0 || fcntl(r->sync_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
        _exit(126);
    syscall(SYS_execveat, r->init_fd, "", r->argv, empty_env, AT_EMPTY_PATH);
    _exit(127);
}

static pid_t clone3_child(struct skiff_spawn_request *r, int into_cgroup)
{
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = r->clone_flags | CLONE_PIDFD | (into_cgroup ? CLONE_INTO_CGROUP : 0);
    args.pidfd = (uint64_t)(uintptr_t)&r->pidfd;
    args.exit_signal = SIGCHLD;
    if (into_cgroup)
        args.cgroup = (uint64_t)r->cgroup_fd;
    /* No stack: like fork, the child continues on a copy of ours. */
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

pid_t skiff_spawn(struct skiff_spawn_request *r)
{
    r->pidfd = -1;
    r->into_cgroup = 0;
    int into = r->cgroup_fd >= 0;
    pid_t pid = clone3_child(r, into);
    if (pid < 0 && into && errno != ENOSYS) {
        /* e.g. a cgroup that cannot take processes directly: the parent moves it later */
        into = 0;
        pid = clone3_child(r, 0);
    }
    if (pid < 0 && errno == ENOSYS) {
        into = 0;
        pid = (pid_t)syscall(SYS_clone, (unsigned long)(r->clone_flags | CLONE_PIDFD | SIGCHLD), NULL, &r->pidfd, NULL,
                             NULL);
    }
    if (pid == 0)
        become_init(r);
    if (pid > 0)
        r->into_cgroup = into;
    return pid;
}

int skiff_sealed_copy(const char *path)
{
    int src = open(path, O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return -1;
    struct stat st;
    int fd = -1;
    if (fstat(src, &st) < 0)
        goto out;
    fd = memfd_create(SKIFF_INIT_MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        goto out;
    off_t done = 0;
    while (done < st.st_size) {
        ssize_t n = sendfile(fd, src, &done, (size_t)(st.st_size - done));
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            goto fail;
        }
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        goto fail;
    goto out;
fail : {
    int saved = errno;
    close(fd);
    fd = -1;
    errno = saved;
}
out : {
    int saved = errno;
    close(src);
    errno = saved;
}
    return fd;
}

int skiff_send_message(int sock, const void *buffer, size_t length, const int *fds, int nfds)
{
    struct iovec iov = { (void *)buffer, length };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    char control[CMSG_SPACE(sizeof(int) * SKIFF_PLAN_MAX_FDS)];
    if (nfds > SKIFF_PLAN_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (nfds > 0) {
        memset(control, 0, sizeof(control));
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n != length) {
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

ssize_t skiff_receive_message(int sock, void *buffer, size_t length, int *fd)
{
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { buffer, length };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
    *fd = -1;
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    return n;
}

int skiff_become_subreaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int skiff_memfd(const char *name)
{
    return memfd_create(name, MFD_CLOEXEC);
}

int skiff_open_tmpfile(const char *dir)
{
    return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
}

int skiff_link_tmpfile(int fd, const char *path)
{
    return linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH);
}

int skiff_unshare(int flags)
{
    return unshare(flags);
}

int skiff_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int skiff_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int skiff_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, 1 /* RENAME_NOREPLACE */);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

int skiff_userns_fd(const char *uid_map, const char *gid_map)
{
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
    if (pid == 0) {
        /* The child: only waits to be mapped and looked at, then leaves. */
        char byte;
        close(gate[1]);
        while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    int saved = errno, fd = -1;
    close(gate[0]);
    if (pid > 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
        if (write_file(path, uid_map) == 0) {
            snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
            if (write_file(path, gid_map) == 0) {
                snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
            }
        }
        saved = errno;
    }
    close(gate[1]);
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    errno = saved;
    return fd;
}

/* A runtime hook (prestart, createRuntime, poststart, poststop): a child that dies with the
 * thread that started it (PR_SET_PDEATHSIG), so a `create` killed while its hook runs takes
 * the hook with it, in a process group of its own, so a timeout kills all it started. Only
 * async-signal-safe calls between fork and execve. */
pid_t skiff_spawn_hook(const char *path, char *const argv[], char *const envp[], int stdin_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
        _exit(126);
    if (setpgid(0, 0) < 0 || dup2(stdin_fd, 0) < 0)
        _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execve(path, argv, envp);
    _exit(127);
}
