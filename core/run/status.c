/* status.c: a trial's state across every process and host working on its
 * results folder (coop-run --status): its results file first (completed and
 * failed are final for a run), then its claim. Reads only; never prints. */
#include "claim.h"
#include "coop/results.h"
#include "coop/run.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_holder(struct coop_run_trial_info *out, const struct claim_holder *h)
{
    snprintf(out->host, sizeof out->host, "%s", h->host);
    snprintf(out->slurm, sizeof out->slurm, "%s", h->slurm);
    out->pid = h->pid;
    out->age = h->age;
}

static int trial_status(const struct coop_trial *t, double claim_timeout, double now,
                        struct coop_run_trial_info *out, struct coop_err *e)
{
    memset(out, 0, sizeof *out);
    out->age = -1;
    char *dir = coop_asprintf("%s/%s", t->results_dir, t->experiment);
    if (!dir)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    enum coop_trial_state st = COOP_TRIAL_MISSING;
    struct coop_err te;
    int rc = coop_results_state(dir, t->id, &st, out->detail, sizeof out->detail, &te);
    if (rc == COOP_E_FORMAT) { /* damaged: a re-run redoes it */
        snprintf(out->detail, sizeof out->detail, "%.500s", te.msg);
        rc = 0;
    } else if (rc) {
        coop_fail(e, rc, "%s", te.msg);
    }
    struct claim_holder h;
    if (rc == 0 && st == COOP_TRIAL_COMPLETED)
        out->status = COOP_RUN_DONE;
    else if (rc == 0 && (rc = coop_claim_inspect(dir, t->id, claim_timeout, now, &h, e)) == 0) {
        if (h.state != CLAIM_NONE)
            copy_holder(out, &h);
        if (h.state == CLAIM_ALIVE)
            out->status = COOP_RUN_RUNNING;
        else if (st == COOP_TRIAL_FAILED)
            out->status = COOP_RUN_FAILED;
        else if (h.state == CLAIM_DEAD && !h.released)
            snprintf(out->detail, sizeof out->detail, "its last run stopped: %s", h.why);
    }
    free(dir);
    return rc;
}

int coop_run_status_all(const struct coop_matrix *m, const unsigned char *keep,
                        double claim_timeout, struct coop_run_trial_info *info,
                        size_t counts[4], struct coop_err *e)
{
    size_t n = coop_matrix_count(m);
    if (n == 0)
        return 0;
    const struct coop_trial *t0 = coop_matrix_trial(m, 0);
    char *dir = coop_asprintf("%s/%s", t0->results_dir, t0->experiment);
    if (!dir)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    double now = coop_claim_clock(dir);
    free(dir);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (keep && !keep[i])
            continue;
        rc = trial_status(coop_matrix_trial(m, i), claim_timeout, now, &info[i], e);
        if (rc == 0 && counts)
            counts[info[i].status]++;
    }
    return rc;
}
