/* halfbuilt.c: TEST-ONLY dataset plugin "halfbuilt" that calls a function no
 * library defines, as a plugin linked against a newer coop would: dlopen
 * (RTLD_NOW) refuses the file with "undefined symbol", before any descriptor
 * can be read, so only the file name says which plugin it was. */
#include "coop/plugin.h"
int coop_test_symbol_defined_nowhere(void);
static int nc(const struct coop_dataset *ds)
{
    (void)ds;
    return coop_test_symbol_defined_nowhere();
}
static const struct coop_dataset_ops ops = {.version = 1, .num_classes = nc};
static const struct coop_plugin p = {COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "halfbuilt", "1.0",
                                     "refers to a symbol nothing defines", &ops};
__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t i)
{
    return i == 0 ? &p : 0;
}
