/* state.c: what a re-run needs to know about a trial (missing, completed,
 * failed) and the start-up sweep of temporary files left by dead writers.
 * Never touches completed files; never prints. */
#include "coop/results.h"
#include "coop/util.h"
#include "h5_internal.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int coop_results_state(const char *dir, const char *trial_id, enum coop_trial_state *st,
                       char *err_msg, size_t len, struct coop_err *e)
{
    *st = COOP_TRIAL_MISSING;
    if (err_msg && len)
        err_msg[0] = 0;
    if (!trial_id || !trial_id[0] || trial_id[0] == '.' || strchr(trial_id, '/'))
        return coop_fail(e, COOP_E_INVAL, "results: invalid trial id '%s'",
                         trial_id ? trial_id : "(null)");
    char *path = coop_asprintf("%s/%s.h5", dir, trial_id);
    if (!path)
        return coop_fail(e, COOP_E_NOMEM, "results: out of memory");
    if (!coop_file_exists(path)) {
        free(path);
        return 0;
    }
    struct coop_results_reader *r;
    int rc = coop_results_open(path, &r, e);
    if (rc) {
        free(path); /* damage is COOP_E_FORMAT; a failed read says nothing of the file */
        return rc == COOP_E_IO || rc == COOP_E_NOMEM ? rc : COOP_E_FORMAT;
    }
    char *status = NULL, *msg = NULL;
    struct coop_err e2;
    if (coop_results_read_attr_str(r, "status", &status, &e2) != 0)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: no 'status' attribute (not a results file?)", path);
    else if (strcmp(status, "completed") == 0)
        *st = COOP_TRIAL_COMPLETED;
    else if (strcmp(status, "failed") == 0) {
        *st = COOP_TRIAL_FAILED;
        if (err_msg && len && coop_results_read_attr_str(r, "error", &msg, &e2) == 0)
            snprintf(err_msg, len, "%s", msg);
    } else
        rc = coop_fail(e, COOP_E_FORMAT, "%s: unexpected status '%s'", path, status);
    free(status);
    free(msg);
    coop_results_close(r);
    free(path);
    return rc;
}

/* Parses ".<id>.h5.tmp-<host>-<pid>"; returns false for anything else. */
static bool parse_tmp_name(const char *name, char *host, size_t hlen, long *pid)
{
    if (name[0] != '.')
        return false;
    const char *t = strstr(name, ".h5.tmp-");
    if (!t)
        return false;
    const char *h = t + strlen(".h5.tmp-");
    const char *dash = strrchr(h, '-');
    if (!dash || dash == h || (size_t)(dash - h) >= hlen)
        return false;
    char *end;
    errno = 0;
    long p = strtol(dash + 1, &end, 10);
    if (errno || *end || p <= 0 || end == dash + 1)
        return false;
    memcpy(host, h, (size_t)(dash - h));
    host[dash - h] = 0;
    *pid = p;
    return true;
}

static void this_host(char *out, size_t len)
{
    if (gethostname(out, len) != 0 || !out[0])
        snprintf(out, len, "localhost");
    out[len - 1] = 0;
    for (char *p = out; *p; p++)
        if (*p == '/' || *p == '-')
            *p = '_';
}

int coop_results_clean_stale(const char *dir, int *removed, struct coop_err *e)
{
    if (removed)
        *removed = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return coop_fail(e, COOP_E_IO, "%s: cannot list: %s", dir, strerror(errno));
    }
    char me[256], host[256];
    this_host(me, sizeof me);
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long pid;
        if (!parse_tmp_name(de->d_name, host, sizeof host, &pid) || strcmp(host, me) != 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to judge) */
        char *p = coop_asprintf("%s/%s", dir, de->d_name);
        if (!p) {
            rc = coop_fail(e, COOP_E_NOMEM, "results: out of memory");
            break;
        }
        if (unlink(p) == 0) {
            if (removed)
                (*removed)++;
        } else if (errno != ENOENT) {
            rc = coop_fail(e, COOP_E_IO, "%s: cannot remove stale file: %s", p, strerror(errno));
        }
        free(p);
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}
