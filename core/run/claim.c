/* claim.c: trial claims (see claim.h). Generation files are only ever made
 * whole: written under a temporary name, then link()ed to their name, which
 * fails when the name exists, so of several processes taking over the same
 * dead generation exactly one gets the next. A generation is never removed
 * while the trial is incomplete, so the generations of such a trial are
 * 1..k and whoever links k+1 owns it; clocks are the file system's (the
 * mtime of a file just written), not the hosts'. Never prints. */
#define _GNU_SOURCE
#include "claim.h"
#include "coop/util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CLAIM_MAGIC "coop-run claim 1\n"
#define CLAIM_MAX_GEN 100000

struct claim {
    char *dir, *id, *path, *next; /* next: the generation that would take ours over */
    int generation;
    ino_t ino;
    dev_t dev;
    double period;
    pthread_t thread;
    bool thread_on;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, lost;
};

static char *gen_path(const char *dir, const char *id, int n)
{
    return coop_asprintf("%s/.%s.claim-%d", dir, id, n);
}

static double mtime_of(const struct stat *st)
{
    return (double)st->st_mtim.tv_sec + 1e-9 * (double)st->st_mtim.tv_nsec;
}

static void pid_namespace(char *out, size_t len)
{
    ssize_t n = readlink("/proc/self/ns/pid", out, len - 1);
    out[n > 0 ? n : 0] = '\0';
    if (n <= 0)
        snprintf(out, len, "-");
}

static void slurm_task(char *out, size_t len)
{
    const char *job = getenv("SLURM_ARRAY_JOB_ID"), *task = getenv("SLURM_ARRAY_TASK_ID");
    if (job && task)
        snprintf(out, len, "%s_%s", job, task);
    else
        snprintf(out, len, "%s", getenv("SLURM_JOB_ID") ? getenv("SLURM_JOB_ID") : "-");
}

/* The claim text of this process (released: the text of a given-up claim). */
static char *claim_text(bool released)
{
    char host[256], ns[128], slurm[64];
    coop_host_name(host, sizeof host);
    pid_namespace(ns, sizeof ns);
    slurm_task(slurm, sizeof slurm);
    return coop_asprintf(CLAIM_MAGIC "host %s\npidns %s\npid %ld\nstarted %lld\nslurm %s\n%s",
                         host, ns, (long)getpid(), (long long)time(NULL), slurm,
                         released ? "released\n" : "");
}

/* Writes text to a temporary file of this process in dir; its mtime (the
 * file system's clock) goes to *now when now is non-NULL. */
