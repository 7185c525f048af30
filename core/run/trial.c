/* trial.c: one trial: few-shot sample -> image features -> prompt training
 * or baseline fit -> evaluation on the source test split and each
 * domain-shift target -> everything written to the trial's results file. */
#include "coop/nn.h"
#include "coop/results.h"
#include "coop/train.h"
#include "coop/util.h"
#include "run_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void coop_run_method_free(struct method *m)
{
    if (m->prompt)
        m->pops->destroy(m->prompt);
    if (m->base)
        m->bops->destroy(m->base);
}

const char **coop_run_class_names(struct rt_dataset *d, int *K, struct coop_err *e)
{
    *K = d->ref.ops->num_classes(d->ref.ds);
    if (*K <= 0) {
        coop_fail(e, COOP_E_FORMAT, "dataset '%s' has no classes", d->plugin->name);
        return NULL;
    }
    const char **names = calloc((size_t)*K, sizeof *names);
    if (!names) {
        coop_fail(e, COOP_E_NOMEM, "out of memory");
        return NULL;
    }
    for (int k = 0; k < *K; k++)
        names[k] = d->ref.ops->class_name(d->ref.ds, k);
    return names;
}

static const char *template_of(struct rt_dataset *d)
{
    const char *t = d->ref.ops->default_template ? d->ref.ops->default_template(d->ref.ds) : NULL;
    return t ? t : "a photo of a {}.";
}

const char *const *coop_run_ensemble_templates(struct coop_dataset_ref d)
{
    return COOP_OPS_HAS(d.ops, ensemble_templates, 2) ? d.ops->ensemble_templates(d.ds) : NULL;
}

/* ---- training-batch sources -------------------------------------------- */
struct fetch_ctx {
    struct rt *rt;
    struct rt_dataset *d;
    const size_t *items; /* dataset indices of the few-shot train items */
    int views;           /* > 0: cached views 1..views; 0: eval view; -1: online */
    struct coop_rng rng;
    int E;
};

/* One coop_rt_features call per view (not per image): the view of every image is
 * drawn first, in batch order, then each view's images are looked up at once. */
static int fetch(void *vctx, int epoch, const int *idx, int n, float *out, struct coop_err *e)
{
    struct fetch_ctx *c = vctx;
    size_t *items = malloc((size_t)n * sizeof *items);
    int *view = malloc((size_t)n * sizeof *view), *pos = malloc((size_t)n * sizeof *pos);
    float *tmp = coop_alloc_floats((size_t)n * c->E);
    int rc = items && view && pos && tmp ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (int j = 0; j < n && rc == 0; j++)
        view[j] = c->views > 0 ? 1 + (int)coop_rng_below(&c->rng, (uint64_t)c->views) : c->views;
    int lo = c->views > 0 ? 1 : c->views, hi = c->views;
    for (int v = lo; v <= hi && rc == 0; v++) {
        int m = 0;
        for (int j = 0; j < n; j++)
            if (view[j] == v) {
                items[m] = c->items[idx[j]];
                pos[m++] = j;
            }
        if (m == 0)
            continue;
        rc = coop_rt_features(c->rt, c->d, COOP_SPLIT_TRAIN, items, (size_t)m, v, &c->rng, tmp, e);
        for (int k = 0; k < m && rc == 0; k++)
            memcpy(out + (size_t)pos[k] * c->E, tmp + (size_t)k * c->E, c->E * sizeof(float));
    }
    if (rc == 0)
        coop_l2norm_forward(out, NULL, out, n, c->E);
    free(items), free(view), free(pos), coop_free(tmp);
    return rc;
}

static int on_epoch(void *vctx, int epoch, int epochs, double loss, double acc, double lr)
{
    struct rt *rt = vctx;
    rt->epoch = epoch + 1;
    rt->epochs = epochs;
    char ph[96];
    snprintf(ph, sizeof ph, "training epoch %d/%d loss %.3f acc %.1f%%", epoch + 1, epochs, loss,
             acc);
    coop_rt_progress(rt, ph);
    return rt->o->cancel && *rt->o->cancel;
}

