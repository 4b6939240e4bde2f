// SPDX-License-Identifier: Apache-2.0
/*
 * The wire protocol between `skiff` (the Swift parent) and `skiff-init` (the static C
 * program that runs in the container's namespaces between clone and execve).
 *
 * The parent decides everything; the plan is a flat list of operations that skiff-init
 * executes in order, so the C side stays a small interpreter with no policy of its own.
 * Plan messages go parent -> child over a SOCK_SEQPACKET socketpair; every file descriptor
 * the child needs travels with the first message by SCM_RIGHTS and is referred to by its
 * index in that array. Reports go child -> parent as fixed-size `skiff_report`s.
 */
#ifndef SKIFF_PLAN_H
#define SKIFF_PLAN_H

#include <stdint.h>

#define SKIFF_PLAN_MAX_MESSAGE (64 * 1024)
#define SKIFF_PLAN_MAX_FDS 64
#define SKIFF_OP_MAX_ARGS 6

/* One operation on the wire: this header, then `nstr` NUL-terminated strings, then padding
 * to a multiple of 8 bytes. `size` covers the header, the strings and the padding. */
struct skiff_op_header {
    uint32_t size;
    uint16_t op;
    uint16_t nstr;
    int64_t arg[SKIFF_OP_MAX_ARGS];
};

