/* subset.c: the base-to-new protocol's class split. A view of an open
 * dataset that keeps one half of its classes (base: labels 0..ceil(K/2)-1,
 * new: the rest, as the official CoOp/CoCoOp code's subsample_classes) and
 * relabels them from 0. Its image features come from the parent's caches
 * (coop_rt_features maps the view's indices), so a split costs no encoding.
 * It never outlives the trial that made it. */
#include "coop/util.h"
#include "run_internal.h"
#include <stdlib.h>
#include <string.h>

struct subset {
    struct coop_dataset_ref parent;
    int lo, K;        /* parent labels lo..lo+K-1 */
    size_t *idx[3];   /* [n[s]]: parent index of each item of split s */
    size_t n[3];
};

static const struct subset *sv(const struct coop_dataset *ds)
{
    return (const struct subset *)(const void *)ds;
}

static void subset_close(struct coop_dataset *ds)
{
    struct subset *v = (struct subset *)(void *)ds;
    for (int s = 0; s < 3; s++)
        free(v->idx[s]);
    free(v);
}

static int subset_num_classes(const struct coop_dataset *ds)
{
    return sv(ds)->K;
}

static const char *subset_class_name(const struct coop_dataset *ds, int k)
{
    const struct subset *v = sv(ds);
    return v->parent.ops->class_name(v->parent.ds, v->lo + k);
}

static size_t subset_split_size(const struct coop_dataset *ds, enum coop_split s)
{
    return sv(ds)->n[s];
}

static int subset_get_item(const struct coop_dataset *ds, enum coop_split s, size_t i,
                           struct coop_item *out, struct coop_err *e)
{
    const struct subset *v = sv(ds);
    int rc = v->parent.ops->get_item(v->parent.ds, s, v->idx[s][i], out, e);
    if (rc == 0)
        out->label -= v->lo;
    return rc;
}

static int subset_read_pixels(const struct coop_dataset *ds, enum coop_split s, size_t i,
                              uint8_t **rgb, int *w, int *h, struct coop_err *e)
{
    const struct subset *v = sv(ds);
    return v->parent.ops->read_pixels(v->parent.ds, s, v->idx[s][i], rgb, w, h, e);
}

static void subset_free_pixels(const struct coop_dataset *ds, uint8_t *rgb)
{
    sv(ds)->parent.ops->free_pixels(sv(ds)->parent.ds, rgb);
}

static const char *subset_template(const struct coop_dataset *ds)
{
    const struct subset *v = sv(ds);
    return v->parent.ops->default_template ? v->parent.ops->default_template(v->parent.ds)
                                           : NULL;
}

/* As a target of what was trained on the base classes: a base class is
 * itself, a new class none of them (-1), so class-specific context, which
 * has no row for it, refuses it instead of lending it a base class's row. */
static int subset_source_class(const struct coop_dataset *ds, int k)
{
    return sv(ds)->lo == 0 ? k : -1;
}

static const char *const *subset_ensemble(const struct coop_dataset *ds)
{
    return coop_run_ensemble_templates(sv(ds)->parent);
}

static const struct coop_dataset_ops subset_ops = {
    COOP_DATASET_OPS_VERSION, NULL, NULL, subset_close, subset_num_classes, subset_class_name,
    subset_split_size, subset_get_item, subset_read_pixels, subset_free_pixels, subset_template,
    subset_source_class, subset_ensemble,
};

static int subset_split(struct subset *v, enum coop_split s, struct coop_err *e)
{
    size_t n = v->parent.ops->split_size(v->parent.ds, s);
    v->idx[s] = malloc((n ? n : 1) * sizeof *v->idx[s]);
    if (!v->idx[s])
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct coop_item it;
        int rc = v->parent.ops->get_item(v->parent.ds, s, i, &it, e);
        if (rc)
            return rc;
        if (it.label >= v->lo && it.label < v->lo + v->K)
            v->idx[s][v->n[s]++] = i;
    }
    return 0;
}

int coop_rt_subset(struct rt_dataset *parent, bool new_classes, struct rt_dataset *out,
                   struct coop_err *e)
{
    memset(out, 0, sizeof *out);
    int K = parent->ref.ops->num_classes(parent->ref.ds), base = (K + 1) / 2;
    if (K < 2)
        return coop_fail(e, COOP_E_INVAL, "dataset '%s' has %d class%s: the base-to-new "
                         "protocol needs at least 2", parent->plugin->name, K, K == 1 ? "" : "es");
    struct subset *v = calloc(1, sizeof *v);
    if (!v)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    v->parent = parent->ref;
    v->lo = new_classes ? base : 0;
    v->K = new_classes ? K - base : base;
    int rc = 0;
    for (int s = 0; s < 3 && rc == 0; s++)
        rc = subset_split(v, (enum coop_split)s, e);
    if (rc) {
        subset_close((struct coop_dataset *)(void *)v);
        return rc;
    }
    out->plugin = parent->plugin;
    out->ref.ops = &subset_ops;
    out->ref.ds = (struct coop_dataset *)(void *)v;
    out->parent = parent;
    for (int s = 0; s < 3; s++)
        out->map[s] = v->idx[s];
    return 0;
}

void coop_rt_subset_free(struct rt_dataset *d)
{
    if (d->ref.ds)
        d->ref.ops->close(d->ref.ds);
    for (int s = 0; s < 3; s++)
        free(d->split_hash[s]);
    memset(d, 0, sizeof *d);
}
