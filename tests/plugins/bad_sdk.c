/* bad_sdk.c: TEST-ONLY descriptors the loader must refuse, one per version
 * rule of plugin.h, for test_abi.c: another major, a newer minor than the
 * host, an ops table older than the host drives, a required member NULL.
 * Never installed; its file name does not end in .so, so no folder scan
 * picks it up. */
#include "coop/plugin.h"
#include <stdlib.h>

static int ds_open(const struct coop_host *host, const char *root,
                   const struct coop_params *opts, struct coop_dataset **out, struct coop_err *e)
{
    return coop_fail(e, COOP_E_UNSUPPORTED, "bad_sdk: never opened");
}
static void ds_close(struct coop_dataset *ds) {}
static int ds_num_classes(const struct coop_dataset *ds) { return 0; }
static const char *ds_class_name(const struct coop_dataset *ds, int k) { return NULL; }
static size_t ds_split_size(const struct coop_dataset *ds, enum coop_split s) { return 0; }
static int ds_get_item(const struct coop_dataset *ds, enum coop_split s, size_t i,
                       struct coop_item *out, struct coop_err *e)
{
    return coop_fail(e, COOP_E_INVAL, "bad_sdk: no items");
}

/* A complete table: only the descriptors' versions are wrong. */
static const struct coop_dataset_ops complete = {
    .version = COOP_DATASET_OPS_VERSION, .open = ds_open, .close = ds_close,
    .num_classes = ds_num_classes, .class_name = ds_class_name, .split_size = ds_split_size,
    .get_item = ds_get_item};
static const struct coop_dataset_ops version0 = {
    .version = 0, .open = ds_open, .close = ds_close, .num_classes = ds_num_classes,
    .class_name = ds_class_name, .split_size = ds_split_size, .get_item = ds_get_item};
static const struct coop_dataset_ops no_get_item = {
    .version = COOP_DATASET_OPS_VERSION, .open = ds_open, .close = ds_close,
    .num_classes = ds_num_classes, .class_name = ds_class_name, .split_size = ds_split_size};

static const struct coop_plugin plugins[] = {
    {COOP_PLUGIN_ABI_VERSION(COOP_PLUGIN_ABI_MAJOR + 1, 0), COOP_PLUGIN_DATASET,
     "bad_sdk_next_major", "1.0", "built against the next major", &complete},
    {COOP_PLUGIN_ABI_VERSION(COOP_PLUGIN_ABI_MAJOR, COOP_PLUGIN_ABI_MINOR + 1),
     COOP_PLUGIN_DATASET, "bad_sdk_next_minor", "1.0", "built against a newer minor", &complete},
    {COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "bad_sdk_table0", "1.0", "ops table version 0",
     &version0},
    {COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "bad_sdk_no_get_item", "1.0",
     "required member missing", &no_get_item}};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t i)
{
    return i < sizeof plugins / sizeof *plugins ? &plugins[i] : NULL;
}
