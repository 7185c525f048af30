/* run_internal.h: state shared by the sweep's files (not installed). The
 * files call downwards only: sweep.c and evalstored.c -> trial.c ->
 * runtime.c -> progress.c. */
#ifndef COOP_RUN_INTERNAL_H
#define COOP_RUN_INTERNAL_H

#include "coop/data.h"
#include "coop/featcache.h"
#include "coop/results.h"
#include "coop/run.h"
#include "coop/train.h"

#define RT_MAX_DS 32
#define RT_MAX_FC 64

struct rt_dataset {
    char *key;                    /* name + params + data_root */
    const struct coop_plugin *plugin;
    struct coop_dataset_ref ref;
    char *split_hash[3];          /* sha256 of the split's item ids (lazily) */
    /* A class subset (subset.c): item i of split s is parent's item map[s][i];
     * features are looked up in the parent's caches. NULL for datasets. */
    struct rt_dataset *parent;
    const size_t *map[3];
};

#define RT_MAX_ETA 64
/* Trial durations of one method: the ETA's estimate for its trials left. */
struct rt_eta {
    const char *method;
    size_t left, done; /* trials still to run after the current one; trials timed */
    double seconds;    /* the timed trials' total */
};

struct rt_cache {
    char *key;
    struct coop_featcache *fc;
};

struct rt {
    const struct coop_registry *reg;
    const struct coop_run_options *o;
    struct coop_host host;
    char *cache_dir;
    /* backbone kept open across trials */
    char *bb_key;
    const struct coop_plugin *bb_plugin;
    struct coop_backbone_ref bb;
    struct coop_backbone_info info;
    struct rt_dataset ds[RT_MAX_DS];
    int nds;
    struct rt_cache fc[RT_MAX_FC];
    int nfc;
    double crop_scale; /* the current trial's augment.crop_scale (set by its runner) */
    /* progress */
    size_t trial_no, n_trials;
    const char *phase;
    char axes[256];      /* the trial's label: its axes that vary among the selected trials */
    char *constant_axes; /* " k=v k=v " of the axes every selected trial shares */
    double sweep_t0, trial_t0;
    struct rt_eta eta[RT_MAX_ETA]; /* per method, for the ETA */
    int neta, cur_eta;
    int epoch, epochs;
};

/* progress.c: the progress line (phase = what the trial does now) and log
 * lines that do not break it; both print only when the options have an out. */
void coop_rt_progress(struct rt *rt, const char *phase);
void coop_rt_log(struct rt *rt, const char *fmt, ...) COOP_PRINTF(2, 3);
/* A log line that is no error or warning: left out under --quiet. */
void coop_rt_info(struct rt *rt, const char *fmt, ...) COOP_PRINTF(2, 3);
/* Before the first trial: the selected trials' constant axes (sel[i]: trial
 * i is selected; NULL = every trial) and the trials to run per method
 * (runs[i]: trial i is not completed yet). */
int coop_rt_plan(struct rt *rt, const struct coop_matrix *m, const unsigned char *sel,
                 const bool *runs);
/* Trial t is next (its label, the ETA's method), and whether it runs. */
void coop_rt_trial_next(struct rt *rt, const struct coop_trial *t);
/* The trial begun by coop_rt_trial_next ran to an end after `seconds`. */
void coop_rt_trial_timed(struct rt *rt, double seconds);
/* Seconds the current trial has run (for its end line). */
double coop_rt_trial_seconds(const struct rt *rt);

/* preflight.c: opens the datasets and targets of the trials with runs[i]
 * (kept open for them); an error names the YAML entry; warns once per
 * dataset about classes with fewer training images than the largest shots. */
int coop_rt_preflight(struct rt *rt, const struct coop_matrix *m, const bool *runs,
                      struct coop_err *e);

/* runtime.c: the state kept across trials. */
void coop_rt_init(struct rt *rt, const struct coop_registry *reg,
                  const struct coop_run_options *o, const char *cache_dir);
