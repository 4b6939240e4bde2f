// SPDX-License-Identifier: Apache-2.0
/*
 * skiff-probe: what `skiff check` runs inside the task instead of its process. It asks the
 * kernel what this task is and may do, and prints one fact a line, `KEY VALUE`; the runner
 * compares each with what the config and the policy promise. Static, no files of the
 * root filesystem used. Active tests (a syscall, an allocation, fork) run in children, so
 * a kill or an OOM ends the child, not the probe.
 *
 * Arguments: --only GROUP (repeatable; default all), --syscall NAME (a syscall to try),
 * --masked PATH, --readonly PATH, --memory BYTES (allocate past it), --cpu (measure the
 * CPU share), --pids N (fork up to N), --peer PROTO:ADDR:PORT (try to connect).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITEMS 128
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

static const char *only[16];
static int only_count;

static int wanted(const char *group)
{
    if (only_count == 0)
        return 1;
    for (int i = 0; i < only_count; i++)
        if (strcmp(only[i], group) == 0)
            return 1;
    return 0;
}

static void fact(const char *key, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void fact(const char *key, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    printf("%s ", key);
    vprintf(format, args);
    printf("\n");
    va_end(args);
    fflush(stdout);
}

/* ---- namespaces ---- */

static void namespaces(void)
{
    static const char *kinds[] = { "pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time" };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char path[64], target[128], key[64];
        snprintf(path, sizeof(path), "/proc/self/ns/%s", kinds[i]);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        snprintf(key, sizeof(key), "ns.%s", kinds[i]);
        if (n < 0)
            fact(key, "unknown:%s", strerror(errno));
        else {
            target[n] = 0;
            fact(key, "%s", target);
        }
    }
    struct utsname name;
    if (uname(&name) == 0) {
        fact("hostname", "%s", name.nodename);
        fact("domainname", "%s", name.domainname);
    }
}

/* ---- identity and privilege ---- */

static void status_field(const char *field, const char *key)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return;
    char line[512];
    size_t len = strlen(field);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            char *value = line + len + 1;
            while (*value == ' ' || *value == '\t')
                value++;
            value[strcspn(value, "\n")] = 0;
            fact(key, "%s", value);
        }
    }
    fclose(f);
}

static void identity(void)
{
    fact("uid", "%u", getuid());
    fact("gid", "%u", getgid());
    gid_t groups[64];
    int n = getgroups(64, groups);
    char list[1024] = "";
    for (int i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof(list) - used, "%s%u", i ? "," : "", groups[i]);
    }
    fact("groups", "%s", n > 0 ? list : "-");
    mode_t mask = umask(0);
    umask(mask);
    fact("umask", "%04o", mask);
}

