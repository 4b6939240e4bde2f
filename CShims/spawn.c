// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "cshims.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
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

/* The child's report of a cgroup it could not join, on the plan socket, where the parent
 * reads skiff-init's reports: the step, the file and errno. */
static void report_join_failure(const struct skiff_spawn_request *r, const char *path, int error)
{
    static const char step[] = "joining the container's cgroup";
    struct skiff_report report;
    memset(&report, 0, sizeof(report));
    report.kind = SKIFF_REPORT_ERROR;
    report.error = error;
    memcpy(report.step, step, sizeof(step));
    size_t n = strlen(path);
    if (n >= sizeof(report.detail))
        n = sizeof(report.detail) - 1;
    memcpy(report.detail, path, n);
    /* A send that fails (the parent gone) is not retried: the exit status, 125, says it. */
    (void)send(r->sync_fd, &report, sizeof(report), MSG_NOSIGNAL);
}

/* The child of clone: no Swift, no allocation, no locks. It joins its v1 cgroups, makes the
 * plan socket survive the exec and becomes skiff-init. */
static void become_init(const struct skiff_spawn_request *r)
{
    static char *const empty_env[] = { NULL };
    for (int i = 0; i < r->join_count; i++) {
        ssize_t n;
        do {
            n = write(r->join_fds[i], "0", 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) {
            report_join_failure(r, r->join_paths[i], n < 0 ? errno : EIO);
            _exit(125);
        }
    }
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

int skiff_pipe_cloexec(int ends[2])
{
    return pipe2(ends, O_CLOEXEC);
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

/* fork, the child killed with the calling thread (PR_SET_PDEATHSIG; if that thread is
 * already gone, the child ends at once): the parent gets the pid (or -1), the child 0. */
static pid_t fork_dying_with_caller(void)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
        _exit(126);
    return 0;
}

/* A runtime hook (prestart, createRuntime, poststart, poststop): a child that dies with the
 * thread that started it (PR_SET_PDEATHSIG), so a `create` killed while its hook runs takes
 * the hook with it, in a process group of its own, so a timeout kills all it started. Only
 * async-signal-safe calls between fork and execve. */
pid_t skiff_spawn_hook(const char *path, char *const argv[], char *const envp[], int stdin_fd)
{
    pid_t pid = fork_dying_with_caller();
    if (pid != 0)
        return pid;
    if (setpgid(0, 0) < 0 || dup2(stdin_fd, 0) < 0)
        _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execve(path, argv, envp);
    _exit(127);
}

/* Reads one byte from `fd`: the parent's go-ahead (0 when it closed its end instead). */
static int await_release(int fd)
{
    char byte;
    ssize_t got;
    while ((got = read(fd, &byte, 1)) < 0 && errno == EINTR) {
    }
    return got == 1;
}

/* The terminal a restored task with process.terminal gets: a devpts instance of its own
 * (which the restore makes the container's /dev/pts), whose first pty's peer is put on each
 * of terminal_fds, which CRIU is told are the task's terminals (--inherit-fd: one descriptor
 * per key), and whose master is sent on the console socket with the pty's name, as
 * skiff-init does at create. */
static int open_restored_terminal(const struct skiff_criu_request *request)
{
    if (mount("devpts", request->devpts_dir, "devpts", request->devpts_flags, request->devpts_data) < 0)
        return 0;
    int master = open(request->devpts_ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return 0;
    int unlock = 0;
    unsigned int number = 0;
    int peer = -1;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &number) < 0 ||
        (peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY)) < 0)
        return 0;
    for (int i = 0; i < request->terminal_count; i++)
        if (dup2(peer, request->terminal_fds[i]) < 0)
            return 0;
    close(peer);
    /* "/dev/pts/N", without snprintf (not async-signal-safe) */
    char name[32] = "/dev/pts/";
    char digits[12];
    int count = 0, length = 9;
    do {
        digits[count++] = (char)('0' + number % 10);
        number /= 10;
    } while (number > 0);
    while (count > 0)
        name[length++] = digits[--count];
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof(control));
    struct iovec iov = { name, (size_t)length };
    struct msghdr message = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)
    };
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &master, sizeof(int));
    ssize_t sent;
    while ((sent = sendmsg(request->console_socket, &message, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    close(master);
    close(request->console_socket);
    return sent == length;
}

/* CRIU, held until the caller has put it in the container's cgroup (what it restores is
 * born there) and released it by writing a byte to `release_fd`'s other end; it ends if
 * the caller closes that end instead. Then, for a task with skiff's network, it sends the
 * task's rules (the datagram in `rules_batch`, on the netlink socket `rules_socket`) from
 * inside that cgroup, which nf_tables charges for them, as skiff-init does at create, and
 * waits for a second byte: the task's interface is ready. Killed with the calling thread
 * (PR_SET_PDEATHSIG) while held, and, for a restore, while it runs: a restore killed mid-way
 * takes CRIU with it. A dump (`outlive_caller`) runs to its end once released: CRIU killed
 * mid-dump can leave a task with its parasite half-injected (the task's code patched for one
 * syscall), which then crashes; a finished dump leaves it running, or ended as asked. With
 * `root` and `root_mount`, CRIU runs in a mount namespace of its own where `root` is
 * bind-mounted on `root_mount` (CRIU's --root must be a mount point): the node's mount table
 * never holds it. Its mounts are the node's slaves,
 * not private: CRIU copies an external mount's sharing (the node's /dev/null over masked
 * files) from the source it is given, which a private mount has none of. `keep_fds` lose
 * close-on-exec (namespaces handed to CRIU by --inherit-fd). Only async-signal-safe calls after fork. */
pid_t skiff_spawn_criu(const struct skiff_criu_request *request)
{
    pid_t pid = fork_dying_with_caller();
    if (pid != 0)
        return pid;
    for (int i = 0; i < request->keep_count; i++)
        if (fcntl(request->keep_fds[i], F_SETFD, 0) < 0)
            _exit(126);
    if (request->root != NULL && request->root_mount != NULL) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
            mount(request->root, request->root_mount, NULL, MS_BIND | MS_REC, NULL) < 0)
            _exit(126);
        if (request->devpts_dir != NULL && !open_restored_terminal(request))
            _exit(123);
    }
    if (!await_release(request->release_fd))
        _exit(125);
    if (request->rules_socket >= 0) {
        struct stat st;
        if (fstat(request->rules_batch, &st) < 0)
            _exit(124);
        if (st.st_size > 0) {
            void *bytes = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, request->rules_batch, 0);
            if (bytes == MAP_FAILED)
                _exit(124);
            ssize_t sent;
            while ((sent = send(request->rules_socket, bytes, (size_t)st.st_size, 0)) < 0 && errno == EINTR) {
            }
            if (sent != st.st_size)
                _exit(124);
            munmap(bytes, (size_t)st.st_size);
        }
        if (!await_release(request->release_fd))
            _exit(125);
    }
    close(request->release_fd);
    if (request->outlive_caller && prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)
        _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(request->path, request->argv, request->envp);
    _exit(127);
}

