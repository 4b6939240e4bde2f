// SPDX-License-Identifier: Apache-2.0
/*
 * skiff-init: the only code that runs between clone and the container's execve.
 *
 * `skiff` clones this process into the new namespaces and execs it from a sealed memfd, so
 * nothing in the container can ever reach a runtime binary on the host (CVE-2019-5736). It
 * receives a plan (see skiff_plan.h) over a SOCK_SEQPACKET socket whose number is argv[1],
 * executes its operations in order, reports READY (or the step, errno and detail of the
 * first failure) and finally execs the container process. It holds no policy: the parent
 * decided everything. It is built static (musl) and links neither libseccomp nor libcap.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <termios.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../CShims/include/skiff_plan.h"
#include "skiff_syscalls.h"

static int sync_fd = -1;
static int root_fd = -1;        /* the container's root: bundle rootfs, later "/" */
static const char *rootfs_path; /* host path of the rootfs, for --no-pivot */
static int plan_fds[SKIFF_PLAN_MAX_FDS];
static int plan_nfds;
/* The host's /dev/null for file masks: one detached clone made before the pivot, and once
 * that is attached, the mask it became (a mount in this namespace) is cloned for the next. */
static int devnull_tree = -1, devnull_mounted = -1;
/* The empty read-only tmpfs of the first masked directory: every later one is a bind of it. */
static int empty_dir_mounted = -1;
static int exec_fifo = -1;       /* kept across CLOSE_FDS for EXEC */
static int caps_pending;         /* see load_seccomp */
static int seccomp_before_ready; /* see op_seccomp */
#define SKIFF_MAX_LABELS 2
static int label_fds[SKIFF_MAX_LABELS]; /* see op_exec_label */
static const char *label_values[SKIFF_MAX_LABELS];
static int label_count;
static void load_seccomp(int reported);
static uint64_t final_eff, final_perm, final_inh;

/* ---- reporting ------------------------------------------------------------------------ */

static void send_report(int kind, int error, int pid, const char *step, const char *detail)
{
    struct skiff_report r;
    memset(&r, 0, sizeof(r));
    r.kind = kind;
    r.error = error;
    r.pid = pid;
    if (step)
        snprintf(r.step, sizeof(r.step), "%s", step);
    if (detail)
        snprintf(r.detail, sizeof(r.detail), "%s", detail);
    if (send(sync_fd, &r, sizeof(r), MSG_NOSIGNAL) != (ssize_t)sizeof(r) && kind == SKIFF_REPORT_ERROR)
        dprintf(2, "skiff-init: %s: %s: %s\n", step, detail ? detail : "", strerror(error));
}

/* Report the failed step with errno and exit: the parent turns it into one line. */
static void fail(const char *step, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void fail(const char *step, const char *fmt, ...)
{
    int saved = errno;
    char detail[sizeof(((struct skiff_report *)0)->detail)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    send_report(SKIFF_REPORT_ERROR, saved, 0, step, detail);
    _exit(1);
}

/* ---- receiving the plan --------------------------------------------------------------- */

struct op {
    int code;
    int nstr;
    int64_t arg[SKIFF_OP_MAX_ARGS];
    const char *str[]; /* nstr entries, pointing into the plan buffer */
};

static char *plan;
static size_t plan_len;

/* Read plan messages until one ends with SKIFF_OP_END. Descriptors come with the first. */
static void receive_plan(void)
{
    size_t cap = 0;
    int first = 1;
    for (;;) {
        if (cap - plan_len < SKIFF_PLAN_MAX_MESSAGE) {
            cap = cap ? cap * 2 : 2 * SKIFF_PLAN_MAX_MESSAGE;
            plan = realloc(plan, cap);
            if (!plan)
                fail("receiving the plan", "out of memory");
        }
        char control[CMSG_SPACE(sizeof(int) * SKIFF_PLAN_MAX_FDS)];
        struct iovec iov = { plan + plan_len, SKIFF_PLAN_MAX_MESSAGE };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (first) {
            msg.msg_control = control;
            msg.msg_controllen = sizeof(control);
        }
        ssize_t n = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(1); /* the parent is gone: nothing to report to */
        if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
            fail("receiving the plan", "message truncated");
        if (first) {
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                    plan_nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                    memcpy(plan_fds, CMSG_DATA(c), sizeof(int) * (size_t)plan_nfds);
                }
            }
            first = 0;
        }
        plan_len += (size_t)n;
        /* The parent never splits an operation; the last one of the last message is END. */
        size_t off = 0, last = 0;
        while (off + sizeof(struct skiff_op_header) <= plan_len) {
            struct skiff_op_header *h = (struct skiff_op_header *)(plan + off);
            if (h->size < sizeof(*h) || off + h->size > plan_len)
                fail("receiving the plan", "malformed operation at offset %zu", off);
            last = off;
            off += h->size;
        }
        if (plan_len > 0 && ((struct skiff_op_header *)(plan + last))->op == SKIFF_OP_END)
            return;
    }
}

/* Every decoded operation lives in one allocation, made once the whole plan is here: the
 * process execs or exits soon after, and a malloc and free per operation cost musl an mmap
 * and a munmap each (with their page fault), about 5% of a `run`'s samples. */
static char *op_arena;
static size_t op_arena_left;

static size_t op_size(const struct skiff_op_header *h)
{
    return sizeof(struct op) + sizeof(char *) * ((size_t)h->nstr + 1);
}

static void allocate_op_arena(void)
{
    size_t total = 0;
    for (size_t off = 0; off < plan_len; off += ((struct skiff_op_header *)(plan + off))->size)
        total += op_size((struct skiff_op_header *)(plan + off));
    op_arena = malloc(total);
    if (!op_arena)
        fail("reading the plan", "out of memory");
    op_arena_left = total;
}

/* Decode the operation at *off into the next `struct op` of the arena. */
static struct op *next_op(size_t *off)
{
    struct skiff_op_header *h = (struct skiff_op_header *)(plan + *off);
    size_t size = op_size(h);
    if (size > op_arena_left)
        fail("reading the plan", "operation at offset %zu past the plan's end", *off);
    struct op *o = (struct op *)op_arena;
    op_arena += size;
    op_arena_left -= size;
    o->code = h->op;
    o->nstr = h->nstr;
    memcpy(o->arg, h->arg, sizeof(o->arg));
    const char *s = (const char *)(h + 1);
    const char *end = plan + *off + h->size;
    for (int i = 0; i < h->nstr; i++) {
        const char *nul = memchr(s, 0, (size_t)(end - s));
        if (!nul)
            fail("reading the plan", "unterminated string in %s (operation %d)",
                 skiff_op_name(h->op) ? skiff_op_name(h->op) : "?", h->op);
        o->str[i] = s;
        s = nul + 1;
    }
    o->str[h->nstr] = NULL;
    *off += h->size;
    return o;
}

static int plan_fd(int64_t index, const char *step)
{
    if (index < 0 || index >= plan_nfds) {
        errno = EBADF;
        fail(step, "descriptor index %lld not sent", (long long)index);
    }
    return plan_fds[index];
}

