/* example_csv.c: the example dataset plugin of docs/adding-a-dataset.md, and
 * the template tools/new-dataset.sh copies. A dataset is a folder
 *   <data_root>/<dir>/classnames.txt    one class name a line: line k = label k
 *   <data_root>/<dir>/train.csv         "relative/path.png,label" a line
 *   <data_root>/<dir>/val.csv           (optional: no val split without it)
 *   <data_root>/<dir>/test.csv
 * Empty lines and lines starting with '#' are skipped. Paths are relative to
 * <data_root>/<dir> and must stay inside it. The plugin keeps everything in memory after open. */
#include "coop/plugin.h"
#include "coop/util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CSV_MAX_BYTES ((size_t)1 << 28)

/* Everything an open dataset holds. The host sees it only as struct coop_dataset. */
struct csv_ds {
    char *root;          /* <data_root>/<dir> */
    char *template_text;
    char **names;        /* [num_classes] */
    int num_classes;
    struct coop_item *items[3]; /* per split; path and id are malloc'd */
    size_t count[3];
};

/* Keys the YAML may set under this dataset; the host validates them. */
static const struct coop_param_spec csv_params[] = {
    {"dir", COOP_PARAM_STRING, "example_csv", 0, -1, NULL, "folder under data_root"},
    {"template", COOP_PARAM_STRING, "a photo of a {}.", 0, -1, NULL,
     "zero-shot template ({} = class name)"},
    COOP_PARAM_END};

static void csv_close(struct coop_dataset *d)
{
    struct csv_ds *ds = (struct csv_ds *)d;
    if (!ds)
        return;
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < ds->count[s]; i++)
            free((char *)ds->items[s][i].path); /* id points into the same block */
        free(ds->items[s]);
    }
    for (int k = 0; k < ds->num_classes; k++)
        free(ds->names[k]);
    free(ds->names);
    free(ds->root);
    free(ds->template_text);
    free(ds);
}

/* Splits text into lines in place; calls fn on each non-empty, non-comment line. */
static int for_lines(char *text, const char *file,
                     int (*fn)(void *ctx, char *line, const char *file, int lineno,
                               struct coop_err *e),
                     void *ctx, struct coop_err *e)
{
    int lineno = 0;
    for (char *s = text; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == '\r' || s[len - 1] == ' '))
            s[--len] = '\0';
        if (len && s[0] != '#') {
            int rc = fn(ctx, s, file, lineno, e);
            if (rc)
                return rc;
        }
        s = nl ? nl + 1 : NULL;
    }
    return 0;
}

static int add_class(void *ctx, char *line, const char *file, int lineno, struct coop_err *e)
{
    struct csv_ds *ds = ctx;
    char **nn = realloc(ds->names, (size_t)(ds->num_classes + 1) * sizeof *nn);
    if (!nn)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
    ds->names = nn;
    if (!(ds->names[ds->num_classes] = coop_strdup(line)))
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
    ds->num_classes++;
    return 0;
}

struct split_ctx {
    struct csv_ds *ds;
    int split;
};

/* "relative/path.png,label" -> one item; the image must exist. */
static int add_item(void *ctx, char *line, const char *file, int lineno, struct coop_err *e)
{
    struct split_ctx *c = ctx;
    struct csv_ds *ds = c->ds;
    char *comma = strrchr(line, ',');
    char *end = NULL;
    long label = comma ? strtol(comma + 1, &end, 10) : -1;
    if (!comma || comma == line || end == comma + 1 || *end)
        return coop_fail(e, COOP_E_FORMAT, "%s:%d: expected \"relative/path,label\"", file,
                         lineno);
    if (label < 0 || label >= ds->num_classes)
        return coop_fail(e, COOP_E_FORMAT, "%s:%d: label %ld outside 0..%d (classnames.txt)",
                         file, lineno, label, ds->num_classes - 1);
    *comma = '\0';
    const char *out = coop_relpath_escapes(line);
    if (out)
        return coop_fail(e, COOP_E_FORMAT, "%s:%d: image path '%.200s' %s; paths must stay "
                         "inside %s", file, lineno, line, out, ds->root);
    char *path = coop_asprintf("%s/%s", ds->root, line);
    if (!path)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
    if (access(path, F_OK) != 0) {
        int rc = coop_fail(e, COOP_E_NOTFOUND, "%s:%d: image %s does not exist", file, lineno,
                           path);
        free(path);
        return rc;
    }
    size_t n = ds->count[c->split];
    struct coop_item *ni = realloc(ds->items[c->split], (n + 1) * sizeof *ni);
    if (!ni) {
        free(path);
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
    }
    ni[n] = (struct coop_item){(int)label, path, path + strlen(ds->root) + 1, COOP_ITEM_VERSION};
    ds->items[c->split] = ni;
    ds->count[c->split] = n + 1;
    return 0;
}