/* A new network namespace, made by a thread of its own (unshare(CLONE_NEWNET) changes only
 * the calling thread's): its descriptor, or -1 with errno. The caller's thread stays in the
 * node's namespace. */
static void *make_netns(void *result)
{
    int *fd = result;
    if (unshare(CLONE_NEWNET) < 0) {
        fd[1] = errno;
        return NULL;
    }
    fd[0] = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd[0] < 0)
        fd[1] = errno;
    return NULL;
}

int skiff_new_netns(void)
{
    int result[2] = { -1, 0 };
    pthread_t thread;
    int error = pthread_create(&thread, NULL, make_netns, result);
    if (error != 0) {
        errno = error;
        return -1;
    }
    if ((error = pthread_join(thread, NULL)) != 0) {
        errno = error;
        return -1;
    }
    if (result[0] < 0)
        errno = result[1];
    return result[0];
}

/* Creates each of `paths` that is missing under `root` (a directory, or an empty file where
 * `files[i]`), its parents as directories: what create's mounts made in a bundle's root,
 * which CRIU needs before it mounts there again (a restored copy of an image has no
 * /etc/hosts to bind over). In a child chrooted to `root`, so a symlink of the image
 * resolves inside it, never to the node's files. Returns 0, or -1 with errno. */
int skiff_make_mountpoints(const char *root, char *const paths[], const int *files, int count)
{
    int status;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (chroot(root) < 0 || chdir("/") < 0)
            _exit(1);
        for (int i = 0; i < count; i++) {
            char path[4096];
            size_t length = strlen(paths[i]);
            if (length == 0 || length >= sizeof(path))
                _exit(2);
            memcpy(path, paths[i], length + 1);
            for (char *slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                    _exit(3);
                *slash = '/';
            }
            if (files[i]) {
                int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOCTTY, 0644);
                if (fd < 0 && errno != EISDIR)
                    _exit(4);
                if (fd >= 0)
                    close(fd);
            } else if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                _exit(5);
            }
        }
        _exit(0);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = EIO;
        return -1;
    }
    return 0;
}
