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
    /* -1 (--quiet): errors and warnings only; 0: on a terminal one status
     * line, otherwise a line as each trial starts and ends; 1 (--verbose):
     * a line per phase and every 10th epoch */
    int verbosity;
    /* Trials to run: selected[i] non-zero for trial i of the matrix
     * (coop_run_select); NULL = every trial. */
    const unsigned char *selected;
    /* Seconds without a heartbeat after which another process takes a trial's
     * claim over (docs/cluster.md); 0 = 300. */
    double claim_timeout;
    /* Worker processes (coop-run --jobs, the YAML's jobs:); > 1: the sweep
     * forks that many, each runs the selected trials with the claims deciding
     * who runs which (threads each: the process's, set before), and the
     * summaries are added up here. Call it before any OpenMP parallel region
     * of the process (libgomp's pool does not survive fork). 0 or 1: this
     * process alone. */
    int jobs;
};

struct coop_run_failure {
    char id[17];
    char *summary; /* axes */
    char *message;
};
struct coop_run_summary {
    size_t total, ran, completed, skipped, failed;
    /* selected trials left to other processes: claimed by a live one, or
     * completed or failed by one since this run started */
    size_t elsewhere;
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

/* The pre-flight checks coop_run_sweep makes before any trial, for
 * --dry-run: opens every dataset and target of the selected trials
 * (selected NULL = all) once, listing their items; an error names the YAML
 * entry ("file:line:col: before any trial ran: dataset 'x': ..."). Classes
 * with fewer training images than the shots are warned about on out (NULL:
 * not). */
COOP_API int coop_run_preflight(const struct coop_matrix *m, const struct coop_registry *reg,
                                const unsigned char *selected, FILE *out,
                                struct coop_err *e);

/* Runs the sweep. Returns 0 when the sweep itself could run (trial failures
 * are counted in the summary, not returned), COOP_E_INTERRUPTED when
 * cancelled (the trial in flight is abandoned, nothing completed is lost). */
COOP_API int coop_run_sweep(const struct coop_matrix *m, const struct coop_registry *reg,
                            const struct coop_run_options *o, struct coop_run_summary *s,
                            struct coop_err *e);


/* ---- selecting trials (--shard, --trial, --where) ----------------------------- */
struct coop_run_selection {
    int shard_index, shard_count; /* shard I of N (1 <= I <= N); N = 0: no sharding */
    const char *const *trial_ids; /* exact ids; n_trial_ids = 0: any */
    size_t n_trial_ids;
    /* conditions "AXIS=VALUE[|VALUE...][,AXIS=...]" on the axes --dry-run shows
     * (dataset=, method=, n_ctx=, shots=, seed=, ...); all must hold */
    const char *const *where;
    size_t n_where;
};
/* Fills keep[0..count) (1 = taken) and *n_kept. A trial is taken when it
 * passes every part of sel (NULL: all). An id no trial has, an axis no trial
 * has, or a condition no trial meets is COOP_E_INVAL naming it. */
COOP_API int coop_run_select(const struct coop_matrix *m, const struct coop_run_selection *sel,
                             unsigned char *keep, size_t *n_kept, struct coop_err *e);
/* The shard (1..n) of a trial id: the id's first 15 hex digits modulo n, so
 * a trial's shard depends on its id and n alone. */
COOP_API int coop_run_shard_of(const char *trial_id, int n);
/* Parses "I/N" (1 <= I <= N). */
COOP_API int coop_run_parse_shard(const char *s, int *index, int *count, struct coop_err *e);

/* ---- the state of a sweep across processes and hosts (--status) ------------------ */
enum coop_run_trial_status {
    COOP_RUN_TODO = 0,    /* no result yet, no live claim */
    COOP_RUN_DONE = 1,    /* completed */
    COOP_RUN_RUNNING = 2, /* claimed by a live process */
    COOP_RUN_FAILED = 3,  /* its results file says failed */
};
struct coop_run_trial_info {
    enum coop_run_trial_status status;
    char host[256];  /* RUNNING, or the last holder of a dead claim (TODO) */
    long pid;
    char slurm[64];  /* "<array job>_<task>" of the holder, or "" */
    double age;      /* seconds since the holder's last heartbeat; < 0: no claim */
    char detail[512]; /* FAILED: the error; TODO after a dead claim: why it is dead */
};
/* The status of every trial i of m with keep[i] (keep NULL: all) into
 * info[i] (info holds coop_matrix_count(m); the others are left alone):
 * its results file first, then its claim, judged with claim_timeout seconds
 * (0 = 300) at one moment of the file system's clock (the mtime of a file
 * written in the results folder). counts[status] (may be NULL) tallies them. */
COOP_API int coop_run_status_all(const struct coop_matrix *m, const unsigned char *keep,
                                 double claim_timeout, struct coop_run_trial_info *info,
                                 size_t counts[4], struct coop_err *e);

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