static int write_tmp(const char *dir, const char *id, const char *text, char **out,
                     double *now, struct coop_err *e)
{
    char host[256];
    coop_host_name(host, sizeof host);
    char *tmp = coop_asprintf("%s/.%s.claim.tmp-%s-%ld", dir, id, host, (long)getpid());
    *out = NULL;
    if (!tmp)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    struct stat st;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int bad = fd < 0 || coop_write_all(fd, text, strlen(text)) || fstat(fd, &st);
    if (fd >= 0 && close(fd) != 0)
        bad = 1;
    if (bad) {
        int rc = coop_fail(e, COOP_E_IO, "%s: cannot write a claim: %s", tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return rc;
    }
    if (now)
        *now = mtime_of(&st);
    *out = tmp;
    return 0;
}

double coop_claim_clock(const char *dir)
{
    struct coop_err e;
    double now = 0;
    char *tmp;
    if (write_tmp(dir, "clock", "", &tmp, &now, &e) == 0) {
        unlink(tmp);
        free(tmp);
        return now;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void parse_holder(const char *text, struct claim_holder *h, char *ns, size_t ns_len)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        char v[256];
        if (sscanf(p, "host %255s", v) == 1)
            snprintf(h->host, sizeof h->host, "%s", v);
        else if (sscanf(p, "pidns %255s", v) == 1)
            snprintf(ns, ns_len, "%.127s", v);
        else if (sscanf(p, "pid %ld", &h->pid) == 1)
            continue;
        else if (sscanf(p, "slurm %63s", v) == 1)
            snprintf(h->slurm, sizeof h->slurm, "%.63s", strcmp(v, "-") ? v : "");
        else if (strncmp(p, "released\n", 9) == 0)
            h->released = true;
    }
}

/* Whether the holder runs here: same host (as claims record it) and pid
 * namespace, so that its pid names a process this one can see. */
static bool holder_local(const struct claim_holder *h, const char *ns)
{
    char host[256], my_ns[128];
    coop_host_name(host, sizeof host);
    pid_namespace(my_ns, sizeof my_ns);
    return h->pid > 0 && strcmp(h->host, host) == 0 && strcmp(ns, my_ns) == 0;
}

/* Whether the holder's process is known to be gone: only judged for local
 * holders (elsewhere the heartbeat decides). */
static bool holder_gone(const struct claim_holder *h)
{
    return h->local && kill((pid_t)h->pid, 0) != 0 && errno == ESRCH;
}

bool coop_claim_sibling(const struct claim_holder *h)
{
    return h->local && coop_proc_parent(h->pid) == (long)getppid();
}

/* Reads generation n of a trial's claim and judges it at time now. A file
 * that does not parse (not written by this code) is judged by its age. */
static int read_holder(const char *path, int n, double now, double timeout,
                       struct claim_holder *h, struct coop_err *e)
{
    memset(h, 0, sizeof *h);
    h->generation = n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    struct stat st;
    char text[2048], ns[128] = "-";
    ssize_t len = fd < 0 || fstat(fd, &st) ? -1 : read(fd, text, sizeof text - 1);
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (len < 0)
        return coop_fail(e, COOP_E_IO, "%s: cannot read the claim: %s", path, strerror(err));
    text[len] = '\0';
    if (strncmp(text, CLAIM_MAGIC, strlen(CLAIM_MAGIC)) == 0)
        parse_holder(text, h, ns, sizeof ns);
    h->local = holder_local(h, ns);
    h->age = now - mtime_of(&st);
    h->state = CLAIM_DEAD;
    if (h->released)
        snprintf(h->why, sizeof h->why, "released");
    else if (holder_gone(h))
        snprintf(h->why, sizeof h->why, "process %ld is gone", h->pid);
    else if (h->age > timeout)
        snprintf(h->why, sizeof h->why, "no heartbeat for %.0f s", h->age);
    else
        h->state = CLAIM_ALIVE;
    return 0;
}

static double effective_timeout(double timeout_s)
{
    return timeout_s > 0 ? timeout_s : COOP_CLAIM_TIMEOUT_S;
}

/* ---- the heartbeat ------------------------------------------------------------ */
static bool still_ours(struct claim *c)
{
    struct stat st;
    return stat(c->path, &st) == 0 && st.st_ino == c->ino && st.st_dev == c->dev &&
           access(c->next, F_OK) != 0;
}

static void *heartbeat(void *arg)
{
    struct claim *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)c->period;
        ts.tv_nsec += (long)((c->period - (double)(time_t)c->period) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != ETIMEDOUT || c->stop)
            continue;
        pthread_mutex_unlock(&c->mu);
        bool ours = still_ours(c) && utimensat(AT_FDCWD, c->path, NULL, 0) == 0;
        pthread_mutex_lock(&c->mu);
        if (!ours)
            c->lost = true;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void claim_free(struct claim *c)
{
    if (c->thread_on) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->dir);
    free(c->id);
    free(c->path);
    free(c->next);
    free(c);
}

static struct claim *claim_new(const char *dir, const char *id, int n, const struct stat *st,
                               double timeout)
{
    struct claim *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->dir = coop_strdup(dir);
    c->id = coop_strdup(id);
    c->path = gen_path(dir, id, n);
    c->next = gen_path(dir, id, n + 1);
    c->generation = n;
    c->ino = st->st_ino;
    c->dev = st->st_dev;
    /* ten heartbeats a timeout, so a live claim never looks stale */
    c->period = timeout / 10 < 0.1 ? 0.1 : timeout / 10;
    if (c->period > COOP_CLAIM_HEARTBEAT_S)
        c->period = COOP_CLAIM_HEARTBEAT_S;
    if (!c->dir || !c->id || !c->path || !c->next ||
        pthread_create(&c->thread, NULL, heartbeat, c) != 0) {
        claim_free(c);
        return NULL;
    }
    c->thread_on = true;
    return c;
}

/* ---- acquiring ------------------------------------------------------------------- */
/* Puts the temporary claim under generation n's name: 0 done, 1 the name
 * exists, else an error. A file system without hard links gets the name
 * created exclusively and the text written after (a reader meanwhile sees an
 * unparsed, fresh file: alive). */
static int put_generation(const char *tmp, const char *path, const char *text,
                          struct coop_err *e)
{
    if (link(tmp, path) == 0)
        return 0;
    if (errno == EEXIST)
        return 1;
    if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP && errno != EXDEV)
        return coop_fail(e, COOP_E_IO, "%s: cannot claim: %s", path, strerror(errno));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno == EEXIST ? 1
                               : coop_fail(e, COOP_E_IO, "%s: cannot claim: %s", path,
                                           strerror(errno));
    int bad = coop_write_all(fd, text, strlen(text));
    if (close(fd) != 0 || bad) {
        unlink(path);
        return coop_fail(e, COOP_E_IO, "%s: cannot claim: %s", path, strerror(errno));
    }
    return 0;
}

/* Walks the generations from 1: a live one is the holder; past dead ones,
 * the first free name is ours unless a later generation exists (a gap that
 * only the removal of a completed trial's claims leaves). */