/* The errno of `operation` run in a child (0: it worked), or -SIGNAL if the child died. */
static int in_child(int (*operation)(void))
{
    pid_t pid = fork();
    if (pid < 0)
        return errno;
    if (pid == 0) {
        errno = 0;
        int result = operation();
        _exit(result < 0 ? (errno & 0xff) : 0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* A mount that works is taken down again: the child shares the task's mount namespace. */
static int try_mount(void)
{
    if (mount("none", "/tmp", "tmpfs", 0, NULL) < 0)
        return -1;
    umount2("/tmp", MNT_DETACH);
    return 0;
}
static int try_sethostname(void)
{
    return sethostname("probe", 5);
}
static int try_raw_socket(void)
{
    return socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) < 0 ? -1 : 0;
}

static void outcome(const char *key, int result)
{
    if (result == 0)
        fact(key, "ok");
    else if (result < 0)
        fact(key, "signal:%d", -result);
    else
        fact(key, "errno:%d", result);
}

/* The process's LSM label: AppArmor's "profile (mode)", an SELinux context, or "-". */
static void lsm_label(void)
{
    char label[256] = "";
    const char *paths[] = { "/proc/self/attr/apparmor/current", "/proc/self/attr/current" };
    for (int i = 0; i < 2 && !label[0]; i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, label, sizeof(label) - 1);
        close(fd);
        label[n > 0 ? n : 0] = 0;
        char *newline = strchr(label, '\n');
        if (newline)
            *newline = 0;
    }
    fact("lsm.label", "%s", label[0] ? label : "-");
}

static void privilege(void)
{
    status_field("CapInh", "cap.inheritable");
    status_field("CapPrm", "cap.permitted");
    status_field("CapEff", "cap.effective");
    status_field("CapBnd", "cap.bounding");
    status_field("CapAmb", "cap.ambient");
    status_field("NoNewPrivs", "nonewprivs");
    lsm_label();
    outcome("op.mount", in_child(try_mount));
    outcome("op.sethostname", in_child(try_sethostname));
    outcome("op.rawsocket", in_child(try_raw_socket));
}

/* ---- seccomp ---- */

/* Calls whose arguments make them fail harmlessly, with an errno other than EPERM, when the
 * kernel runs them: a seccomp errno (or SIGSYS) is then the filter's answer. */
struct safe_call {
    const char *name;
    long number;
    long args[6];
};

static const struct safe_call safe_calls[] = {
    { "ptrace", SYS_ptrace, { 16 /* PTRACE_ATTACH */, 0 } },                     /* ESRCH */
    { "mount", SYS_mount, { 0, (long)"/nonexistent-skiff-probe", 0, 0, 0 } },    /* ENOENT */
    { "umount2", SYS_umount2, { (long)"/nonexistent-skiff-probe", 0 } },         /* ENOENT */
    { "unshare", SYS_unshare, { 0x7fffffff } },                                  /* EINVAL */
    { "setns", SYS_setns, { -1, 0 } },                                           /* EBADF */
    { "keyctl", SYS_keyctl, { 0x7fff } },                                        /* EOPNOTSUPP */
    { "add_key", SYS_add_key, { 0, 0, 0, 0, 0 } },                               /* EFAULT */
    { "request_key", SYS_request_key, { 0, 0, 0, 0 } },                          /* EFAULT */
    { "userfaultfd", SYS_userfaultfd, { 0x7fffffff } },                          /* EINVAL */
    { "perf_event_open", SYS_perf_event_open, { 0, 0, -1, -1, 0 } },             /* EFAULT */
    { "clock_settime", SYS_clock_settime, { 0x7fffffff, 0 } },                   /* EINVAL */
    { "kcmp", SYS_kcmp, { 0x7fffffff, 0x7fffffff, 0, 0, 0 } },                   /* ESRCH */
    { "process_vm_readv", SYS_process_vm_readv, { 0x7fffffff, 0, 0, 0, 0, 0 } }, /* ESRCH */
    { "set_mempolicy", SYS_set_mempolicy, { 0x7fff, 0, 0 } },                    /* EINVAL */
    { "iopl", SYS_iopl, { 4 } },                                                 /* EINVAL */
};

static const struct safe_call *current_call;

static int run_call(void)
{
    const long *a = current_call->args;
    return (int)syscall(current_call->number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void seccomp_call(const char *name)
{
    char key[96];
    snprintf(key, sizeof(key), "syscall.%s", name);
    for (size_t i = 0; i < sizeof(safe_calls) / sizeof(safe_calls[0]); i++) {
        if (strcmp(safe_calls[i].name, name) == 0) {
            current_call = &safe_calls[i];
            outcome(key, in_child(run_call));
            return;
        }
    }
    fact(key, "untestable");
}

/* ---- filesystem ---- */

static void masked(const char *path)
{
    char key[512];
    snprintf(key, sizeof(key), "masked.%s", path);
    struct stat st;
    if (lstat(path, &st) < 0) {
        fact(key, "absent");
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        int entries = 0;
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                entries++;
        if (d)
            closedir(d);
        fact(key, entries ? "readable" : "empty");
        return;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fact(key, "unreadable");
        return;
    }
    char byte;
    ssize_t n = read(fd, &byte, 1);
    close(fd);
    fact(key, n > 0 ? "readable" : "empty");
}

static void writable(const char *key, const char *path)
{
    struct statvfs vfs;
    if (statvfs(path, &vfs) < 0) {
        fact(key, "absent");
        return;
    }
    fact(key, (vfs.f_flag & ST_RDONLY) ? "readonly" : "writable");
}

static void filesystem(void)
{
    writable("root", "/");
    /* Descriptors beyond stdio (the one reading /proc/self/fd aside). */
    DIR *d = opendir("/proc/self/fd");
    char list[512] = "";
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
            continue;
        size_t used = strlen(list);
        snprintf(list + used, sizeof(list) - used, "%s%d", used ? "," : "", fd);
    }
    if (d)
        closedir(d);
    fact("fds", "%s", list[0] ? list : "-");
    /* Mount points, for "nothing of the host beyond the configured mounts". */
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[4096];
    while (f && fgets(line, sizeof(line), f)) {
        char *field = strtok(line, " ");
        for (int i = 0; field && i < 4; i++)
            field = strtok(NULL, " ");
        if (field)
            fact("mount", "%s", field);
    }
    if (f)
        fclose(f);
    /* What every process we can see runs: a runtime binary of the host must not be one. */
    d = opendir("/proc");
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], target[512];
        snprintf(path, sizeof(path), "/proc/%s/exe", e->d_name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = 0;
            fact("exe", "%s", target);
        }
    }
    if (d)
        closedir(d);
    /* A device outside linux.devices: /dev/sda's numbers, made and opened. */
    if (mknod("/dev/.skiff-probe-block", S_IFBLK | 0600, makedev(8, 0)) < 0) {
        fact("device.8:0", "mknod-errno:%d", errno);
    } else {
        int fd = open("/dev/.skiff-probe-block", O_RDONLY | O_CLOEXEC);
        fact("device.8:0", fd >= 0 ? "opened" : "open-errno:%d", errno);
        if (fd >= 0)
            close(fd);
        unlink("/dev/.skiff-probe-block");
    }
}