/* What the parent sent with a "go": the container state for hooks, by slot. */
#define SKIFF_PAYLOAD_SLOTS 2
static char *payloads[SKIFF_PAYLOAD_SLOTS];

/* Wait for the parent's go; its message (if any) is kept in payload slot `slot`. */
static void wait_for_go(int64_t slot)
{
    char *buffer = malloc(SKIFF_PLAN_MAX_MESSAGE + 1);
    if (!buffer)
        fail("waiting for the parent", "out of memory");
    ssize_t n;
    do {
        n = recv(sync_fd, buffer, SKIFF_PLAN_MAX_MESSAGE, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        _exit(1);
    buffer[n] = 0;
    if (slot >= 0 && slot < SKIFF_PAYLOAD_SLOTS) {
        free(payloads[slot]);
        payloads[slot] = buffer;
    } else {
        free(buffer);
    }
}

/* ---- paths inside the root ------------------------------------------------------------ */

/* Open `path` as seen from the container's root: symlinks (even absolute ones and `..`)
 * resolve inside it, so no target can point outside the rootfs (CVE-2021-30465). */
static int open_in_root(const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd;
    do {
        fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    } while (fd < 0 && errno == EAGAIN);
    return fd;
}

/* Split "a/b/c" into the parent "a/b" (in `parent`) and return "c". */
static const char *split_parent(const char *path, char *parent, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(parent, size, ".");
        return path;
    }
    size_t n = (size_t)(slash - path);
    snprintf(parent, size, "%.*s", (int)n, path);
    if (n == 0)
        snprintf(parent, size, "/");
    return slash + 1;
}

static int ensure_in_root(const char *path, int kind, const char *step);

/* Open the parent directory of `path` in the root, creating missing directories. */
static int ensure_parent(const char *path, const char **name, const char *step)
{
    char parent[PATH_MAX];
    *name = split_parent(path, parent, sizeof(parent));
    return ensure_in_root(parent, SKIFF_TARGET_DIR, step);
}

/* Open `path` (O_PATH) inside the root, creating it (and its parents) as a directory or an
 * empty file when missing. Every creation is relative to a directory fd that was itself
 * resolved inside the root, so a symlink can never steer a creation outside it. */
static int ensure_in_root(const char *path, int kind, const char *step)
{
    int fd = open_in_root(path, O_PATH);
    if (fd >= 0 || errno != ENOENT)
        goto out;
    const char *name;
    int dir = ensure_parent(path, &name, step);
    int r;
    if (kind == SKIFF_TARGET_DIR) {
        r = mkdirat(dir, name, 0755);
    } else {
        r = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (r >= 0)
            close(r);
    }
    if (r < 0 && errno != EEXIST)
        fail(step, "creating %s", path);
    close(dir);
    fd = open_in_root(path, O_PATH);
out:
    if (fd < 0)
        fail(step, "opening %s in the container root", path);
    return fd;
}

static void fd_path(int fd, char *buf, size_t size)
{
    snprintf(buf, size, "/proc/self/fd/%d", fd);
}

/* ---- mounts ----------------------------------------------------------------------------- */

/* MS_* flags as mount_setattr(2) attributes (for fd-based bind mounts). */
static uint64_t mount_attr_of(int64_t ms)
{
    uint64_t attr = 0;
    if (ms & MS_RDONLY)
        attr |= MOUNT_ATTR_RDONLY;
    if (ms & MS_NOSUID)
        attr |= MOUNT_ATTR_NOSUID;
    if (ms & MS_NODEV)
        attr |= MOUNT_ATTR_NODEV;
    if (ms & MS_NOEXEC)
        attr |= MOUNT_ATTR_NOEXEC;
    if (ms & MS_NODIRATIME)
        attr |= MOUNT_ATTR_NODIRATIME;
    if (ms & MS_NOATIME)
        attr |= MOUNT_ATTR_NOATIME;
    else if (ms & MS_STRICTATIME)
        attr |= MOUNT_ATTR_STRICTATIME;
    return attr;
}

/* The attribute bits in force on the mount `fd` is on, so a read-only remount keeps the
 * nosuid/nodev/noexec flags that may be locked (remounting without them fails). */
static uint64_t current_mount_attr(int fd)
{
    struct statvfs st;
    uint64_t attr = 0;
    if (fstatvfs(fd, &st) < 0)
        return 0;
    if (st.f_flag & ST_NOSUID)
        attr |= MOUNT_ATTR_NOSUID;
    if (st.f_flag & ST_NODEV)
        attr |= MOUNT_ATTR_NODEV;
    if (st.f_flag & ST_NOEXEC)
        attr |= MOUNT_ATTR_NOEXEC;
    return attr;
}

static void set_attr(int fd, int recursive, uint64_t set, uint64_t clr, uint64_t propagation, const char *step,
                     const char *what)
{
    struct mount_attr attr = { .attr_set = set, .attr_clr = clr, .propagation = propagation };
    if ((set | clr) & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME))
        attr.attr_clr |= MOUNT_ATTR__ATIME;
    if (!set && !attr.attr_clr && !propagation)
        return;
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr)) < 0)
        fail(step, "setting mount attributes of %s", what);
}

static void attach(int tree, int target, const char *step, const char *what)
{
    if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        fail(step, "attaching the mount on %s", what);
}

static void op_mount(const struct op *o)
{
    const char *source = o->str[0], *target = o->str[1], *fstype = o->str[2], *data = o->str[3];
    char step[96];
    snprintf(step, sizeof(step), "mounting %s on %s", *fstype ? fstype : source, target);
    int tfd = ensure_in_root(target, (int)o->arg[3], step);
    if (o->arg[4]) {
        /* bind: clone the source tree, set its attributes while detached, attach it. */
        int recursive = (o->arg[0] & MS_REC) != 0;
        int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source,
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
        if (tree < 0)
            fail(step, "opening bind source %s", source);
        if (o->arg[5] >= 0) {
            /* An idmapped mount: the ids of its files are seen through that user namespace. */
            struct mount_attr idmap = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)plan_fd(o->arg[5], step) };
            if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &idmap,
                        sizeof(idmap)) < 0)
                fail(step, "idmapping the mount (mounts[].uidMappings)");
        }
        /* mount_setattr takes one propagation type; "rprivate" is that type applied recursively. */
        uint64_t propagation = (uint64_t)o->arg[2] & ~(uint64_t)MS_REC;
        set_attr(tree, recursive || (o->arg[2] & MS_REC), mount_attr_of(o->arg[0]), mount_attr_of(o->arg[1]),
                 propagation, step, target);
        attach(tree, tfd, step, target);
        close(tree);
    } else {
        char path[64];
        fd_path(tfd, path, sizeof(path));
        if (mount(source, path, fstype, (unsigned long)o->arg[0], *data ? data : NULL) < 0)
            fail(step, "mount(2) with options \"%s\"", data);
        if (o->arg[2]) {
            int mfd = open_in_root(target, O_PATH);
            if (mfd < 0)
                fail(step, "reopening %s", target);
            fd_path(mfd, path, sizeof(path));
            if (mount(NULL, path, NULL, (unsigned long)o->arg[2], NULL) < 0)
                fail(step, "setting propagation");
            close(mfd);
        }
    }
    close(tfd);
}