static int walk_generations(const char *dir, const char *id, const char *tmp, const char *text,
                            double now, double timeout, int *owned,
                            struct claim_holder *holder, struct coop_err *e)
{
    int rc = 0;
    *owned = 0;
    for (int n = 1, tries = 0; n <= CLAIM_MAX_GEN && rc == 0 && tries < 1000; tries++) {
        char *path = gen_path(dir, id, n), *next = gen_path(dir, id, n + 1);
        if (!path || !next)
            rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
        int put = rc ? -1 : put_generation(tmp, path, text, e);
        if (put == 0 && access(next, F_OK) == 0) {
            unlink(path);
            n++;
        } else if (put == 0) {
            *owned = n;
        } else if (put == 1 && (rc = read_holder(path, n, now, timeout, holder, e)) == 0) {
            if (holder->state == CLAIM_DEAD)
                n++;
            else if (holder->state == CLAIM_ALIVE)
                n = CLAIM_MAX_GEN + 1; /* busy: stop */
        } else if (put < 0) {
            rc = put;
        }
        free(path);
        free(next);
        if (*owned || n > CLAIM_MAX_GEN)
            break;
    }
    return rc;
}

int coop_claim_acquire(const char *dir, const char *id, double timeout_s, struct claim **out,
                  struct claim_holder *holder, struct coop_err *e)
{
    *out = NULL;
    struct claim_holder scratch;
    if (!holder)
        holder = &scratch;
    memset(holder, 0, sizeof *holder);
    double timeout = effective_timeout(timeout_s), now = 0;
    char *text = claim_text(false), *tmp = NULL;
    int rc = text ? write_tmp(dir, id, text, &tmp, &now, e)
                  : coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rc) {
        free(text);
        return rc;
    }
    int owned = 0;
    rc = walk_generations(dir, id, tmp, text, now, timeout, &owned, holder, e);
    struct stat st;
    char *path = owned ? gen_path(dir, id, owned) : NULL;
    if (rc == 0 && owned) {
        if (!path || stat(path, &st) != 0 || !(*out = claim_new(dir, id, owned, &st, timeout)))
            rc = coop_fail(e, COOP_E_NOMEM, "%s: cannot hold the claim", dir);
        if (rc && path)
            unlink(path);
    } else if (rc == 0 && holder->state != CLAIM_ALIVE) {
        rc = coop_fail(e, COOP_E_IO, "%s/.%s.claim-*: too many generations", dir, id);
    }
    unlink(tmp);
    free(path);
    free(tmp);
    free(text);
    return rc;
}

bool coop_claim_held(struct claim *c)
{
    pthread_mutex_lock(&c->mu);
    bool lost = c->lost;
    pthread_mutex_unlock(&c->mu);
    return !lost && still_ours(c);
}

void coop_claim_release(struct claim *c, bool completed)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    c->thread_on = false;
    if (completed) {
        coop_claim_remove_all(c->dir, c->id);
    } else if (still_ours(c)) {
        struct coop_err e;
        char *text = claim_text(true), *tmp = NULL;
        if (text)
            write_tmp(c->dir, c->id, text, &tmp, NULL, &e);
        if (tmp && rename(tmp, c->path) != 0)
            unlink(tmp);
        free(tmp);
        free(text);
    }
    claim_free(c);
}

/* ---- inspecting ------------------------------------------------------------------ */
int coop_claim_inspect(const char *dir, const char *id, double timeout_s, double now,
                  struct claim_holder *h, struct coop_err *e)
{
    double timeout = effective_timeout(timeout_s);
    memset(h, 0, sizeof *h);
    int rc = 0;
    for (int n = 1; n <= CLAIM_MAX_GEN && rc == 0; n++) {
        struct claim_holder g;
        char *path = gen_path(dir, id, n);
        if (!path)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        rc = read_holder(path, n, now, timeout, &g, e);
        free(path);
        if (rc || g.state == CLAIM_NONE)
            break;
        *h = g;
    }
    return rc;
}

static int cmp_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

void coop_claim_remove_all(const char *dir, const char *id)
{
    char *prefix = coop_asprintf(".%s.claim-", id);
    DIR *d = prefix ? opendir(dir) : NULL;
    int *gens = NULL;
    size_t n = 0, cap = 0, plen = prefix ? strlen(prefix) : 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        char *end = NULL;
        long g = strncmp(de->d_name, prefix, plen) == 0 ? strtol(de->d_name + plen, &end, 10) : 0;
        if (g <= 0 || g > CLAIM_MAX_GEN || *end)
            continue;
        if (n == cap) {
            int *ng = realloc(gens, (cap = cap ? 2 * cap : 8) * sizeof *ng);
            if (!ng)
                break;
            gens = ng;
        }
        gens[n++] = (int)g;
    }
    if (d)
        closedir(d);
    /* from the top: the generations left stay 1..k while it runs */
    qsort(gens, n, sizeof *gens, cmp_desc);
    for (size_t i = 0; i < n; i++) {
        char *p = gen_path(dir, id, gens[i]);
        if (p)
            unlink(p);
        free(p);
    }
    free(gens);
    free(prefix);
}
