/* jobs.c: the sweep in several worker processes (coop-run --jobs N, the
 * YAML's jobs:). The caller's process forks N workers and runs no trial
 * itself; each worker runs the whole sweep (coop_run_sweep_one), and the
 * claims (claim.c) give every trial to one of them, as they do for separate
 * coop-run processes. A worker sends its summary back through a pipe; the
 * caller adds them up, and forwards a cancellation (one SIGTERM to each
 * worker, which abandons its trial in flight and stops).
 *
 * Why: a small model (the world CLIP: widths 64-256) spends most of a
 * two-thread run waking and synchronising threads, so two single-threaded
 * workers finish a sweep sooner than one two-threaded process
 * (docs/performance.md). Results do not depend on the thread count. */
#define _GNU_SOURCE
#include "coop/util.h"
#include "run_internal.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_JOBS 256

/* What a worker sends: this header, then per failure its id (17 bytes),
 * then two length-prefixed strings (axes summary, message). */
struct wire {
    size_t completed, skipped, failed, ran, elsewhere, foreign;
    int rc;
    char msg[COOP_ERR_MAX];
};

struct buf {
    char *p;
    size_t n, cap;
};

static int buf_add(struct buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
    return 0;
}

static int buf_str(struct buf *b, const char *s)
{
    uint32_t len = s ? (uint32_t)strlen(s) : 0;
    return buf_add(b, &len, sizeof len) || buf_add(b, s ? s : "", len) ? -1 : 0;
}

/* A worker: the sweep on its own, its summary to fd; never returns. */
static void worker(int fd, pid_t parent, const struct coop_matrix *m,
                   const struct coop_registry *reg, const struct coop_run_options *o)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* the caller killed outright: stop too */
#endif
    if (getppid() != parent)
        _exit(2);
    /* its own process group: a terminal's Ctrl-C reaches the caller, which
     * forwards one SIGTERM (a second signal would end a worker at once) */
    setpgid(0, 0);
    struct coop_run_options wo = *o;
    wo.tty = false; /* several workers: log lines, no redrawn status line */
    struct coop_run_summary s;
    struct coop_err e = {{0}};
    struct wire w;
    memset(&w, 0, sizeof w);
    w.rc = coop_run_sweep_one(m, reg, &wo, &s, &e);
    w.completed = s.completed;
    w.skipped = s.skipped;
    w.failed = s.failed;
    w.ran = s.ran;
    w.elsewhere = s.elsewhere;
    w.foreign = s.foreign;
    if (w.rc)
        snprintf(w.msg, sizeof w.msg, "%s", e.msg);
    struct buf b = {0};
    int bad = buf_add(&b, &w, sizeof w);
    for (size_t i = 0; i < s.failed && !bad; i++)
        bad = buf_add(&b, s.failures[i].id, sizeof s.failures[i].id) ||
              buf_str(&b, s.failures[i].summary) || buf_str(&b, s.failures[i].message);
    if (!bad)
        bad = coop_write_all(fd, b.p, b.n);
    fflush(NULL);
    _exit(bad ? 3 : 0); /* the caller's atexit handlers are not this process's */
}

static int take(const struct buf *b, size_t *at, void *dst, size_t n)
{
    if (*at + n > b->n)
        return -1;
    memcpy(dst, b->p + *at, n);
    *at += n;
    return 0;
}

static char *take_str(const struct buf *b, size_t *at)
{
    uint32_t len;
    if (take(b, at, &len, sizeof len) || *at + len > b->n)
        return NULL;
    char *s = malloc((size_t)len + 1);
    if (s) {
        memcpy(s, b->p + *at, len);
        s[len] = '\0';
    }
    *at += len;
    return s;
}

/* Adds worker j's message (b) to s; its status was st. Returns its sweep's
 * return code, or an error of its own when it sent no summary. */
