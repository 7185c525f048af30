/* zhou.c: datasets described by a split_zhou_*.json file:
 *   {"train": [[relative_path, label, classname], ...], "val": [...], "test": [...]}
 * Paths are relative to the image folder (absolute paths and '..' are
 * refused); class k's name is the classname of
 * its entries (every entry with label k must agree); C = max label + 1 and
 * every label in 0..C-1 must occur. */
#include "layouts.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZHOU_MAX_BYTES ((size_t)1 << 29)
#define ZHOU_MAX_LABEL 1000000

static const char *const zhou_keys[3] = {"train", "val", "test"};

/* Where a class name was first seen, for mismatch messages. */
struct zhou_first {
    int split, line;
    size_t entry;
};

static int zhou_entry_ok(const struct coop_json *ent, long long *label)
{
    return ent->type == COOP_JSON_ARRAY && ent->len == 3 &&
           ent->items[0].type == COOP_JSON_STRING && ent->items[0].len > 0 &&
           coop_json_int(&ent->items[1], 0, ZHOU_MAX_LABEL, label) &&
           ent->items[2].type == COOP_JSON_STRING && ent->items[2].len > 0;
}

/* Checks the shape of every entry and finds the number of classes. */
static int zhou_scan(const struct coop_json *arr[3], const char *file, int *C, struct coop_err *e)
{
    long long maxl = -1, l;
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < arr[s]->len; i++) {
            const struct coop_json *ent = &arr[s]->items[i];
            if (!zhou_entry_ok(ent, &l))
                return coop_fail(e, COOP_E_FORMAT,
                                 "%s:%d:%d: %s entry %zu: expected [\"relative/path\", label "
                                 "(integer 0..%d), \"classname\"]",
                                 file, ent->line, ent->col, zhou_keys[s], i, ZHOU_MAX_LABEL);
            if (l > maxl)
                maxl = l;
        }
    if (maxl < 0)
        return coop_fail(e, COOP_E_FORMAT, "%s: no entries in train, val or test", file);
    *C = (int)maxl + 1;
    return 0;
}

/* Assigns class names and checks label <-> classname consistency. */
static int zhou_names(struct lay_ds *ds, const struct coop_json *arr[3], const char *file,
                      struct zhou_first *first, struct coop_err *e)
{
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < arr[s]->len; i++) {
            const struct coop_json *ent = &arr[s]->items[i];
            int l = (int)ent->items[1].number;
            const char *name = ent->items[2].str;
            if (!ds->names[l]) {
                if (!(ds->names[l] = lay_strndup(ds, name, strlen(name))))
                    return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
                first[l] = (struct zhou_first){s, ent->line, i};
            } else if (strcmp(ds->names[l], name) != 0) {
                return coop_fail(e, COOP_E_FORMAT,
                                 "%s:%d:%d: %s entry %zu (%s): label %d has class name '%s' "
                                 "here but '%s' in %s entry %zu (line %d)",
                                 file, ent->line, ent->col, zhou_keys[s], i, ent->items[0].str, l,
                                 name, ds->names[l], zhou_keys[first[l].split], first[l].entry,
                                 first[l].line);
            }
        }
    for (int k = 0; k < ds->num_classes; k++)
        if (!ds->names[k])
            return coop_fail(e, COOP_E_FORMAT,
                             "%s: no entry has label %d (labels must run 0..%d without gaps)",
                             file, k, ds->num_classes - 1);
    for (int k = 0; k < ds->num_classes; k++)
        for (int j = 0; j < k; j++)
            if (strcmp(ds->names[j], ds->names[k]) == 0 && ds->host && ds->host->log) {
                char msg[COOP_ERR_MAX];
                snprintf(msg, sizeof msg, "%s: labels %d and %d share the class name '%s': "
                         "their prompts will be identical", file, j, k, ds->names[k]);
                ds->host->log(ds->host->ctx, COOP_LOG_WARN, msg);
            }
    return 0;
}

static int zhou_items(struct lay_ds *ds, const struct coop_json *arr[3], const char *file,
                      struct coop_err *e)
{
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < arr[s]->len; i++) {
            const struct coop_json *ent = &arr[s]->items[i];
            const char *out = coop_relpath_escapes(ent->items[0].str);
            if (out)
                return coop_fail(e, COOP_E_FORMAT,
                                 "%s:%d:%d: %s entry %zu: image path '%.200s' %s; paths must "
                                 "stay inside %s",
                                 file, ent->line, ent->col, zhou_keys[s], i, ent->items[0].str,
                                 out, ds->imgdir);
            int rc = lay_add(ds, (enum coop_split)s, (int)ent->items[1].number,
                             ent->items[0].str, e);
            if (rc)
                return rc;
            const char *path = ds->split[s].v[ds->split[s].n - 1].path;
            if (ds->check_files && access(path, F_OK) != 0)
                return coop_fail(e, COOP_E_NOTFOUND,
                                 "%s:%d:%d: %s entry %zu lists image %s, which does not exist",
                                 file, ent->line, ent->col, zhou_keys[s], i, path);
        }
    return 0;
}

int lay_load_zhou(struct lay_ds *ds, struct coop_err *e)
{
    const char *opt = ds->split_file && ds->split_file[0] ? ds->split_file : NULL;
    char *file = opt && opt[0] == '/' ? coop_strdup(opt)
                                      : coop_asprintf("%s/%s", ds->base,
                                                      opt ? opt : ds->desc->split_file);
    if (!file)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    if (!coop_file_exists(file)) {
        int rc = lay_missing(ds, file, e);
        free(file);
        return rc;
    }
    struct coop_json *root = NULL;
    struct zhou_first *first = NULL;
    const struct coop_json *arr[3] = {NULL, NULL, NULL};
    int rc = coop_json_parse_file(&root, file, ZHOU_MAX_BYTES, e);
    if (rc == 0 && root->type != COOP_JSON_OBJECT)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: top level must be an object with train/val/test",
                       file);
    for (int s = 0; rc == 0 && s < 3; s++) {
        arr[s] = coop_json_get(root, zhou_keys[s]);
        if (!arr[s] || arr[s]->type != COOP_JSON_ARRAY)
            rc = coop_fail(e, COOP_E_FORMAT, "%s: missing array \"%s\"", file, zhou_keys[s]);
    }
    int C = 0;
    if (rc == 0)
        rc = zhou_scan(arr, file, &C, e);
    if (rc == 0)
        rc = lay_classes_alloc(ds, C, false, e);
    if (rc == 0 && !(first = calloc((size_t)C, sizeof *first)))
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
    if (rc == 0)
        rc = zhou_names(ds, arr, file, first, e);
    if (rc == 0)
        rc = zhou_items(ds, arr, file, e);
    free(first);
    coop_json_free(root);
    free(file);
    return rc;
}
