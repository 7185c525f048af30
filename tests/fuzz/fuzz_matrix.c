/* tests/fuzz/fuzz_matrix.c: the YAML experiment matrix as coop-run reads it:
 * coop_matrix_peek_plugin_paths on the input as a scratch file (the runner's
 * pre-pass), then coop_matrix_load_string with the resolver of the real plugin
 * registry (the build tree's plugins) and every trial's resolved fields. The
 * input stands for experiments/fuzz.yaml, so the shipped experiments'
 * relative paths (../models/...) resolve. */
#include "fuzz_util.h"
#include "coop/loader.h"
#include "coop/matrix.h"
#include "coop/run.h"
#include "coop_config.h"
#include <string.h>

static struct coop_registry *registry;
static struct coop_matrix_resolver resolver;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct coop_err e;
    if (coop_registry_create(&registry, &e) != 0 ||
        coop_registry_discover(registry, NULL, 0, &e) != 0) {
        fprintf(stderr, "fuzz_matrix: %s\n", e.msg);
        abort();
    }
    coop_run_resolver(registry, &resolver);
    return 0;
}

/* Reads every string the runner reads, so a dangling pointer shows. */
static size_t touch_trial(const struct coop_trial *t)
{
    size_t n = strlen(t->id) + strlen(t->config_yaml) + strlen(t->axes_summary) +
               strlen(t->dataset) + strlen(t->method) + strlen(t->checkpoint);
    for (size_t i = 0; i < t->n_targets; i++)
        n += strlen(t->targets[i]);
    n += t->vocab ? strlen(t->vocab) : 0;
    return n + strlen(t->backbone_label) + strlen(t->dataset_label) + strlen(t->method_label);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct coop_matrix *m = NULL;
    struct coop_err e;
    char path[1100], **paths;
    size_t np;
    fuzz_write(path, sizeof path, "fuzz.yaml", data, size);
    if (coop_matrix_peek_plugin_paths(path, &paths, &np, &e) == 0)
        coop_matrix_free_paths(paths, np);
    if (coop_matrix_load_string((const char *)data, size,
                                COOP_SOURCE_ROOT "/experiments/fuzz.yaml", &resolver, &m,
                                &e) != 0)
        return 0;
    volatile size_t sink = 0;
    size_t n = coop_matrix_count(m), na;
    for (size_t i = 0; i < n; i++)
        sink += touch_trial(coop_matrix_trial(m, i));
    const char *const *axes = coop_matrix_axes(m, &na);
    for (size_t i = 0; i < na; i++)
        sink += strlen(axes[i]);
    (void)sink;
    coop_matrix_free(m);
    return 0;
}