/* ---- evaluation ----------------------------------------------------------- */
/* Rebuilds the prompts for a target's classes, passing the class mapping when
 * the target declares one (class-specific context follows its class). */
static int prompt_classes(struct method *m, struct rt_dataset *target, const char **names, int K,
                          struct coop_err *e)
{
    if (!target->ref.ops->source_class || !m->pops->set_classes_mapped)
        return m->pops->set_classes(m->prompt, names, K, e);
    int *map = malloc((size_t)K * sizeof *map);
    if (!map)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (int k = 0; k < K; k++)
        map[k] = target->ref.ops->source_class(target->ref.ds, k);
    int rc = m->pops->set_classes_mapped(m->prompt, names, K, map, e);
    free(map);
    return rc;
}

/* logits [n, K] of the method on image features x for a class list. */
static int method_logits(struct rt *rt, struct method *m, struct rt_dataset *target,
                         const char **names, int K, const float *x, size_t n, float *out,
                         struct coop_err *e)
{
    const int E = rt->info.embed_dim;
    int rc = 0;
    if (m->prompt) {
        float *xn = coop_alloc_floats(n * E);
        if (!xn)
            rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
        if (rc == 0 && target)
            rc = prompt_classes(m, target, names, K, e);
        if (rc == 0) {
            coop_l2norm_forward(xn, NULL, x, (int)n, E);
            rc = coop_prompt_logits(rt->bb, m->pops, m->prompt, K, xn, n, rt->info.logit_scale,
                                    out, e);
        }
        coop_free(xn);
        return rc;
    }
    if (!target || m->bops->set_classes) {
        if (target)
            rc = m->bops->set_classes(m->base, names, K, template_of(target), e);
        return rc ? rc : m->bops->logits(m->base, x, n, out, e);
    }
    /* A classifier over the source classes: keep the columns of the classes
     * the target maps to (e.g. ImageNet-A's 200 of ImageNet's 1000). */
    float *full = coop_alloc_floats(n * (size_t)m->K);
    if (!full)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    rc = m->bops->logits(m->base, x, n, full, e);
    for (int k = 0; k < K && rc == 0; k++) {
        int src = target->ref.ops->source_class ? target->ref.ops->source_class(target->ref.ds, k)
                                                : k;
        if (src < 0 || src >= m->K)
            rc = coop_fail(e, COOP_E_INVAL, "target class %d ('%s') maps to source class %d, "
                                            "outside 0..%d", k, names[k], src, m->K - 1);
        for (size_t i = 0; i < n && rc == 0; i++)
            out[i * K + k] = full[i * m->K + src];
    }
    coop_free(full);
    return rc;
}

/* argmax over NaN rows picks class 0: refuse instead of scoring chance. */
static int check_logits(const float *logits, size_t n, int K, struct coop_err *e)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < K; k++)
            if (!isfinite(logits[i * K + k])) {
                first = bad++ ? first : i;
                break;
            }
    if (bad)
        return coop_fail(e, COOP_E_NUMERIC,
                         "non-finite logits for %zu of %zu images (the first is test item %zu)",
                         bad, n, first);
    return 0;
}