int coop_rt_backbone(struct rt *rt, const struct coop_trial *t, struct coop_err *e);
int coop_rt_dataset(struct rt *rt, const char *name, const struct coop_params *params,
                    const char *data_root, struct rt_dataset **out, struct coop_err *e);
/* Domain-shift target k of trial t, opened with the source dataset's options
 * that the target's own parameter spec declares (a world target follows its
 * source's seed, image size and split choice; a target of another plugin
 * gets only the keys it knows). */
int coop_rt_target(struct rt *rt, const struct coop_trial *t, size_t k, struct rt_dataset **out,
                   struct coop_err *e);
/* Whether every option is at its plugin default (canonical text). */
bool coop_rt_default_options(const struct rt_dataset *d, const struct coop_params *params);
/* The few-shot cache identity's source text for an open dataset: plugin name
 * and version, options, data root and the SHA-256 of the train and val
 * listings, malloc'd into *out. */
int coop_rt_fewshot_source(struct rt_dataset *d, const struct coop_params *params,
                           const char *data_root, char **out, struct coop_err *e);
/* Unnormalised image features of items idx[0..n) of a split, view 0 = eval
 * transform, view v > 0 = the v-th seeded training augmentation (cached);
 * view < 0 = a fresh augmentation from rng (online mode, not cached). */
int coop_rt_features(struct rt *rt, struct rt_dataset *d, enum coop_split split,
                     const size_t *idx, size_t n, int view, struct coop_rng *rng, float *out,
                     struct coop_err *e);
void coop_rt_free(struct rt *rt);

/* subset.c: the base-to-new split of parent into *out (new_classes false:
 * labels 0..ceil(K/2)-1, true: the rest), relabelled from 0. *out points
 * into rt->ds, so no coop_rt_dataset call (which may move it) may come
 * while it lives: one trial's evaluation, which has no targets; free with
 * coop_rt_subset_free. */
int coop_rt_subset(struct rt_dataset *parent, bool new_classes, struct rt_dataset *out,
                   struct coop_err *e);
void coop_rt_subset_free(struct rt_dataset *d);

/* trial.c: one trial, and the pieces coop_run_eval_stored reuses. */
/* The trained method, whichever kind. */
struct method {
    const struct coop_plugin *plugin;
    const struct coop_prompt_ops *pops;
    struct coop_prompt *prompt;
    const struct coop_baseline_ops *bops;
    struct coop_baseline *base;
    int K; /* classes it was built for (source) */
};
void coop_run_method_free(struct method *m);
const char **coop_run_class_names(struct rt_dataset *d, int *K, struct coop_err *e);
/* The dataset's own ensemble templates (dataset ops version 2), or NULL. */
const char *const *coop_run_ensemble_templates(struct coop_dataset_ref d);
/* Evaluates m on d's test split and writes eval/<label>/ to w. */
int coop_run_evaluate(struct rt *rt, struct method *m, struct rt_dataset *d, bool is_target,
                      const char *label, struct coop_results_writer *w,
                      struct coop_metrics *out, struct coop_err *e);
int coop_run_trial(struct rt *rt, const struct coop_trial *t, struct coop_results_writer *w,
                   struct coop_err *e);

/* ---- sweep.c, jobs.c ------------------------------------------------------ */
/* The sweep in this process alone (coop_run_sweep with o->jobs <= 1). */
int coop_run_sweep_one(const struct coop_matrix *m, const struct coop_registry *reg,
                       const struct coop_run_options *o, struct coop_run_summary *s,
                       struct coop_err *e);
/* The sweep in o->jobs forked workers, their summaries added up into s. */
int coop_run_sweep_jobs(const struct coop_matrix *m, const struct coop_registry *reg,
                        const struct coop_run_options *o, struct coop_run_summary *s,
                        struct coop_err *e);
/* The trials of m that selected (NULL: all) takes. */
size_t coop_run_selected_count(const struct coop_matrix *m, const unsigned char *selected);

#endif