enum skiff_op {
    SKIFF_OP_END = 0,            /* end of the plan */
    SKIFF_OP_SETNS = 1,          /* arg0 = fd index, arg1 = CLONE_NEW* type; s0 = path (for errors) */
    SKIFF_OP_UNSHARE = 2,        /* arg0 = CLONE_NEW* flags */
    SKIFF_OP_FORK = 3,           /* fork once (to enter a joined pid namespace); the
                                    intermediate reports the new pid and exits */
    SKIFF_OP_SYNC = 4,           /* arg0 = tag: report SYNC and wait for the parent's go;
                                    arg1 = 1 + payload slot to keep the go message in (0: none) */
    SKIFF_OP_HOSTNAME = 5,       /* s0 */
    SKIFF_OP_DOMAINNAME = 6,     /* s0 */
    SKIFF_OP_RLIMIT = 7,         /* arg0 = resource, arg1 = soft, arg2 = hard; s0 = name */
    SKIFF_OP_OOM_SCORE_ADJ = 8,  /* arg0 */
    SKIFF_OP_PROPAGATE = 9,      /* s0 = host path, arg0 = MS_* propagation flags */
    SKIFF_OP_ROOTFS = 10,        /* s0 = rootfs host path: bind it onto itself, open it as the root;
                                    arg0 = number of masked paths (host /dev/null clones to make) */
    SKIFF_OP_MOUNT = 11,         /* s0 = source, s1 = target in root, s2 = fstype, s3 = data;
                                    arg0 = MS_* flags to set, arg1 = MS_* flags to clear (bind),
                                    arg2 = propagation flags, arg3 = SKIFF_TARGET_*,
                                    arg4 = 1 if a bind mount, arg5 = fd index of a user namespace
                                    to idmap the bind mount with, or -1 */
    SKIFF_OP_REMOUNT = 12,       /* s0 = target in root, arg0 = MS_* flags (MS_REMOUNT implied) */
    SKIFF_OP_MKNOD = 13,         /* s0 = path in root, arg0 = mode (type|perm), arg1 = dev,
                                    arg2 = uid, arg3 = gid */
    SKIFF_OP_SYMLINK = 14,       /* s0 = link target, s1 = link path in root */
    SKIFF_OP_PIVOT = 15,         /* arg0 = 1 for --no-pivot (MS_MOVE + chroot) */
    SKIFF_OP_READONLY_ROOT = 16, /* remount / read-only */
    SKIFF_OP_READONLY_PATH = 17, /* s0 = path in the container */
    SKIFF_OP_MASK_PATH = 18,     /* s0 = path in the container (files are masked with the
                                    host's /dev/null, opened at ROOTFS) */
    SKIFF_OP_SYSCTL = 19,        /* s0 = key (dotted), s1 = value */
    SKIFF_OP_CHDIR = 20,         /* s0 = cwd in the container */
    SKIFF_OP_USER = 21,          /* arg0 = uid, arg1 = gid, arg2 = umask (-1: keep),
                                    arg3 = 1 to set additional gids; strings = gids in decimal */
    SKIFF_OP_CAPS = 22,          /* arg0..arg3 = effective, permitted, inheritable, ambient masks,
                                    arg4 = highest capability the kernel knows, arg5 = 1 to keep
                                    CAP_SYS_ADMIN until the seccomp filter is loaded (no
                                    no_new_privs: loading needs it), then drop it */
    SKIFF_OP_NO_NEW_PRIVS = 23,
    SKIFF_OP_CLOSE_FDS = 24,       /* arg0 = first fd to close (3 + --preserve-fds), arg1 = fd
                                    index of the exec fifo (kept) or -1 */
    SKIFF_OP_EXEC = 25,            /* arg0 = argc, arg1 = 1 to wait on the exec fifo (see CLOSE_FDS);
                                    strings = PATH, args..., env...
                                    Looks the executable up, reports READY, then (with a fifo)
                                    blocks until `skiff start` writes a byte, then execve. */
    SKIFF_OP_MKDIR = 26,           /* s0 = the working directory, created in the root if missing */
    SKIFF_OP_BOUNDING = 27,        /* arg0 = bounding set mask, arg1 = highest capability known;
                                    runs before USER: dropping needs CAP_SETPCAP */
    SKIFF_OP_SESSION_KEYRING = 28, /* s0 = name: join a new session keyring, so the container
                                      does not share its creator's keys */
    SKIFF_OP_HOOK = 32,            /* arg0 = 0: run now, 1: run just before the container's execve
                                    (startContainer); arg1 = payload slot with the state for its
                                    stdin; arg2 = argc; arg3 = timeout seconds (0: none);
                                    strings = kind, path, argv..., env... */
    SKIFF_OP_CONSOLE = 33,         /* arg0 = fd index of the connected console socket, arg1/arg2 =
                                    rows/columns (0: leave): open a pty in the container's devpts,
                                    send the master over the socket, make the peer the controlling
                                    terminal and stdio, bind it on /dev/console (arg3 = 1) */
    SKIFF_OP_EXEC_LABEL = 35,      /* s0 = attribute under /proc/thread-self/attr ("apparmor/exec",
                                    "exec"), s1 = value: opened now (procfs verified), written by
                                    EXEC just before execve (after the startContainer hooks,
                                    which must not inherit it) */
    SKIFF_OP_CHROOT = 34,          /* s0 = rootfs host path: chroot into it (no mount namespace of
                                    the container's own, so nothing is mounted) */
    SKIFF_OP_USERNS_ROOT = 31,     /* become uid 0 / gid 0 of the new user namespace (once mapped) */
    SKIFF_OP_TIME_NAMESPACE = 30,  /* s0 = "monotonic S N\nboottime S N\n": unshare a time namespace
                                     that the container process enters at execve */
    SKIFF_OP_PERSONALITY = 36,     /* arg0 = PER_* execution domain (linux.personality) */
    SKIFF_OP_IO_PRIORITY = 37,     /* arg0 = IOPRIO_CLASS_*, arg1 = priority within the class */
    SKIFF_OP_SCHEDULER = 38,       /* arg0 = SCHED_* policy, arg1 = nice, arg2 = priority,
                                    arg3 = SCHED_FLAG_* bits; s0, s1, s2 = runtime, deadline and
                                    period in ns, in decimal (u64 each): sched_setattr(2) */
    SKIFF_OP_CPU_AFFINITY = 39,    /* strings = the CPUs, in decimal, or none for every CPU (the
                                    kernel keeps the cgroup's cpuset): sched_setaffinity(2) */
    SKIFF_OP_SEND_RULES = 40,      /* arg0 = fd index of a netlink socket of the node's network
                                    namespace, arg1 = fd index of a file holding one datagram
                                    (an nf_tables transaction): send it, so that the kernel
                                    charges what the rules take to this process's memory cgroup
                                    (the container's). The parent reads the answers. */
    SKIFF_OP_MEMORY_POLICY = 41,   /* arg0 = MPOL_* mode | MPOL_F_* flags; strings = the nodes, in
                                    decimal (none: no nodemask): set_mempolicy(2) */
    SKIFF_OP_SECCOMP = 29,         /* arg0 = fd index of a file holding the BPF program (compiled
                                    by the parent), arg1 = SECCOMP_FILTER_FLAG_* flags, arg2 = 0
                                    to load it just before READY (a NOTIFY listener: its fd is
                                    sent to the parent in a LISTENER report), 1 to load it just
                                    before execve. Read now; EXEC loads it. Must come before
                                    CLOSE_FDS. */
};

