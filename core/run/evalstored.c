/* evalstored.c: evaluate learned context read back from a results file on any
 * dataset, without retraining (coop-eval). */
#include "coop/results.h"
#include "coop/util.h"
#include "run_internal.h"
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

struct stored {
    char *kind, *method, *bb_plugin, *checkpoint, *vocab, *id;
    char **mkeys, **mvals, **bkeys, **bvals, **src_names;
    size_t nm, nb, nsrc;
    struct coop_kv *mkv, *bkv;
    float *ctx;
    size_t ctx_n;
};

static void stored_free(struct stored *s)
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

static int load_stored(const char *file, struct stored *s, struct coop_err *e)
{
    struct coop_results_reader *r;
    memset(s, 0, sizeof *s);
    int rc = coop_results_open(file, &r, e);
    if (rc)
        return rc;
    const char *attrs[] = {"method_kind", "method_plugin", "backbone_plugin", "checkpoint",
                           "vocab", "trial_id"};
    char **dst[] = {&s->kind, &s->method, &s->bb_plugin, &s->checkpoint, &s->vocab, &s->id};
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
    if (rc == 0)
        rc = coop_results_read_strings(r, "eval/test/class_names", &s->src_names, &rank, shape, e);
    if (rc == 0) {
        s->nsrc = shape[0];
        rc = coop_results_read_f32(r, "params/ctx", &s->ctx, &rank, shape, e);
    }
    if (rc == 0) {
        s->ctx_n = 1;
        for (int i = 0; i < rank; i++)
            s->ctx_n *= shape[i];
    }
    coop_results_close(r);
    if (rc)
        coop_fail_prefix(e, rc, "%s", file);
    return rc;
}

static int restore_prompt(struct rt *rt, struct stored *s, struct method *m, struct coop_err *e)
{
    m->plugin = coop_registry_find(rt->reg, COOP_PLUGIN_PROMPT, s->method);
    if (!m->plugin)
        return coop_registry_explain(rt->reg, COOP_PLUGIN_PROMPT, s->method, e);
    if (!(m->pops = coop_plugin_prompt(m->plugin, e)))
        return COOP_E_INVAL;
    struct coop_params mp = {s->mkv, s->nm};
    struct coop_prompt_args pa = {&rt->host, &mp, rt->bb, (const char *const *)s->src_names,
                                  (int)s->nsrc, 0, NULL};
    int rc = m->pops->create(&pa, &m->prompt, e);
    if (rc)
        return coop_fail_prefix(e, rc, "recreating prompt '%s'", s->method);
    m->K = (int)s->nsrc;
    if (m->pops->num_params(m->prompt) != s->ctx_n)
        return coop_fail(e, COOP_E_FORMAT, "stored context has %zu values, prompt '%s' expects "
                                           "%zu", s->ctx_n, s->method,
                         m->pops->num_params(m->prompt));
    memcpy(m->pops->param_data(m->prompt), s->ctx, s->ctx_n * sizeof(float));
    return 0;
}

int coop_run_eval_stored(const struct coop_eval_request *q, const struct coop_registry *reg,
                         const struct coop_run_options *o, double *accuracy, double *macro_f1,
                         struct coop_err *e)
{
    /* the name first: a typo must not cost a backbone load */
    if (!coop_registry_find(reg, COOP_PLUGIN_DATASET, q->dataset))
        return coop_registry_explain(reg, COOP_PLUGIN_DATASET, q->dataset, e);
    struct stored s;
    int rc = load_stored(q->results_file, &s, e);
    if (rc) {
        stored_free(&s);
        return rc;
    }
    char *fcopy = coop_strdup(q->results_file);
    char *cache = q->cache_dir ? coop_strdup(q->cache_dir)
                               : coop_asprintf("%s/../.cache", dirname(fcopy));
    struct rt rt;
    coop_rt_init(&rt, reg, o, cache);
    free(cache);
    free(fcopy);
    snprintf(rt.axes, sizeof rt.axes, "%s on %s", s.id, q->dataset);
    struct coop_trial t;
    memset(&t, 0, sizeof t);
    t.backbone_plugin = s.bb_plugin;
    t.checkpoint = *s.checkpoint ? s.checkpoint : NULL;
    t.vocab = *s.vocab ? s.vocab : NULL;
    t.backbone_params = (struct coop_params){s.bkv, s.nb};
    struct method m = {0};
    struct rt_dataset *d = NULL;
    struct coop_params none = {NULL, 0};
    struct coop_results_writer *w = NULL;
    char *id = coop_asprintf("%s-on-%s", s.id, q->dataset);
    rc = coop_rt_backbone(&rt, &t, e);
    if (rc == 0)
        rc = restore_prompt(&rt, &s, &m, e);
    if (rc == 0)
        rc = coop_rt_dataset(&rt, q->dataset, &none, q->data_root, &d, e);
    const char *dir = q->out_dir ? q->out_dir : "/tmp";
    if (rc == 0)
        rc = coop_results_begin(dir, id, true, &w, e);
    if (rc == 0)
        rc = coop_results_attr_str(w, "source_results", q->results_file, e);
    struct coop_metrics met;
    if (rc == 0)
        rc = coop_run_evaluate(&rt, &m, d, true, q->dataset, w, &met, e);
    if (rc == 0) {
        *accuracy = met.accuracy;
        *macro_f1 = met.macro_f1;
    }
    if (w && rc == 0 && q->out_dir)
        rc = coop_results_commit(w, "completed", NULL, e);
    else if (w)
        coop_results_abort(w);
    free(id);
    coop_run_method_free(&m);
    coop_rt_free(&rt);
    stored_free(&s);
    return rc;
}