/* ---- resources ---- */

static void file_fact(const char *key, const char *path)
{
    char buffer[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
    close(fd);
    if (n <= 0)
        return;
    buffer[n] = 0;
    buffer[strcspn(buffer, "\n")] = 0;
    fact(key, "%s", buffer);
}

static long memory_bytes;

static int allocate(void)
{
    /* Touch every page, 1 MiB at a time, well past the limit. */
    long total = memory_bytes + (64L << 20);
    for (long done = 0; done < total; done += 1L << 20) {
        char *chunk = mmap(NULL, 1L << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (chunk == MAP_FAILED)
            return -1;
        memset(chunk, 1, 1L << 20);
    }
    return 0;
}

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cpu_share(void)
{
    /* Two seconds of busy loop; the share is CPU time over wall time. */
    double wall = seconds(CLOCK_MONOTONIC), cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long spin = 0;
    while (seconds(CLOCK_MONOTONIC) - wall < 2.0)
        for (int i = 0; i < 100000; i++)
            spin++;
    double share = (seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu) / (seconds(CLOCK_MONOTONIC) - wall);
    fact("cpu.share", "%.3f", share);
}

static void pids(long limit)
{
    /* Children that wait on a pipe; count how many fork before EAGAIN. */
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0)
        return;
    long forked = 0;
    int failure = 0;
    pid_t children[4096];
    while (forked < limit + 8 && forked < 4096) {
        pid_t pid = fork();
        if (pid < 0) {
            failure = errno;
            break;
        }
        if (pid == 0) {
            char byte;
            close(gate[1]);
            while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {
            }
            _exit(0);
        }
        children[forked++] = pid;
    }
    close(gate[1]);
    close(gate[0]);
    for (long i = 0; i < forked; i++)
        while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR) {
        }
    fact("pids.forked", "%ld", forked);
    fact("pids.failure", "errno:%d", failure);
}