int coop_run_evaluate(struct rt *rt, struct method *m, struct rt_dataset *d, bool is_target,
                      const char *label, struct coop_results_writer *w, struct coop_metrics *out,
                      struct coop_err *e)
{
    int K = 0, rc = 0;
    const char **names = coop_run_class_names(d, &K, e);
    if (!names)
        return COOP_E_NOMEM;
    size_t n = d->ref.ops->split_size(d->ref.ds, COOP_SPLIT_TEST);
    if (n == 0) {
        free(names);
        return coop_fail(e, COOP_E_FORMAT, "dataset '%s' has an empty test split",
                         d->plugin->name);
    }
    const int E = rt->info.embed_dim;
    size_t *idx = malloc(n * sizeof *idx);
    float *x = coop_alloc_floats(n * E), *logits = coop_alloc_floats(n * (size_t)K);
    int *y = malloc(n * sizeof *y), *pred = malloc(n * sizeof *pred);
    float *per_class = malloc((size_t)K * sizeof *per_class);
    int32_t *conf = malloc((size_t)K * K * sizeof *conf);
    if (!idx || !x || !logits || !y || !pred || !per_class || !conf)
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory evaluating %zu images", n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct coop_item it;
        idx[i] = i;
        rc = d->ref.ops->get_item(d->ref.ds, COOP_SPLIT_TEST, i, &it, e);
        y[i] = it.label;
    }
    if (rc == 0) {
        char ph[96];
        snprintf(ph, sizeof ph, "evaluating on %s (%zu images)", label, n);
        coop_rt_progress(rt, ph);
        rc = coop_rt_features(rt, d, COOP_SPLIT_TEST, idx, n, 0, NULL, x, e);
    }
    if (rc == 0)
        rc = method_logits(rt, m, is_target ? d : NULL, names, K, x, n, logits, e);
    if (rc == 0)
        rc = check_logits(logits, n, K, e);
    struct coop_metrics met;
    if (rc == 0) {
        coop_argmax_rows(pred, logits, n, K);
        rc = coop_metrics_compute(pred, y, n, K, &met, per_class, conf, e);
    }
    if (rc == 0) {
        struct coop_results_eval ev = {label, met.accuracy, met.macro_f1, K, per_class, conf,
                                       names, (int64_t)n};
        rc = coop_results_write_eval(w, &ev, e);
        if (out)
            *out = met;
    }
    if (rc)
        coop_fail_prefix(e, rc, "evaluation on %s", label);
    free(names), free(idx), coop_free(x), coop_free(logits), free(y), free(pred);
    free(per_class), free(conf);
    return rc;
}

/* ---- results pieces -------------------------------------------------------- */
static int write_sample(struct coop_results_writer *w, const struct coop_fewshot *fs,
                        struct coop_err *e)
{
    const struct coop_fewshot_split *sp[2] = {&fs->train, &fs->val};
    const char *names[2] = {"fewshot/train", "fewshot/val"};
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++) {
        size_t n = sp[s]->n;
        char *p_items = coop_asprintf("%s_items", names[s]);
        char *p_labels = coop_asprintf("%s_labels", names[s]);
        char *p_index = coop_asprintf("%s_index", names[s]);
        int32_t *lab = malloc((n ? n : 1) * sizeof *lab), *ix = malloc((n ? n : 1) * sizeof *ix);
        for (size_t i = 0; lab && ix && i < n; i++) {
            lab[i] = sp[s]->label[i];
            ix[i] = (int32_t)sp[s]->index[i];
        }
        if (!p_items || !p_labels || !p_index || !lab || !ix)
            rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
        if (rc == 0)
            rc = coop_results_write_strings(w, p_items, (const char *const *)sp[s]->id, 1, &n, e);
        if (rc == 0)
            rc = coop_results_write_i32(w, p_labels, lab, 1, &n, e);
        if (rc == 0)
            rc = coop_results_write_i32(w, p_index, ix, 1, &n, e);
        free(p_items), free(p_labels), free(p_index), free(lab), free(ix);
    }
    if (rc == 0 && fs->cache_path)
        rc = coop_results_attr_str(w, "fewshot_cache", fs->cache_path, e);
    return rc;
}

/* Learned context and, for each context vector, its nearest vocabulary words
 * (parameters of rank 2 or more, [..., D]: a flat arena such as CoCoOp's
 * context and meta-net is not a list of token vectors). */