/* The operations' names, indexed by code: the one table skiff-init (its errors), the Swift
 * side (its errors) and the tests (the golden plans) all read. */
static const char *const skiff_op_names[] = {
    [SKIFF_OP_END] = "END",
    [SKIFF_OP_SETNS] = "SETNS",
    [SKIFF_OP_UNSHARE] = "UNSHARE",
    [SKIFF_OP_FORK] = "FORK",
    [SKIFF_OP_SYNC] = "SYNC",
    [SKIFF_OP_HOSTNAME] = "HOSTNAME",
    [SKIFF_OP_DOMAINNAME] = "DOMAINNAME",
    [SKIFF_OP_RLIMIT] = "RLIMIT",
    [SKIFF_OP_OOM_SCORE_ADJ] = "OOM_SCORE_ADJ",
    [SKIFF_OP_PROPAGATE] = "PROPAGATE",
    [SKIFF_OP_ROOTFS] = "ROOTFS",
    [SKIFF_OP_MOUNT] = "MOUNT",
    [SKIFF_OP_REMOUNT] = "REMOUNT",
    [SKIFF_OP_MKNOD] = "MKNOD",
    [SKIFF_OP_SYMLINK] = "SYMLINK",
    [SKIFF_OP_PIVOT] = "PIVOT",
    [SKIFF_OP_READONLY_ROOT] = "READONLY_ROOT",
    [SKIFF_OP_READONLY_PATH] = "READONLY_PATH",
    [SKIFF_OP_MASK_PATH] = "MASK_PATH",
    [SKIFF_OP_SYSCTL] = "SYSCTL",
    [SKIFF_OP_CHDIR] = "CHDIR",
    [SKIFF_OP_USER] = "USER",
    [SKIFF_OP_CAPS] = "CAPS",
    [SKIFF_OP_NO_NEW_PRIVS] = "NO_NEW_PRIVS",
    [SKIFF_OP_CLOSE_FDS] = "CLOSE_FDS",
    [SKIFF_OP_EXEC] = "EXEC",
    [SKIFF_OP_MKDIR] = "MKDIR",
    [SKIFF_OP_BOUNDING] = "BOUNDING",
    [SKIFF_OP_SESSION_KEYRING] = "SESSION_KEYRING",
    [SKIFF_OP_SECCOMP] = "SECCOMP",
    [SKIFF_OP_TIME_NAMESPACE] = "TIME_NAMESPACE",
    [SKIFF_OP_USERNS_ROOT] = "USERNS_ROOT",
    [SKIFF_OP_HOOK] = "HOOK",
    [SKIFF_OP_CONSOLE] = "CONSOLE",
    [SKIFF_OP_CHROOT] = "CHROOT",
    [SKIFF_OP_EXEC_LABEL] = "EXEC_LABEL",
    [SKIFF_OP_PERSONALITY] = "PERSONALITY",
    [SKIFF_OP_IO_PRIORITY] = "IO_PRIORITY",
    [SKIFF_OP_SCHEDULER] = "SCHEDULER",
    [SKIFF_OP_CPU_AFFINITY] = "CPU_AFFINITY",
    [SKIFF_OP_SEND_RULES] = "SEND_RULES",
    [SKIFF_OP_MEMORY_POLICY] = "MEMORY_POLICY",
};

/* The name of operation `op`, or NULL for a code the table does not have. */
static inline const char *skiff_op_name(uint32_t op)
{
    return op < sizeof(skiff_op_names) / sizeof(skiff_op_names[0]) ? skiff_op_names[op] : 0;
}

/* What a mount target must be when it has to be created. */
enum skiff_target_kind {
    SKIFF_TARGET_DIR = 0,
    SKIFF_TARGET_FILE = 1,
};

enum skiff_report_kind {
    SKIFF_REPORT_READY = 1,    /* pid = the container process as the parent sees it */
    SKIFF_REPORT_ERROR = 2,    /* step, errno, detail */
    SKIFF_REPORT_SYNC = 3,     /* pid = tag */
    SKIFF_REPORT_PID = 4,      /* pid = the process forked into a joined pid namespace */
    SKIFF_REPORT_LISTENER = 5, /* the seccomp notify fd travels with it by SCM_RIGHTS */
};

struct skiff_report {
    int32_t kind;
    int32_t error;
    int32_t pid;
    int32_t reserved;
    char step[96];
    char detail[416];
};

#endif
