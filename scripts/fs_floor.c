/*
 * The file-system floor of a no-op job: the artifact folders and files DESIGN §6 gives a one-step job
 * (3 folders and the empty workspace folder; 10 files of 300 bytes, each written to a temporary name
 * and renamed), created by P processes at once with nothing else: no JVM, no store, no interpreter.
 * What is left is the kernel's work, which no runner can do with less. scripts/bench.py compiles and
 * runs it (phase "fs floor"); by hand:
 *
 *   cc -O2 -o target/fs_floor scripts/fs_floor.c && target/fs_floor EMPTY_DIR 3000 2
 *
 * prints one line: jobs, jobs/s, CPU per job (user + system of the P processes).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *LAYOUT[] = {"job.json", "result.json", "report.md", "patch.diff", "logs.txt",
                               "steps/s1/prompt.txt", "steps/s1/result.json", "steps/s1/report.md",
                               "steps/s1/patch.diff", "steps/s1/logs.txt"};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void must(int ok, const char *what, const char *path) {
    if (!ok) {
        perror(path);
        fprintf(stderr, "fs_floor: %s failed\n", what);
        _exit(1);
    }
}

static void layouts(const char *base, int n) {
    char job[1024], path[1100], tmp[1100], body[300];
    memset(body, 'x', sizeof body);
    snprintf(path, sizeof path, "%s-ws", base);
    must(mkdir(base, 0755) == 0, "mkdir", base);
    must(mkdir(path, 0755) == 0, "mkdir", path);
    for (int i = 0; i < n; i++) {
        snprintf(job, sizeof job, "%s/j%d", base, i);
        must(mkdir(job, 0755) == 0, "mkdir", job);
        snprintf(path, sizeof path, "%s/steps", job);
        must(mkdir(path, 0755) == 0, "mkdir", path);
        snprintf(path, sizeof path, "%s/steps/s1", job);
        must(mkdir(path, 0755) == 0, "mkdir", path);
        snprintf(path, sizeof path, "%s-ws/j%d", base, i);
        must(mkdir(path, 0755) == 0, "mkdir", path);
        for (size_t k = 0; k < sizeof LAYOUT / sizeof *LAYOUT; k++) {
            snprintf(tmp, sizeof tmp, "%s/.%d.tmp", job, i);
            int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
            must(fd >= 0, "open", tmp);
            must(write(fd, body, sizeof body) == (ssize_t) sizeof body, "write", tmp);
            must(close(fd) == 0, "close", tmp);
            snprintf(path, sizeof path, "%s/%s", job, LAYOUT[k]);
            must(rename(tmp, path) == 0, "rename", path);
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: fs_floor EMPTY_DIR JOBS_PER_PROCESS PROCESSES\n");
        return 2;
    }
    int n = atoi(argv[2]), procs = atoi(argv[3]), failed = 0;
    double t0 = now();
    for (int p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid == 0) {
            char base[768];
            snprintf(base, sizeof base, "%s/p%d", argv[1], p);
            layouts(base, n);
            _exit(0);
        }
        must(pid > 0, "fork", argv[1]);
    }
    int status;
    while (wait(&status) > 0) {
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    if (failed) {
        return 1;
    }
    double elapsed = now() - t0;
    struct rusage r;
    getrusage(RUSAGE_CHILDREN, &r);
    double user = r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6, sys = r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
    printf("jobs %d, %.0f jobs/s, CPU per job %.3f ms (user %.3f s, system %.3f s)\n", n * procs,
           n * procs / elapsed, (user + sys) * 1000 / (n * procs), user, sys);
    return 0;
}