static int write_prompt_params(struct rt *rt, struct method *m, struct coop_results_writer *w,
                               struct coop_err *e)
{
    size_t shape[4];
    int rank = m->pops->param_shape(m->prompt, shape);
    const float *p = m->pops->param_data(m->prompt);
    int rc = coop_results_write_f32(w, "params/ctx", p, rank, shape, e);
    if (rc || rank < 2 || !rt->bb.ops->nearest_tokens || !rt->bb.ops->decode_token)
        return rc;
    const int D = rt->info.token_width, k = 5;
    size_t rows = m->pops->num_params(m->prompt) / (size_t)D;
    if (rows > 4096)
        rows = 4096; /* CSC over many classes: the first classes' vectors */
    char **words = calloc(rows * k, sizeof *words);
    float *dist = malloc(rows * k * sizeof *dist);
    int32_t *ids = malloc(rows * k * sizeof *ids);
    if (!words || !dist || !ids)
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t r = 0; r < rows && rc == 0; r++) {
        rc = rt->bb.ops->nearest_tokens(rt->bb.bb, p + r * D, k, ids + r * k, dist + r * k, e);
        for (int j = 0; j < k && rc == 0; j++) {
            char buf[128];
            rt->bb.ops->decode_token(rt->bb.bb, ids[r * k + j], buf, sizeof buf);
            words[r * k + j] = coop_strdup(buf);
        }
    }
    size_t sh[2] = {rows, (size_t)k};
    if (rc == 0)
        rc = coop_results_write_strings(w, "interpret/nearest_words", (const char *const *)words,
                                        2, sh, e);
    if (rc == 0)
        rc = coop_results_write_f32(w, "interpret/nearest_distances", dist, 2, sh, e);
    if (rc == 0)
        rc = coop_results_write_i32(w, "interpret/nearest_ids", ids, 2, sh, e);
    for (size_t i = 0; words && i < rows * k; i++)
        free(words[i]);
    free(words), free(dist), free(ids);
    return rc;
}

static int write_curve(struct coop_results_writer *w, const struct coop_train_curve *c,
                       struct coop_err *e)
{
    int32_t *ep = malloc((size_t)c->epochs * sizeof *ep);
    double *l = malloc((size_t)c->epochs * sizeof *l), *a = malloc((size_t)c->epochs * sizeof *a),
           *lr = malloc((size_t)c->epochs * sizeof *lr);
    int rc = 0;
    if (!ep || !l || !a || !lr)
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (int i = 0; i < c->epochs && rc == 0; i++) {
        ep[i] = i;
        l[i] = c->loss[i];
        a[i] = c->acc[i];
        lr[i] = c->lr[i];
    }
    if (rc == 0)
        rc = coop_results_write_curve(w, ep, l, a, lr, (size_t)c->epochs, e);
    if (rc == 0)
        rc = coop_results_write_scalar_f64(w, "timing/train_seconds", c->seconds, e);
    if (rc == 0)
        rc = coop_results_write_scalar_f64(w, "timing/text_seconds", c->text_seconds, e);
    if (rc == 0)
        rc = coop_results_write_scalar_i32(w, "timing/iterations", (int32_t)c->iterations, e);
    free(ep), free(l), free(a), free(lr);
    return rc;
}

