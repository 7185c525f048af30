/* fashion_mnist.c: Fashion-MNIST read from the IDX gzip files of Debian's
 * dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist) or any
 * folder holding the same four files. Items have no path: read_pixels returns
 * the 28x28 gray image replicated to RGB8. Splits: the 60k training images
 * minus the last val_size (default 10,000) are train, those last val_size are
 * val, the 10k t10k images are test. Item ids: "train/<index>" (index into
 * the training file, also for val items) and "test/<index>". */
#include "coop/plugin.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FM_SIDE 28
#define FM_PIXELS (FM_SIDE * FM_SIDE)
#define FM_CLASSES 10
#define FM_MAX_ITEMS 1000000
#define FM_SYSTEM_DIR "/usr/share/datasets/fashion-mnist"

static const char *const fm_names[FM_CLASSES] = {
    "T-shirt or top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot"};

struct fm_part {  /* one IDX image file + its label file */
    size_t n;
    uint8_t *pixels; /* [n, 28, 28] */
    uint8_t *labels; /* [n] */
    char **ids;      /* [n], "train/00012" */
    char *idbuf;
};

struct fm_ds {
    struct fm_part train, test;
    size_t n_train; /* items [0, n_train) of the training file are train, the rest val */
    struct coop_item *items[3];
    size_t count[3];
};

static const struct coop_param_spec fm_params[] = {
    {"dir", COOP_PARAM_STRING, "", 0, -1, NULL,
     "folder holding the four IDX .gz files; empty: <data_root>/fashion-mnist if it exists, "
     "else " FM_SYSTEM_DIR},
    {"val_size", COOP_PARAM_INT, "10000", 1, 59999, NULL,
     "the last val_size training images form the val split"},
    COOP_PARAM_END};

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads exactly n bytes; a short read names the file. */
static int gz_exact(gzFile g, void *buf, size_t n, const char *path, const char *what,
                    struct coop_err *e)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(g, (uint8_t *)buf + got, chunk);
        if (r <= 0) {
            int zerr;
            const char *msg = gzerror(g, &zerr);
            return coop_fail(e, COOP_E_FORMAT, "%s: truncated or corrupt while reading %s "
                             "(%zu of %zu bytes%s%s)", path, what, got, n,
                             zerr ? ": " : "", zerr ? msg : "");
        }
        got += (size_t)r;
    }
    return 0;
}

/* Opens an IDX file, checks magic and dims; *n = item count. Caller reads the body. */
static int idx_open(const char *path, uint32_t magic, gzFile *g, size_t *n, struct coop_err *e)
{
    *g = gzopen(path, "rb");
    if (!*g)
        return coop_fail(e, COOP_E_IO, "%s: cannot open (Debian package dataset-fashion-mnist "
                         "installs the files under " FM_SYSTEM_DIR ")", path);
    uint8_t h[16];
    size_t hl = magic == 0x803 ? 16 : 8;
    int rc = gz_exact(*g, h, hl, path, "the IDX header", e);
    if (rc == 0 && be32(h) != magic)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: bad IDX magic number 0x%08x (expected 0x%08x)",
                       path, be32(h), magic);
    if (rc == 0 && (be32(h + 4) == 0 || be32(h + 4) > FM_MAX_ITEMS))
        rc = coop_fail(e, COOP_E_FORMAT, "%s: implausible item count %u", path, be32(h + 4));
    if (rc == 0 && magic == 0x803 && (be32(h + 8) != FM_SIDE || be32(h + 12) != FM_SIDE))
        rc = coop_fail(e, COOP_E_FORMAT, "%s: images are %ux%u (expected 28x28)", path,
                       be32(h + 8), be32(h + 12));
    *n = rc == 0 ? be32(h + 4) : 0;
    if (rc) {
        gzclose(*g);
        *g = NULL;
    }
    return rc;
}

/* Reads the body and refuses trailing bytes. */
static int idx_body(gzFile g, uint8_t **buf, size_t bytes, const char *path, struct coop_err *e)
{
    *buf = malloc(bytes);
    if (!*buf)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", path);
    int rc = gz_exact(g, *buf, bytes, path, "the data", e);
    uint8_t extra;
    if (rc == 0 && gzread(g, &extra, 1) > 0)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: longer than its header says (%zu data bytes)",
                       path, bytes);
    return rc;
}

