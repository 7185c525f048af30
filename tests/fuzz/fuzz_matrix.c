/* tests/fuzz/fuzz_matrix.c: the YAML experiment matrix as coop-run reads it:
 * coop_matrix_peek_plugin_paths on the input as a scratch file (the runner's
 * pre-pass), then coop_matrix_load_string with the resolver of the real plugin
 * registry (the build tree's plugins) and every trial's resolved fields; then
 * the words of a first line "#! KEY=VALUE ..." as command-line overrides with
 * --print-config's text kept, which must load again to the same trial ids.
 * The input stands for experiments/fuzz.yaml, so the shipped experiments'
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

#define FUZZ_NAME COOP_SOURCE_ROOT "/experiments/fuzz.yaml"

/* Overrides from a first line "#! A=1 B=2" (up to 8), then the printed
 * config loads to the same trials. */
static void overrides_round_trip(const char *text, size_t size)
{
    char line[512];
    const char *ov[8];
    size_t n = 0, len = 0;
    if (size < 3 || memcmp(text, "#! ", 3) != 0)
        return;
    while (3 + len < size && len + 1 < sizeof line && text[3 + len] != '\n' && text[3 + len])
        len++;
    memcpy(line, text + 3, len);
    line[len] = '\0';
    for (char *w = strtok(line, " "); w && n < 8; w = strtok(NULL, " "))
        ov[n++] = w;
    struct coop_matrix_options o = {.overrides = ov, .n_overrides = n, .keep_yaml = true};
    struct coop_matrix *a = NULL, *b = NULL;
    struct coop_err e;
    if (coop_matrix_load_string_opts(text, size, FUZZ_NAME, &resolver, &o, &a, &e) != 0)
        return;
    const char *y = coop_matrix_yaml(a);
    if (coop_matrix_load_string(y, strlen(y), FUZZ_NAME, &resolver, &b, &e) != 0) {
        fprintf(stderr, "fuzz_matrix: printed config does not load: %s\n%s", e.msg, y);
        abort();
    }
    size_t na = coop_matrix_count(a);
    if (coop_matrix_count(b) != na)
        abort();
    for (size_t i = 0; i < na; i++)
        if (strcmp(coop_matrix_trial(a, i)->id, coop_matrix_trial(b, i)->id) != 0)
            abort();
    coop_matrix_free(a);
    coop_matrix_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    overrides_round_trip((const char *)data, size);
    struct coop_matrix *m = NULL;
    struct coop_err e;
    char path[1100], **paths;
    size_t np;
    fuzz_write(path, sizeof path, "fuzz.yaml", data, size);
    if (coop_matrix_peek_plugin_paths(path, &paths, &np, &e) == 0)
        coop_matrix_free_paths(paths, np);
    if (coop_matrix_load_string((const char *)data, size, FUZZ_NAME, &resolver, &m, &e) != 0)
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