static void op_remount(const struct op *o)
{
    int fd = open_in_root(o->str[0], O_PATH);
    if (fd < 0)
        fail("remounting", "opening %s", o->str[0]);
    set_attr(fd, 0, mount_attr_of(o->arg[0]) | current_mount_attr(fd), 0, 0, "remounting", o->str[0]);
    close(fd);
}

static void prepare_devnull_masks(int count);

static void op_rootfs(const struct op *o)
{
    rootfs_path = o->str[0];
    prepare_devnull_masks((int)o->arg[0]);
    /* The rootfs must be a mount point of its own for pivot_root. */
    if (mount(rootfs_path, rootfs_path, NULL, MS_BIND | MS_REC, NULL) < 0)
        fail("binding the rootfs", "%s", rootfs_path);
    root_fd = open(rootfs_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        fail("opening the rootfs", "%s", rootfs_path);
}

static void op_pivot(const struct op *o)
{
    if (fchdir(root_fd) < 0)
        fail("entering the rootfs", "%s", rootfs_path);
    if (o->arg[0]) {
        /* --no-pivot: for roots pivot_root(2) cannot leave (e.g. an initramfs). */
        if (mount(rootfs_path, "/", NULL, MS_MOVE, NULL) < 0)
            fail("moving the rootfs to /", "%s", rootfs_path);
        if (chroot(".") < 0)
            fail("chroot", "%s", rootfs_path);
    } else {
        int old_root = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (old_root < 0)
            fail("pivot_root", "opening the old root");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            fail("pivot_root", "%s", rootfs_path);
        /* The old root now sits on top of the new one: detach it without propagating. */
        if (fchdir(old_root) < 0)
            fail("pivot_root", "entering the old root");
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            fail("pivot_root", "making the old root a slave");
        if (umount2(".", MNT_DETACH) < 0)
            fail("pivot_root", "detaching the old root");
        close(old_root);
    }
    if (chdir("/") < 0)
        fail("pivot_root", "chdir /");
    close(root_fd);
    root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        fail("pivot_root", "opening the new root");
}

/* An LSM label for the container's execve (AppArmor "exec PROFILE", an SELinux context):
 * the task's own attribute file, opened through a procfs that is checked to be one (its root
 * inode, no mount crossed on the way: a container cannot put a file of its own there), and
 * written by op_exec at the very end. */
static void op_exec_label(const struct op *o)
{
    const char *step = "setting the security label";
    if (label_count >= SKIFF_MAX_LABELS) {
        errno = E2BIG;
        fail(step, "more than %d labels", SKIFF_MAX_LABELS);
    }
    int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct statfs fs;
    struct stat st;
    if (proc < 0 || fstatfs(proc, &fs) < 0 || fs.f_type != PROC_SUPER_MAGIC || fstat(proc, &st) < 0 || st.st_ino != 1) {
        errno = EPERM;
        fail(step, "/proc is not a procfs root");
    }
    char path[128];
    snprintf(path, sizeof(path), "thread-self/attr/%s", o->str[0]);
    struct open_how how = { .flags = O_WRONLY | O_CLOEXEC, .resolve = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, proc, path, &how, sizeof(how));
    if (fd < 0)
        fail(step, "opening /proc/%s", path);
    close(proc);
    label_fds[label_count] = fd;
    label_values[label_count++] = o->str[1];
}

static void write_exec_labels(void)
{
    for (int i = 0; i < label_count; i++) {
        size_t len = strlen(label_values[i]);
        if (write(label_fds[i], label_values[i], len) != (ssize_t)len) {
            dprintf(2, "skiff-init: setting the security label \"%s\": %s\n", label_values[i], strerror(errno));
            _exit(127);
        }
        close(label_fds[i]);
    }
    label_count = 0;
}

/* No mount namespace of the container's own: the node's mount table is shared, so nothing
 * is mounted; the process is only chroot'ed into its root. */
static void op_chroot(const struct op *o)
{
    rootfs_path = o->str[0];
    if (chdir(rootfs_path) < 0)
        fail("entering the rootfs", "%s", rootfs_path);
    if (chroot(".") < 0)
        fail("chroot", "%s", rootfs_path);
    if (chdir("/") < 0)
        fail("chroot", "chdir /");
    root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        fail("chroot", "opening the new root");
}

/* Files are masked with the host's /dev/null, never with the container's: an image (or a
 * racing process) may have replaced that one with a symlink or a regular file
 * (CVE-2025-31133). Checked to be the 1:3 character device and cloned once, before the pivot
 * (a mount outside the new root cannot be cloned after it). One clone, not one per masked
 * path: a detached clone that is never attached is dissolved when closed, and each such
 * dissolve waits for an RCU grace period (namespace_unlock), which many starts at once queue on. */
static void prepare_devnull_masks(int count)
{
    struct stat st;
    if (count <= 0)
        return;
    int fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        fail("masking paths", "opening the host's /dev/null");
    if (fstat(fd, &st) < 0)
        fail("masking paths", "stat /dev/null");
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
        errno = EPERM;
        fail("masking paths", "/dev/null is not the 1:3 character device");
    }
    devnull_tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (devnull_tree < 0)
        fail("masking paths", "cloning /dev/null");
    close(fd);
}

/* A detached /dev/null to mask one more file with: the prepared clone the first time, then a
 * clone of the first mask (the verified /dev/null, mounted in this namespace by skiff-init;
 * no process of the container runs yet). */
