/* runtime.c: what the sweep keeps across trials: the open backbone, open
 * datasets, and feature caches; plus image loading for the frozen encoder,
 * and the host services (log) plugins are handed. */
#include "coop/image.h"
#include "coop/results.h"
#include "coop/util.h"
#include "run_internal.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ENCODE_BATCH 32

static char *params_key(const struct coop_params *p)
{
    size_t cap = 1;
    for (size_t i = 0; p && i < p->n; i++)
        cap += strlen(p->kv[i].key) + strlen(p->kv[i].value) + 3;
    char *s = calloc(cap, 1);
    for (size_t i = 0; s && p && i < p->n; i++) {
        strcat(s, p->kv[i].key);
        strcat(s, "=");
        strcat(s, p->kv[i].value);
        strcat(s, ";");
    }
    return s;
}

static void host_log(void *ctx, enum coop_log_level level, const char *msg)
{
    struct rt *rt = ctx;
    if (level == COOP_LOG_WARN)
        coop_rt_log(rt, "warning: %s", msg);
    else if (level >= COOP_LOG_INFO)
        coop_rt_info(rt, "%s", msg);
}

void coop_rt_init(struct rt *rt, const struct coop_registry *reg, const struct coop_run_options *o,
                  const char *cache_dir)
{
    memset(rt, 0, sizeof *rt);
    rt->reg = reg;
    rt->o = o;
    rt->host = (struct coop_host){COOP_HOST_VERSION, rt, host_log, o->cancel};
    rt->cache_dir = coop_strdup(cache_dir);
    rt->crop_scale = 0.08; /* CoOp's */
    rt->n_trials = 1;
    rt->trial_no = 1;
    rt->sweep_t0 = coop_now();
    rt->cur_eta = -1;
}

int coop_rt_backbone(struct rt *rt, const struct coop_trial *t, struct coop_err *e)
{
    char *pk = params_key(&t->backbone_params);
    char *key = coop_asprintf("%s|%s|%s|%s", t->backbone_plugin, t->checkpoint ? t->checkpoint : "",
                              t->vocab ? t->vocab : "", pk ? pk : "");
    free(pk);
    if (!key)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rt->bb_key && strcmp(rt->bb_key, key) == 0) {
        free(key);
        return 0;
    }
    if (rt->bb.bb)
        rt->bb.ops->close(rt->bb.bb);
    free(rt->bb_key);
    rt->bb_key = NULL;
    rt->bb.bb = NULL;
    const struct coop_plugin *p = coop_registry_find(rt->reg, COOP_PLUGIN_BACKBONE,
                                                     t->backbone_plugin);
    if (!p) {
        free(key);
        return coop_registry_explain(rt->reg, COOP_PLUGIN_BACKBONE, t->backbone_plugin, e);
    }
    const struct coop_backbone_ops *ops = coop_plugin_backbone(p, e);
    if (!ops) {
        free(key);
        return COOP_E_INVAL;
    }
    coop_rt_progress(rt, "loading backbone");
    int rc = ops->open(&rt->host, t->checkpoint, t->vocab, &t->backbone_params, &rt->bb.bb, e);
    if (rc) {
        free(key);
        return coop_fail_prefix(e, rc, "backbone '%s'", t->backbone_plugin);
    }
    rt->bb.ops = ops;
    rt->bb_plugin = p;
    memset(&rt->info, 0, sizeof rt->info);
    ops->info(rt->bb.bb, &rt->info);
    rt->bb_key = key;
    /* feature caches of another checkpoint are useless now */
    for (int i = 0; i < rt->nfc; i++) {
        coop_featcache_close(rt->fc[i].fc);
        free(rt->fc[i].key);
    }
    rt->nfc = 0;
    return 0;
}

int coop_rt_dataset(struct rt *rt, const char *name, const struct coop_params *params,
                    const char *data_root, struct rt_dataset **out, struct coop_err *e)
{
    char *pk = params_key(params);
    char *key = coop_asprintf("%s|%s|%s", name, pk ? pk : "", data_root ? data_root : "");
    free(pk);
    if (!key)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (int i = 0; i < rt->nds; i++)
        if (strcmp(rt->ds[i].key, key) == 0) {
            free(key);
            *out = &rt->ds[i];
            return 0;
        }
    const struct coop_plugin *p = coop_registry_find(rt->reg, COOP_PLUGIN_DATASET, name);
    if (!p) {
        free(key);
        return coop_registry_explain(rt->reg, COOP_PLUGIN_DATASET, name, e);
    }
    const struct coop_dataset_ops *ops = coop_plugin_dataset(p, e);
    if (!ops) {
        free(key);
        return COOP_E_INVAL;
    }
    if (rt->nds == RT_MAX_DS) { /* evict the oldest */
        struct rt_dataset *d = &rt->ds[0];
        d->ref.ops->close(d->ref.ds);
        free(d->key);
        for (int s = 0; s < 3; s++)
            free(d->split_hash[s]);
        memmove(rt->ds, rt->ds + 1, (RT_MAX_DS - 1) * sizeof *rt->ds);
        rt->nds--;
    }
    struct rt_dataset *d = &rt->ds[rt->nds];
    memset(d, 0, sizeof *d);
    coop_rt_progress(rt, "opening dataset");
    int rc = ops->open(&rt->host, data_root, params, &d->ref.ds, e);
    if (rc) {
        free(key);
        return coop_fail_prefix(e, rc, "dataset '%s'", name);
    }
    d->ref.ops = ops;
    d->plugin = p;
    d->key = key;
    rt->nds++;
    *out = d;
    return 0;
}