/* ---- the trial ------------------------------------------------------------ */
static int train_prompt(struct rt *rt, const struct coop_trial *t, struct method *m,
                        struct rt_dataset *src, const char **names, int K,
                        const struct coop_fewshot *fs, struct coop_results_writer *w,
                        struct coop_err *e)
{
    struct coop_prompt_args pa = {&rt->host, &t->method_params, rt->bb, names, K,
                                  (uint64_t)t->seed, template_of(src)};
    int rc = m->pops->create(&pa, &m->prompt, e);
    if (rc)
        return coop_fail_prefix(e, rc, "prompt '%s'", t->method);
    int n = (int)fs->train.n;
    struct fetch_ctx fc = {rt, src, fs->train.index, 0, {{0}}, rt->info.embed_dim};
    rt->crop_scale = t->augment.crop_scale;
    if (strcmp(t->augment.mode, "views") == 0)
        fc.views = t->augment.views > 0 ? t->augment.views : 1;
    else if (strcmp(t->augment.mode, "online") == 0)
        fc.views = -1;
    coop_rng_seed(&fc.rng, coop_seed_derive((uint64_t)t->seed, "train.views"));
    if (fc.views > 0) { /* encode every view once up front (cached on disk) */
        float *tmp = coop_alloc_floats((size_t)n * rt->info.embed_dim);
        if (!tmp)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        for (int v = 1; v <= fc.views && rc == 0; v++) {
            char ph[64];
            snprintf(ph, sizeof ph, "encoding training view %d/%d", v, fc.views);
            coop_rt_progress(rt, ph);
            rc = coop_rt_features(rt, src, COOP_SPLIT_TRAIN, fs->train.index, (size_t)n, v, NULL,
                                  tmp, e);
        }
        coop_free(tmp);
        if (rc)
            return rc;
    }
    struct coop_optim_config oc = {t->train.epochs, t->train.batch_size, t->train.warmup_epochs,
                                   t->train.lr, t->train.momentum, t->train.weight_decay,
                                   t->train.warmup_lr, "", ""};
    snprintf(oc.schedule, sizeof oc.schedule, "%s", t->train.schedule);
    snprintf(oc.warmup_type, sizeof oc.warmup_type, "%s", t->train.warmup_type);
    struct coop_train_args ta = {rt->bb, m->pops, m->prompt, K, fs->train.label, n,
                                 rt->info.embed_dim, rt->info.logit_scale, oc,
                                 coop_seed_derive((uint64_t)t->seed, "train"), fetch, &fc,
                                 on_epoch, rt, rt->o->cancel};
    struct coop_train_curve curve;
    rc = coop_train_prompt(&ta, &curve, e);
    if (rc)
        return rc;
    rc = write_curve(w, &curve, e);
    coop_train_curve_free(&curve);
    return rc ? rc : write_prompt_params(rt, m, w, e);
}

static int fit_baseline(struct rt *rt, const struct coop_trial *t, struct method *m,
                        struct rt_dataset *src, const char **names, int K,
                        const struct coop_fewshot *fs, struct coop_results_writer *w,
                        struct coop_err *e)
{
    const int E = rt->info.embed_dim;
    size_t nt = fs ? fs->train.n : 0, nv = fs ? fs->val.n : 0;
    float *tx = coop_alloc_floats((nt ? nt : 1) * E), *vx = coop_alloc_floats((nv ? nv : 1) * E);
    int rc = tx && vx ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rc == 0 && nt) {
        coop_rt_progress(rt, "encoding training images");
        rc = coop_rt_features(rt, src, COOP_SPLIT_TRAIN, fs->train.index, nt, 0, NULL, tx, e);
    }
    if (rc == 0 && nv)
        rc = coop_rt_features(rt, src, COOP_SPLIT_VAL, fs->val.index, nv, 0, NULL, vx, e);
    if (rc == 0) {
        struct coop_baseline_args ba = {&rt->host, &t->method_params, rt->bb, names, K,
                                        template_of(src), tx, fs ? fs->train.label : NULL, nt,
                                        vx, fs ? fs->val.label : NULL, nv, E,
                                        (uint64_t)t->seed, coop_run_ensemble_templates(src->ref)};
        coop_rt_progress(rt, "fitting");
        double t0 = coop_now();
        rc = m->bops->fit(&ba, &m->base, e);
        if (rc)
            coop_fail_prefix(e, rc, "baseline '%s'", t->method);
        else
            rc = coop_results_write_scalar_f64(w, "timing/fit_seconds", coop_now() - t0, e);
    }
    if (rc == 0 && m->bops->describe) {
        char buf[512];
        if (m->bops->describe(m->base, buf, sizeof buf) == 0)
            rc = coop_results_attr_str(w, "method_state", buf, e);
    }
    coop_free(tx);
    coop_free(vx);
    return rc;
}

