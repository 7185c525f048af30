/* contain.c: reading an unsealed results file (one written before files
 * carried a seal) in full in a child process first. libhdf5 trusts the bytes
 * it parses: on damaged metadata it can crash or loop, and only a separate
 * process contains that. The child reads everything the reader API can be
 * asked for, so the caller's later reads of the same bytes are ones that
 * already finished once. The child is killed after COOP_H5_CHECK_SECONDS (or
 * $COOP_RESULTS_CHECK_SECONDS, 1-3600) and may not grow by more than a budget
 * of memory; it never returns into the caller's code (it leaves with _exit).
 * Never prints. */
#define _GNU_SOURCE
#include "h5_internal.h"
#include "coop/util.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CONTAIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONTAIN_ASAN 1
#endif
#endif

/* Caps the child's address space at what it holds now plus budget bytes, so
 * that a length libhdf5 reads from damaged metadata fails to allocate instead
 * of filling the machine's memory. Not under AddressSanitizer, whose shadow
 * memory is terabytes of reserved address space. */
static void limit_memory(size_t budget)
{
#ifndef CONTAIN_ASAN
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    struct rlimit rl;
    if (!pages || getrlimit(RLIMIT_AS, &rl) != 0)
        return;
    rlim_t want = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)budget;
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
        want = rl.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY || want < rl.rlim_cur) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_AS, &rl);
    }
#else
    (void)budget;
#endif
}

static unsigned check_seconds(void)
{
    const char *v = getenv("COOP_RESULTS_CHECK_SECONDS");
    char *end;
    long s = v ? strtol(v, &end, 10) : 0;
    return v && *v && !*end && s >= 1 && s <= 3600 ? (unsigned)s : COOP_H5_CHECK_SECONDS;
}

static void child(int fd, coop_h5_check_fn fn, void *ctx, size_t budget, unsigned seconds)
{
    limit_memory(budget);
    signal(SIGALRM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    alarm(seconds);
    struct coop_err e = {{0}};
    int rc = fn(ctx, &e);
    if (rc) {
        size_t len = strnlen(e.msg, sizeof e.msg), off = 0;
        while (off < len) {
            ssize_t w = write(fd, e.msg + off, len - off);
            if (w <= 0 && errno != EINTR)
                break;
            off += w > 0 ? (size_t)w : 0;
        }
    }
    _exit(rc ? 1 : 0);
}

/* Reads the child's message until it exits (bounded by its alarm). */
static void read_message(int fd, char *msg, size_t len)
{
    char scratch[256];
    size_t off = 0;
    for (;;) {
        bool room = off + 1 < len;
        ssize_t r = read(fd, room ? msg + off : scratch, room ? len - 1 - off : sizeof scratch);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (room)
            off += (size_t)r;
    }
    msg[off] = 0;
}

static int verdict(const char *path, int status, const char *msg, unsigned seconds,
                   struct coop_err *e)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && msg[0])
        return coop_fail(e, COOP_E_FORMAT, "%s", msg);
    if (WIFEXITED(status)) /* e.g. a sanitizer stopped it, reporting on stderr */
        return coop_fail(e, COOP_E_FORMAT, "%s: damaged results file: reading it failed in a "
                         "child process (exit status %d)", path, WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    if (sig == SIGALRM)
        return coop_fail(e, COOP_E_FORMAT, "%s: damaged results file: libhdf5 did not finish "
                         "reading it within %u s (looping on damaged metadata)", path, seconds);
    return coop_fail(e, COOP_E_FORMAT, "%s: damaged results file: libhdf5 crashed reading it "
                     "(signal %d, %s; contained in a child process)", path, sig, strsignal(sig));
}

int coop_h5_check_contained(const char *path, coop_h5_check_fn fn, void *ctx, size_t budget,
                            struct coop_err *e)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return coop_fail(e, COOP_E_IO, "%s: cannot check the file: pipe: %s", path,
                         strerror(errno));
    unsigned seconds = check_seconds();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return coop_fail(e, COOP_E_IO, "%s: cannot check the file: fork: %s", path,
                         strerror(err));
    }
    if (pid == 0) {
        close(fds[0]);
        child(fds[1], fn, ctx, budget, seconds);
    }
    close(fds[1]);
    char msg[COOP_ERR_MAX];
    read_message(fds[0], msg, sizeof msg);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return coop_fail(e, COOP_E_IO, "%s: cannot check the file: waitpid: %s", path,
                             strerror(errno));
    return verdict(path, status, msg, seconds, e);
}
