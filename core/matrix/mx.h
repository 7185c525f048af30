/* mx.h (internal to core/matrix): the validated, not yet expanded model of an
 * experiment file, shared by matrix.c (top-level sections), settings.c
 * (shots, seeds, train, augment), entries.c (plugin entries and their
 * parameter axes), expand.c (Cartesian product, zip, exclude, ids) and
 * values.c (pool, errors, checks, canonical values); override.c and emit.c
 * (command-line overrides, the document as text) for matrix.c, errors.c
 * (every error of a file) under all of them. Calls go one way:
 * matrix.c -> expand.c -> entries.c -> settings.c -> values.c -> errors.c,
 * matrix.c -> override.c -> values.c, matrix.c -> emit.c. Every
 * allocation goes through the matrix's pool so that one coop_matrix_free
 * releases everything. */
#ifndef COOP_MATRIX_MX_H
#define COOP_MATRIX_MX_H

#include "coop/matrix.h"
#include "ytree.h"

enum { MX_TRAIN_KEYS = 10, MX_AUGMENT_KEYS = 3, MX_MAX_EXCLUDE_NAMES = 512 };

/* One parameter of an entry after validation: its canonical values (n > 1 =
 * an axis of that entry). */
struct mx_param {
    const struct coop_param_spec *spec;
    char **values;
    size_t n;
    bool given; /* written in the YAML (else the default) */
};

/* A flattened variant of an entry: one value per parameter. */
struct mx_variant {
    struct coop_params params;  /* sorted by key */
    const char *summary;        /* swept params only: "n_ctx=16 csc=false" (may be "") */
};

enum mx_entry_kind { MX_BACKBONE, MX_DATASET, MX_METHOD };

struct mx_entry {
    enum mx_entry_kind kind;
    const char *name;   /* plugin name */
    const char *label;  /* what summaries and exclude rules call it */
    int line, col;
    struct coop_matrix_plugin_info info;
    struct mx_param *params; /* one per spec entry, in spec order */
    size_t n_params;
    struct mx_variant *variants;
    size_t n_variants;
    /* backbone */
    const char *checkpoint, *checkpoint_as_written, *vocab, *vocab_as_written;
    /* dataset */
    const char **targets;
    size_t n_targets;
    int epochs; /* per-dataset override of "auto" (0 = none) */
    /* or epochs per shot count ("epochs: {1: 50, 16: 5}"): n_epoch_map pairs */
    int *epoch_shots, *epoch_counts;
    size_t n_epoch_map;
    const struct ynode *epochs_node;
    bool base2new; /* protocol: base2new */
    /* method: train.* values fixed for this method (NULL = the global axis) */
    const char *train[MX_TRAIN_KEYS];
    /* method: the plugin's recipe (canonical), for keys the file leaves unset */
    const char *recipe[MX_TRAIN_KEYS];
};

/* A setting that may be swept: shots, seeds, train.* and augment.* keys. */
struct mx_setting {
    const char *name; /* "shots", "seed", "train.lr", ... */
    char **values;    /* canonical */
    size_t n;
    bool given;       /* written in the file (not the default) */
};

struct mx_rule_term {
    const char *key;
    char **values;
    size_t n;
};
struct mx_rule {
    struct mx_rule_term *terms;
    size_t n;
};


struct coop_matrix {
    const struct coop_matrix_resolver *r;
    const char *file;  /* display name */
    const char *dir;   /* folder relative paths resolve against ("" = cwd) */
    const char *experiment, *results_dir, *data_root;
    const char **plugin_paths;
    size_t n_plugin_paths;
    struct mx_entry *backbones, *datasets, *methods;
    size_t n_backbones, n_datasets, n_methods;
    struct mx_setting shots, seeds;
    struct mx_setting train[MX_TRAIN_KEYS];
    struct mx_setting augment[MX_AUGMENT_KEYS];
    /* zip groups over top-level axes (axis ids, see expand.c) */
    int **zips;
    size_t *zip_len, n_zips;
    const struct ynode *zip_node;
    struct mx_rule *rules;
    size_t n_rules;
    struct coop_trial *trials;
    size_t n_trials;
    const char **axes;
    size_t n_axes;
    /* every error of the file (NULL: stop at the first, as the pre-pass does) */
    struct mx_errs *errs;
    const char *yaml_text; /* keep_yaml: the document after overrides */
    int threads; /* top-level threads: (0 = not given); in no trial's config or id */
    int jobs;    /* top-level jobs: (0 = not given); likewise */
    /* pool; oom is set when an allocation through it failed */
    bool oom;
    void **pool;
    size_t n_pool, cap_pool;
};

/* ---- errors.c: the errors of one load, in order, capped at
 * COOP_MATRIX_MAX_ERRORS; used by every other file, uses none ------------- */
struct mx_errs {
    char *msg[COOP_MATRIX_MAX_ERRORS];
    size_t n;
    int first;  /* code of the first error */
    bool full;  /* the cap is reached: parsing stops */
};
/* Records e->msg (unless it is the last one recorded: coop_mx_fail already did)
 * when rc is an error. Returns 0 when parsing may go on with the next
 * independent part (a section, an entry, a parameter), rc when it must stop
 * (no collector, out of memory, the cap). */
