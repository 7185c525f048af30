/* image_folder.c: the generic dataset of docs/datasets.md: images sorted into
 * one folder per class, one folder per split,
 *   <root>/<train>/<class>/<image>.jpg, .jpeg or .png   (split folder names: options)
 *   <root>/<val>/<class>/...   (optional: no val split without it)
 *   <root>/<test>/<class>/...
 * so that data can be used without writing C. Classes are the train split's
 * class folders in byte order (label k = the k-th); the class name is the
 * folder name with '_' as a space, or the name an optional classnames file
 * gives the folder. Other files are ignored. Every split folder, class folder
 * and classnames line problem is an error naming its path. The plugin keeps
 * the listing in memory after open and never reads pixels itself. */
#include "coop/plugin.h"
#include "coop/util.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define IF_MAX_LIST_BYTES ((size_t)1 << 24)

struct if_ds {
    char *root;
    char *template_text;
    char **folders;    /* [num_classes] class folder names (train split) */
    char **names;      /* [num_classes] class names */
    int num_classes;
    struct coop_item *items[3]; /* per split; path malloc'd, id points into it */
    size_t count[3], cap[3];
};

static const struct coop_param_spec if_params[] = {
    {"root", COOP_PARAM_STRING, NULL, 0, -1, NULL,
     "dataset folder: absolute, or relative to data_root"},
    {"train", COOP_PARAM_STRING, "train", 0, -1, NULL, "train split folder under root"},
    {"val", COOP_PARAM_STRING, "val", 0, -1, NULL,
     "validation split folder under root (optional: no val split when it does not exist)"},
    {"test", COOP_PARAM_STRING, "test", 0, -1, NULL, "test split folder under root"},
    {"classnames", COOP_PARAM_STRING, "", 0, -1, NULL,
     "file under root: 'FOLDER class name' a line (a folder not listed: its name, '_' as space)"},
    {"template", COOP_PARAM_STRING, "a photo of a {}.", 0, -1, NULL,
     "zero-shot template ({} = class name)"},
    COOP_PARAM_END};

static void if_close(struct coop_dataset *d)
{
    struct if_ds *ds = (struct if_ds *)d;
    if (!ds)
        return;
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < ds->count[s]; i++)
            free((char *)ds->items[s][i].path);
        free(ds->items[s]);
    }
    for (int k = 0; k < ds->num_classes; k++)
        free(ds->names ? ds->names[k] : NULL);
    free(ds->names);
    free(ds->folders); /* one allocation from coop_dir_list */
    free(ds->root);
    free(ds->template_text);
    free(ds);
}

static bool is_image(const char *name)
{
    const char *dot = strrchr(name, '.');
    static const char *const ext[] = {"jpg", "jpeg", "png"};
    if (!dot || dot == name)
        return false;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(ext[i]), j = 0;
        while (j < n && dot[1 + j] && tolower((unsigned char)dot[1 + j]) == ext[i][j])
            j++;
        if (j == n && !dot[1 + n])
            return true;
    }
    return false;
}

static int add_item(struct if_ds *ds, int split, int label, char *path, struct coop_err *e)
{
    if (ds->count[split] == ds->cap[split]) {
        size_t nc = ds->cap[split] ? ds->cap[split] * 2 : 64;
        struct coop_item *ni = realloc(ds->items[split], nc * sizeof *ni);
        if (!ni) {
            free(path);
            return coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
        }
        ds->items[split] = ni;
        ds->cap[split] = nc;
    }
    ds->items[split][ds->count[split]++] =
        (struct coop_item){label, path, path + strlen(ds->root) + 1, COOP_ITEM_VERSION};
    return 0;
}

/* The images of one class folder, sorted; none is an error. */
static int read_class(struct if_ds *ds, int split, const char *dir, int label, struct coop_err *e)
{
    char **files = NULL;
    size_t n = 0, used = 0;
    int rc = coop_dir_list(dir, 'f', &files, &n, e);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!is_image(files[i]))
            continue;
        char *path = coop_asprintf("%s/%s", dir, files[i]);
        rc = path ? add_item(ds, split, label, path, e)
                  : coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
        used++;
    }
    if (!rc && !used)
        rc = coop_fail(e, COOP_E_FORMAT, "image_folder: class folder %s holds no .jpg, .jpeg or "
                                         ".png image", dir);
    free(files);
    return rc;
}

