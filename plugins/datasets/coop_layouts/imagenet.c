/* imagenet.c: ImageNet (images/{train,val}/<wnid>/ + classnames.txt, val is
 * the test split and there is no val split) and its domain-shift targets,
 * whose test split is every image (train and val are empty):
 *   imagenetv2:      <images>/{0..999}/, folder i = line i of classnames.txt
 *   imagenet_sketch: <images>/<wnid>/ for every class
 *   imagenet_a / _r: <images>/<wnid>/ for a 200-class subset; their classes are
 *                    the folders present (sorted), named and mapped to the
 *                    ImageNet label through classnames.txt.
 * Targets read <data_root>/imagenet/classnames.txt, or (CoOp's instructions
 * copy it there) <data_root>/<target folder>/classnames.txt. Folders are
 * listed with readdir (no stat per image) and sorted, so item order is
 * deterministic. */
#include "layouts.h"
#include <stdlib.h>
#include <string.h>

#define CLASSNAMES_MAX_BYTES ((size_t)1 << 24)

struct wnid_table {
    int n;
    char **wnid, **name; /* [n], in the dataset's pool */
    char **sorted;       /* wnids sorted, for lookups */
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wnid_index(const struct wnid_table *t, const char *w)
{
    for (int k = 0; k < t->n; k++) /* callers go through wnid_known first */
        if (strcmp(t->wnid[k], w) == 0)
            return k;
    return -1;
}

static bool wnid_known(const struct wnid_table *t, const char *w)
{
    return bsearch(&w, t->sorted, (size_t)t->n, sizeof *t->sorted, cmp_str) != NULL;
}

static void wnid_free(struct wnid_table *t)
{
    free(t->wnid);
    free(t->name);
    free(t->sorted);
}

static int parse_classnames(struct lay_ds *ds, char *text, const char *file,
                            struct wnid_table *t, struct coop_err *e)
{
    int cap = 0, lineno = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        if (!len)
            continue;
        char *sp = strchr(line, ' ');
        if (!sp || sp == line || !sp[1])
            return coop_fail(e, COOP_E_FORMAT, "%s:%d: \"%s\": expected \"<wnid> <class name>\"",
                             file, lineno, line);
        if (t->n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **w = realloc(t->wnid, (size_t)cap * sizeof *w);
            if (w)
                t->wnid = w;
            char **nm = w ? realloc(t->name, (size_t)cap * sizeof *nm) : NULL;
            if (!nm)
                return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
            t->name = nm;
        }
        t->wnid[t->n] = lay_strndup(ds, line, (size_t)(sp - line));
        t->name[t->n] = lay_strndup(ds, sp + 1, strlen(sp + 1));
        if (!t->wnid[t->n] || !t->name[t->n])
            return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
        t->n++;
    }
    if (t->n == 0)
        return coop_fail(e, COOP_E_FORMAT, "%s: no classes", file);
    if (!(t->sorted = malloc((size_t)t->n * sizeof *t->sorted)))
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
    memcpy(t->sorted, t->wnid, (size_t)t->n * sizeof *t->sorted);
    qsort(t->sorted, (size_t)t->n, sizeof *t->sorted, cmp_str);
    for (int k = 1; k < t->n; k++)
        if (strcmp(t->sorted[k - 1], t->sorted[k]) == 0)
            return coop_fail(e, COOP_E_FORMAT, "%s: wnid %s listed twice", file, t->sorted[k]);
    return 0;
}

/* Reads classnames.txt from the first of two places that has it. */
static int read_classnames(struct lay_ds *ds, const char *data_root, struct wnid_table *t,
                           struct coop_err *e)
{
    char *a = coop_asprintf("%s/imagenet/classnames.txt", data_root);
    char *b = coop_asprintf("%s/classnames.txt", ds->base);
    char *text = NULL;
    int rc;
    if (!a || !b)
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    else if (!coop_file_exists(a) && (ds->desc->kind == LAY_IMAGENET || !coop_file_exists(b)))
        rc = ds->desc->kind == LAY_IMAGENET
                 ? lay_missing(ds, a, e)
                 : coop_fail(e, COOP_E_NOTFOUND,
                             "%s: class names not found: looked for %s and %s (lines "
                             "\"n01440764 tench\"; the targets map their folders onto "
                             "ImageNet's classes through it)",
                             ds->desc->name, a, b);
    else {
        const char *file = coop_file_exists(a) ? a : b;
        rc = coop_read_file(file, CLASSNAMES_MAX_BYTES, &text, NULL, e);
        if (rc == 0)
            rc = parse_classnames(ds, text, file, t, e);
    }
    free(text);
    free(a);
    free(b);
    return rc;
}

/* Items of class folders <imgdir>/<sub>/<folders[i]>/ with labels[i]. The
 * folder listing of <imgdir>/<sub> must be exactly the expected folders. */
