/* coop/run.h: the sweep. Runs every trial of an expanded matrix: skip trials
 * whose results say "completed" (unless forced), run the others one by one
 * (backbone and datasets kept open across trials, image features cached on
 * disk), record failures and go on, stop cleanly on cancel. Each trial's
 * results go to <results_dir>/<experiment>/<trial_id>.h5 (coop/results.h). */
#ifndef COOP_RUN_H
#define COOP_RUN_H

#include "coop/loader.h"
#include "coop/matrix.h"
#include <stdbool.h>
#include <stdio.h>

struct coop_run_options {
    bool force;             /* re-run completed trials */
    const char *cache_dir;  /* feature and few-shot caches; NULL = <results_dir>/.cache */
    bool tty;               /* redraw one progress line (terminal) instead of log lines */
    FILE *out;              /* progress and log output (stderr) */
    const volatile int *cancel; /* set by a signal handler: stop after abandoning the trial */
    int threads;            /* recorded in results (OMP/BLAS threads) */
};

struct coop_run_failure {
    char id[17];
    char *summary; /* axes */
    char *message;
};
struct coop_run_summary {
    size_t total, ran, completed, skipped, failed;
    /* result files in results_dir that no trial of this matrix names (other
     * settings, plugin parameters or experiments written to the same folder);
     * coop-report reads every file there, so they show up in its tables */
    size_t foreign;
    bool interrupted;
    double seconds;
    struct coop_run_failure *failures; /* [failed] */
    char *results_dir;                 /* <results_dir>/<experiment> */
};
COOP_API void coop_run_summary_free(struct coop_run_summary *s);

/* A matrix resolver backed by a plugin registry (for coop_matrix_load). */
COOP_API void coop_run_resolver(const struct coop_registry *reg, struct coop_matrix_resolver *out);

/* Runs the sweep. Returns 0 when the sweep itself could run (trial failures
 * are counted in the summary, not returned), COOP_E_INTERRUPTED when
 * cancelled (the trial in flight is abandoned, nothing completed is lost). */
COOP_API int coop_run_sweep(const struct coop_matrix *m, const struct coop_registry *reg,
                            const struct coop_run_options *o, struct coop_run_summary *s,
                            struct coop_err *e);


/* ---- evaluating stored learned prompts ------------------------------------- */
/* Re-evaluates the learned context stored in a prompt trial's results file on
 * another dataset's test split, without retraining: the backbone, method and
 * parameters are read back from the file; the prompts are rebuilt from the
 * dataset's class names (class-specific context follows the dataset's class
 * mapping when it declares one). Writes <out_dir>/<trial_id>-on-<dataset>.h5
 * (eval/<dataset>/ as in a trial file) when out_dir is non-NULL. */
struct coop_eval_request {
    const char *results_file;
    const char *dataset;
    const char *data_root;  /* may be NULL */
    const char *out_dir;    /* may be NULL */
    const char *cache_dir;  /* feature cache; NULL = <dir of results_file>/../.cache */
};
COOP_API int coop_run_eval_stored(const struct coop_eval_request *q,
                                  const struct coop_registry *reg,
                                  const struct coop_run_options *o, double *accuracy,
                                  double *macro_f1, struct coop_err *e);
#endif
