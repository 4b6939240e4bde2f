// SPDX-License-Identifier: Apache-2.0
/*
 * What Swift needs that Glibc does not give it: the spawn path (clone3 into the
 * namespaces and cgroup, then execveat of the sealed skiff-init), descriptor passing,
 * and thin wrappers for syscalls without a Glibc function. Every result is checked by
 * the caller; functions return -1 and set errno like the syscalls they wrap.
 */
#ifndef CSHIMS_H
#define CSHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/signalfd.h>
#include <sys/xattr.h> /* getxattr and friends, which Glibc does not export to Swift */
#include <seccomp.h>
#include "skiff_plan.h"
#include "skiff_netlink.h"

struct skiff_spawn_request {
    uint64_t clone_flags; /* CLONE_NEW* for the namespaces created at clone */
    int cgroup_fd;        /* a cgroup v2 directory for CLONE_INTO_CGROUP, or -1 */
    int init_fd;          /* the sealed memfd holding skiff-init */
    int sync_fd;          /* the child's end of the plan socket (close-on-exec in the parent) */
    char *const *argv;    /* skiff-init's argv, prepared by the parent */
    /* cgroup v1 `tasks` files the child writes "0" to before its exec: a thread moving itself
     * skips the kernel's global threadgroup lock, whose RCU grace period every write of a pid
     * to `cgroup.procs` waits for with cgroup_mutex held. join_paths name them in the child's
     * report if a write fails. */
    const int *join_fds;
    const char *const *join_paths;
    int join_count;
    int into_cgroup; /* out: 1 if the child was born inside cgroup_fd */
    int pidfd;       /* out: a pidfd for the child, or -1 */
};

/* clone3 (falling back to clone) + execveat of skiff-init. Returns the child's pid. */
pid_t skiff_spawn(struct skiff_spawn_request *request);

/* fork + execve of a runtime hook: killed with the calling thread (PR_SET_PDEATHSIG), in a
 * process group of its own, `stdin_fd` as its standard input. Returns the pid, or -1. */
pid_t skiff_spawn_hook(const char *path, char *const argv[], char *const envp[], int stdin_fd);

struct skiff_criu_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    int release_fd;         /* a byte here releases CRIU (its cgroup set by the caller) */
    const char *root;       /* with root_mount: bound there in a mount namespace of CRIU's */
    const char *root_mount; /* own, or NULL */
    const int *keep_fds;    /* inherited by CRIU (close-on-exec cleared) */
    int keep_count;
    int rules_socket; /* -1, or: the task's rules (rules_batch) sent on this netlink */
    int rules_batch;  /* socket after the first byte, CRIU released by a second */
    /* process.terminal (restore, with root_mount): a devpts instance mounted on devpts_dir
     * with these flags and data; its first pty's peer is put on each of terminal_fds (CRIU's
     * --inherit-fd for the task's terminals), its master goes to console_socket. NULL for
     * none. */
    const char *devpts_dir;
    const char *devpts_ptmx; /* devpts_dir/ptmx */
    const char *devpts_data;
    unsigned long devpts_flags;
    int console_socket;
    const int *terminal_fds;
    int terminal_count;
    int outlive_caller; /* once released, CRIU no longer dies with the caller (a dump) */
};

/* fork + execve of CRIU, held as `request` says, killed with the calling thread. Returns the
 * pid, or -1. */
pid_t skiff_spawn_criu(const struct skiff_criu_request *request);

/* Creates the missing `paths` under `root` (files where `files[i]`, else directories), in a
 * child chrooted there. Returns 0, or -1 with errno. */
int skiff_make_mountpoints(const char *root, char *const paths[], const int *files, int count);

/* A new network namespace's descriptor (made by a thread of its own), or -1 with errno. */
int skiff_new_netns(void);

/* A sealed, read-only memfd holding the executable at `path` (CVE-2019-5736), named
 * SKIFF_INIT_MEMFD_NAME: /proc/PID/exe reads "/memfd:skiff-init (deleted)" while skiff-init runs
 * from it (ExecWatch waits for that to change). */
#define SKIFF_INIT_MEMFD_NAME "skiff-init"
int skiff_sealed_copy(const char *path);

/* sendmsg of one SOCK_SEQPACKET message, with `nfds` descriptors attached by SCM_RIGHTS. */
int skiff_send_message(int sock, const void *buffer, size_t length, const int *fds, int nfds);

/* PR_SET_CHILD_SUBREAPER: orphans below us (a container forked into a joined pid
 * namespace) are reparented to us, so `run` can reap them. */
int skiff_become_subreaper(void);

int skiff_pidfd_open(pid_t pid);
int skiff_unshare(int flags);
/* pipe2(ends, O_CLOEXEC): no child spawned meanwhile inherits either end. */
int skiff_pipe_cloexec(int ends[2]);
/* memfd_create(name, MFD_CLOEXEC). */
int skiff_memfd(const char *name);
/* An unnamed file in directory `dir` (O_TMPFILE), to be linked in place when complete. */
int skiff_open_tmpfile(const char *dir);
/* Give the O_TMPFILE `fd` the name `path`; fails with EEXIST if it has one already. */
int skiff_link_tmpfile(int fd, const char *path);
int skiff_pidfd_send_signal(int pidfd, int sig);
int skiff_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/* Whether the directory `fd` is the root of a cgroup2 mount (fstatfs's magic, statx's
 * STATX_ATTR_MOUNT_ROOT): 1, 0 (also on a kernel too old to say), or -1 with errno. */
int skiff_is_cgroup2_mount_root(int fd);

/* The highest capability number the running kernel knows (libcap's cap_max_bits). */
int skiff_last_capability(void);

/* One eBPF instruction, as struct bpf_insn lays it out. */
struct skiff_bpf_insn {
    uint8_t code;
    uint8_t regs;
    int16_t off;
    int32_t imm;
};

/* Load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to the cgroup directory `cgroup_fd`
 * (BPF_F_ALLOW_MULTI). On failure returns -1 with errno, and the verifier's log in `log`. */
int skiff_attach_device_program(int cgroup_fd, const struct skiff_bpf_insn *insns, int count, char *log,
                                size_t log_size);

/* Receive one SOCK_SEQPACKET message into `buffer`; a descriptor passed with it by
 * SCM_RIGHTS lands in *fd (else -1). Returns the length like recv(2). */
ssize_t skiff_receive_message(int sock, void *buffer, size_t length, int *fd);

/* A user namespace with the given uid_map and gid_map contents, as an open descriptor (for
 * MOUNT_ATTR_IDMAP): a helper process is created in it, mapped, and ended. */
int skiff_userns_fd(const char *uid_map, const char *gid_map);

/* Clone-flag and mount-flag constants, for Swift (the macros do not import). */
enum {
    SKIFF_CLONE_NEWNS = 0x00020000,
    SKIFF_CLONE_NEWCGROUP = 0x02000000,
    SKIFF_CLONE_NEWUTS = 0x04000000,
    SKIFF_CLONE_NEWIPC = 0x08000000,
    SKIFF_CLONE_NEWUSER = 0x10000000,
    SKIFF_CLONE_NEWPID = 0x20000000,
    SKIFF_CLONE_NEWNET = 0x40000000,
    SKIFF_CLONE_NEWTIME = 0x00000080,
};

#endif
