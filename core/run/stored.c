/* stored.c: a learned prompt read back from a trial's results file or a
 * prompt file written by coop-prompt --export (docs/results.md): what
 * coop-eval and coop-prompt rebuild it from. Reads only; evaluates nothing. */
#include "stored.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void coop_rt_stored_free(struct stored *s)
{
    free(s->kind), free(s->method), free(s->bb_plugin), free(s->checkpoint), free(s->vocab);
    free(s->id);
    coop_results_free_strings(s->mkeys, s->nm);
    coop_results_free_strings(s->mvals, s->nm);
    coop_results_free_strings(s->bkeys, s->nb);
    coop_results_free_strings(s->bvals, s->nb);
    coop_results_free_strings(s->src_names, s->nsrc);
    free(s->mkv), free(s->bkv), free(s->ctx);
}

static int read_params(struct coop_results_reader *r, const char *group, char ***k, char ***v,
                       size_t *n, struct coop_kv **kv, struct coop_err *e)
{
    char pk[64], pv[64];
    snprintf(pk, sizeof pk, "%s/param_keys", group);
    snprintf(pv, sizeof pv, "%s/param_values", group);
    *n = 0;
    if (!coop_results_has(r, pk))
        return 0;
    int rank;
    size_t shape[COOP_RESULTS_MAX_RANK], n2 = 0;
    int rc = coop_results_read_strings(r, pk, k, &rank, shape, e);
    if (rc == 0) {
        *n = shape[0];
        rc = coop_results_read_strings(r, pv, v, &rank, shape, e);
        n2 = shape[0];
    }
    if (rc == 0 && n2 != *n)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: %s and %s differ in length",
                       coop_results_reader_path(r), pk, pv);
    if (rc == 0 && !(*kv = calloc(*n ? *n : 1, sizeof **kv)))
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < *n; i++)
        (*kv)[i] = (struct coop_kv){(*k)[i], (*v)[i]};
    return rc;
}

int coop_rt_stored_load(const char *file, struct stored *s, struct coop_err *e)
{
    struct coop_results_reader *r;
    memset(s, 0, sizeof *s);
    int rc = coop_results_open(file, &r, e);
    if (rc)
        return rc;
    const char *attrs[] = {"method_kind", "method_plugin", "backbone_plugin", "checkpoint",
                           "vocab", "trial_id"};
    char **dst[] = {&s->kind, &s->method, &s->bb_plugin, &s->checkpoint, &s->vocab, &s->id};
    /* a prompt file keeps the id of the trial it came from */
    if (coop_results_has_attr(r, "source_trial_id"))
        attrs[5] = "source_trial_id";
    for (int i = 0; i < 6 && rc == 0; i++)
        rc = coop_results_read_attr_str(r, attrs[i], dst[i], e);
    if (rc == 0 && strcmp(s->kind, "prompt") != 0)
        rc = coop_fail(e, COOP_E_INVAL, "method '%s' is a %s, not a learned prompt", s->method,
                       s->kind);
    if (rc == 0)
        rc = read_params(r, "method", &s->mkeys, &s->mvals, &s->nm, &s->mkv, e);
    if (rc == 0)
        rc = read_params(r, "backbone", &s->bkeys, &s->bvals, &s->nb, &s->bkv, e);
    int rank;
    size_t shape[COOP_RESULTS_MAX_RANK];
    /* a trial's file names the classes it was evaluated on (a base-to-new
     * trial's trained ones are its base classes); a prompt file
     * (coop-prompt --export) the classes it was built for */
    const char *names = coop_results_has(r, "class_names")            ? "class_names"
                        : coop_results_has(r, "eval/test/class_names") ? "eval/test/class_names"
                                                                       : "eval/base/class_names";
    if (rc == 0)
        rc = coop_results_read_strings(r, names, &s->src_names, &rank, shape, e);
    if (rc == 0) {
        s->nsrc = shape[0];
        rc = coop_results_read_f32(r, "params/ctx", &s->ctx, &s->ctx_rank, s->ctx_shape, e);
    }
    if (rc == 0) {
        s->ctx_n = 1;
        for (int i = 0; i < s->ctx_rank; i++)
            s->ctx_n *= s->ctx_shape[i];
    }
    coop_results_close(r);
    if (rc)
        coop_fail_prefix(e, rc, "%s", file);
    return rc;
}


void coop_rt_stored_trial(const struct stored *s, struct coop_trial *t)
{
    memset(t, 0, sizeof *t);
    t->backbone_plugin = s->bb_plugin;
    t->checkpoint = *s->checkpoint ? s->checkpoint : NULL;
    t->vocab = *s->vocab ? s->vocab : NULL;
    t->backbone_params = (struct coop_params){s->bkv, s->nb};
}