static int add_worker(struct coop_run_summary *s, const struct buf *b, int j, int st,
                      bool cancelled, size_t *skipped, struct coop_err *e)
{
    struct wire w;
    size_t at = 0;
    if (take(b, &at, &w, sizeof w) != 0) {
        if (WIFSIGNALED(st) && cancelled)
            return COOP_E_INTERRUPTED;
        if (WIFSIGNALED(st))
            return coop_fail(e, COOP_E_IO, "worker %d of --jobs ended by signal %d (%s) before "
                             "it reported; its trial in flight is not recorded, completed "
                             "results are kept: run the same command again to resume",
                             j + 1, WTERMSIG(st), strsignal(WTERMSIG(st)));
        return coop_fail(e, COOP_E_IO, "worker %d of --jobs exited with status %d without a "
                         "report", j + 1, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    s->completed += w.completed;
    s->ran += w.ran;
    s->elsewhere += w.elsewhere;
    if (w.skipped > *skipped)
        *skipped = w.skipped;
    if (w.foreign > s->foreign)
        s->foreign = w.foreign;
    for (size_t i = 0; i < w.failed; i++) {
        struct coop_run_failure f;
        if (take(b, &at, f.id, sizeof f.id) != 0)
            break;
        f.summary = take_str(b, &at);
        f.message = take_str(b, &at);
        struct coop_run_failure *nf = realloc(s->failures, (s->failed + 1) * sizeof *nf);
        if (!nf) {
            free(f.summary);
            free(f.message);
            break;
        }
        s->failures = nf;
        nf[s->failed++] = f;
    }
    if (w.rc && w.rc != COOP_E_INTERRUPTED)
        return coop_fail(e, w.rc, "%s", w.msg);
    return w.rc;
}

int coop_run_sweep_jobs(const struct coop_matrix *m, const struct coop_registry *reg,
                        const struct coop_run_options *o, struct coop_run_summary *s,
                        struct coop_err *e)
{
    memset(s, 0, sizeof *s);
    s->total = coop_run_selected_count(m, o->selected);
    if (s->total == 0)
        return 0;
    if (o->jobs > MAX_JOBS)
        return coop_fail(e, COOP_E_INVAL, "jobs: %d worker processes, at most %d", o->jobs,
                         MAX_JOBS);
    const struct coop_trial *t0 = coop_matrix_trial(m, 0);
    s->results_dir = coop_asprintf("%s/%s", t0->results_dir, t0->experiment);
    if (!s->results_dir)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    double t_start = coop_now();
    int jobs = o->jobs, fds[MAX_JOBS], started = 0, rc = 0;
    pid_t pids[MAX_JOBS], me = getpid();
    struct buf bufs[MAX_JOBS];
    memset(bufs, 0, sizeof bufs);
    fflush(NULL); /* nothing buffered twice */
    for (int j = 0; j < jobs; j++) {
        int p[2];
        if (pipe(p) != 0) {
            rc = coop_fail(e, COOP_E_IO, "jobs: pipe: %s", strerror(errno));
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            rc = coop_fail(e, COOP_E_IO, "jobs: fork of worker %d: %s", j + 1, strerror(errno));
            close(p[0]);
            close(p[1]);
            break;
        }
        if (pid == 0) {
            for (int k = 0; k < started; k++)
                close(fds[k]);
            close(p[0]);
            worker(p[1], me, m, reg, o);
        }
        setpgid(pid, pid); /* also here: no window in which a Ctrl-C reaches it */
        close(p[1]);
        fds[started] = p[0];
        pids[started++] = pid;
    }
    /* Read every pipe to its end; check for a cancellation 4 times a second
     * and pass it on once. */
    bool forwarded = false, open_fd[MAX_JOBS];
    int left = started;
    for (int j = 0; j < started; j++)
        open_fd[j] = true;
    if (rc && started) { /* a worker could not start: stop the others */
        for (int j = 0; j < started; j++)
            kill(pids[j], SIGTERM);
        forwarded = true;
    }
    while (left > 0) {
        if (!forwarded && o->cancel && *o->cancel) {
            for (int j = 0; j < started; j++)
                kill(pids[j], SIGTERM);
            forwarded = true;
        }
        struct pollfd pf[MAX_JOBS];
        int np = 0, idx[MAX_JOBS];
        for (int j = 0; j < started; j++)
            if (open_fd[j]) {
                pf[np].fd = fds[j];
                pf[np].events = POLLIN;
                idx[np++] = j;
            }
        int r = poll(pf, (nfds_t)np, 250);
        if (r < 0 && errno != EINTR)
            break;
        for (int k = 0; r > 0 && k < np; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[4096];
            ssize_t got = read(pf[k].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got > 0 && buf_add(&bufs[idx[k]], chunk, (size_t)got) == 0)
                continue;
            close(pf[k].fd);
            open_fd[idx[k]] = false;
            left--;
        }
    }
    for (int j = 0; j < started; j++)
        if (open_fd[j])
            close(fds[j]);
    size_t skipped = 0;
    bool interrupted = false;
    for (int j = 0; j < started; j++) {
        int st = 0;
        while (waitpid(pids[j], &st, 0) < 0 && errno == EINTR)
            ;
        struct coop_err we = {{0}};
        int wrc = add_worker(s, &bufs[j], j, st, forwarded, &skipped, &we);
        free(bufs[j].p);
        if (wrc == COOP_E_INTERRUPTED)
            interrupted = true;
        else if (wrc && !rc)
            rc = coop_fail(e, wrc, "%s", we.msg);
    }
    s->skipped = skipped;
    /* the workers' "elsewhere" counts each other's trials; what this run's
     * workers did not account for was done or held by other processes */
    size_t mine = s->completed + s->skipped + s->failed;
    s->elsewhere = !interrupted && !rc && s->total > mine ? s->total - mine : 0;
    s->interrupted = interrupted;
    s->seconds = coop_now() - t_start;
    if (!rc && (interrupted || (o->cancel && *o->cancel)))
        rc = coop_fail(e, COOP_E_INTERRUPTED, "interrupted");
    return rc;
}
