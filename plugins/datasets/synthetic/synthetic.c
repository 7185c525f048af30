/* synthetic.c: dataset plugin over the procedural world (coop/world.h).
 * One descriptor per world task (world-shapes, world-objects, ... and their
 * -v2/-sketch/-r/-a targets). Items have no path: read_pixels renders them
 * on demand, deterministically from the world seed. Thin: all logic is in
 * libcoop so that other tools draw the same images. */
#include "coop/plugin.h"
#include "coop/world.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coop_dataset {
    const struct coop_world_task *task;
    struct coop_world_config cfg;
    int K;
    char **names;      /* [K] class names */
    char *ids[3];      /* per split: n ids of ID_LEN bytes each */
    int world_split[3]; /* the world's split behind each: train, val, test or dev */
};
#define ID_LEN 64
#define STR_(x) #x
#define STR(x) STR_(x) /* a number macro's text, for a parameter's default */

static const char *const test_splits[] = {"test", "dev", NULL};
static const struct coop_param_spec params[] = {
    {"seed", COOP_PARAM_INT, "1", 0, 2147483647.0, NULL, "world seed: same seed, same images"},
    {"image_size", COOP_PARAM_INT, "32", 8, 512, NULL,
     "side of the square images in pixels (32 suits a small patch-8 ViT; 64 looks nicer)"},
    {"supersample", COOP_PARAM_INT, "4", 1, 8, NULL, "anti-aliasing samples per pixel side"},
    {"train_per_class", COOP_PARAM_INT, "32", 0, 100000, NULL, "train items per class"},
    {"val_per_class", COOP_PARAM_INT, "8", 0, 100000, NULL, "val items per class"},
    {"test_per_class", COOP_PARAM_INT, "25", 0, 100000, NULL, "test items per class"},
    {"collection_bias", COOP_PARAM_FLOAT, STR(COOP_WORLD_COLLECTION_BIAS), 0, 1, NULL,
     "share of a source (or -v2) task's items whose background, and whose colour (pattern "
     "where colour is in the label), follow their class's own habit; 0 = none"},
    {"test_split", COOP_PARAM_CHOICE, "test", 0, 0, test_splits,
     "what the test split holds: test, or dev (a held-out split of the same size from its own "
     "stream, for choosing a recipe without looking at test)"},
    COOP_PARAM_END};

static void ds_close(struct coop_dataset *ds)
{
    if (!ds)
        return;
    if (ds->names)
        for (int k = 0; k < ds->K; k++)
            free(ds->names[k]);
    free(ds->names);
    for (int s = 0; s < 3; s++)
        free(ds->ids[s]);
    free(ds);
}

static int read_config(struct coop_world_config *c, const struct coop_params *o,
                       struct coop_err *e)
{
    static const char *const keys[] = {"train_per_class", "val_per_class", "test_per_class"};
    coop_world_config_default(c);
    long seed = coop_params_int(o, "seed", 1), size = coop_params_int(o, "image_size", 32);
    long ss = coop_params_int(o, "supersample", 4);
    if (seed < 0 || size < 8 || size > 512 || ss < 1 || ss > 8)
        return coop_fail(e, COOP_E_INVAL, "synthetic: seed %ld, image_size %ld (8..512) or "
                         "supersample %ld (1..8) out of range", seed, size, ss);
    c->seed = (uint64_t)seed;
    c->image_size = (int)size;
    c->supersample = (int)ss;
    for (int s = 0; s < 3; s++) {
        long v = coop_params_int(o, keys[s], c->per_class[s]);
        if (v < 0 || v > 100000)
            return coop_fail(e, COOP_E_INVAL, "synthetic: %s = %ld not in 0..100000", keys[s], v);
        c->per_class[s] = (int)v;
    }
    c->bias = coop_params_float(o, "collection_bias", COOP_WORLD_COLLECTION_BIAS);
    if (!(c->bias >= 0 && c->bias <= 1))
        return coop_fail(e, COOP_E_INVAL, "synthetic: collection_bias = %g not in 0..1", c->bias);
    return COOP_OK;
}

static int fill_names(struct coop_dataset *ds, struct coop_err *e)
{
    static const char *const split_names[] = {"train", "val", "test", "dev"};
    ds->names = calloc((size_t)ds->K, sizeof *ds->names);
    if (!ds->names)
        return coop_fail(e, COOP_E_NOMEM, "synthetic: class names");
    char buf[128];
    for (int k = 0; k < ds->K; k++)
        if (!(ds->names[k] = strdup(coop_world_task_class_name(ds->task, k, buf, sizeof buf))))
            return coop_fail(e, COOP_E_NOMEM, "synthetic: class names");
    for (int s = 0; s < 3; s++) {
        size_t n = coop_world_task_split_size(ds->task, &ds->cfg, ds->world_split[s]);
        if (!(ds->ids[s] = malloc(n * ID_LEN + 1)))
            return coop_fail(e, COOP_E_NOMEM, "synthetic: %zu item ids", n);
        for (size_t i = 0; i < n; i++)
            snprintf(ds->ids[s] + i * ID_LEN, ID_LEN, "%s/%s/%06zu",
                     coop_world_task_name(ds->task), split_names[ds->world_split[s]], i);
    }
    return COOP_OK;
}

