/* tests/fuzz/fuzz_results.c: a trial's HDF5 results file as the tools read
 * it: coop_results_state (coop-run's skip / resume check), coop_rp_load (how
 * coop_report_generate loads a results folder) on a folder that holds the
 * input as its one trial file, then every attribute and dataset through the
 * reader. Each input of at least the user block's size is sealed before it is
 * written (its first 512 bytes become a valid seal of the rest), so inputs go
 * to libhdf5 and core/results/ as a file crafted with a good seal would; the
 * corpus is sealed files whose HDF5 superblock starts after the user block.
 * HDF5 reads files only, so the input goes through a scratch folder.
 * (The whole coop_report_generate also writes tables and an export per input,
 * which makes it 4 times slower.) */
#include "fuzz_util.h"
#include "coop/results.h"
#include "coop/util.h"
#include "../../core/report/report_internal.h"
#include "../../core/results/h5_internal.h"
#include <string.h>

static char results_dir[1100];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct coop_err e;
    snprintf(results_dir, sizeof results_dir, "%s/results", fuzz_scratch());
    if (coop_mkdirs(results_dir, &e) != 0) {
        fprintf(stderr, "fuzz_results: %s\n", e.msg);
        abort();
    }
    return 0;
}

static void read_dataset(struct coop_results_reader *r, const char *path)
{
    struct coop_err e;
    size_t shape[COOP_RESULTS_MAX_RANK], n = 1;
    int rank;
    char **s;
    double *d, v;
    if (coop_results_read_strings(r, path, &s, &rank, shape, &e) == 0) {
        for (int i = 0; i < rank; i++)
            n *= shape[i];
        coop_results_free_strings(s, n);
    } else if (coop_results_read_f64(r, path, &d, &rank, shape, &e) == 0) {
        free(d);
    }
    coop_results_read_scalar(r, path, &v, &e);
}

static void walk(struct coop_results_reader *r, const char *group, int depth)
{
    struct coop_err e;
    char **names;
    size_t n;
    if (depth > 8 || coop_results_list(r, group, &names, &n, &e) != 0) {
        read_dataset(r, group);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *child = coop_asprintf("%s%s%s", group, strcmp(group, "/") ? "/" : "", names[i]);
        if (!child)
            abort();
        walk(r, child, depth + 1);
        free(child);
    }
    coop_results_free_strings(names, n);
}

static void read_file(const char *path)
{
    struct coop_err e;
    struct coop_results_reader *r;
    if (coop_results_open(path, &r, &e) != 0)
        return;
    char **names, *s;
    size_t n;
    int64_t i64;
    double d;
    if (coop_results_attr_names(r, &names, &n, &e) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (coop_results_read_attr_str(r, names[i], &s, &e) == 0)
                free(s);
            coop_results_read_attr_int(r, names[i], &i64, &e);
            coop_results_read_attr_double(r, names[i], &d, &e);
        }
        coop_results_free_strings(names, n);
    }
    walk(r, "/", 0);
    coop_results_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1200];
    struct coop_err e;
    unsigned char *img = malloc(size ? size : 1);
    if (!img)
        abort();
    memcpy(img, data, size);
    if (size >= COOP_H5_USERBLOCK)
        coop_h5_seal(img, size);
    fuzz_write(path, sizeof path, "results/0123456789abcdef.h5", img, size);
    free(img);
    enum coop_trial_state st;
    char msg[256];
    coop_results_state(results_dir, "0123456789abcdef", &st, msg, sizeof msg, &e);
    struct rp_set set;
    if (coop_rp_load(&set, results_dir, &e) == 0)
        coop_rp_set_free(&set);
    read_file(path);
    return 0;
}