static int devnull_for_mask(const char *path)
{
    if (devnull_mounted >= 0)
        return (int)syscall(SYS_open_tree, devnull_mounted, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (devnull_tree < 0) {
        errno = EBADF;
        fail("masking paths", "no verified /dev/null for %s", path);
    }
    int tree = devnull_tree;
    devnull_tree = -1;
    devnull_mounted = tree; /* attached next, then the source of every later clone */
    return tree;
}

static void op_mask(const struct op *o)
{
    const char *path = o->str[0];
    /* Symlinks resolve inside the root (RESOLVE_IN_ROOT): a masked path that is a symlink to
     * "/etc" masks the container's /etc, never the host's. */
    int fd = open_in_root(path, O_PATH);
    if (fd < 0) {
        if (errno == ENOENT)
            return; /* nothing to mask */
        fail("masking paths", "opening %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        fail("masking paths", "stat %s", path);
    int tree;
    int first_directory = 0;
    if (S_ISDIR(st.st_mode) && empty_dir_mounted >= 0) {
        /* One filesystem hides them all (Kubernetes masks a directory per CPU): a bind of the
         * first mask costs a mount, a tmpfs of its own a superblock. */
        tree = (int)syscall(SYS_open_tree, empty_dir_mounted, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    } else if (S_ISDIR(st.st_mode)) {
        /* An empty tmpfs hides the directory, read-only as a filesystem, not only as a mount:
         * a later remount of one bind cannot make it writable for the others. */
        int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0)
            fail("masking paths", "fsopen tmpfs for %s", path);
        if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "4k", 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "nr_inodes", "1", 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
            fail("masking paths", "creating tmpfs for %s", path);
        tree = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        close(fs);
        first_directory = 1;
    } else {
        tree = devnull_for_mask(path);
    }
    if (tree < 0)
        fail("masking paths", "preparing the mask for %s", path);
    attach(tree, fd, "masking paths", path);
    if (first_directory)
        empty_dir_mounted = tree; /* attached: the source of every later directory's mask */
    else if (tree != devnull_mounted)
        close(tree);
    close(fd);
}

static void op_readonly_path(const struct op *o)
{
    const char *path = o->str[0];
    int fd = open_in_root(path, O_PATH);
    if (fd < 0) {
        if (errno == ENOENT)
            return;
        fail("making paths read-only", "opening %s", path);
    }
    int tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (tree < 0)
        fail("making paths read-only", "cloning %s", path);
    set_attr(tree, 1, MOUNT_ATTR_RDONLY | current_mount_attr(fd), 0, 0, "making paths read-only", path);
    attach(tree, fd, "making paths read-only", path);
    close(tree);
    close(fd);
}

static void op_readonly_root(void)
{
    set_attr(root_fd, 0, MOUNT_ATTR_RDONLY | current_mount_attr(root_fd), 0, 0, "making the root read-only", "/");
}

/* ---- files in the root ---------------------------------------------------------------- */

static void op_mknod(const struct op *o)
{
    const char *path = o->str[0], *name;
    char step[96];
    snprintf(step, sizeof(step), "creating device %s", path);
    int dir = ensure_parent(path, &name, step);
    if (mknodat(dir, name, (mode_t)o->arg[0], (dev_t)o->arg[1]) < 0) {
        if (errno != EEXIST)
            fail(step, "mknod");
    } else if (fchownat(dir, name, (uid_t)o->arg[2], (gid_t)o->arg[3], AT_SYMLINK_NOFOLLOW) < 0) {
        fail(step, "chown");
    }
    close(dir);
}

static void op_symlink(const struct op *o)
{
    const char *name;
    char step[96];
    snprintf(step, sizeof(step), "creating symlink %s", o->str[1]);
    int dir = ensure_parent(o->str[1], &name, step);
    if (symlinkat(o->str[0], dir, name) < 0 && errno != EEXIST)
        fail(step, "-> %s", o->str[0]);
    close(dir);
}

static void op_mkdir(const struct op *o)
{
    close(ensure_in_root(o->str[0], SKIFF_TARGET_DIR, "creating the working directory"));
}

/* Writes under /proc go through a handle that is verified to be procfs (CVE-2025-52881):
 * a mount over /proc/sys cannot redirect them. Closes `fd`. */
static void write_verified(int fd, const char *value, const char *step, const char *path)
{
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0 || fs.f_type != PROC_SUPER_MAGIC) {
        errno = EPERM;
        fail(step, "%s is not on procfs", path);
    }
    size_t len = strlen(value);
    if (write(fd, value, len) != (ssize_t)len) {
        /* The error is one line: a value of several lines (timens_offsets) is shown escaped. */
        int saved = errno;
        char shown[256];
        size_t n = 0;
        for (const char *c = value; *c && n + 3 < sizeof(shown); c++) {
            if (*c == '\n') {
                shown[n++] = '\\';
                shown[n++] = 'n';
            } else {
                shown[n++] = *c;
            }
        }
        shown[n] = '\0';
        errno = saved;
        fail(step, "writing \"%s\" to %s", shown, path);
    }
    close(fd);
}

static void write_proc(const char *path, const char *value, const char *step)
{
    int fd = open_in_root(path, O_WRONLY | O_NOFOLLOW);
    if (fd < 0)
        fail(step, "opening %s", path);
    write_verified(fd, value, step, path);
}

static void op_sysctl(const struct op *o)
{
    char path[PATH_MAX], step[160];
    snprintf(path, sizeof(path), "/proc/sys/%s", o->str[0]);
    for (char *p = path + strlen("/proc/sys/"); *p; p++)
        if (*p == '.')
            *p = '/';
    snprintf(step, sizeof(step), "setting sysctl %s", o->str[0]);
    write_proc(path, o->str[1], step);
}

/* ---- process attributes ------------------------------------------------------------------ */

static void op_user(const struct op *o)
{
    if (o->arg[3]) {
        /* Not NGROUPS_MAX: musl's is 32, the kernel's 65536 (the parent checks the count). */
        int n = o->nstr;
        gid_t *gids = malloc(sizeof(gid_t) * (size_t)(n > 0 ? n : 1));
        if (!gids)
            fail("setting additional groups", "out of memory");
        for (int i = 0; i < n; i++)
            gids[i] = (gid_t)strtoul(o->str[i], NULL, 10);
        /* In a rootless user namespace setgroups is denied: with no groups to set, the
         * empty list it would have set is what the namespace has anyway. */
        if (setgroups((size_t)n, gids) < 0 && !(errno == EPERM && n == 0))
            fail("setting additional groups", "setgroups");
        free(gids);
    }
    /* Keep the permitted set across the switch from root; CAPS then sets what remains. */
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        fail("setting the user", "PR_SET_KEEPCAPS");
    if (setresgid((gid_t)o->arg[1], (gid_t)o->arg[1], (gid_t)o->arg[1]) < 0)
        fail("setting the user", "setresgid %lld", (long long)o->arg[1]);
    if (setresuid((uid_t)o->arg[0], (uid_t)o->arg[0], (uid_t)o->arg[0]) < 0)
        fail("setting the user", "setresuid %lld", (long long)o->arg[0]);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        fail("setting the user", "PR_SET_KEEPCAPS");
    if (o->arg[2] >= 0)
        umask((mode_t)o->arg[2]);
}

static void op_bounding(const struct op *o)
{
    uint64_t keep = (uint64_t)o->arg[0];
    for (int cap = 0; cap <= (int)o->arg[1]; cap++) {
        if (keep & (1ULL << cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            fail("dropping bounding capabilities", "capability %d", cap);
    }
}

static int set_caps(uint64_t eff, uint64_t perm, uint64_t inh);

static void op_caps(const struct op *o)
{
    uint64_t eff = (uint64_t)o->arg[0], perm = (uint64_t)o->arg[1];
    uint64_t inh = (uint64_t)o->arg[2], amb = (uint64_t)o->arg[3];
    const uint64_t sys_admin = 1ULL << 21;
    /* arg5: keep CAP_SYS_ADMIN until the seccomp filter is loaded (see load_seccomp). */
    caps_pending = o->arg[5] && !(eff & sys_admin);
    final_eff = eff, final_perm = perm, final_inh = inh;
    if (set_caps(caps_pending ? eff | sys_admin : eff, caps_pending ? perm | sys_admin : perm, inh) < 0)
        fail("setting capabilities", "capset");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        fail("setting capabilities", "clearing the ambient set");
    for (int cap = 0; cap <= (int)o->arg[4]; cap++)
        if ((amb & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            fail("setting capabilities", "raising ambient capability %d", cap);
}

static void op_chdir(const struct op *o)
{
    if (chdir(o->str[0]) < 0)
        fail("changing to the working directory", "%s", o->str[0]);
    /* A cwd that resolves outside the root reads back as "(unreachable)..."
     * (CVE-2024-21626): refuse it. */
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/') {
        errno = EPERM;
        fail("changing to the working directory", "%s is outside the container", o->str[0]);
    }
}

static void close_from_to(unsigned int first, unsigned int last)
{
    if (first > last)
        return;
    if (syscall(SYS_close_range, first, last, 0) == 0)
        return;
    /* kernels before 5.9 */
    struct rlimit rl;
    unsigned int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned int)rl.rlim_cur : 1024;
    for (unsigned int fd = first; fd <= last && fd < max; fd++)
        close((int)fd);
}

/* Close every descriptor from arg0 up, now, except the two still needed until execve (the
 * plan socket and the exec fifo, both close-on-exec). Closing now, not at execve, means a
 * created container holds nothing of its creator while it waits for `start` (not even a
 * pipe whose end-of-file the creator is waiting for). CVE-2024-21626: nothing leaks. */
static void op_close_fds(const struct op *o, int fifo)
{
    unsigned int first = (unsigned int)o->arg[0];
    /* Kept: the plan socket, the exec fifo and the label attributes (all close-on-exec). */
    unsigned int keep[2 + SKIFF_MAX_LABELS];
    int nkeep = 0;
    keep[nkeep++] = (unsigned int)sync_fd;
    if (fifo >= 0)
        keep[nkeep++] = (unsigned int)fifo;
    for (int i = 0; i < label_count; i++)
        keep[nkeep++] = (unsigned int)label_fds[i];
    for (int i = 1; i < nkeep; i++)
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            unsigned int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned int from = first;
    for (int i = 0; i < nkeep; i++) {
        if (keep[i] < from)
            continue;
        close_from_to(from, keep[i] - 1);
        from = keep[i] + 1;
    }
    close_from_to(from, ~0U);
    root_fd = -1;
    devnull_tree = devnull_mounted = empty_dir_mounted = -1;
    plan_nfds = 0;
}

/* A hook run by skiff-init, in the container's namespaces (createContainer, startContainer):
 * the state JSON from payload slot arg1 on its stdin, killed after arg3 seconds (0: never).
 * strings: hook kind, path, argv (arg2 of them), env... */
static const struct op *deferred_hooks[64];
static int deferred_count;

static void run_hook(const struct op *o)
{
    const char *kind = o->str[0], *path = o->str[1];
    int argc = (int)o->arg[2];
    char step[160];
    snprintf(step, sizeof(step), "running %s hook %s", kind, path);
    const char *state =
        (o->arg[1] >= 0 && o->arg[1] < SKIFF_PAYLOAD_SLOTS && payloads[o->arg[1]]) ? payloads[o->arg[1]] : "{}";
    char *argv[argc + 1];
    for (int i = 0; i < argc; i++)
        argv[i] = (char *)o->str[2 + i];
    argv[argc] = NULL;
    char **envp = (char **)&o->str[2 + argc];
    if (access(path, X_OK) < 0)
        fail(step, "%s", path);
    /* A socket, not a pipe: a hook that exits without reading its stdin must not kill us
     * with SIGPIPE (send with MSG_NOSIGNAL). */
    int input[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, input) < 0)
        fail(step, "socketpair");
    pid_t pid = fork();
    if (pid < 0)
        fail(step, "fork");
    if (pid == 0) {
        dup2(input[0], 0);
        execve(path, argc > 0 ? argv : (char *[]){ (char *)path, NULL }, envp);
        dprintf(2, "skiff-init: %s: %s\n", step, strerror(errno));
        _exit(127);
    }
    close(input[0]);
    size_t len = strlen(state);
    if (send(input[1], state, len, MSG_NOSIGNAL) != (ssize_t)len && errno != EPIPE && errno != ECONNRESET)
        fail(step, "writing the state to its stdin");
    close(input[1]);
    int status;
    long waited_ms = 0, limit_ms = o->arg[3] > 0 ? o->arg[3] * 1000 : -1;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            fail(step, "waitpid");
        if (limit_ms >= 0 && waited_ms >= limit_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            errno = ETIMEDOUT;
            fail(step, "did not finish within %lld s", (long long)o->arg[3]);
        }
        struct timespec tick = { 0, 1000000 };
        nanosleep(&tick, NULL);
        waited_ms++;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = 0;
        if (WIFEXITED(status))
            fail(step, "exited with status %d", WEXITSTATUS(status));
        fail(step, "killed by signal %d", WTERMSIG(status));
    }
}

static void op_hook(const struct op *o)
{
    if (o->arg[0] == 0) {
        run_hook(o);
        return;
    }
    /* startContainer: after `skiff start`, just before the container's execve. */
    if (deferred_count >= 64) {
        errno = E2BIG;
        fail("preparing startContainer hooks", "more than 64");
    }
    deferred_hooks[deferred_count++] = o;
}

/* Find args[0] the way execvp would, but in the container's PATH (not skiff's). */
static int lookup(const char *file, const char *search, char *out, size_t size)
{
    struct stat st;
    if (strchr(file, '/')) {
        snprintf(out, size, "%s", file);
        if (stat(out, &st) < 0)
            return -1;
        if (!S_ISREG(st.st_mode)) {
            errno = EACCES;
            return -1;
        }
        return access(out, X_OK);
    }
    int saved = ENOENT;
    const char *p = search;
    while (p) {
        const char *colon = strchr(p, ':');
        int len = colon ? (int)(colon - p) : (int)strlen(p);
        snprintf(out, size, "%.*s%s%s", len, p, len ? "/" : "", file);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(out, X_OK) == 0)
                return 0;
            saved = EACCES;
        }
        p = colon ? colon + 1 : NULL;
    }
    errno = saved;
    return -1;
}

