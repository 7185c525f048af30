/* layouts.c: the coop_layouts plugin's descriptor table and the ops every
 * layout shares (one .so, fifteen datasets). Loading is done per layout kind in
 * zhou.c, aircraft.c and imagenet.c. */
#include "layouts.h"
#include <stdlib.h>
#include <string.h>

#define LAY_VERSION "1.0.0"

/* X(id, kind, folder, images, split_file, template, summary) */
#define LAY_LIST(X)                                                                              \
    X(imagenet, LAY_IMAGENET, "imagenet", "images", NULL, "a photo of a {}.",                    \
      "ImageNet: imagenet/images/{train,val}/<wnid>/ + imagenet/classnames.txt")                 \
    X(caltech101, LAY_ZHOU, "caltech-101", "101_ObjectCategories", "split_zhou_Caltech101.json", \
      "a photo of a {}.", "Caltech101 through split_zhou_Caltech101.json")                       \
    X(oxford_pets, LAY_ZHOU, "oxford_pets", "images", "split_zhou_OxfordPets.json",              \
      "a photo of a {}, a type of pet.", "OxfordPets through split_zhou_OxfordPets.json")        \
    X(stanford_cars, LAY_ZHOU, "stanford_cars", "", "split_zhou_StanfordCars.json",              \
      "a photo of a {}.", "StanfordCars through split_zhou_StanfordCars.json")                   \
    X(oxford_flowers, LAY_ZHOU, "oxford_flowers", "jpg", "split_zhou_OxfordFlowers.json",        \
      "a photo of a {}, a type of flower.", "Flowers102 through split_zhou_OxfordFlowers.json")  \
    X(food101, LAY_ZHOU, "food-101", "images", "split_zhou_Food101.json",                        \
      "a photo of {}, a type of food.", "Food101 through split_zhou_Food101.json")               \
    X(fgvc_aircraft, LAY_AIRCRAFT, "fgvc_aircraft", "images", NULL,                              \
      "a photo of a {}, a type of aircraft.",                                                    \
      "FGVCAircraft through variants.txt + images_variant_*.txt")                                \
    X(sun397, LAY_ZHOU, "sun397", "SUN397", "split_zhou_SUN397.json", "a photo of a {}.",        \
      "SUN397 through split_zhou_SUN397.json")                                                   \
    X(dtd, LAY_ZHOU, "dtd", "images", "split_zhou_DescribableTextures.json", "{} texture.",      \
      "DTD through split_zhou_DescribableTextures.json")                                         \
    X(eurosat, LAY_ZHOU, "eurosat", "2750", "split_zhou_EuroSAT.json",                           \
      "a centered satellite photo of {}.", "EuroSAT through split_zhou_EuroSAT.json")            \
    X(ucf101, LAY_ZHOU, "ucf101", "UCF-101-midframes", "split_zhou_UCF101.json",                 \
      "a photo of a person doing {}.", "UCF101 (middle frames) through split_zhou_UCF101.json")  \
    X(imagenetv2, LAY_V2, "imagenetv2", "imagenetv2-matched-frequency-format-val", NULL,         \
      "a photo of a {}.", "ImageNet-V2 matched-frequency (target; folder i = class i)")          \
    X(imagenet_sketch, LAY_SKETCH, "imagenet-sketch", "images", NULL, "a photo of a {}.",        \
      "ImageNet-Sketch (target)")                                                                \
    X(imagenet_a, LAY_SUBSET, "imagenet-adversarial", "imagenet-a", NULL, "a photo of a {}.",    \
      "ImageNet-A (target, 200-class subset)")                                                   \
    X(imagenet_r, LAY_SUBSET, "imagenet-rendition", "imagenet-r", NULL, "a photo of a {}.",      \
      "ImageNet-R (target, 200-class subset)")

enum {
#define X(id, kind, folder, images, split, tmpl, summary) LAY_ID_##id,
    LAY_LIST(X)
#undef X
    LAY_COUNT
};

static const struct lay_desc lay_descs[LAY_COUNT] = {
#define X(id, kind, folder, images, split, tmpl, summary) {#id, kind, folder, images, split, tmpl},
    LAY_LIST(X)
#undef X
};

static const struct coop_param_spec params_zhou[] = {
    {"check_files", COOP_PARAM_BOOL, "true", 0, -1, NULL,
     "check at open that every image the split lists exists (a missing one is an error "
     "naming it); false skips one stat per image"},
    {"split_file", COOP_PARAM_STRING, "", 0, -1, NULL,
     "another split_zhou file (relative to the dataset folder, or absolute); empty: the "
     "published one"},
    COOP_PARAM_END};
static const struct coop_param_spec params_files[] = {
    {"check_files", COOP_PARAM_BOOL, "true", 0, -1, NULL,
     "check at open that every image the lists name exists (a missing one is an error "
     "naming it); false skips one stat per image"},
    COOP_PARAM_END};
