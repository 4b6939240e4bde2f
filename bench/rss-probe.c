// SPDX-License-Identifier: Apache-2.0
/*
 * rss-probe OUT COMMAND [ARGS...]: runs COMMAND, waits for it, and writes
 * "<wall milliseconds> <peak RSS KiB>\n" to OUT; exits with COMMAND's status.
 *
 * Why a separate tiny static program: a child's ru_maxrss starts at the RSS of the
 * process image it was forked (or vforked) from, so measured from the Swift benchmark
 * every runtime would show the benchmark's own 6 MB. Forked from this 20 KB probe, the
 * floor is negligible and the figure is the runtime's own peak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rss-probe OUT COMMAND [ARGS...]\n");
        return 2;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid = fork();
    if (pid < 0) {
        perror("rss-probe: fork");
        return 2;
    }
    if (pid == 0) {
        execv(argv[2], argv + 2);
        perror("rss-probe: exec");
        _exit(127);
    }
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("rss-probe: wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror("rss-probe: opening the output");
        return 2;
    }
    double ms = (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
    fprintf(out, "%.4f %ld\n", ms, usage.ru_maxrss);
    fclose(out);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