static void rlimits(void)
{
    static const struct {
        const char *name;
        int resource;
    } table[] = {
        { "RLIMIT_NOFILE", RLIMIT_NOFILE },
        { "RLIMIT_NPROC", RLIMIT_NPROC },
        { "RLIMIT_CORE", RLIMIT_CORE },
        { "RLIMIT_STACK", RLIMIT_STACK },
        { "RLIMIT_AS", RLIMIT_AS },
        { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
        { "RLIMIT_FSIZE", RLIMIT_FSIZE },
        { "RLIMIT_CPU", RLIMIT_CPU },
        { "RLIMIT_DATA", RLIMIT_DATA },
        { "RLIMIT_NICE", RLIMIT_NICE },
        { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
        { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
        { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
        { "RLIMIT_LOCKS", RLIMIT_LOCKS },
        { "RLIMIT_RSS", RLIMIT_RSS },
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct rlimit limit;
        char key[64];
        if (getrlimit(table[i].resource, &limit) < 0)
            continue;
        snprintf(key, sizeof(key), "rlimit.%s", table[i].name);
        fact(key, "%llu %llu", (unsigned long long)limit.rlim_cur, (unsigned long long)limit.rlim_max);
    }
}

static void resources(long memory, int cpu, long pid_limit)
{
    /* The cgroup as the task sees it: v2 files, or v1 controllers' directories. */
    file_fact("cgroup.v2.memory.max", "/sys/fs/cgroup/memory.max");
    file_fact("cgroup.v2.cpu.max", "/sys/fs/cgroup/cpu.max");
    file_fact("cgroup.v2.pids.max", "/sys/fs/cgroup/pids.max");
    file_fact("cgroup.v1.memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.limit_in_bytes");
    file_fact("cgroup.v1.cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    file_fact("cgroup.v1.cpu.cfs_period_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    file_fact("cgroup.v1.pids.max", "/sys/fs/cgroup/pids/pids.max");
    rlimits();
    if (memory > 0) {
        memory_bytes = memory;
        outcome("memory.overrun", in_child(allocate));
    }
    if (cpu)
        cpu_share();
    if (pid_limit > 0)
        pids(pid_limit);
}

/* ---- network ---- */

static void interfaces(void)
{
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0)
        return;
    for (struct ifaddrs *a = list; a; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET)
            continue;
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, text, sizeof(text));
        fact("interface", "%s %s", a->ifa_name, text);
    }
    freeifaddrs(list);
}

/* How long a peer has to answer before it is called unreachable: TCP sends the SYN at 0 s and
 * again at 1 s and 3 s (at 1, 2, 3 and 4 s where tcp_syn_linear_timeouts spaces the first
 * retransmissions evenly, Linux 6.5 and later), and an answer to the 3 s one has 2 s more.
 * A node busy enough to leave its softirqs to a starved ksoftirqd took over 2 s to answer a
 * reachable peer in CI, and a false "unreachable" would pass a policy that claims isolation
 * the rules do not give. */
#define PEER_WINDOW_MS 5000

/* The verdict on a connection that ended with `error`: an answer came back (connected, or
 * refused) or it did not. */
static const char *peer_verdict(int error)
{
    return error == 0 || error == ECONNREFUSED ? "reachable" : "unreachable";
}

/* Starts a TCP connection to PROTO:ADDR:PORT without waiting: its socket while the answer is
 * pending, else -1 with `*verdict` set (untestable, or the verdict of a connect that ended at
 * once, such as a refusal on loopback or no route). */
static int start_connect(const char *spec, const char **verdict)
{
    char copy[128];
    snprintf(copy, sizeof(copy), "%s", spec);
    char *proto = strtok(copy, ":"), *address = strtok(NULL, ":"), *port = strtok(NULL, ":");
    struct sockaddr_in to = { .sin_family = AF_INET };
    *verdict = "untestable";
    if (!proto || !address || !port || strcmp(proto, "tcp") != 0 || inet_pton(AF_INET, address, &to.sin_addr) != 1)
        return -1;
    to.sin_port = htons((uint16_t)atoi(port));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int result = connect(fd, (struct sockaddr *)&to, sizeof(to));
    if (result < 0 && errno == EINPROGRESS) {
        *verdict = NULL;
        return fd;
    }
    *verdict = peer_verdict(result == 0 ? 0 : errno);
    close(fd);
    return -1;
}

static long long monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Each PROTO:ADDR:PORT -> "reachable" (connected, or refused: an answer came back),
 * "unreachable" (no answer within PEER_WINDOW_MS), or "untestable". All peers are tried at
 * once, so a check waits one window however many peers its policy names. */
static void peers(const char **specs, int count)
{
    struct pollfd waiting[MAX_ITEMS];
    int sockets[MAX_ITEMS];
    const char *verdict[MAX_ITEMS];
    for (int i = 0; i < count; i++) {
        sockets[i] = start_connect(specs[i], &verdict[i]);
        waiting[i] = (struct pollfd){ .fd = sockets[i], .events = POLLOUT };
    }
    long long deadline = monotonic_ms() + PEER_WINDOW_MS;
    for (;;) {
        int pending = 0;
        for (int i = 0; i < count; i++)
            pending += verdict[i] == NULL;
        long long left = deadline - monotonic_ms();
        if (pending == 0 || left <= 0)
            break;
        /* poll ignores an entry whose descriptor is negative: the resolved ones. */
        int ready = poll(waiting, (nfds_t)count, (int)left);
        if (ready < 0 && errno != EINTR)
            break;
        for (int i = 0; ready > 0 && i < count; i++) {
            if (verdict[i] != NULL || waiting[i].revents == 0)
                continue;
            int error = 0;
            socklen_t length = sizeof(error);
            if (getsockopt(sockets[i], SOL_SOCKET, SO_ERROR, &error, &length) < 0)
                error = errno;
            verdict[i] = peer_verdict(error);
            waiting[i].fd = -1;
        }
    }
    for (int i = 0; i < count; i++) {
        char key[160];
        snprintf(key, sizeof(key), "peer.%s", specs[i]);
        fact(key, "%s", verdict[i] ? verdict[i] : "unreachable");
        if (sockets[i] >= 0)
            close(sockets[i]);
    }
}

int main(int argc, char **argv)
{
    const char *syscalls[MAX_ITEMS], *masks[MAX_ITEMS], *readonly[MAX_ITEMS], *peers_wanted[MAX_ITEMS];
    int nsys = 0, nmask = 0, nro = 0, npeer = 0, cpu = 0;
    long memory = 0, pid_limit = 0;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--cpu") == 0) {
            cpu = 1;
            continue;
        }
        if (!value) {
            fprintf(stderr, "skiff-probe: %s needs a value\n", argv[i]);
            return 2;
        }
        i++;
        if (strcmp(argv[i - 1], "--only") == 0 && only_count < 16)
            only[only_count++] = value;
        else if (strcmp(argv[i - 1], "--syscall") == 0 && nsys < MAX_ITEMS)
            syscalls[nsys++] = value;
        else if (strcmp(argv[i - 1], "--masked") == 0 && nmask < MAX_ITEMS)
            masks[nmask++] = value;
        else if (strcmp(argv[i - 1], "--readonly") == 0 && nro < MAX_ITEMS)
            readonly[nro++] = value;
        else if (strcmp(argv[i - 1], "--peer") == 0 && npeer < MAX_ITEMS)
            peers_wanted[npeer++] = value;
        else if (strcmp(argv[i - 1], "--memory") == 0)
            memory = atol(value);
        else if (strcmp(argv[i - 1], "--pids") == 0)
            pid_limit = atol(value);
        else {
            fprintf(stderr, "skiff-probe: unknown argument %s\n", argv[i - 1]);
            return 2;
        }
    }
    /* Every fact about this task's process comes from /proc: one that is not procfs (an image
     * without a /proc mount, with files of its own there) would report the image's files as
     * the kernel's answers. */
    struct statfs proc;
    if (statfs("/proc", &proc) < 0 || proc.f_type != PROC_SUPER_MAGIC) {
        fprintf(stderr,
                "skiff-probe: /proc is not procfs (mount proc at /proc in the config): nothing can be observed\n");
        return 3;
    }
    fact("probe", "1");
    if (wanted("namespaces"))
        namespaces();
    if (wanted("identity"))
        identity();
    if (wanted("privilege"))
        privilege();
    if (wanted("seccomp")) {
        status_field("Seccomp", "seccomp");
        for (int i = 0; i < nsys; i++)
            seccomp_call(syscalls[i]);
    }
    if (wanted("filesystem")) {
        filesystem();
        for (int i = 0; i < nmask; i++)
            masked(masks[i]);
        for (int i = 0; i < nro; i++) {
            char key[512];
            snprintf(key, sizeof(key), "readonly.%s", readonly[i]);
            writable(key, readonly[i]);
        }
    }
    if (wanted("resources"))
        resources(memory, cpu, pid_limit);
    if (wanted("network")) {
        interfaces();
        peers(peers_wanted, npeer);
    }
    fact("done", "1");
    return 0;
}