int coop_rt_target(struct rt *rt, const struct coop_trial *t, size_t k, struct rt_dataset **out,
                   struct coop_err *e)
{
    const char *name = t->targets[k];
    const struct coop_plugin *p = coop_registry_find(rt->reg, COOP_PLUGIN_DATASET, name);
    const struct coop_dataset_ops *ops = p ? coop_plugin_dataset(p, NULL) : NULL;
    const struct coop_params *src = &t->dataset_params;
    struct coop_kv *kv = src->n ? calloc(src->n, sizeof *kv) : NULL;
    if (src->n && !kv)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    struct coop_params inherited = {kv, 0};
    for (size_t i = 0; ops && ops->params && i < src->n; i++)
        for (const struct coop_param_spec *ps = ops->params; ps->name; ps++)
            if (strcmp(ps->name, src->kv[i].key) == 0) {
                kv[inherited.n++] = src->kv[i];
                break;
            }
    int rc = coop_rt_dataset(rt, name, &inherited, t->data_root, out, e);
    free(kv);
    return rc;
}

/* SHA-256 over every item id of a split: identifies the split's content. */
static int split_hash(struct rt_dataset *d, enum coop_split s, struct coop_err *e)
{
    if (d->split_hash[s])
        return 0;
    struct coop_sha256 h;
    uint8_t dig[32];
    coop_sha256_init(&h);
    size_t n = d->ref.ops->split_size(d->ref.ds, s);
    for (size_t i = 0; i < n; i++) {
        struct coop_item it;
        int rc = d->ref.ops->get_item(d->ref.ds, s, i, &it, e);
        if (rc)
            return rc;
        char lab[16];
        snprintf(lab, sizeof lab, "|%d\n", it.label);
        coop_sha256_update(&h, it.id ? it.id : "", it.id ? strlen(it.id) : 0);
        coop_sha256_update(&h, lab, strlen(lab));
    }
    coop_sha256_final(&h, dig);
    d->split_hash[s] = malloc(65);
    if (!d->split_hash[s])
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    coop_sha256_digest_hex(dig, d->split_hash[s]);
    return 0;
}

bool coop_rt_default_options(const struct rt_dataset *d, const struct coop_params *params)
{
    for (size_t i = 0; params && i < params->n; i++) {
        const struct coop_param_spec *sp = d->ref.ops->params;
        while (sp && sp->name && strcmp(sp->name, params->kv[i].key) != 0)
            sp++;
        if (!sp || !sp->name || !sp->default_value ||
            strcmp(sp->default_value, params->kv[i].value) != 0)
            return false;
    }
    return true;
}

int coop_rt_fewshot_source(struct rt_dataset *d, const struct coop_params *params,
                           const char *data_root, char **out, struct coop_err *e)
{
    *out = NULL;
    int rc = split_hash(d, COOP_SPLIT_TRAIN, e);
    if (rc == 0)
        rc = split_hash(d, COOP_SPLIT_VAL, e);
    if (rc)
        return rc;
    char *pk = params_key(params);
    if (pk)
        *out = coop_asprintf("dataset_plugin=%s %s\noptions=%s\ndata_root=%s\n"
                             "train_items=%s\nval_items=%s\n",
                             d->plugin->name, d->plugin->version ? d->plugin->version : "", pk,
                             data_root ? data_root : "", d->split_hash[COOP_SPLIT_TRAIN],
                             d->split_hash[COOP_SPLIT_VAL]);
    free(pk);
    return *out ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
}

