/* bad_abi.c: TEST-ONLY plugin claiming a future ABI, for the loader's checks. */
#include "coop/plugin.h"
static const struct coop_dataset_ops ops = {.version = 1};
static const struct coop_plugin p = {COOP_PLUGIN_ABI_VERSION(COOP_PLUGIN_ABI_MAJOR + 1, 0),
                                     COOP_PLUGIN_DATASET, "future", "9.0",
                                     "built against a newer ABI", &ops};
__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t i)
{
    return i == 0 ? &p : 0;
}