static int class_of(const struct if_ds *ds, const char *folder)
{
    for (int k = 0; k < ds->num_classes; k++)
        if (strcmp(ds->folders[k], folder) == 0)
            return k;
    return -1;
}

/* One split folder: every class folder in it must be a train class. */
static int read_split(struct if_ds *ds, int split, const char *sub, struct coop_err *e)
{
    char *dir = coop_asprintf("%s/%s", ds->root, sub);
    if (!dir)
        return coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
    char **classes = NULL;
    size_t n = 0;
    int rc = coop_dir_list(dir, 'd', &classes, &n, e);
    if (!rc && !n)
        rc = coop_fail(e, COOP_E_FORMAT, "image_folder: split folder %s holds no class folders "
                                         "(expected %s/<class>/*.jpg|png)", dir, dir);
    for (size_t i = 0; !rc && i < n; i++) {
        int k = class_of(ds, classes[i]);
        char *cdir = coop_asprintf("%s/%s", dir, classes[i]);
        if (!cdir)
            rc = coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
        else if (k < 0)
            rc = coop_fail(e, COOP_E_FORMAT, "image_folder: class folder %s is not a class of "
                                             "the train split (which fixes the classes)", cdir);
        else
            rc = read_class(ds, split, cdir, k, e);
        free(cdir);
    }
    free(classes);
    free(dir);
    return rc;
}

/* Class names from the folders ('_' as a space). */
static int default_names(struct if_ds *ds, struct coop_err *e)
{
    ds->names = calloc((size_t)ds->num_classes, sizeof *ds->names);
    if (!ds->names)
        return coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
    for (int k = 0; k < ds->num_classes; k++) {
        if (!(ds->names[k] = coop_strdup(ds->folders[k])))
            return coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
        for (char *p = ds->names[k]; *p; p++)
            if (*p == '_')
                *p = ' ';
    }
    return 0;
}

/* One classnames line "FOLDER class name" (FOLDER may be any train class). */
static int name_line(struct if_ds *ds, char *line, const char *file, int lineno,
                     struct coop_err *e)
{
    char *sp = line + strcspn(line, " \t");
    char *name = sp + strspn(sp, " \t");
    if (!*sp || !*name)
        return coop_fail(e, COOP_E_FORMAT, "%s:%d: expected 'FOLDER class name'", file, lineno);
    *sp = '\0';
    int k = class_of(ds, line);
    if (k < 0)
        return coop_fail(e, COOP_E_FORMAT, "%s:%d: '%.200s' is not a class folder of %s/", file,
                         lineno, line, ds->root);
    char *copy = coop_strdup(name);
    if (!copy)
        return coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
    free(ds->names[k]);
    ds->names[k] = copy;
    return 0;
}

static int read_classnames(struct if_ds *ds, const char *rel, struct coop_err *e)
{
    char *file = rel[0] == '/' ? coop_strdup(rel) : coop_asprintf("%s/%s", ds->root, rel);
    char *text = NULL;
    if (!file)
        return coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
    int rc = coop_file_exists(file) ? coop_read_file(file, IF_MAX_LIST_BYTES, &text, NULL, e)
                                    : coop_fail(e, COOP_E_NOTFOUND,
                                                "image_folder: classnames file %s not found",
                                                file);
    int lineno = 0;
    for (char *s = text; !rc && s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
            s[--len] = '\0';
        if (len && s[0] != '#')
            rc = name_line(ds, s, file, lineno, e);
        s = nl ? nl + 1 : NULL;
    }
    free(text);
    free(file);
    return rc;
}

static int check_root(const char *data_root, const char *root, char **out, struct coop_err *e)
{
    if (!root || !root[0])
        return coop_fail(e, COOP_E_INVAL, "image_folder: option 'root' is required");
    if (root[0] != '/' && !data_root)
        return coop_fail(e, COOP_E_INVAL, "image_folder: root '%s' is relative but data_root "
                                          "is not set", root);
    *out = root[0] == '/' ? coop_strdup(root) : coop_asprintf("%s/%s", data_root, root);
    if (!*out)
        return coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
    if (!coop_dir_exists(*out))
        return coop_fail(e, COOP_E_NOTFOUND, "image_folder: folder %s not found", *out);
    return 0;
}

