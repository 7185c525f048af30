/* evalstored.c: evaluate learned context read back from a results file on any
 * dataset, without retraining (coop-eval). */
#include "coop/results.h"
#include "coop/util.h"
#include "run_internal.h"
#include "coop/cpu.h"
#include "stored.h"
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

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
    int rc = coop_rt_stored_load(q->results_file, &s, e);
    if (rc) {
        coop_rt_stored_free(&s);
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
    coop_rt_stored_trial(&s, &t);
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
    if (rc == 0)
        rc = coop_results_attr_int(w, "threads", coop_threads_get(), e);
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
    coop_rt_stored_free(&s);
    return rc;
}
