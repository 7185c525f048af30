/* coop/matrix.h: the YAML experiment matrix. A researcher's YAML file is
 * parsed (libyaml), validated against the plugins' parameter specs and
 * expanded into a list of fully resolved trials, each with a stable id.
 * All errors (syntax, unknown keys, types, ranges, unknown plugins, missing
 * files, hostile input) are reported before any trial starts, as
 * "file:line:column: message". The matrix never loads plugins itself: the
 * caller hands it a resolver. Nothing here does numerics, prints or exits.
 * The YAML reference is docs/experiments.md. */
#ifndef COOP_MATRIX_H
#define COOP_MATRIX_H

#include "coop/common.h"
#include "coop/plugin.h"
#include <stdbool.h>

/* Limits that keep hostile input cheap: a larger file, deeper nesting, more
 * YAML nodes or a larger expansion is refused before it is built. Aliases
 * (*name) are refused outright, so alias bombs cannot expand. */
#define COOP_MATRIX_MAX_FILE_BYTES (4u << 20)
#define COOP_MATRIX_MAX_DEPTH 64
#define COOP_MATRIX_MAX_NODES 200000
#define COOP_MATRIX_MAX_TRIALS 1000000

/* ---- how the matrix knows plugins -------------------------------------- */
struct coop_matrix_plugin_info {
    enum coop_plugin_kind kind;
    const struct coop_param_spec *params; /* COOP_PARAM_END-terminated; NULL = none */
    bool trains; /* PROMPT: true; BASELINE: needs_training_data; others ignored */
    /* PROMPT: the plugin's training recipe ({NULL, NULL}-ended; NULL = none) */
    const struct coop_kv *train_defaults;
};
struct coop_matrix_resolver {
    void *ctx;
    /* 0 if found (fills *out), COOP_E_NOTFOUND otherwise. kind_hint:
     * COOP_PLUGIN_DATASET for dataset and target names, COOP_PLUGIN_BACKBONE
     * for backbones, 0 for methods (a method is a PROMPT or BASELINE plugin).
     * The spec pointers must stay valid until coop_matrix_free. */
    int (*lookup)(void *ctx, enum coop_plugin_kind kind_hint, const char *name,
                  struct coop_matrix_plugin_info *out);
    /* Names known for a kind (for "did you mean"); returns the total count and
     * fills up to max of them. May be NULL (no suggestions). */
    size_t (*names)(void *ctx, enum coop_plugin_kind kind, const char **out, size_t max);
    /* Why no plugin of that name is available: the load failures of files
     * that would have provided it, written into why[len]; returns how many (0:
     * none known). May be NULL. */
    size_t (*rejected)(void *ctx, const char *name, char *why, size_t len);
};

/* ---- one fully resolved trial ------------------------------------------ */
struct coop_train_config {
    int epochs;        /* resolved: "auto" already replaced by the number */
    int batch_size;
    double lr, momentum, weight_decay, warmup_lr;
    int warmup_epochs;
    char schedule[16];    /* "cosine" | "constant" | "linear" */
    char warmup_type[16]; /* "constant" | "linear" */
    char optimizer[16];   /* "sgd" | "adamw" */
};
struct coop_augment_config {
    char mode[16]; /* "views" (pre-computed random views), "online", "none" */
    int views;     /* views per image for mode "views" (1 otherwise) */
    double crop_scale; /* smallest area share of the random resized crop (0.08) */
};

struct coop_trial {
    char id[17]; /* first 16 hex digits of SHA-256(config_yaml) */
    const char *experiment, *results_dir, *data_root; /* data_root may be NULL */
    /* checkpoint and vocab are absolute; vocab may be NULL */
    const char *backbone_plugin, *checkpoint, *vocab;
    struct coop_params backbone_params;               /* canonical strings, defaults filled */
    const char *dataset;
    struct coop_params dataset_params;
    const char *const *targets; /* domain-shift targets of this dataset */
    size_t n_targets;
    /* protocol: base2new: train on the base classes (the first ceil(K/2)
     * labels), evaluate on the base and the new classes' test items. */
    bool base2new;
    const char *method;
    enum coop_plugin_kind method_kind; /* COOP_PLUGIN_PROMPT or COOP_PLUGIN_BASELINE */
    struct coop_params method_params;
    bool trains;   /* false: no shots, seed, train or augment (zero-shot methods) */
    int shots;     /* 0 for non-training methods */
    int seed;      /* 0 for non-training methods */
    struct coop_train_config train;     /* zeroed for non-training methods */
    struct coop_augment_config augment; /* zeroed for non-training methods */
    /* Canonical resolved config as YAML text: stored with the results and
     * hashed for the id. Holds no experiment name, results_dir or data_root, and
     * paths exactly as written in the YAML, so moving or renaming a sweep keeps
     * its ids. */
    const char *config_yaml;
    /* Swept axes only, e.g. "dataset=oxford_pets method=coop n_ctx=16 shots=4
     * seed=1" (for --dry-run listings). */
    const char *axes_summary;
    /* The entries' labels (YAML `label:`, default the plugin name; the
     * backbone's defaults to its checkpoint file stem). Not part of the id. */
    const char *backbone_label, *dataset_label, *method_label;
    /* "file:line:col" of the trial's dataset entry in the YAML (for errors) */
    const char *dataset_at;
};