/* A plugin's resolved parameters as <group>/param_keys and <group>/param_values. */
static int write_params(struct coop_results_writer *w, const char *group,
                        const struct coop_params *p, struct coop_err *e)
{
    if (p->n == 0)
        return 0;
    const char **k = malloc(p->n * sizeof *k), **v = malloc(p->n * sizeof *v);
    char *pk = coop_asprintf("%s/param_keys", group), *pv = coop_asprintf("%s/param_values", group);
    int rc = k && v && pk && pv ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        k[i] = p->kv[i].key;
        v[i] = p->kv[i].value;
    }
    size_t n = p->n;
    if (rc == 0)
        rc = coop_results_write_strings(w, pk, k, 1, &n, e);
    if (rc == 0)
        rc = coop_results_write_strings(w, pv, v, 1, &n, e);
    free(k), free(v), free(pk), free(pv);
    return rc;
}

/* The method plugin's parameter list, or NULL when it is not there (the
 * trial then fails opening it, after this). */
static const struct coop_param_spec *method_spec(struct rt *rt, const struct coop_trial *t)
{
    const struct coop_plugin *p = coop_registry_find(rt->reg, t->method_kind, t->method);
    struct coop_err quiet;
    if (!p)
        return NULL;
    if (t->method_kind == COOP_PLUGIN_PROMPT) {
        const struct coop_prompt_ops *ops = coop_plugin_prompt(p, &quiet);
        return ops ? ops->params : NULL;
    }
    const struct coop_baseline_ops *ops = coop_plugin_baseline(p, &quiet);
    return ops ? ops->params : NULL;
}

/* A method parameter's axis type: numbers and booleans as such, the rest
 * (strings, choices, parameters the spec does not know) as strings. */
static enum coop_results_axis_type axis_type(const struct coop_param_spec *spec,
                                             const char *key)
{
    for (; spec && spec->name; spec++)
        if (strcmp(spec->name, key) == 0)
            return spec->type == COOP_PARAM_INT     ? COOP_RESULTS_AXIS_INT
                   : spec->type == COOP_PARAM_FLOAT ? COOP_RESULTS_AXIS_FLOAT
                   : spec->type == COOP_PARAM_BOOL  ? COOP_RESULTS_AXIS_BOOL
                                                    : COOP_RESULTS_AXIS_STRING;
    return COOP_RESULTS_AXIS_STRING;
}

/* What the trial is, from its config alone: written before anything can
 * fail, so a failed trial's file still says where it belongs in the sweep. */
static int write_trial_axes(struct rt *rt, const struct coop_trial *t,
                            struct coop_results_writer *w, struct coop_err *e)
{
    int rc = coop_results_attr_str(w, "config", t->config_yaml ? t->config_yaml : "", e);
    if (rc == 0)
        rc = coop_results_attr_str(w, "experiment", t->experiment ? t->experiment : "", e);
    if (rc == 0)
        rc = coop_results_attr_str(w, "axes", t->axes_summary ? t->axes_summary : "", e);
    if (rc == 0)
        rc = coop_results_axis(w, "dataset", t->dataset, e);
    if (rc == 0)
        rc = coop_results_axis(w, "method", t->method, e);
    if (rc == 0)
        rc = coop_results_attr_int(w, "axis_shots", t->shots, e);
    if (rc == 0)
        rc = coop_results_attr_int(w, "axis_seed", t->seed, e);
    if (rc == 0 && t->trains)
        rc = coop_results_attr_int(w, "axis_epochs", t->train.epochs, e);
    if (rc == 0 && t->base2new)
        rc = coop_results_axis(w, "protocol", "base2new", e);
    const struct coop_param_spec *spec = method_spec(rt, t);
    for (size_t i = 0; i < t->method_params.n && rc == 0; i++)
        rc = coop_results_axis_typed(w, t->method_params.kv[i].key, t->method_params.kv[i].value,
                                     axis_type(spec, t->method_params.kv[i].key), e);
    return rc;
}