/* Reads <root>/<name> line by line; a missing optional file is an empty split. */
static int read_list(struct csv_ds *ds, const char *name, bool optional,
                     int (*fn)(void *, char *, const char *, int, struct coop_err *), void *ctx,
                     struct coop_err *e)
{
    char *file = coop_asprintf("%s/%s", ds->root, name), *text = NULL;
    if (!file)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    int rc = 0;
    if (!coop_file_exists(file)) {
        if (!optional)
            rc = coop_fail(e, COOP_E_NOTFOUND, "%s: not found (expected layout: <data_root>/<dir>/"
                           "{classnames.txt, train.csv, test.csv, val.csv (optional)})", file);
    } else {
        rc = coop_read_file(file, CSV_MAX_BYTES, &text, NULL, e);
        if (rc == 0)
            rc = for_lines(text, file, fn, ctx, e);
    }
    free(text);
    free(file);
    return rc;
}

static int csv_open(const struct coop_host *host, const char *data_root,
                    const struct coop_params *opts, struct coop_dataset **out, struct coop_err *e)
{
    const char *dir = coop_params_str(opts, "dir", "example_csv");
    if (!data_root)
        return coop_fail(e, COOP_E_INVAL, "example_csv: data_root is not set");
    struct csv_ds *ds = calloc(1, sizeof *ds);
    if (!ds)
        return coop_fail(e, COOP_E_NOMEM, "example_csv: out of memory");
    ds->root = coop_asprintf("%s/%s", data_root, dir);
    ds->template_text = coop_strdup(coop_params_str(opts, "template", "a photo of a {}."));
    int rc = ds->root && ds->template_text ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rc == 0 && !coop_dir_exists(ds->root))
        rc = coop_fail(e, COOP_E_NOTFOUND, "example_csv: folder not found: %s", ds->root);
    if (rc == 0)
        rc = read_list(ds, "classnames.txt", false, add_class, ds, e);
    if (rc == 0 && ds->num_classes == 0)
        rc = coop_fail(e, COOP_E_FORMAT, "%s/classnames.txt: no classes", ds->root);
    static const char *const lists[3] = {"train.csv", "val.csv", "test.csv"};
    for (int s = 0; rc == 0 && s < 3; s++) {
        struct split_ctx c = {ds, s};
        rc = read_list(ds, lists[s], s == COOP_SPLIT_VAL, add_item, &c, e);
    }
    if (rc) {
        csv_close((struct coop_dataset *)ds);
        return rc;
    }
    *out = (struct coop_dataset *)ds;
    return 0;
}

static int csv_num_classes(const struct coop_dataset *d)
{
    return ((const struct csv_ds *)d)->num_classes;
}

static const char *csv_class_name(const struct coop_dataset *d, int k)
{
    const struct csv_ds *ds = (const struct csv_ds *)d;
    return k >= 0 && k < ds->num_classes ? ds->names[k] : NULL;
}

static size_t csv_split_size(const struct coop_dataset *d, enum coop_split s)
{
    return (unsigned)s < 3 ? ((const struct csv_ds *)d)->count[s] : 0;
}

static int csv_get_item(const struct coop_dataset *d, enum coop_split s, size_t i,
                        struct coop_item *out, struct coop_err *e)
{
    const struct csv_ds *ds = (const struct csv_ds *)d;
    if ((unsigned)s >= 3 || i >= ds->count[s])
        return coop_fail(e, COOP_E_INVAL, "example_csv: item %zu of split %d out of range", i,
                         (int)s);
    *out = ds->items[s][i];
    return 0;
}

static const char *csv_template(const struct coop_dataset *d)
{
    return ((const struct csv_ds *)d)->template_text;
}

/* Items are files, so read_pixels/free_pixels stay NULL; so does source_class
 * (not a domain-shift target). */
static const struct coop_dataset_ops csv_ops = {
    .version = COOP_DATASET_OPS_VERSION,
    .params = csv_params,
    .open = csv_open,
    .close = csv_close,
    .num_classes = csv_num_classes,
    .class_name = csv_class_name,
    .split_size = csv_split_size,
    .get_item = csv_get_item,
    .default_template = csv_template,
};

static const struct coop_plugin csv_plugin = {
    COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "example_csv", "1.0.0",
    "example: classnames.txt + train/val/test.csv listing path,label", &csv_ops};

/* The one symbol the module exports: index 0 is this dataset, then NULL. */
__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t index)
{
    return index == 0 ? &csv_plugin : NULL;
}