int coop_mx_note(const struct coop_matrix *m, int rc, struct coop_err *e);
/* For loops over independent items: records rc (coop_mx_note), keeps the first
 * error code in *first (what the loop returns, so its caller skips what
 * builds on the items) and says whether to go on with the next item. */
bool coop_mx_next(const struct coop_matrix *m, int rc, int *first, struct coop_err *e);
/* Records msg (coop_mx_fail calls it). */
void coop_mx_errs_add(struct mx_errs *l, int code, const char *msg);
/* The load's result: 0 without errors, else the first code, with e->msg set
 * as coop_matrix_load_opts documents and on_error called for each. */
int coop_mx_errs_finish(struct mx_errs *l, const char *file, const struct coop_matrix_options *o,
                   struct coop_err *e);
void coop_mx_errs_free(struct mx_errs *l);

/* ---- override.c, emit.c: for matrix.c ----------------------------------- */
/* override.c: applies o's overrides to doc (labels pooled in m) */
int coop_mx_apply_overrides(struct coop_matrix *m, struct ydoc *doc,
                       const struct coop_matrix_options *o, struct coop_err *e);
/* emit.c: doc as YAML text (malloc'd), with "experiment: NAME" first when
 * the document does not set it */
int coop_mx_emit_yaml(const struct ynode *root, const char *experiment, char **out,
                 struct coop_err *e);

/* ---- values.c: used by every other file ---------------------------------- */
/* pool */
void *coop_mx_alloc(struct coop_matrix *m, size_t bytes); /* zeroed; NULL on OOM */
char *coop_mx_strdup(struct coop_matrix *m, const char *s);
char *coop_mx_keep(struct coop_matrix *m, char *s); /* takes ownership; NULL-safe */

/* errors: "file:line:col: " + message */
int coop_mx_fail(struct coop_err *e, const struct coop_matrix *m, const struct ynode *at, int code,
                 const char *fmt, ...) COOP_PRINTF(5, 6);

/* checks n is a mapping whose keys are all in known[] (with "did you mean"),
 * without duplicates. what names the section for messages. */
int coop_mx_check_keys(const struct coop_matrix *m, const struct ynode *n, const char *what,
                       const char *const *known, size_t n_known, struct coop_err *e);
/* scalar helpers: a node that must be a non-null scalar */
int coop_mx_expect_scalar(const struct coop_matrix *m, const struct ynode *n, const char *what,
                          struct coop_err *e);
/* canonical text of a YAML scalar for a typed parameter (range, choices). */
int coop_mx_canon(const struct coop_matrix *m, const struct ynode *n, const char *what,
                  const struct coop_param_spec *spec, char **out, struct coop_err *e);
/* path resolution against m->dir; returns pooled string */
const char *coop_mx_path(struct coop_matrix *m, const char *p);
/* a scalar or a list of scalars, validated with spec, into values/n */
int coop_mx_parse_axis(struct coop_matrix *m, const struct ynode *n, const char *what,
                       const struct coop_param_spec *spec, char ***values, size_t *count,
                       struct coop_err *e);

/* ---- settings.c ------------------------------------------------------------ */
/* spec of a setting axis: "shots", "seed", "train.<key>", "augment.<key>" (else NULL) */
const struct coop_param_spec *coop_mx_setting_spec(const char *axis);
/* the root's train: and augment: sections (absent = the defaults) into
 * m->train and m->augment */
int coop_mx_parse_settings(struct coop_matrix *m, const struct ynode *root, struct coop_err *e);
/* a method's own train: mapping (scalars only) into out[MX_TRAIN_KEYS] */
int coop_mx_train_recipe(struct coop_matrix *m, struct mx_entry *en, const struct ynode *at,
                         struct coop_err *e);
int coop_mx_parse_train_override(struct coop_matrix *m, const struct ynode *n, const char **out,
                                 struct coop_err *e);

/* ---- entries.c ------------------------------------------------------------- */
int coop_mx_parse_backbones(struct coop_matrix *m, const struct ynode *n, struct coop_err *e);
int coop_mx_parse_datasets(struct coop_matrix *m, const struct ynode *n, struct coop_err *e);
int coop_mx_parse_methods(struct coop_matrix *m, const struct ynode *n, struct coop_err *e);
/* every dataset whose epochs are given per shot count covers every shot count */
int coop_mx_check_dataset_epochs(const struct coop_matrix *m, struct coop_err *e);
/* epochs of dataset entry en at a shot count: its own rule, else 0 ("auto") */
int coop_mx_dataset_epochs(const struct mx_entry *en, int shots);

/* ---- expand.c -------------------------------------------------------------- */
int coop_mx_parse_zip(struct coop_matrix *m, const struct ynode *n, struct coop_err *e);
int coop_mx_parse_exclude(struct coop_matrix *m, const struct ynode *n, struct coop_err *e);
int coop_mx_expand(struct coop_matrix *m, const struct ynode *root, struct coop_err *e);

#endif
