/* preflight.c: the checks before any trial runs (and in --dry-run): every
 * dataset and domain-shift target of the trials to run is opened once
 * (listing its items, encoding nothing), so a missing folder or split file is
 * one error naming the YAML entry instead of a failure in every trial; and a
 * class with fewer training images than the shots asked for is warned about
 * once per dataset (the sampler, core/data/fewshot.c, takes all of them).
 * Only data that is not there (COOP_E_IO, COOP_E_NOTFOUND) stops the sweep;
 * a dataset that refuses its options otherwise is left to its trials, which
 * record the failure. Calls the runtime (datasets stay open for the trials)
 * and the log. */
#include "coop/util.h"
#include "run_internal.h"
#include <stdlib.h>
#include <string.h>

/* The largest shot count of the training trials to run on dataset d. */
static int max_shots(struct rt *rt, const struct coop_matrix *m, const bool *runs,
                     const struct rt_dataset *d)
{
    int shots = 0;
    for (size_t i = 0; i < coop_matrix_count(m); i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        struct rt_dataset *di = NULL;
        struct coop_err te;
        if (runs[i] && t->trains && t->shots > shots &&
            coop_rt_dataset(rt, t->dataset, &t->dataset_params, t->data_root, &di, &te) == 0 &&
            di == d)
            shots = t->shots;
    }
    return shots;
}

/* Warns once when some class of d has fewer training images than shots. */
static int warn_small_classes(struct rt *rt, const struct coop_trial *t, struct rt_dataset *d,
                              int shots, struct coop_err *e)
{
    const struct coop_dataset_ops *ops = d->ref.ops;
    int C = ops->num_classes(d->ref.ds);
    size_t n = ops->split_size(d->ref.ds, COOP_SPLIT_TRAIN);
    size_t *count = calloc(C > 0 ? (size_t)C : 1, sizeof *count);
    int rc = count ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct coop_item it;
        rc = ops->get_item(d->ref.ds, COOP_SPLIT_TRAIN, i, &it, e);
        if (rc == 0 && it.label >= 0 && it.label < C)
            count[it.label]++;
    }
    int small = -1, n_small = 0;
    for (int c = 0; rc == 0 && c < C; c++)
        if (count[c] < (size_t)shots && n_small++ == 0)
            small = c;
    if (n_small) {
        const char *name = ops->class_name(d->ref.ds, small);
        char more[96] = "";
        if (n_small > 1)
            snprintf(more, sizeof more, " (%d more of its %d classes have fewer than %d)",
                     n_small - 1, C, shots);
        coop_rt_log(rt, "warning: %s: dataset '%s': class '%s' has %zu training image%s, fewer "
                    "than shots %d: the sampler takes all %zu of them%s", t->dataset_at,
                    t->dataset, name ? name : "?", count[small], count[small] == 1 ? "" : "s",
                    shots, count[small], more);
    }
    free(count);
    return rc;
}

/* Opens t's dataset and targets; an error names the YAML entry. */
static int open_trial_data(struct rt *rt, const struct coop_trial *t, struct rt_dataset **src,
                           struct coop_err *e)
{
    int rc = coop_rt_dataset(rt, t->dataset, &t->dataset_params, t->data_root, src, e);
    for (size_t k = 0; rc == 0 && k < t->n_targets; k++) {
        struct rt_dataset *tg = NULL;
        rc = coop_rt_target(rt, t, k, &tg, e);
        if (rc)
            coop_fail_prefix(e, rc, "target '%s' of", t->targets[k]);
    }
    if (rc)
        coop_fail_prefix(e, rc, "%s: before any trial ran", t->dataset_at);
    return rc;
}

int coop_rt_preflight(struct rt *rt, const struct coop_matrix *m, const bool *runs,
                      struct coop_err *e)
{
    size_t n = coop_matrix_count(m);
    struct rt_dataset **warned = calloc(n ? n : 1, sizeof *warned);
    size_t n_warned = 0;
    int rc = warned ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    snprintf(rt->axes, sizeof rt->axes, "checking datasets");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        struct rt_dataset *d = NULL;
        if (!runs[i])
            continue;
        struct coop_err te;
        rc = open_trial_data(rt, t, &d, &te);
        if (rc != 0 && rc != COOP_E_IO && rc != COOP_E_NOTFOUND) {
            rc = 0; /* not missing data: the trial records the failure */
            continue;
        }
        if (rc)
            *e = te;
        size_t j = 0;
        while (rc == 0 && j < n_warned && warned[j] != d)
            j++;
        if (rc || j < n_warned)
            continue;
        warned[n_warned++] = d;
        int shots = max_shots(rt, m, runs, d);
        if (shots > 0)
            rc = warn_small_classes(rt, t, d, shots, e);
    }
    free(warned);
    return rc;
}

int coop_run_preflight(const struct coop_matrix *m, const struct coop_registry *reg,
                       const unsigned char *selected, FILE *out, struct coop_err *e)
{
    size_t n = coop_matrix_count(m);
    bool *runs = calloc(n ? n : 1, sizeof *runs);
    if (!runs)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        runs[i] = !selected || selected[i];
    struct coop_run_options o = {.out = out};
    struct rt rt;
    coop_rt_init(&rt, reg, &o, NULL);
    int rc = coop_rt_preflight(&rt, m, runs, e);
    coop_rt_free(&rt);
    free(runs);
    return rc;
}