static int fm_ids(struct fm_part *p, const char *prefix, struct coop_err *e)
{
    size_t w = strlen(prefix) + 1 + 7 + 1; /* up to FM_MAX_ITEMS */
    p->idbuf = malloc(p->n * w);
    p->ids = malloc(p->n * sizeof *p->ids);
    if (!p->idbuf || !p->ids)
        return coop_fail(e, COOP_E_NOMEM, "fashion_mnist: out of memory");
    for (size_t i = 0; i < p->n; i++) {
        p->ids[i] = p->idbuf + i * w;
        snprintf(p->ids[i], w, "%s/%05zu", prefix, i);
    }
    return 0;
}

static int fm_load_part(struct fm_part *p, const char *dir, const char *stem, const char *prefix,
                        struct coop_err *e)
{
    char *ipath = coop_asprintf("%s/%s-images-idx3-ubyte.gz", dir, stem);
    char *lpath = coop_asprintf("%s/%s-labels-idx1-ubyte.gz", dir, stem);
    gzFile gi = NULL, gl = NULL;
    size_t ni = 0, nl = 0;
    int rc = ipath && lpath ? 0 : coop_fail(e, COOP_E_NOMEM, "fashion_mnist: out of memory");
    if (rc == 0)
        rc = idx_open(ipath, 0x803, &gi, &ni, e);
    if (rc == 0)
        rc = idx_open(lpath, 0x801, &gl, &nl, e);
    if (rc == 0 && ni != nl)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: %zu labels, but %s holds %zu images", lpath, nl,
                       ipath, ni);
    p->n = ni;
    if (rc == 0)
        rc = idx_body(gi, &p->pixels, ni * FM_PIXELS, ipath, e);
    if (rc == 0)
        rc = idx_body(gl, &p->labels, nl, lpath, e);
    for (size_t i = 0; rc == 0 && i < nl; i++)
        if (p->labels[i] >= FM_CLASSES)
            rc = coop_fail(e, COOP_E_FORMAT, "%s: label %u of item %zu is not in 0..9", lpath,
                           p->labels[i], i);
    if (rc == 0)
        rc = fm_ids(p, prefix, e);
    if (gi)
        gzclose(gi);
    if (gl)
        gzclose(gl);
    free(ipath);
    free(lpath);
    return rc;
}

static void fm_part_free(struct fm_part *p)
{
    free(p->pixels);
    free(p->labels);
    free(p->ids);
    free(p->idbuf);
}

static void fm_close(struct coop_dataset *d)
{
    struct fm_ds *ds = (struct fm_ds *)d;
    if (!ds)
        return;
    fm_part_free(&ds->train);
    fm_part_free(&ds->test);
    for (int s = 0; s < 3; s++)
        free(ds->items[s]);
    free(ds);
}

static int fm_items(struct fm_ds *ds, enum coop_split s, const struct fm_part *p, size_t from,
                    size_t to, struct coop_err *e)
{
    ds->count[s] = to - from;
    ds->items[s] = malloc((to - from + 1) * sizeof **ds->items);
    if (!ds->items[s])
        return coop_fail(e, COOP_E_NOMEM, "fashion_mnist: out of memory");
    for (size_t i = from; i < to; i++)
        ds->items[s][i - from] =
            (struct coop_item){p->labels[i], NULL, p->ids[i], COOP_ITEM_VERSION};
    return 0;
}

static char *fm_dir(const char *data_root, const struct coop_params *opts)
{
    const char *dir = coop_params_str(opts, "dir", "");
    if (dir && dir[0])
        return coop_strdup(dir);
    if (data_root && data_root[0]) {
        char *d = coop_asprintf("%s/fashion-mnist", data_root);
        if (d && coop_dir_exists(d))
            return d;
        free(d);
    }
    return coop_strdup(FM_SYSTEM_DIR);
}

