/* coop/slurm.h: a sweep as a Slurm job array (coop-run --slurm). The
 * experiment's optional `slurm:` section (not part of any trial's config, so
 * it never changes a trial id) and command-line flags give the resources;
 * coop_slurm_write makes an array script with one task per trial given (the
 * incomplete ones) and a report script; coop_slurm_submit hands a script to
 * sbatch. Each array task runs `coop-run --trial ID`, so the claims of
 * coop/run.h keep resubmissions, requeues and concurrent coop-runs from
 * computing a trial twice. docs/cluster.md is the user's guide. */
#ifndef COOP_SLURM_H
#define COOP_SLURM_H

#include "coop/common.h"
#include <stddef.h>

/* Resources; NULL / 0 = not given (sbatch's or the cluster's default). */
struct coop_slurm_config {
    char *partition, *account, *mem, *time, *job_name;
    int cpus_per_task;
    int max_parallel;  /* array tasks running at once (--array=...%P) */
    char **sbatch;     /* extra options, each written as "#SBATCH <option>" */
    size_t n_sbatch;
    char **setup;      /* shell lines run before coop-run in each task */
    size_t n_setup;
};

/* Reads the `slurm:` section of an experiment file into *c (zeroed first;
 * an absent section leaves it empty). Errors are "file:line:column: slurm:
 * ..." with a suggestion for a misspelt key. */
COOP_API int coop_slurm_config_load(const char *yaml_path, struct coop_slurm_config *c,
                                    struct coop_err *e);
COOP_API void coop_slurm_config_free(struct coop_slurm_config *c);

/* What the scripts run. Paths are used as given (make them absolute). */
struct coop_slurm_job {
    const char *yaml;        /* the experiment file */
    const char *coop_run;    /* programs the tasks start */
    const char *coop_report;
    const char *results_dir; /* <results_dir>/<experiment>: scripts go to its slurm/ */
    const char *experiment;
    const char *const *run_args; /* more coop-run options for every task (--cache ...) */
    size_t n_run_args;
    const char *const *trial_ids; /* one array task each, in this order */
    size_t n_trials;
};

/* Writes <results_dir>/slurm/array.sbatch and report.sbatch (replacing
 * earlier ones: sbatch keeps its own copy of a submitted script) and makes
 * slurm/logs/, where task i of array job J logs to J_i.log and the report
 * job to report-<job>.log. *array_path and *report_path are malloc'd. */
COOP_API int coop_slurm_write(const struct coop_slurm_config *c, const struct coop_slurm_job *j,
                              char **array_path, char **report_path, struct coop_err *e);

/* Runs `sbatch --parsable [--dependency=afterany:<after>] script` (sbatch:
 * the program, "sbatch" found on PATH when NULL) and leaves the job id in
 * job_id. COOP_E_NOTFOUND when sbatch cannot be started, COOP_E_IO when it
 * fails (its exit status and output in the message). */
COOP_API int coop_slurm_submit(const char *sbatch, const char *script, const char *after,
                               char *job_id, size_t len, struct coop_err *e);

#endif