/* Opaque: owns every string and array the trials point to. */
struct coop_matrix;

/* Parses, validates and expands a YAML file. Relative paths in it
 * (checkpoint, vocab, data_root, plugin_path) are resolved against the YAML
 * file's folder; results_dir against the current directory. Returns 0 and
 * *out (free with coop_matrix_free), or an error with e->msg starting with
 * "file:line:column: ". Nothing is allocated in *out on error. */
COOP_API int coop_matrix_load(const char *path, const struct coop_matrix_resolver *r,
                              struct coop_matrix **out, struct coop_err *e);
/* Same from memory. display_name is used in messages and stands for the
 * file's location: relative paths resolve against its folder when that
 * folder exists, else against the current directory (also for NULL, shown as
 * "<string>"). The experiment name defaults to display_name's stem. */
COOP_API int coop_matrix_load_string(const char *text, size_t len, const char *display_name,
                                     const struct coop_matrix_resolver *r,
                                     struct coop_matrix **out, struct coop_err *e);
COOP_API size_t coop_matrix_count(const struct coop_matrix *m);
/* Trial i (0 <= i < count), in expansion order; NULL if out of range. The
 * pointer stays valid until coop_matrix_free. */
COOP_API const struct coop_trial *coop_matrix_trial(const struct coop_matrix *m, size_t i);
/* plugin_path entries, absolute; the array belongs to m. */
COOP_API const char *const *coop_matrix_plugin_paths(const struct coop_matrix *m, size_t *n);
COOP_API const char *coop_matrix_experiment(const struct coop_matrix *m);
/* Names of the swept axes, in expansion order (e.g. "dataset", "method",
 * "n_ctx", "shots", "seed"); the array belongs to m. */
COOP_API const char *const *coop_matrix_axes(const struct coop_matrix *m, size_t *n);
/* The top-level `threads:` (1..4096), or 0 when the file has none. Part of no
 * trial's config_yaml or id. */
COOP_API int coop_matrix_threads(const struct coop_matrix *m);
/* The top-level `jobs:` (1..256 worker processes, coop-run --jobs), or 0 when
 * the file has none. Part of no trial's config_yaml or id. */
COOP_API int coop_matrix_jobs(const struct coop_matrix *m);
COOP_API void coop_matrix_free(struct coop_matrix *m);

/* ---- overrides and every error at once ---------------------------------- */
/* At most this many errors are collected from one file; parsing stops there. */
#define COOP_MATRIX_MAX_ERRORS 20
struct coop_matrix_options {
    /* "KEY=VALUE" overrides, applied in order to the file's YAML before it is
     * validated, as if the file had been edited (docs/experiments.md,
     * "Overrides"): KEY is a dotted path (train.lr, methods.coop.n_ctx,
     * datasets.0.options.n), VALUE is YAML ([1, 2], 0.01, "text"); "~KEY"
     * removes a key or list item. Errors in them are named
     * "override N 'KEY=VALUE': ". */
    const char *const *overrides;
    size_t n_overrides;
    /* Called once per error, in file order (at most COOP_MATRIX_MAX_ERRORS).
     * NULL: the errors are joined into e->msg, one a line, as far as they fit. */
    void (*on_error)(void *ctx, const char *msg);
    void *ctx;
    /* keep the experiment as YAML after the overrides (coop_matrix_yaml) */
    bool keep_yaml;
};

/* coop_matrix_load with options (NULL = none). Every error found is reported
 * (see on_error), not only the first; the return value is the first one's
 * code, and e->msg holds that error alone when there is one, else
 * "FILE: N errors" (with on_error) or all of them joined. */
COOP_API int coop_matrix_load_opts(const char *path, const struct coop_matrix_resolver *r,
                                   const struct coop_matrix_options *o,
                                   struct coop_matrix **out, struct coop_err *e);
COOP_API int coop_matrix_load_string_opts(const char *text, size_t len,
                                          const char *display_name,
                                          const struct coop_matrix_resolver *r,
                                          const struct coop_matrix_options *o,
                                          struct coop_matrix **out, struct coop_err *e);
/* With keep_yaml: the experiment after the overrides as YAML text that loads
 * (saved next to the original file, whose folder relative paths resolve
 * against) into the same trials with the same ids; the experiment name is
 * written out. NULL without keep_yaml. Belongs to m. */
COOP_API const char *coop_matrix_yaml(const struct coop_matrix *m);

/* Cheap pre-pass for the runner, which needs plugin_path before it can build
 * a resolver: parses the file (same limits) and returns only the plugin_path
 * entries, made absolute against the YAML's folder and checked to exist.
 * *paths is malloc'd (free with coop_matrix_free_paths); *n may be 0. */
COOP_API int coop_matrix_peek_plugin_paths(const char *path, char ***paths, size_t *n,
                                           struct coop_err *e);
COOP_API void coop_matrix_free_paths(char **paths, size_t n);

/* The published CoOp rule for max epochs: 1 shot -> 50, 2 and 4 -> 100,
 * 8 and 16 (and more) -> 200. shots <= 0 -> 0. */
COOP_API int coop_train_epochs_auto(int shots);

#endif