/* Why the process's executable cannot be run, in runc's words and Go's lower-case error text:
 * engines read the message for their exit codes (Docker's 127 for "executable file not found"
 * and "no such file or directory", 126 for "permission denied"), so the reason is in the
 * detail and the report carries no errno for the parent to append in the C library's case. */
static void exec_failed(const char *file, int searched) __attribute__((noreturn));
static void exec_failed(const char *file, int searched)
{
    char reason[96];
    snprintf(reason, sizeof(reason), "%s",
             searched && errno == ENOENT ? "executable file not found in $PATH" : strerror(errno));
    reason[0] = (char)tolower((unsigned char)reason[0]);
    errno = 0;
    fail("starting the container process", "exec: \"%s\": %s", file, reason);
}

static void op_exec(const struct op *o)
{
    int argc = (int)o->arg[0];
    const char *search = o->str[0];
    char **argv = (char **)&o->str[1];
    /* Its own session (runc does the same): the creator's session or process group
     * ending, or a signal sent to it, does not reach the container. A terminal's
     * session (op_console) is one already. */
    if (getsid(0) != getpid() && setsid() < 0)
        fail("starting the container process", "setsid");
    char *path = malloc(PATH_MAX);
    if (!path)
        fail("starting the container process", "out of memory");
    if (lookup(argv[0], search, path, PATH_MAX) < 0)
        exec_failed(argv[0], strchr(argv[0], '/') == NULL);
    /* Environment: the strings after the arguments, NULL-terminated by next_op. */
    char **envp = (char **)&o->str[1 + argc];
    char *args[argc + 1];
    memcpy(args, argv, sizeof(char *) * (size_t)argc);
    args[argc] = NULL;

    if (seccomp_before_ready)
        load_seccomp(1);
    send_report(SKIFF_REPORT_READY, 0, 0, NULL, NULL);
    if (o->arg[1] >= 0) {
        /* `skiff start` writes one byte into the exec fifo; we hold it open read-write so
         * that the read blocks instead of seeing end-of-file. (CLOSE_FDS kept it open.) */
        int fifo = exec_fifo;
        char byte;
        ssize_t n;
        do {
            n = read(fifo, &byte, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(1);
        close(fifo);
    }
    for (int i = 0; i < deferred_count; i++)
        run_hook(deferred_hooks[i]);
    close(sync_fd);
    write_exec_labels();
    load_seccomp(0);
    execve(path, args, envp);
    dprintf(2, "skiff-init: exec %s: %s\n", path, strerror(errno));
    _exit(127);
}

/* The parent compiled the OCI seccomp section to BPF (with libseccomp). SECCOMP reads it
 * (its descriptor is closed with the others at CLOSE_FDS); op_exec loads it as late as it can
 * be: just before execve, so that nothing skiff-init does depends on a syscall the profile may
 * deny (a profile may deny anything the container's process does not need). With a NOTIFY
 * listener (arg2 = 0) it is loaded just before READY instead, because the listener must reach
 * the parent, which is gone after `create`. */
static struct sock_filter_insn {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
} * seccomp_insns;
static unsigned short seccomp_len;
static unsigned long seccomp_flags;

static void op_seccomp(const struct op *o)
{
    int fd = plan_fd(o->arg[0], "loading the seccomp filter");
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % 8 != 0 || st.st_size / 8 > 0xffff)
        fail("loading the seccomp filter", "the compiled filter is unreadable");
    seccomp_insns = malloc((size_t)st.st_size);
    if (!seccomp_insns)
        fail("loading the seccomp filter", "out of memory");
    if (pread(fd, seccomp_insns, (size_t)st.st_size, 0) != st.st_size)
        fail("loading the seccomp filter", "reading the compiled filter");
    seccomp_len = (unsigned short)(st.st_size / 8);
    seccomp_flags = (unsigned long)o->arg[1];
    seccomp_before_ready = o->arg[2] == 0;
}

static int set_caps(uint64_t eff, uint64_t perm, uint64_t inh)
{
    struct {
        uint32_t version;
        int pid;
    } header = { 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0 };
    struct {
        uint32_t effective, permitted, inheritable;
    } data[2] = {
        { (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
        { (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
    };
    return (int)syscall(SYS_capset, &header, data);
}

/* Loads the filter read by SECCOMP, then drops the CAP_SYS_ADMIN kept for it. After this only
 * what a profile must allow anyway runs: capset (only when CAP_SYS_ADMIN is kept, which the
 * parent has checked the profile allows) and execve; with a listener, also its sendmsg, the
 * READY send, the exec fifo's read and the startContainer hooks. A failure after READY cannot
 * reach the parent: it is said on stderr, and the process exits before running anything. */
static void load_seccomp(int reported)
{
    if (!seccomp_insns)
        return;
    struct {
        unsigned short len;
        void *filter;
    } prog = { seccomp_len, seccomp_insns };
    long listener = syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, seccomp_flags, &prog);
    if (listener < 0) {
        if (reported)
            fail("loading the seccomp filter", "seccomp(SECCOMP_SET_MODE_FILTER, 0x%lx)", seccomp_flags);
        dprintf(2, "skiff-init: loading the seccomp filter: %s\n", strerror(errno));
        _exit(127);
    }
    seccomp_insns = NULL;
    if (caps_pending && set_caps(final_eff, final_perm, final_inh) < 0) {
        if (reported)
            fail("setting capabilities", "capset after loading the seccomp filter");
        dprintf(2, "skiff-init: setting capabilities after loading the seccomp filter: %s\n", strerror(errno));
        _exit(127);
    }
    caps_pending = 0;
    if (seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        struct skiff_report r;
        memset(&r, 0, sizeof(r));
        r.kind = SKIFF_REPORT_LISTENER;
        char control[CMSG_SPACE(sizeof(int))];
        memset(control, 0, sizeof(control));
        struct iovec iov = { &r, sizeof(r) };
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        int lfd = (int)listener;
        memcpy(CMSG_DATA(c), &lfd, sizeof(int));
        if (sendmsg(sync_fd, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(r))
            fail("loading the seccomp filter", "sending the notify listener to skiff");
        close(lfd);
    }
}

/* process.terminal: a pty from the container's own devpts (after pivot_root, so /dev/pts is
 * the container's). Its peer is reached by TIOCGPTPEER, never by a path the container could
 * swap (CVE-2025-52565); the master goes to the console socket, as runc's terminals.md says. */
static void op_console(const struct op *o)
{
    const char *step = "setting up the terminal";
    int socket_fd = plan_fd(o->arg[0], step);
    if (root_fd < 0 && (root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        fail(step, "opening the root");
    int master = open_in_root("/dev/pts/ptmx", O_RDWR | O_NOCTTY);
    if (master < 0)
        fail(step, "opening /dev/pts/ptmx (is devpts mounted with newinstance?)");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        fail(step, "unlocking the pty");
    int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (peer < 0)
        fail(step, "opening the pty's peer");
    if (o->arg[1] > 0 && o->arg[2] > 0) {
        struct winsize size = { .ws_row = (unsigned short)o->arg[1], .ws_col = (unsigned short)o->arg[2] };
        if (ioctl(peer, TIOCSWINSZ, &size) < 0)
            fail(step, "setting the window size (process.consoleSize)");
    }
    if (o->arg[3]) {
        /* /dev/console is the pty, bound from the peer's own mount by fd. */
        int target = ensure_in_root("/dev/console", SKIFF_TARGET_FILE, step);
        int tree = (int)syscall(SYS_open_tree, peer, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0)
            fail(step, "cloning the pty for /dev/console");
        attach(tree, target, step, "/dev/console");
        close(tree);
        close(target);
    }
    /* The master, with the pty's number as the message (what runc sends). */
    unsigned int number = 0;
    ioctl(master, TIOCGPTN, &number);
    char name[32];
    int len = snprintf(name, sizeof(name), "/dev/pts/%u", number);
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof(control));
    struct iovec iov = { name, (size_t)len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &master, sizeof(int));
    if (sendmsg(socket_fd, &msg, MSG_NOSIGNAL) < 0)
        fail(step, "sending the pty master to the console socket");
    close(master);
    close(socket_fd);
    if (setsid() < 0)
        fail(step, "setsid");
    if (ioctl(peer, TIOCSCTTY, 0) < 0)
        fail(step, "making the pty the controlling terminal");
    for (int fd = 0; fd < 3; fd++)
        if (dup2(peer, fd) < 0)
            fail(step, "making the pty stdio");
    close(peer);
}

/* Enter a pid namespace joined by setns: only children land in it, so fork once. The
 * intermediate tells the parent the new pid and leaves. The child goes on only once that
 * report is on the socket: a report of its own sent first (READY, SYNC) would reach the
 * parent while it still follows the intermediate, and it would wait for the intermediate's
 * exit as the process's (an exec returned 0 while its process still ran), or set up a
 * SYNC's cgroup, maps and network for the wrong pid. */
static void op_fork(void)
{
    int order[2];
    if (pipe2(order, O_CLOEXEC) < 0)
        fail("entering the pid namespace", "pipe2");
    pid_t pid = fork();
    if (pid < 0)
        fail("entering the pid namespace", "fork");
    if (pid > 0) {
        send_report(SKIFF_REPORT_PID, 0, pid, NULL, NULL);
        char reported = 1;
        _exit(write(order[1], &reported, 1) == 1 ? 0 : 1);
    }
    close(order[1]);
    char reported;
    ssize_t n;
    do {
        n = read(order[0], &reported, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1)
        fail("entering the pid namespace", "the forking process ended before it reported the new pid");
    close(order[0]);
}

/* ---- main --------------------------------------------------------------------------------- */

static void reset_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP and gaps */
}

/* ---- namespaces, limits and process attributes ------------------------------------------ */

static void op_setns(const struct op *o)
{
    char step[96];
    snprintf(step, sizeof(step), "joining namespace %s", o->str[0]);
    if (setns(plan_fd(o->arg[0], step), (int)o->arg[1]) < 0)
        fail(step, "setns");
}

static void op_unshare(const struct op *o)
{
    if (unshare((int)o->arg[0]) < 0)
        fail("creating namespaces", "unshare 0x%llx", (unsigned long long)o->arg[0]);
}

static void op_sync(const struct op *o)
{
    /* An unprivileged parent (rootless) may write our uid_map only while we are dumpable;
     * nothing of the container runs yet, so this window is safe. */
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        fail("waiting for the parent", "PR_SET_DUMPABLE");
    send_report(SKIFF_REPORT_SYNC, 0, (int)o->arg[0], NULL, NULL);
    wait_for_go(o->arg[1] > 0 ? o->arg[1] - 1 : -1);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        fail("waiting for the parent", "PR_SET_DUMPABLE");
}

/* The task's nf_tables rules, sent by the task's own first process: nf_tables allocates what
 * a transaction adds as kernel memory of the process that sends it, and this process is in
 * the container's cgroups already. The datagram is the parent's; so are the answers. */
static void op_send_rules(const struct op *o)
{
    int sock = plan_fd(o->arg[0], "sending the task's network rules");
    int batch = plan_fd(o->arg[1], "sending the task's network rules");
    struct stat st;
    if (fstat(batch, &st) < 0)
        fail("sending the task's network rules", "fstat");
    if (st.st_size <= 0)
        return; /* nothing to send */
    char *bytes = malloc((size_t)st.st_size);
    if (!bytes)
        fail("sending the task's network rules", "out of memory (%lld bytes)", (long long)st.st_size);
    ssize_t n = pread(batch, bytes, (size_t)st.st_size, 0);
    if (n != st.st_size)
        fail("sending the task's network rules", "reading the transaction");
    /* An unconnected netlink socket sends to the kernel. */
    do {
        n = send(sock, bytes, (size_t)st.st_size, 0);
    } while (n < 0 && errno == EINTR);
    if (n != st.st_size)
        fail("sending the task's network rules", "sendto (%lld bytes)", (long long)st.st_size);
    free(bytes); /* both descriptors go with CLOSE_FDS */
}

static void op_hostname(const struct op *o)
{
    if (sethostname(o->str[0], strlen(o->str[0])) < 0)
        fail("setting the hostname", "%s", o->str[0]);
}

static void op_domainname(const struct op *o)
{
    if (setdomainname(o->str[0], strlen(o->str[0])) < 0)
        fail("setting the domain name", "%s", o->str[0]);
}

static void op_rlimit(const struct op *o)
{
    struct rlimit rl = { (rlim_t)o->arg[1], (rlim_t)o->arg[2] };
    if (setrlimit((int)o->arg[0], &rl) < 0)
        fail("setting rlimits", "%s", o->str[0]);
}

static void op_oom_score_adj(const struct op *o)
{
    /* Before the rootfs is set up: this /proc is still the host's. */
    char value[32];
    snprintf(value, sizeof(value), "%lld", (long long)o->arg[0]);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        fail("setting oom_score_adj", "opening /proc/self/oom_score_adj");
    write_verified(fd, value, "setting oom_score_adj", "/proc/self/oom_score_adj");
}

static void op_personality(const struct op *o)
{
    if (personality((unsigned long)o->arg[0]) < 0)
        fail("setting the personality (linux.personality)", "domain %lld", (long long)o->arg[0]);
}

static void op_io_priority(const struct op *o)
{
    /* IOPRIO_PRIO_VALUE: the class above 13 bits of data. */
    long value = (long)((o->arg[0] << 13) | o->arg[1]);
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) < 0)
        fail("setting the I/O priority (process.ioPriority)", "class %lld, priority %lld", (long long)o->arg[0],
             (long long)o->arg[1]);
}

static void op_scheduler(const struct op *o)
{
    struct skiff_sched_attr attr = {
        .size = sizeof(attr),
        .sched_policy = (uint32_t)o->arg[0],
        .sched_flags = (uint64_t)o->arg[3],
        .sched_nice = (int32_t)o->arg[1],
        .sched_priority = (uint32_t)o->arg[2],
        .sched_runtime = strtoull(o->str[0], NULL, 10),
        .sched_deadline = strtoull(o->str[1], NULL, 10),
        .sched_period = strtoull(o->str[2], NULL, 10),
    };
    if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0) {
        /* SCHED_FIFO and SCHED_RR where the kernel budgets real-time time per cgroup: a new
         * cgroup has none until linux.resources.cpu.realtimeRuntime gives it some. */
        int realtime = (o->arg[0] == 1 || o->arg[0] == 2) && errno == EPERM;
        fail("setting the scheduler (process.scheduler)", "policy %lld, priority %lld, nice %lld%s",
             (long long)o->arg[0], (long long)o->arg[2], (long long)o->arg[1],
             realtime ? " (a real-time policy needs linux.resources.cpu.realtimeRuntime where cgroups budget it)" : "");
    }
}

static void op_cpu_affinity(const struct op *o)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (o->nstr == 0) /* every CPU: the kernel keeps the cgroup's cpuset */
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            CPU_SET(cpu, &set);
    for (int i = 0; i < o->nstr; i++)
        CPU_SET((int)strtol(o->str[i], NULL, 10), &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        fail("setting the CPU affinity (process.execCPUAffinity)", "%d CPUs", o->nstr);
}

static void op_memory_policy(const struct op *o)
{
    /* Nodes 0 to 1023 (the parent's bound): 1024 bits; maxnode counts one more, as the
     * kernel drops the last bit it is given. */
    unsigned long mask[1024 / (8 * sizeof(unsigned long))] = { 0 };
    for (int i = 0; i < o->nstr; i++) {
        long node = strtol(o->str[i], NULL, 10);
        mask[node / (8 * sizeof(unsigned long))] |= 1UL << (node % (8 * sizeof(unsigned long)));
    }
    if (syscall(SYS_set_mempolicy, (int)o->arg[0], o->nstr ? mask : NULL, o->nstr ? sizeof(mask) * 8 + 1 : 0) < 0)
        fail("setting the memory policy (linux.memoryPolicy)", "set_mempolicy");
}

static void op_session_keyring(const struct op *o)
{
    /* KEYCTL_JOIN_SESSION_KEYRING; kernels without keys (ENOSYS) have nothing to share. */
    if (syscall(SYS_keyctl, 1, o->str[0]) < 0 && errno != ENOSYS)
        fail("creating a session keyring", "%s", o->str[0]);
}

static void op_propagate(const struct op *o)
{
    if (mount(NULL, o->str[0], NULL, (unsigned long)o->arg[0], NULL) < 0)
        fail("setting mount propagation", "%s", o->str[0]);
}

static void op_no_new_privs(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail("setting no_new_privs", "prctl");
}

static void op_userns_root(void)
{
    /* The maps are written: become the namespace's root, whose capabilities there let the
     * rest of the plan create namespaces, mount and set ids. */
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
        fail("entering the user namespace", "becoming its root (is container id 0 mapped?)");
}

static void op_time_namespace(const struct op *o)
{
    /* The offsets can only be set before any process is in the namespace: this process stays
     * outside it and the container's process enters it at execve. */
    if (unshare(0x00000080 /* CLONE_NEWTIME */) < 0)
        fail("creating the time namespace", "unshare");
    int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        fail("setting linux.timeOffsets", "opening /proc/self/timens_offsets");
    write_verified(fd, o->str[0], "setting linux.timeOffsets", "/proc/self/timens_offsets");
}

/* One operation of the plan: one op_* function each. */
static void run(const struct op *o)
{
    switch (o->code) {
    case SKIFF_OP_SETNS:
        op_setns(o);
        break;
    case SKIFF_OP_UNSHARE:
        op_unshare(o);
        break;
    case SKIFF_OP_FORK:
        op_fork();
        break;
    case SKIFF_OP_SYNC:
        op_sync(o);
        break;
    case SKIFF_OP_HOSTNAME:
        op_hostname(o);
        break;
    case SKIFF_OP_DOMAINNAME:
        op_domainname(o);
        break;
    case SKIFF_OP_RLIMIT:
        op_rlimit(o);
        break;
    case SKIFF_OP_OOM_SCORE_ADJ:
        op_oom_score_adj(o);
        break;
    case SKIFF_OP_PERSONALITY:
        op_personality(o);
        break;
    case SKIFF_OP_IO_PRIORITY:
        op_io_priority(o);
        break;
    case SKIFF_OP_SCHEDULER:
        op_scheduler(o);
        break;
    case SKIFF_OP_CPU_AFFINITY:
        op_cpu_affinity(o);
        break;
    case SKIFF_OP_SEND_RULES:
        op_send_rules(o);
        break;
    case SKIFF_OP_MEMORY_POLICY:
        op_memory_policy(o);
        break;
    case SKIFF_OP_SESSION_KEYRING:
        op_session_keyring(o);
        break;
    case SKIFF_OP_PROPAGATE:
        op_propagate(o);
        break;
    case SKIFF_OP_ROOTFS:
        op_rootfs(o);
        break;
    case SKIFF_OP_MOUNT:
        op_mount(o);
        break;
    case SKIFF_OP_REMOUNT:
        op_remount(o);
        break;
    case SKIFF_OP_MKNOD:
        op_mknod(o);
        break;
    case SKIFF_OP_SYMLINK:
        op_symlink(o);
        break;
    case SKIFF_OP_MKDIR:
        op_mkdir(o);
        break;
    case SKIFF_OP_PIVOT:
        op_pivot(o);
        break;
    case SKIFF_OP_CHROOT:
        op_chroot(o);
        break;
    case SKIFF_OP_EXEC_LABEL:
        op_exec_label(o);
        break;
    case SKIFF_OP_READONLY_ROOT:
        op_readonly_root();
        break;
    case SKIFF_OP_READONLY_PATH:
        op_readonly_path(o);
        break;
    case SKIFF_OP_MASK_PATH:
        op_mask(o);
        break;
    case SKIFF_OP_SYSCTL:
        op_sysctl(o);
        break;
    case SKIFF_OP_CHDIR:
        op_chdir(o);
        break;
    case SKIFF_OP_USER:
        op_user(o);
        break;
    case SKIFF_OP_BOUNDING:
        op_bounding(o);
        break;
    case SKIFF_OP_CAPS:
        op_caps(o);
        break;
    case SKIFF_OP_NO_NEW_PRIVS:
        op_no_new_privs();
        break;
    case SKIFF_OP_SECCOMP:
        op_seccomp(o);
        break;
    case SKIFF_OP_CONSOLE:
        op_console(o);
        break;
    case SKIFF_OP_HOOK:
        op_hook(o);
        break;
    case SKIFF_OP_USERNS_ROOT:
        op_userns_root();
        break;
    case SKIFF_OP_TIME_NAMESPACE:
        op_time_namespace(o);
        break;
    case SKIFF_OP_CLOSE_FDS:
        exec_fifo = o->arg[1] >= 0 ? plan_fd(o->arg[1], "closing descriptors") : -1;
        op_close_fds(o, exec_fifo);
        break;
    case SKIFF_OP_EXEC:
        op_exec(o);
        break;
    default:
        errno = EINVAL;
        fail("reading the plan", "unknown operation %d (%s)", o->code,
             skiff_op_name((uint32_t)o->code) ? skiff_op_name((uint32_t)o->code) : "not in skiff_plan.h");
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        dprintf(2, "skiff-init is started by skiff, not by hand\n");
        return 2;
    }
    sync_fd = atoi(argv[1]);
    if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0)
        return 2;
    reset_signals();
    umask(0); /* device and directory modes are exact; the container's umask comes with USER */
    /* Non-dumpable: no process in the container may ptrace us or open our /proc files
     * while we still hold descriptors of the host. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        fail("starting skiff-init", "PR_SET_DUMPABLE");
    receive_plan();
    allocate_op_arena();
    size_t off = 0;
    for (;;) {
        struct op *o = next_op(&off);
        if (o->code == SKIFF_OP_END)
            break;
        run(o);
    }
    errno = EINVAL;
    fail("reading the plan", "the plan ended without an exec");
}