static int scan_folders(struct lay_ds *ds, enum coop_split sp, const char *sub,
                        char *const *folders, const int *labels, int n, struct coop_err *e)
{
    char *dir = sub[0] ? coop_asprintf("%s/%s", ds->imgdir, sub) : coop_strdup(ds->imgdir);
    char **have = NULL, **want = NULL, **files = NULL;
    size_t nhave = 0, nfiles = 0;
    int rc = dir ? 0 : coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    if (rc == 0 && !coop_dir_exists(dir))
        rc = lay_missing(ds, dir, e);
    if (rc == 0)
        rc = coop_dir_list(dir, 'd', &have, &nhave, e);
    if (rc == 0 && !(want = malloc((size_t)(n ? n : 1) * sizeof *want)))
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    if (rc == 0) {
        memcpy(want, folders, (size_t)n * sizeof *want);
        qsort(want, (size_t)n, sizeof *want, cmp_str);
    }
    for (int i = 0; rc == 0 && i < n; i++)
        if (!bsearch(&folders[i], have, nhave, sizeof *have, cmp_str))
            rc = coop_fail(e, COOP_E_NOTFOUND,
                           "%s: class folder %s/%s missing (classnames.txt lists it)",
                           ds->desc->name, dir, folders[i]);
    for (size_t i = 0; rc == 0 && i < nhave; i++)
        if (!bsearch(&have[i], want, (size_t)n, sizeof *want, cmp_str))
            rc = coop_fail(e, COOP_E_FORMAT,
                           "%s: folder %s/%s is not a class of classnames.txt", ds->desc->name,
                           dir, have[i]);
    for (int i = 0; rc == 0 && i < n; i++) {
        char *cdir = coop_asprintf("%s/%s", dir, folders[i]);
        rc = cdir ? coop_dir_list(cdir, 'f', &files, &nfiles, e)
                  : coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
        for (size_t j = 0; rc == 0 && j < nfiles; j++) {
            char *rel = sub[0] ? coop_asprintf("%s/%s/%s", sub, folders[i], files[j])
                               : coop_asprintf("%s/%s", folders[i], files[j]);
            rc = rel ? lay_add(ds, sp, labels[i], rel, e)
                     : coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
            free(rel);
        }
        free(files);
        files = NULL;
        free(cdir);
    }
    free(have);
    free(want);
    free(dir);
    return rc;
}

static int *iota_labels(int n)
{
    int *l = malloc((size_t)(n ? n : 1) * sizeof *l);
    for (int i = 0; l && i < n; i++)
        l[i] = i;
    return l;
}

int lay_load_imagenet(struct lay_ds *ds, const char *data_root, struct coop_err *e)
{
    struct wnid_table t = {0};
    int rc = read_classnames(ds, data_root, &t, e);
    int *labels = rc == 0 ? iota_labels(t.n) : NULL;
    if (rc == 0 && !labels)
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    if (rc == 0)
        rc = lay_classes_alloc(ds, t.n, false, e);
    if (rc == 0) {
        memcpy(ds->names, t.name, (size_t)t.n * sizeof *ds->names);
        rc = scan_folders(ds, COOP_SPLIT_TRAIN, "train", t.wnid, labels, t.n, e);
    }
    if (rc == 0)
        rc = scan_folders(ds, COOP_SPLIT_TEST, "val", t.wnid, labels, t.n, e);
    free(labels);
    wnid_free(&t);
    return rc;
}

/* ImageNet-A/-R: the classes are the wnid folders present. */
static int subset_classes(struct lay_ds *ds, const struct wnid_table *t, char ***folders,
                          struct coop_err *e)
{
    size_t n = 0;
    int rc = coop_dir_list(ds->imgdir, 'd', folders, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!wnid_known(t, (*folders)[i]))
            rc = coop_fail(e, COOP_E_FORMAT,
                           "%s: folder %s/%s is not a wnid of classnames.txt", ds->desc->name,
                           ds->imgdir, (*folders)[i]);
    if (rc == 0 && n == 0)
        rc = coop_fail(e, COOP_E_NOTFOUND, "%s: no class folders in %s", ds->desc->name,
                       ds->imgdir);
    if (rc == 0)
        rc = lay_classes_alloc(ds, (int)n, true, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int k = wnid_index(t, (*folders)[i]);
        ds->source[i] = k;
        ds->names[i] = t->name[k];
    }
    return rc;
}

static int v2_folders(struct lay_ds *ds, const struct wnid_table *t, char ***folders,
                      struct coop_err *e)
{
    int rc = lay_classes_alloc(ds, t->n, true, e);
    if (rc == 0 && !(*folders = calloc((size_t)t->n + 1, sizeof **folders)))
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    for (int k = 0; rc == 0 && k < t->n; k++) {
        char num[16];
        int len = snprintf(num, sizeof num, "%d", k);
        if (!((*folders)[k] = lay_strndup(ds, num, (size_t)len)))
            rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
        ds->source[k] = k;
        ds->names[k] = t->name[k];
    }
    return rc;
}

int lay_load_target(struct lay_ds *ds, const char *data_root, struct coop_err *e)
{
    struct wnid_table t = {0};
    char **folders = NULL;
    int *labels = NULL;
    int rc = read_classnames(ds, data_root, &t, e);
    if (rc == 0 && ds->desc->kind == LAY_SUBSET) {
        rc = subset_classes(ds, &t, &folders, e);
    } else if (rc == 0 && ds->desc->kind == LAY_V2) {
        rc = v2_folders(ds, &t, &folders, e);
    } else if (rc == 0) { /* sketch: every class, wnid folders */
        rc = lay_classes_alloc(ds, t.n, true, e);
        for (int k = 0; rc == 0 && k < t.n; k++) {
            ds->source[k] = k;
            ds->names[k] = t.name[k];
        }
    }
    if (rc == 0 && !(labels = iota_labels(ds->num_classes)))
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    if (rc == 0) {
        char *const *f = ds->desc->kind == LAY_SKETCH ? t.wnid : folders;
        rc = scan_folders(ds, COOP_SPLIT_TEST, "", f, labels, ds->num_classes, e);
    }
    free(folders); /* subset: one block from coop_dir_list; v2: strings live in the pool */
    free(labels);
    wnid_free(&t);
    return rc;
}
