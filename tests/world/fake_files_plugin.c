/* fake_files_plugin.c: a test-only dataset plugin whose items are files
 * under data_root (train: a.png, b.png; test: c.png), to check that
 * coop-export-dataset copies path-backed items byte for byte. */
#include "coop/plugin.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coop_dataset {
    char paths[3][1024];
};

static const char *const files[3] = {"a.png", "b.png", "c.png"};
static const char *const ids[3] = {"cats/a.png", "dogs/b.png", "cats/c.png"};
static const int labels[3] = {0, 1, 0};

static int fk_open(const struct coop_host *host, const char *root, const struct coop_params *o,
                   struct coop_dataset **out, struct coop_err *e)
{
    (void)host;
    (void)o;
    if (!root)
        return coop_fail(e, COOP_E_INVAL, "test-files needs a data root");
    struct coop_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return coop_fail(e, COOP_E_NOMEM, "test-files");
    for (int i = 0; i < 3; i++)
        snprintf(ds->paths[i], sizeof ds->paths[i], "%s/%s", root, files[i]);
    *out = ds;
    return COOP_OK;
}

static void fk_close(struct coop_dataset *ds) { free(ds); }
static int fk_num_classes(const struct coop_dataset *ds) { (void)ds; return 2; }
static const char *fk_class_name(const struct coop_dataset *ds, int k)
{
    (void)ds;
    return k == 0 ? "cat" : k == 1 ? "dog" : NULL;
}
static size_t fk_split_size(const struct coop_dataset *ds, enum coop_split s)
{
    (void)ds;
    return s == COOP_SPLIT_TRAIN ? 2 : s == COOP_SPLIT_TEST ? 1 : 0;
}
static int fk_get_item(const struct coop_dataset *ds, enum coop_split s, size_t i,
                       struct coop_item *out, struct coop_err *e)
{
    if (i >= fk_split_size(ds, s))
        return coop_fail(e, COOP_E_INVAL, "test-files: item %zu out of range", i);
    size_t k = s == COOP_SPLIT_TEST ? 2 : i;
    out->label = labels[k];
    out->path = ds->paths[k];
    out->id = ids[k];
    out->version = COOP_ITEM_VERSION;
    return COOP_OK;
}

static const struct coop_dataset_ops ops = {
    COOP_DATASET_OPS_VERSION, NULL, fk_open, fk_close, fk_num_classes, fk_class_name,
    fk_split_size, fk_get_item, NULL, NULL, NULL, NULL, NULL};
static const struct coop_plugin desc = {COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "test-files", "0",
                                        "test-only file-backed dataset", &ops};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t index)
{
    return index == 0 ? &desc : NULL;
}
