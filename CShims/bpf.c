// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "cshims.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(struct skiff_bpf_insn) == sizeof(struct bpf_insn), "struct bpf_insn layout");

int skiff_attach_device_program(int cgroup_fd, const struct skiff_bpf_insn *insns, int count, char *log,
                                size_t log_size)
{
    union bpf_attr load;
    memset(&load, 0, sizeof(load));
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = (uint64_t)(uintptr_t)insns;
    load.insn_cnt = (uint32_t)count;
    load.license = (uint64_t)(uintptr_t) "Apache-2.0";
    int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
    if (prog < 0 && log && log_size > 0) {
        /* Only on failure ask for the verifier's log (a log that overflows fails with ENOSPC
         * even for a good program), and keep the first error. */
        int saved = errno;
        log[0] = 0;
        load.log_buf = (uint64_t)(uintptr_t)log;
        load.log_size = (uint32_t)log_size;
        load.log_level = 1;
        if (syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load)) >= 0)
            log[0] = 0;
        errno = saved;
    }
    if (prog < 0)
        return -1;
    union bpf_attr attach;
    memset(&attach, 0, sizeof(attach));
    attach.target_fd = (uint32_t)cgroup_fd;
    attach.attach_bpf_fd = (uint32_t)prog;
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    int rc = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof(attach));
    int saved = errno;
    /* The attachment holds the program; our descriptor is no longer needed. */
    close(prog);
    errno = saved;
    return rc < 0 ? -1 : 0;
}