static int get_cache(struct rt *rt, struct rt_dataset *d, enum coop_split s, int view,
                     struct coop_featcache **out, struct coop_err *e)
{
    int rc = split_hash(d, s, e);
    if (rc)
        return rc;
    char train_tf[96];
    snprintf(train_tf, sizeof train_tf,
             "train:random-resized-crop(%.9g-1,3/4-4/3)+hflip,pillow8,v1", rt->crop_scale);
    /* Everything that changes a feature is in the key: checkpoint content,
     * preprocessing version, the dataset (and its plugin's version: a new
     * version may draw other images under the same ids), its items and the
     * view. v2: the towers encode one image at a time (other bits than v1's
     * batches) and records carry a checksum. A precision other than fp32 is
     * appended (fp32 keys stay what they were). */
    const char *prec = rt->info.version >= 2 ? rt->info.precision : "";
    bool other = prec[0] && strcmp(prec, "fp32") != 0;
    char *key = coop_asprintf(
        "coop-features v2\ncheckpoint=%s\narch=%s\nimage_size=%d\nmean=%.8g,%.8g,%.8g\n"
        "std=%.8g,%.8g,%.8g\npreprocess=%s\ndataset=%s\ndataset_plugin=%s %s\nsplit=%d\n"
        "items=%s\nview=%d\n%s%s%s",
        rt->info.checkpoint_sha256, rt->info.arch, rt->info.image_size, rt->info.mean[0],
        rt->info.mean[1], rt->info.mean[2], rt->info.std[0], rt->info.std[1], rt->info.std[2],
        view == 0 ? "eval:resize-bicubic-pillow8,center-crop,v1" : train_tf, d->key,
        d->plugin->name, d->plugin->version ? d->plugin->version : "", (int)s, d->split_hash[s],
        view, other ? "precision=" : "", other ? prec : "", other ? "\n" : "");
    if (!key)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (int i = 0; i < rt->nfc; i++)
        if (strcmp(rt->fc[i].key, key) == 0) {
            free(key);
            *out = rt->fc[i].fc;
            return 0;
        }
    if (rt->nfc == RT_MAX_FC) {
        coop_featcache_close(rt->fc[0].fc);
        free(rt->fc[0].key);
        memmove(rt->fc, rt->fc + 1, (RT_MAX_FC - 1) * sizeof *rt->fc);
        rt->nfc--;
    }
    char *dir = coop_asprintf("%s/features", rt->cache_dir);
    size_t n = d->ref.ops->split_size(d->ref.ds, s);
    rc = dir ? coop_featcache_open(dir, key, n, rt->info.embed_dim, out, e)
             : coop_fail(e, COOP_E_NOMEM, "out of memory");
    free(dir);
    if (rc) {
        free(key);
        return rc;
    }
    if (coop_featcache_warning(*out))
        coop_rt_log(rt, "warning: %s", coop_featcache_warning(*out));
    rt->fc[rt->nfc].key = key;
    rt->fc[rt->nfc].fc = *out;
    rt->nfc++;
    return 0;
}