/* The loaded backbone: what tells settings apart (architecture, checkpoint). */
static int write_backbone(struct rt *rt, const struct coop_trial *t,
                          struct coop_results_writer *w, struct coop_err *e)
{
    struct {
        const char *k, *v;
    } attrs[] = {
        {"backbone_plugin", rt->bb_plugin->name},
        {"backbone_plugin_version", rt->bb_plugin->version},
        {"backbone_arch", rt->info.arch},
        {"checkpoint", t->checkpoint ? t->checkpoint : ""},
        {"checkpoint_sha256", rt->info.checkpoint_sha256},
        {"precision",
         rt->info.version >= 2 && rt->info.precision[0] ? rt->info.precision : "fp32"},
        {"matmul_isa", rt->info.version >= 2 ? rt->info.matmul_isa : ""},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && rc == 0; i++)
        rc = coop_results_attr_str(w, attrs[i].k, attrs[i].v ? attrs[i].v : "", e);
    return rc ? rc : coop_results_axis(w, "backbone", rt->info.arch, e);
}

static int write_identity(struct rt *rt, const struct coop_trial *t, struct method *m,
                          struct rt_dataset *src, struct coop_results_writer *w,
                          struct coop_err *e)
{
    struct {
        const char *k, *v;
    } attrs[] = {
        {"dataset_plugin", src->plugin->name},
        {"dataset_plugin_version", src->plugin->version},
        {"method_plugin", m->plugin->name},
        {"method_plugin_version", m->plugin->version},
        {"method_kind", coop_plugin_kind_name(m->plugin->kind)},
        {"vocab", t->vocab ? t->vocab : ""},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && rc == 0; i++)
        rc = coop_results_attr_str(w, attrs[i].k, attrs[i].v ? attrs[i].v : "", e);
    if (rc == 0)
        rc = write_params(w, "method", &t->method_params, e);
    if (rc == 0)
        rc = write_params(w, "backbone", &t->backbone_params, e);
    if (rc == 0)
        rc = write_params(w, "dataset", &t->dataset_params, e);
    if (rc == 0)
        rc = coop_results_attr_int(w, "threads", rt->o->threads, e);
    return rc;
}

/* The source test split, then each domain-shift target. */
static int evaluate_targets(struct rt *rt, const struct coop_trial *t, struct method *m,
                            struct rt_dataset *src, struct coop_results_writer *w,
                            struct coop_err *e)
{
    struct coop_metrics met = {NAN, NAN, 0};
    int rc = coop_run_evaluate(rt, m, src, false, "test", w, &met, e);
    for (size_t i = 0; i < t->n_targets && rc == 0; i++) {
        struct rt_dataset *tg = NULL;
        rc = coop_rt_target(rt, t, i, &tg, e);
        if (rc == 0)
            rc = coop_run_evaluate(rt, m, tg, true, t->targets[i], w, NULL, e);
    }
    if (rc == 0)
        coop_rt_info(rt, "trial %s done: %s test accuracy %.2f%% (%.1f s)", t->id,
                     t->axes_summary, met.accuracy, coop_rt_trial_seconds(rt));
    return rc;
}

/* Base-to-new: eval/base on the base classes' test items, eval/new on the
 * new classes' with prompts (or zero-shot weights) rebuilt for their names,
 * and base2new/harmonic_mean. A classifier fitted over the base classes
 * (the linear probe: no set_classes) has no weights for new classes, so it
 * gets eval/base only (docs/decisions.md). */
static int evaluate_base2new(struct rt *rt, const struct coop_trial *t, struct method *m,
                             struct rt_dataset *base, struct rt_dataset *novel,
                             struct coop_results_writer *w, struct coop_err *e)
{
    struct coop_metrics mb = {NAN, NAN, 0}, mn = {NAN, NAN, 0};
    int rc = coop_run_evaluate(rt, m, base, false, "base", w, &mb, e);
    if (rc == 0 && m->bops && !m->bops->set_classes) {
        coop_rt_info(rt, "trial %s done: %s base accuracy %.2f%% (a classifier over the base "
                     "classes: no new-class evaluation) (%.1f s)", t->id, t->axes_summary,
                     mb.accuracy, coop_rt_trial_seconds(rt));
        return 0;
    }
    if (rc == 0 && (rc = coop_run_evaluate(rt, m, novel, true, "new", w, &mn, e)))
        coop_fail_prefix(e, rc, "base-to-new: the new classes are none of the %d trained on",
                         m->K);
    double h = coop_harmonic_mean(mb.accuracy, mn.accuracy);
    if (rc == 0)
        rc = coop_results_write_scalar_f64(w, "base2new/harmonic_mean", h, e);
    if (rc == 0)
        coop_rt_info(rt, "trial %s done: %s base %.2f%% new %.2f%% H %.2f%% (%.1f s)", t->id,
                     t->axes_summary, mb.accuracy, mn.accuracy, h, coop_rt_trial_seconds(rt));
    return rc;
}