static const struct coop_param_spec params_none[] = {COOP_PARAM_END};

/* ---- string pool and item lists ---------------------------------------- */
/* n + 1 uninitialised bytes from the pool. */
static char *lay_alloc(struct lay_ds *ds, size_t n)
{
    struct lay_block *b = ds->pool;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > ((size_t)1 << 20) ? n + 1 : ((size_t)1 << 20);
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = ds->pool;
        b->used = 0;
        b->cap = cap;
        ds->pool = b;
    }
    char *d = b->data + b->used;
    b->used += n + 1;
    return d;
}

char *lay_strndup(struct lay_ds *ds, const char *s, size_t n)
{
    char *d = lay_alloc(ds, n);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int lay_add(struct lay_ds *ds, enum coop_split sp, int label, const char *rel, struct coop_err *e)
{
    struct lay_items *it = &ds->split[sp];
    if (it->n == it->cap) {
        size_t nc = it->cap ? it->cap * 2 : 256;
        struct coop_item *nv = realloc(it->v, nc * sizeof *nv);
        if (!nv)
            return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
        it->v = nv;
        it->cap = nc;
    }
    size_t lp = strlen(ds->imgdir), lr = strlen(rel);
    char *path = lay_alloc(ds, lp + 1 + lr);
    if (!path)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    memcpy(path, ds->imgdir, lp);
    path[lp] = '/';
    memcpy(path + lp + 1, rel, lr + 1);
    it->v[it->n++] = (struct coop_item){label, path, path + lp + 1, COOP_ITEM_VERSION};
    return 0;
}

int lay_classes_alloc(struct lay_ds *ds, int C, bool with_source, struct coop_err *e)
{
    ds->num_classes = C;
    ds->names = calloc((size_t)(C > 0 ? C : 1), sizeof *ds->names);
    if (with_source)
        ds->source = calloc((size_t)(C > 0 ? C : 1), sizeof *ds->source);
    if (!ds->names || (with_source && !ds->source))
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    return 0;
}

int lay_missing(const struct lay_ds *ds, const char *path, struct coop_err *e)
{
    const struct lay_desc *d = ds->desc;
    switch (d->kind) {
    case LAY_ZHOU:
        return coop_fail(e, COOP_E_NOTFOUND,
                         "%s: not found: %s (expected layout: <data_root>/%s/%s%s holding the "
                         "images, and <data_root>/%s/%s)",
                         d->name, path, d->folder, d->images, d->images[0] ? "/" : "", d->folder,
                         d->split_file);
    case LAY_AIRCRAFT:
        return coop_fail(e, COOP_E_NOTFOUND,
                         "%s: not found: %s (expected layout: <data_root>/fgvc_aircraft/"
                         "{images/<id>.jpg, variants.txt, images_variant_{train,val,test}.txt})",
                         d->name, path);
    case LAY_IMAGENET:
        return coop_fail(e, COOP_E_NOTFOUND,
                         "%s: not found: %s (expected layout: <data_root>/imagenet/images/"
                         "{train,val}/<wnid>/ and <data_root>/imagenet/classnames.txt)",
                         d->name, path);
    default: /* the targets */
        return coop_fail(e, COOP_E_NOTFOUND,
                         "%s: not found: %s (expected layout: <data_root>/%s/%s/%s/ and "
                         "<data_root>/imagenet/classnames.txt)",
                         d->name, path, d->folder, d->images,
                         d->kind == LAY_V2 ? "{0..999}" : "<wnid>");
    }
}

/* ---- ops ----------------------------------------------------------------- */
static void lay_close(struct coop_dataset *d)
{
    struct lay_ds *ds = (struct lay_ds *)d;
    if (!ds)
        return;
    for (int s = 0; s < 3; s++)
        free(ds->split[s].v);
    while (ds->pool) {
        struct lay_block *n = ds->pool->next;
        free(ds->pool);
        ds->pool = n;
    }
    free(ds->names);
    free(ds->source);
    free(ds->base);
    free(ds->imgdir);
    free(ds);
}

static int lay_load(struct lay_ds *ds, const char *data_root, struct coop_err *e)
{
    switch (ds->desc->kind) {
    case LAY_ZHOU: return lay_load_zhou(ds, e);
    case LAY_AIRCRAFT: return lay_load_aircraft(ds, e);
    case LAY_IMAGENET: return lay_load_imagenet(ds, data_root, e);
    default: return lay_load_target(ds, data_root, e);
    }
}

static int lay_open(const struct lay_desc *desc, const struct coop_host *host,
                    const char *data_root, const struct coop_params *opts,
                    struct coop_dataset **out, struct coop_err *e)
{
    if (!data_root || !data_root[0])
        return coop_fail(e, COOP_E_INVAL,
                         "%s: data_root is not set (the YAML's data_root key must name the "
                         "folder that holds %s/)", desc->name, desc->folder);
    struct lay_ds *ds = calloc(1, sizeof *ds);
    if (!ds)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", desc->name);
    ds->desc = desc;
    ds->host = host;
    ds->check_files = coop_params_bool(opts, "check_files", true);
    ds->split_file = coop_params_str(opts, "split_file", "");
    ds->base = coop_asprintf("%s/%s", data_root, desc->folder);
    ds->imgdir = desc->images[0] ? coop_asprintf("%s/%s", ds->base, desc->images)
                                 : coop_strdup(ds->base);
    int rc;
    if (!ds->base || !ds->imgdir)
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", desc->name);
    else if (!coop_dir_exists(ds->base))
        rc = lay_missing(ds, ds->base, e);
    else if (!coop_dir_exists(ds->imgdir))
        rc = lay_missing(ds, ds->imgdir, e);
    else
        rc = lay_load(ds, data_root, e);
    if (rc) {
        lay_close((struct coop_dataset *)ds);
        return rc;
    }
    *out = (struct coop_dataset *)ds;
    return 0;
}

static int lay_num_classes(const struct coop_dataset *d)
{
    return ((const struct lay_ds *)d)->num_classes;
}

static const char *lay_class_name(const struct coop_dataset *d, int k)
{
    const struct lay_ds *ds = (const struct lay_ds *)d;
    return k >= 0 && k < ds->num_classes ? ds->names[k] : NULL;
}

static size_t lay_split_size(const struct coop_dataset *d, enum coop_split s)
{
    const struct lay_ds *ds = (const struct lay_ds *)d;
    return (unsigned)s < 3 ? ds->split[s].n : 0;
}

static int lay_get_item(const struct coop_dataset *d, enum coop_split s, size_t i,
                        struct coop_item *out, struct coop_err *e)
{
    const struct lay_ds *ds = (const struct lay_ds *)d;
    if ((unsigned)s >= 3 || i >= ds->split[s].n)
        return coop_fail(e, COOP_E_INVAL, "%s: item %zu out of range (split %d has %zu)",
                         ds->desc->name, i, (int)s, (unsigned)s < 3 ? ds->split[s].n : 0);
    *out = ds->split[s].v[i];
    return 0;
}

static int lay_read_pixels(const struct coop_dataset *d, enum coop_split s, size_t i,
                           uint8_t **rgb, int *w, int *h, struct coop_err *e)
{
    return coop_fail(e, COOP_E_UNSUPPORTED, "%s: items are image files (use their path)",
                     ((const struct lay_ds *)d)->desc->name);
}

static void lay_free_pixels(const struct coop_dataset *d, uint8_t *rgb)
{
    free(rgb);
}

static const char *lay_template(const struct coop_dataset *d)
{
    return ((const struct lay_ds *)d)->desc->template_text;
}

static int lay_source_class(const struct coop_dataset *d, int k)
{
    const struct lay_ds *ds = (const struct lay_ds *)d;
    return ds->source && k >= 0 && k < ds->num_classes ? ds->source[k] : -1;
}

#define X(id, kind, folder, images, split, tmpl, summary)                                     \
    static int lay_open_##id(const struct coop_host *h, const char *root,                     \
                             const struct coop_params *o, struct coop_dataset **out,          \
                             struct coop_err *e)                                              \
    {                                                                                         \
        return lay_open(&lay_descs[LAY_ID_##id], h, root, o, out, e);                         \
    }
LAY_LIST(X)
#undef X

#define X(id, kind, folder, images, split, tmpl, summary)                                     \
    {COOP_DATASET_OPS_VERSION, kind == LAY_ZHOU       ? params_zhou                          \
                               : kind == LAY_AIRCRAFT ? params_files                         \
                                                      : params_none,                         \
     lay_open_##id, lay_close, lay_num_classes, lay_class_name, lay_split_size, lay_get_item, \
     lay_read_pixels, lay_free_pixels, lay_template,                                          \
     kind == LAY_V2 || kind == LAY_SKETCH || kind == LAY_SUBSET ? lay_source_class : NULL, NULL},
static const struct coop_dataset_ops lay_ops[LAY_COUNT] = {LAY_LIST(X)};
#undef X

#define X(id, kind, folder, images, split, tmpl, summary)                                     \
    {COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, #id, LAY_VERSION, summary, &lay_ops[LAY_ID_##id]},
static const struct coop_plugin lay_plugins[LAY_COUNT] = {LAY_LIST(X)};
#undef X

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t index)
{
    return index < LAY_COUNT ? &lay_plugins[index] : NULL;
}
