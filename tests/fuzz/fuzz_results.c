/* tests/fuzz/fuzz_results.c: a trial's HDF5 results file as the tools read
 * it: coop_results_state (coop-run's skip / resume check) and
 * coop_report_generate (coop-report without figures) on a results folder that
 * holds the input as its one trial file. HDF5 reads files only, so the input
 * goes through a scratch folder. */
#include "fuzz_util.h"
#include "coop/report.h"
#include "coop/results.h"
#include "coop/util.h"

static char results_dir[1100], report_dir[1100];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct coop_err e;
    snprintf(results_dir, sizeof results_dir, "%s/results", fuzz_scratch());
    snprintf(report_dir, sizeof report_dir, "%s/report", fuzz_scratch());
    if (coop_mkdirs(results_dir, &e) != 0) {
        fprintf(stderr, "fuzz_results: %s\n", e.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1200];
    struct coop_err e;
    fuzz_write(path, sizeof path, "results/0123456789abcdef.h5", data, size);
    enum coop_trial_state st;
    char msg[256];
    coop_results_state(results_dir, "0123456789abcdef", &st, msg, sizeof msg, &e);
    struct coop_report_options opt = {results_dir, report_dir, false};
    struct coop_report_output out;
    if (coop_report_generate(&opt, &out, &e) == 0)
        coop_report_output_free(&out);
    return 0;
}