int coop_run_trial(struct rt *rt, const struct coop_trial *t, struct coop_results_writer *w,
                   struct coop_err *e)
{
    struct method m = {0};
    struct rt_dataset *src = NULL, split[2] = {{0}}; /* base, new (protocol base2new) */
    struct coop_fewshot fs;
    bool have_fs = false;
    const char **names = NULL;
    int K = 0;
    int rc = write_trial_axes(rt, t, w, e);
    if (rc == 0)
        rc = coop_rt_backbone(rt, t, e);
    if (rc == 0)
        rc = write_backbone(rt, t, w, e);
    if (rc == 0)
        rc = coop_rt_dataset(rt, t->dataset, &t->dataset_params, t->data_root, &src, e);
    if (rc == 0 && t->base2new && (rc = coop_rt_subset(src, false, &split[0], e)) == 0 &&
        (rc = coop_rt_subset(src, true, &split[1], e)) == 0)
        src = &split[0]; /* the trial's classes are the base classes */
    if (rc == 0) {
        m.plugin = coop_registry_find(rt->reg, t->method_kind, t->method);
        if (!m.plugin)
            rc = coop_registry_explain(rt->reg, t->method_kind, t->method, e);
        else if (t->method_kind == COOP_PLUGIN_PROMPT)
            rc = (m.pops = coop_plugin_prompt(m.plugin, e)) ? 0 : COOP_E_INVAL;
        else
            rc = (m.bops = coop_plugin_baseline(m.plugin, e)) ? 0 : COOP_E_INVAL;
    }
    if (rc == 0)
        rc = write_identity(rt, t, &m, src, w, e);
    if (rc == 0 && !(names = coop_run_class_names(src, &K, e)))
        rc = COOP_E_NOMEM;
    m.K = K;
    if (rc == 0 && t->trains) {
        coop_rt_progress(rt, "sampling shots");
        char *source = NULL;
        /* base-to-new: the base classes' sample, a name and identity of its own */
        char *fsname = coop_asprintf("%s%s", t->dataset, t->base2new ? ".base" : "");
        rc = fsname ? coop_rt_fewshot_source(src, &t->dataset_params, t->data_root, &source, e)
                    : coop_fail(e, COOP_E_NOMEM, "out of memory");
        /* a dataset at its default options keeps the plain name (results record it) */
        struct coop_fewshot_opts fo = {
            fsname, t->shots, (uint64_t)t->seed, -1, rt->cache_dir, source,
            !coop_rt_default_options(src->parent ? src->parent : src, &t->dataset_params)};
        if (rc == 0)
            rc = coop_fewshot_sample(&fs, src->ref, &fo, &rt->host, e);
        free(source);
        free(fsname);
        have_fs = rc == 0;
        if (rc == 0)
            rc = write_sample(w, &fs, e);
    }
    if (rc == 0 && m.pops)
        rc = train_prompt(rt, t, &m, src, names, K, &fs, w, e);
    else if (rc == 0)
        rc = fit_baseline(rt, t, &m, src, names, K, have_fs ? &fs : NULL, w, e);
    if (rc == 0 && t->base2new)
        rc = evaluate_base2new(rt, t, &m, src, &split[1], w, e);
    else if (rc == 0)
        rc = evaluate_targets(rt, t, &m, src, w, e);
    free(names);
    if (have_fs)
        coop_fewshot_free(&fs);
    coop_run_method_free(&m);
    coop_rt_subset_free(&split[0]);
    coop_rt_subset_free(&split[1]);
    return rc;
}
