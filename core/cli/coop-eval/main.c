/* coop-eval: evaluates learned context stored in a trial's results file on
 * another dataset, without retraining. Thin wrapper over coop_run_eval_stored. */
#include "coop/cpu.h"
#include "coop/loader.h"
#include "coop/run.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: coop-eval --results TRIAL.h5 --dataset NAME [--data-root DIR]\n"
               "                 [--out DIR] [--cache DIR] [--plugin-path P]... [--threads N]\n"
               "       coop-eval --prompt PROMPT.h5 --dataset NAME ...\n"
               "  --prompt FILE    a prompt file (coop-prompt --export) instead of a trial's\n"
               "                   results file\n"
               "  --threads N      OpenMP and OpenBLAS threads (default: OMP_NUM_THREADS, else\n"
               "                   one per CPU)\n"
               "Rebuilds the stored prompt learner for NAME's class names and prints its\n"
               "test accuracy and macro-F1; with --out, also writes\n"
               "DIR/<trial_id>-on-<NAME>.h5 (schema as in docs/results.md). NAME is checked\n"
               "against the dataset plugins first (with a suggestion for a misspelt one).\n"
               "  --version, --help\n"
               "Example:\n"
               "  coop-eval --results results/fewshot/<trial_id>.h5 --dataset world-shapes-v2\n"
               "  coop-eval --prompt ctx.h5 --dataset world-shapes-v2\n"
               "Exit status: 0 evaluated, 1 the evaluation failed (out of memory, non-finite\n"
               "numbers), 2 usage or input error (bad option, unknown dataset, a results file\n"
               "that cannot be read or holds no stored context, an --out folder that cannot\n"
               "be written), 130 interrupted.\n");
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    if (coop_verbose())
        fprintf(stderr, "coop-eval: %s\n", blas);
    struct coop_eval_request q = {0};
    const char *extra[64];
    size_t n_extra = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--version")) { printf("coop-eval %s\n", coop_version_string()); return 0; }
        static const char *const known[] = {"--results", "--dataset", "--data-root", "--out",
                                            "--cache", "--plugin-path", "--prompt", "--threads",
                                            "--help", "--version"};
        /* every option but the last two (--help, --version) takes a value */
        const size_t n_known = sizeof known / sizeof known[0], n_valued = n_known - 2;
        size_t k = 0;
        while (k < n_valued && strcmp(a, known[k]) != 0)
            k++;
        if (k == n_valued) {
            const char *s = coop_suggest(a, known, n_known);
            fprintf(stderr, "coop-eval: unknown option %s%s%s%s\n", a, s ? " (did you mean " : "",
                    s ? s : "", s ? "?)" : "");
            usage(stderr);
            return 2;
        }
        if (!v) { fprintf(stderr, "coop-eval: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--results") || !strcmp(a, "--prompt")) {
            if (q.results_file) { fprintf(stderr, "coop-eval: give one of --results and --prompt, once\n"); return 2; }
            q.results_file = v;
        }
        else if (!strcmp(a, "--dataset")) q.dataset = v;
        else if (!strcmp(a, "--data-root")) q.data_root = v;
        else if (!strcmp(a, "--out")) q.out_dir = v;
        else if (!strcmp(a, "--cache")) q.cache_dir = v;
        else if (!strcmp(a, "--threads")) {
            int t;
            if (coop_threads_parse("coop-eval", v, &t))
                return 2;
            coop_threads_set(t);
        }
        else if (n_extra < 64) extra[n_extra++] = v; /* --plugin-path */
        else { fprintf(stderr, "coop-eval: more than 64 --plugin-path values\n"); return 2; }
        i++;
    }
    if (!q.results_file || !q.dataset) {
        usage(stderr);
        return 2;
    }
    struct coop_err e = {{0}};
    struct coop_registry *reg = NULL;
    int rc = coop_registry_create(&reg, &e);
    if (rc == 0)
        rc = coop_registry_discover(reg, extra, n_extra, &e);
    double acc = 0, f1 = 0;
    struct coop_run_options o = {.out = stderr};
    if (rc == 0)
        rc = coop_run_eval_stored(&q, reg, &o, &acc, &f1, &e);
    coop_registry_free(reg);
    if (rc) {
        fprintf(stderr, "coop-eval: %s\n", e.msg);
        if (rc == COOP_E_INTERRUPTED)
            return 130;
        return rc == COOP_E_NOMEM || rc == COOP_E_NUMERIC ? 1 : 2;
    }
    printf("%s on %s: accuracy %.2f%%, macro-F1 %.2f%%\n", q.results_file, q.dataset, acc, f1);
    return 0;
}