/* The train split fixes the classes; test (and val, when present) follow. */
static int read_splits(struct if_ds *ds, const struct coop_params *opts, struct coop_err *e)
{
    static const char *const keys[3] = {"train", "val", "test"};
    char *dir = NULL;
    int rc = 0;
    for (int s = 0; !rc && s < 3; s++) {
        const char *sub = coop_params_str(opts, keys[s], keys[s]);
        free(dir);
        dir = coop_asprintf("%s/%s", ds->root, sub);
        if (!dir)
            return coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
        if (!coop_dir_exists(dir)) {
            if (s != COOP_SPLIT_VAL)
                rc = coop_fail(e, COOP_E_NOTFOUND, "image_folder: %s split folder %s not found "
                                                   "(expected <root>/%s/<class>/*.jpg|png)",
                               keys[s], dir, sub);
            continue;
        }
        if (s == COOP_SPLIT_TRAIN) {
            size_t n = 0;
            rc = coop_dir_list(dir, 'd', &ds->folders, &n, e);
            ds->num_classes = (int)n;
            if (!rc)
                rc = default_names(ds, e);
        }
        if (!rc)
            rc = read_split(ds, s, sub, e);
    }
    free(dir);
    return rc;
}

static int if_open(const struct coop_host *host, const char *data_root,
                   const struct coop_params *opts, struct coop_dataset **out, struct coop_err *e)
{
    (void)host;
    struct if_ds *ds = calloc(1, sizeof *ds);
    if (!ds)
        return coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
    int rc = check_root(data_root, coop_params_str(opts, "root", NULL), &ds->root, e);
    if (!rc && !(ds->template_text = coop_strdup(coop_params_str(opts, "template",
                                                                  "a photo of a {}."))))
        rc = coop_fail(e, COOP_E_NOMEM, "image_folder: out of memory");
    if (!rc)
        rc = read_splits(ds, opts, e);
    const char *cn = coop_params_str(opts, "classnames", "");
    if (!rc && cn[0])
        rc = read_classnames(ds, cn, e);
    if (rc) {
        if_close((struct coop_dataset *)ds);
        return rc;
    }
    *out = (struct coop_dataset *)ds;
    return 0;
}

static int if_num_classes(const struct coop_dataset *d)
{
    return ((const struct if_ds *)d)->num_classes;
}

static const char *if_class_name(const struct coop_dataset *d, int k)
{
    const struct if_ds *ds = (const struct if_ds *)d;
    return k >= 0 && k < ds->num_classes ? ds->names[k] : NULL;
}

static size_t if_split_size(const struct coop_dataset *d, enum coop_split s)
{
    return (unsigned)s < 3 ? ((const struct if_ds *)d)->count[s] : 0;
}

static int if_get_item(const struct coop_dataset *d, enum coop_split s, size_t i,
                       struct coop_item *out, struct coop_err *e)
{
    const struct if_ds *ds = (const struct if_ds *)d;
    if ((unsigned)s >= 3 || i >= ds->count[s])
        return coop_fail(e, COOP_E_INVAL, "image_folder: item %zu of split %d out of range", i,
                         (int)s);
    *out = ds->items[s][i];
    return 0;
}

static const char *if_template(const struct coop_dataset *d)
{
    return ((const struct if_ds *)d)->template_text;
}

static const struct coop_dataset_ops if_ops = {
    .version = COOP_DATASET_OPS_VERSION,
    .params = if_params,
    .open = if_open,
    .close = if_close,
    .num_classes = if_num_classes,
    .class_name = if_class_name,
    .split_size = if_split_size,
    .get_item = if_get_item,
    .default_template = if_template,
};

static const struct coop_plugin if_plugin = {
    COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "image_folder", "1.0.0",
    "images in <root>/<split>/<class>/*.jpg|png; class names from the folders", &if_ops};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t index)
{
    return index == 0 ? &if_plugin : NULL;
}