static int fm_open(const struct coop_host *host, const char *data_root,
                   const struct coop_params *opts, struct coop_dataset **out, struct coop_err *e)
{
    struct fm_ds *ds = calloc(1, sizeof *ds);
    char *dir = fm_dir(data_root, opts);
    long val = coop_params_int(opts, "val_size", 10000);
    int rc = ds && dir ? 0 : coop_fail(e, COOP_E_NOMEM, "fashion_mnist: out of memory");
    if (rc == 0 && !coop_dir_exists(dir))
        rc = coop_fail(e, COOP_E_NOTFOUND,
                       "fashion_mnist: folder not found: %s (expected the IDX files "
                       "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz there; Debian package "
                       "dataset-fashion-mnist installs them under " FM_SYSTEM_DIR ")", dir);
    if (rc == 0)
        rc = fm_load_part(&ds->train, dir, "train", "train", e);
    if (rc == 0)
        rc = fm_load_part(&ds->test, dir, "t10k", "test", e);
    if (rc == 0 && (val < 1 || (size_t)val >= ds->train.n))
        rc = coop_fail(e, COOP_E_INVAL, "fashion_mnist: val_size %ld must be in 1..%zu", val,
                       ds->train.n - 1);
    if (rc == 0) {
        ds->n_train = ds->train.n - (size_t)val;
        rc = fm_items(ds, COOP_SPLIT_TRAIN, &ds->train, 0, ds->n_train, e);
    }
    if (rc == 0)
        rc = fm_items(ds, COOP_SPLIT_VAL, &ds->train, ds->n_train, ds->train.n, e);
    if (rc == 0)
        rc = fm_items(ds, COOP_SPLIT_TEST, &ds->test, 0, ds->test.n, e);
    free(dir);
    if (rc) {
        fm_close((struct coop_dataset *)ds);
        return rc;
    }
    *out = (struct coop_dataset *)ds;
    return 0;
}

static int fm_num_classes(const struct coop_dataset *d)
{
    return FM_CLASSES;
}

static const char *fm_class_name(const struct coop_dataset *d, int k)
{
    return k >= 0 && k < FM_CLASSES ? fm_names[k] : NULL;
}

static size_t fm_split_size(const struct coop_dataset *d, enum coop_split s)
{
    return (unsigned)s < 3 ? ((const struct fm_ds *)d)->count[s] : 0;
}

static int fm_get_item(const struct coop_dataset *d, enum coop_split s, size_t i,
                       struct coop_item *out, struct coop_err *e)
{
    const struct fm_ds *ds = (const struct fm_ds *)d;
    if ((unsigned)s >= 3 || i >= ds->count[s])
        return coop_fail(e, COOP_E_INVAL, "fashion_mnist: item %zu of split %d out of range", i,
                         (int)s);
    *out = ds->items[s][i];
    return 0;
}

static int fm_read_pixels(const struct coop_dataset *d, enum coop_split s, size_t i,
                          uint8_t **rgb, int *w, int *h, struct coop_err *e)
{
    const struct fm_ds *ds = (const struct fm_ds *)d;
    if ((unsigned)s >= 3 || i >= ds->count[s])
        return coop_fail(e, COOP_E_INVAL, "fashion_mnist: item %zu of split %d out of range", i,
                         (int)s);
    const uint8_t *src = s == COOP_SPLIT_TEST ? ds->test.pixels + i * FM_PIXELS
                       : s == COOP_SPLIT_VAL  ? ds->train.pixels + (ds->n_train + i) * FM_PIXELS
                                              : ds->train.pixels + i * FM_PIXELS;
    uint8_t *dst = malloc(FM_PIXELS * 3);
    if (!dst)
        return coop_fail(e, COOP_E_NOMEM, "fashion_mnist: out of memory");
    for (int p = 0; p < FM_PIXELS; p++)
        dst[3 * p] = dst[3 * p + 1] = dst[3 * p + 2] = src[p];
    *rgb = dst;
    *w = *h = FM_SIDE;
    return 0;
}

static void fm_free_pixels(const struct coop_dataset *d, uint8_t *rgb)
{
    free(rgb);
}

static const char *fm_template(const struct coop_dataset *d)
{
    return "a photo of a {}.";
}

static const struct coop_dataset_ops fm_ops = {
    COOP_DATASET_OPS_VERSION, fm_params, fm_open, fm_close, fm_num_classes, fm_class_name,
    fm_split_size, fm_get_item, fm_read_pixels, fm_free_pixels, fm_template, NULL, NULL};

static const struct coop_plugin fm_plugin = {
    COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "fashion_mnist", "1.0.0",
    "Fashion-MNIST from the IDX gzip files (Debian dataset-fashion-mnist)", &fm_ops};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t index)
{
    return index == 0 ? &fm_plugin : NULL;
}