static int open_task(const char *name, const struct coop_params *o, struct coop_dataset **out,
                     struct coop_err *e)
{
    *out = NULL;
    struct coop_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return coop_fail(e, COOP_E_NOMEM, "synthetic: dataset");
    ds->task = coop_world_task_find(name);
    if (!ds->task) {
        free(ds);
        return coop_fail(e, COOP_E_NOTFOUND, "synthetic: libcoop has no world task %s", name);
    }
    ds->K = coop_world_task_num_classes(ds->task);
    int rc = read_config(&ds->cfg, o, e);
    const char *ts = coop_params_str(o, "test_split", "test");
    ds->world_split[0] = 0;
    ds->world_split[1] = 1;
    ds->world_split[2] = strcmp(ts, "dev") == 0 ? COOP_WORLD_SPLIT_DEV : 2;
    if (!rc && strcmp(ts, "dev") != 0 && strcmp(ts, "test") != 0)
        rc = coop_fail(e, COOP_E_INVAL, "synthetic: test_split = '%s' is neither test nor dev", ts);
    if (!rc)
        rc = fill_names(ds, e);
    if (rc) {
        ds_close(ds);
        return rc;
    }
    *out = ds;
    return COOP_OK;
}

static int ds_num_classes(const struct coop_dataset *ds) { return ds->K; }

static const char *ds_class_name(const struct coop_dataset *ds, int k)
{
    return k >= 0 && k < ds->K ? ds->names[k] : NULL;
}

static size_t ds_split_size(const struct coop_dataset *ds, enum coop_split s)
{
    return (int)s >= 0 && (int)s < 3
               ? coop_world_task_split_size(ds->task, &ds->cfg, ds->world_split[s])
               : 0;
}

static int ds_get_item(const struct coop_dataset *ds, enum coop_split s, size_t i,
                       struct coop_item *out, struct coop_err *e)
{
    size_t n = ds_split_size(ds, s);
    if (i >= n)
        return coop_fail(e, COOP_E_INVAL, "%s: item %zu of split %d out of range (%zu items)",
                         coop_world_task_name(ds->task), i, (int)s, n);
    out->label = (int)(i % (size_t)ds->K); /* = coop_world_task_item's label, without sampling */
    out->path = NULL;
    out->id = ds->ids[s] + i * ID_LEN;
    out->version = COOP_ITEM_VERSION;
    return COOP_OK;
}

static int ds_read_pixels(const struct coop_dataset *ds, enum coop_split s, size_t i,
                          uint8_t **rgb, int *w, int *h, struct coop_err *e)
{
    struct coop_world_scene scene;
    int label, n = ds->cfg.image_size;
    if ((int)s < 0 || (int)s >= 3)
        return coop_fail(e, COOP_E_INVAL, "%s: no split %d", coop_world_task_name(ds->task), (int)s);
    int rc = coop_world_task_item(ds->task, &ds->cfg, ds->world_split[s], i, &scene, &label, e);
    if (rc)
        return rc;
    uint8_t *buf = malloc((size_t)n * n * 3);
    if (!buf)
        return coop_fail(e, COOP_E_NOMEM, "%s: %dx%d image", coop_world_task_name(ds->task), n, n);
    rc = coop_world_render(buf, &scene, n, ds->cfg.supersample, e);
    if (rc) {
        free(buf);
        return rc;
    }
    *rgb = buf;
    *w = *h = n;
    return COOP_OK;
}

static void ds_free_pixels(const struct coop_dataset *ds, uint8_t *rgb)
{
    (void)ds;
    free(rgb);
}

static const char *ds_template(const struct coop_dataset *ds)
{
    return coop_world_task_template(ds->task);
}

static const char *const *ds_ensemble(const struct coop_dataset *ds)
{
    return coop_world_task_ensemble(ds->task);
}

static int ds_source_class(const struct coop_dataset *ds, int k)
{
    return coop_world_task_source_class(ds->task, k);
}

/* ops.open carries no descriptor, so each descriptor gets its own open. */
#define TASKS(X)                                                                              \
    X(0, "world-shapes") X(1, "world-colors") X(2, "world-textures") X(3, "world-objects")     \
    X(4, "world-shapes-v2") X(5, "world-shapes-sketch") X(6, "world-shapes-r")                 \
    X(7, "world-shapes-a") X(8, "world-objects-v2") X(9, "world-objects-sketch")               \
    X(10, "world-objects-r") X(11, "world-objects-a")

#define DEF_OPEN(i, name)                                                                     \
    static int open_##i(const struct coop_host *host, const char *root,                        \
                        const struct coop_params *o, struct coop_dataset **out,                \
                        struct coop_err *e)                                                    \
    {                                                                                          \
        (void)host;                                                                            \
        (void)root;                                                                            \
        return open_task(name, o, out, e);                                                     \
    }
TASKS(DEF_OPEN)

#define DEF_OPS(i, name)                                                                      \
    {COOP_DATASET_OPS_VERSION, params, open_##i, ds_close, ds_num_classes, ds_class_name,      \
     ds_split_size, ds_get_item, ds_read_pixels, ds_free_pixels, ds_template, NULL,          \
     ds_ensemble},
static struct coop_dataset_ops ops[] = {TASKS(DEF_OPS)};

#define DEF_DESC(i, name) {COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, name, "3.0", NULL, &ops[i]},
static struct coop_plugin descs[] = {TASKS(DEF_DESC)};
#define NDESC (sizeof descs / sizeof descs[0])

/* Summaries and source maps come from libcoop's task table, filled once. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init_descs(void)
{
    for (size_t i = 0; i < NDESC; i++) {
        const struct coop_world_task *t = coop_world_task_find(descs[i].name);
        descs[i].summary = t ? coop_world_task_summary(t) : "world task missing from libcoop";
        if (t && coop_world_task_source(t))
            ops[i].source_class = ds_source_class;
    }
}

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t index)
{
    pthread_once(&once, init_descs);
    return index < NDESC ? &descs[index] : NULL;
}
