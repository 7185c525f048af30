/* report_internal.h: the report's data model (trials loaded from a results
 * folder, grouped into settings and cells) and its table type. Internal to
 * core/report/; tests reach it through the static library. */
#ifndef COOP_REPORT_INTERNAL_H
#define COOP_REPORT_INTERNAL_H

#include "coop/report.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A growable list of malloc'd strings. */
struct rp_strs {
    char **v;
    size_t n, cap;
    bool oom; /* sticky: a push failed for lack of memory */
};
int coop_rp_strs_push(struct rp_strs *s, const char *str);          /* copies; 0 or -1 */
int coop_rp_strs_pushf(struct rp_strs *s, const char *fmt, ...) COOP_PRINTF(2, 3);
long coop_rp_strs_find(const struct rp_strs *s, const char *str);   /* index or -1 */
void coop_rp_strs_free(struct rp_strs *s);

struct rp_eval {
    char *target;
    double accuracy, macro_f1, n_samples; /* NaN when absent */
    size_t n_classes;                     /* 0: no readable per-class accuracy */
    float *per_class;                     /* [n_classes], percent */
    char **class_names;                   /* [n_classes] */
};

/* train/curve/ of a trained trial (n = 0: none). */
struct rp_curve {
    size_t n;
    int32_t *epoch;
    double *loss, *accuracy, *lr;
};

struct rp_trial {
    char *file;
    struct rp_strs keys, vals; /* every root attribute but config, as text */
    bool *label_axis;          /* [keys.n]: this axis_* key goes into the method label */
    struct rp_eval *evals;
    size_t n_evals;
    struct rp_curve curve;
    bool completed, failed;
    bool base2new; /* axis_protocol = base2new: eval/base and eval/new, no eval/test */
    /* derived */
    const char *dataset, *method, *seed, *epochs;
    int shots;
    int setting;  /* index into rp_set.settings */
};

struct rp_set {
    struct rp_trial *t;
    size_t n;
    struct rp_strs settings; /* "backbone=..., checkpoint=..." */
    struct rp_strs warnings;
    size_t n_files, n_unreadable;
};

/* Loading (load.c). */
int coop_rp_load(struct rp_set *s, const char *dir, struct coop_err *e);
void coop_rp_set_free(struct rp_set *s);
const char *coop_rp_get(const struct rp_trial *t, const char *key); /* NULL when absent */
double coop_rp_eval_acc(const struct rp_trial *t, const char *target); /* NaN when absent */

/* Method labels (label.c). Marks, for every trial, the extra axes (beyond
 * the fixed n_ctx / position / csc layout) whose value differs between trials
 * of the same method: only those are appended to labels. */
int coop_rp_mark_label_axes(struct rp_set *s);
/* true for axes that are rows, columns, settings or cell checks, never labels */
bool coop_rp_axis_structural(const char *key);
/* omit_axis: "n_ctx", "position", "csc" or NULL. */
enum { RP_LABEL_MAX = 256 };
void coop_rp_label(char *buf, size_t len, const struct rp_trial *t, const char *omit_axis);
/* Ordering of labels in tables: returns <0, 0, >0 like strcmp. */
int coop_rp_label_cmp(const char *a, const char *b);
/* A csc axis value that means class-specific (true, 1, yes, csc, on); NULL: false. */
bool coop_rp_truthy(const char *v);
/* qsort comparator of char * elements (strcmp order). */
int coop_rp_str_cmp_q(const void *a, const void *b);
/* Axis value ordering for ablation columns. */
int coop_rp_axis_value_cmp(const char *axis, const char *a, const char *b);

/* Tables (table.c). */
struct rp_table {
    char *title;
    char *name; /* file stem, e.g. "fewshot" */
    size_t ncol;
    struct rp_strs header;
    struct rp_strs cells; /* row-major, ncol per row */
    struct rp_strs notes; /* printed under the table */
};
/* t zeroed, with its file stem and the title "title [setting]"; COOP_E_NOMEM or 0. */
int coop_rp_table_start(struct rp_table *t, const char *name, const char *title,
                        const char *setting);
size_t coop_rp_table_rows(const struct rp_table *t);
const char *coop_rp_table_cell(const struct rp_table *t, size_t row, size_t col);
void coop_rp_table_free(struct rp_table *t);
int coop_rp_table_write_md(FILE *f, const struct rp_table *t);
int coop_rp_table_write_csv(FILE *f, const struct rp_table *t);
/* One CSV field, quoted (RFC 4180) when it holds a comma, quote or newline. */
void coop_rp_csv_cell(FILE *f, const char *s);
int coop_rp_table_write_tex(FILE *f, const struct rp_table *t);

/* Cell statistics (aggregate.c). */
struct rp_cell {
    double v[64];
    size_t n, expected, failed;
    bool applicable, mixed;
};
void coop_rp_cell_text(char *buf, size_t len, const struct rp_cell *c);

/* The tables of one setting (aggregate.c). The few-shot table comes with the
 * per-(panel, method, shots) means the figures draw. */
struct rp_series {
    char *panel, *label; /* panel: dataset or "Average" */
    int shots[32];
    double mean[32];
    size_t n;
};
struct rp_curves {
    struct rp_series *s;
    size_t n;
    int shots[32];
    size_t n_shots;
    char *title;
};
void coop_rp_curves_free(struct rp_curves *c);
int coop_rp_table_fewshot(struct rp_table *out, struct rp_curves *curves, struct rp_set *s,
                          int setting);
int coop_rp_table_dg(struct rp_table *out, struct rp_set *s, int setting);
/* Base-to-new (only trials with axis_protocol = base2new): base / new / H
 * per dataset and method, then Average rows. */
int coop_rp_table_base2new(struct rp_table *out, struct rp_set *s, int setting);
/* Whether the setting has trials of the protocol (true) or other ones. */
bool coop_rp_setting_has(const struct rp_set *s, int setting, bool base2new);
/* The paper's headline claims checked against the setting (findings.c);
 * no rows when the setting has no few-shot trials. */
int coop_rp_table_findings(struct rp_table *out, struct rp_set *s, int setting);
int coop_rp_table_ablation(struct rp_table *out, struct rp_set *s, int setting, const char *axis);

/* Figures (figure_cairo.c or figure_none.c): writes <stem>.png and .svg. */
extern const bool coop_rp_have_figures;
int coop_rp_figure_fewshot(const struct rp_curves *c, const char *stem, struct coop_err *e);

/* Export (export.c). */
int coop_rp_export(const struct rp_set *s, const char *dir, struct rp_strs *written,
                   struct coop_err *e);

#endif