/* Decodes item i and applies the view's transform into float [3, S, S]. */
static int item_pixels(struct rt *rt, struct rt_dataset *d, enum coop_split s, size_t i,
                       int view, struct coop_rng *online, float *out, struct coop_err *e)
{
    struct coop_item it;
    struct coop_image img;
    memset(&img, 0, sizeof img);
    int rc = d->ref.ops->get_item(d->ref.ds, s, i, &it, e);
    if (rc)
        return rc;
    if (it.path) {
        rc = coop_image_load(&img, it.path, e);
    } else if (d->ref.ops->read_pixels) {
        uint8_t *rgb = NULL;
        int w = 0, h = 0;
        rc = d->ref.ops->read_pixels(d->ref.ds, s, i, &rgb, &w, &h, e);
        if (rc == 0) {
            rc = coop_image_from_rgb8(&img, rgb, w, h, e);
            d->ref.ops->free_pixels(d->ref.ds, rgb);
        }
    } else {
        rc = coop_fail(e, COOP_E_UNSUPPORTED, "item %s has neither a path nor pixels",
                       it.id ? it.id : "?");
    }
    if (rc)
        return rc;
    const int S = rt->info.image_size;
    uint8_t *rgb = malloc((size_t)S * S * 3);
    if (!rgb) {
        coop_image_free(&img);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    if (view == 0) {
        rc = coop_image_clip_eval_rgb8(rgb, &img, S, e);
    } else if (view > 0) {
        struct coop_rng r; /* the v-th view of an item is the same in every run */
        coop_rng_seed(&r, coop_seed_derive((uint64_t)view, it.id ? it.id : "item"));
        rc = coop_image_clip_train_rgb8(rgb, &img, S, rt->crop_scale, &r, e);
    } else {
        rc = coop_image_clip_train_rgb8(rgb, &img, S, rt->crop_scale, online, e);
    }
    if (rc == 0)
        coop_image_normalize(out, rgb, S, rt->info.mean, rt->info.std);
    else
        coop_fail_prefix(e, rc, "%s", it.path ? it.path : it.id ? it.id : "item");
    free(rgb);
    coop_image_free(&img);
    return rc;
}

static int encode_batch(struct rt *rt, struct rt_dataset *d, enum coop_split s,
                        const size_t *idx, size_t n, int view, struct coop_rng *rng,
                        float *feat, struct coop_err *e)
{
    const size_t px = (size_t)3 * rt->info.image_size * rt->info.image_size;
    float *pix = coop_alloc_floats(n * px);
    if (!pix)
        return coop_fail(e, COOP_E_NOMEM, "out of memory for %zu images", n);
    int rc = 0;
    for (size_t j = 0; j < n && rc == 0; j++) {
        if (rt->o->cancel && *rt->o->cancel)
            rc = coop_fail(e, COOP_E_INTERRUPTED, "interrupted");
        else
            rc = item_pixels(rt, d, s, idx[j], view, rng, pix + j * px, e);
    }
    if (rc == 0)
        rc = rt->bb.ops->encode_images(rt->bb.bb, pix, (int)n, feat, e);
    coop_free(pix);
    return rc;
}

int coop_rt_features(struct rt *rt, struct rt_dataset *d, enum coop_split s, const size_t *idx,
                     size_t n, int view, struct coop_rng *rng, float *out, struct coop_err *e)
{
    const int E = rt->info.embed_dim;
    if (d->parent) { /* a class subset: its items are the parent's */
        size_t *pidx = malloc((n ? n : 1) * sizeof *pidx);
        if (!pidx)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        int rc = 0;
        for (size_t j = 0; j < n && rc == 0; j++)
            if (idx[j] >= d->ref.ops->split_size(d->ref.ds, s))
                rc = coop_fail(e, COOP_E_INVAL, "%s: item %zu of split %d out of range",
                               d->plugin->name, idx[j], (int)s);
            else
                pidx[j] = d->map[s][idx[j]];
        if (rc == 0)
            rc = coop_rt_features(rt, d->parent, s, pidx, n, view, rng, out, e);
        free(pidx);
        return rc;
    }
    if (view < 0) { /* online augmentation: never cached */
        for (size_t b = 0; b < n; b += ENCODE_BATCH) {
            size_t m = n - b < ENCODE_BATCH ? n - b : ENCODE_BATCH;
            int rc = encode_batch(rt, d, s, idx + b, m, view, rng, out + b * E, e);
            if (rc)
                return rc;
        }
        return 0;
    }
    struct coop_featcache *fc;
    int rc = get_cache(rt, d, s, view, &fc, e);
    if (rc)
        return rc;
    size_t *missing = malloc((n ? n : 1) * sizeof *missing), nm = 0;
    size_t n_items = d->ref.ops->split_size(d->ref.ds, s);
    uint8_t *queued = calloc(n_items ? n_items : 1, 1); /* the same image twice in one request */
    float *feat = coop_alloc_floats((size_t)ENCODE_BATCH * E);
    if (!missing || !queued || !feat) {
        free(missing);
        free(queued);
        coop_free(feat);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < n && rc == 0; j++)
        if (idx[j] >= n_items)
            rc = coop_fail(e, COOP_E_INVAL, "%s: item %zu of split %d out of range (%zu items)",
                           d->plugin->name, idx[j], (int)s, n_items);
        else if (!coop_featcache_has(fc, idx[j]) && !queued[idx[j]]) {
            queued[idx[j]] = 1;
            missing[nm++] = idx[j];
        }
    for (size_t b = 0; b < nm && rc == 0; b += ENCODE_BATCH) {
        size_t m = nm - b < ENCODE_BATCH ? nm - b : ENCODE_BATCH;
        rc = encode_batch(rt, d, s, missing + b, m, view, NULL, feat, e);
        for (size_t j = 0; j < m && rc == 0; j++)
            rc = coop_featcache_put(fc, missing[b + j], feat + j * E, e);
        if (nm > ENCODE_BATCH) {
            char ph[64];
            snprintf(ph, sizeof ph, "encoding images %zu/%zu", b + m, nm);
            coop_rt_progress(rt, ph);
        }
    }
    for (size_t j = 0; j < n && rc == 0; j++)
        memcpy(out + j * E, coop_featcache_get(fc, idx[j]), (size_t)E * sizeof(float));
    free(missing);
    free(queued);
    coop_free(feat);
    return rc;
}

void coop_rt_free(struct rt *rt)
{
    free(rt->constant_axes);
    for (int i = 0; i < rt->nfc; i++) {
        coop_featcache_close(rt->fc[i].fc);
        free(rt->fc[i].key);
    }
    for (int i = 0; i < rt->nds; i++) {
        rt->ds[i].ref.ops->close(rt->ds[i].ref.ds);
        free(rt->ds[i].key);
        for (int s = 0; s < 3; s++)
            free(rt->ds[i].split_hash[s]);
    }
    if (rt->bb.bb)
        rt->bb.ops->close(rt->bb.bb);
    free(rt->bb_key);
    free(rt->cache_dir);
}
