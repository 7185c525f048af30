/* aggregate.c: from loaded trials to the report's tables: few-shot accuracy
 * per dataset and method (mean ± 95% CI over seeds, with an average over
 * datasets), the domain-generalisation table and the ablation tables. A cell
 * never averages trials that differ in anything but the seed: duplicates of a
 * seed or differing epoch counts make the cell "mixed" with a warning. */
#include "report_internal.h"
#include "coop/results.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void coop_report_format_cell(char *buf, size_t len, const double *v, size_t n, size_t expected,
                             size_t failed)
{
    if (n == 0) {
        if (failed)
            snprintf(buf, len, "\xe2\x80\x94 (%zu failed)", failed);
        else
            snprintf(buf, len, "\xe2\x80\x94");
        return;
    }
    double m = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - m) * (v[i] - m);
    int k;
    if (n >= 2)
        k = snprintf(buf, len, "%.1f \xc2\xb1 %.1f", m,
                     1.96 * sqrt(ss / (double)(n - 1)) / sqrt((double)n));
    else
        k = snprintf(buf, len, "%.1f", m);
    if (k < 0 || (size_t)k >= len || (n >= expected && !failed))
        return;
    if (n < expected && failed)
        snprintf(buf + k, len - (size_t)k, " (%zu/%zu seeds, %zu failed)", n, expected, failed);
    else if (n < expected)
        snprintf(buf + k, len - (size_t)k, " (%zu/%zu seeds)", n, expected);
    else
        snprintf(buf + k, len - (size_t)k, " (%zu failed)", failed);
}

void coop_rp_cell_text(char *buf, size_t len, const struct rp_cell *c)
{
    if (!c->applicable)
        snprintf(buf, len, "%s", "");
    else if (c->mixed)
        snprintf(buf, len, "mixed (see warnings)");
    else
        coop_report_format_cell(buf, len, c->v, c->n, c->expected, c->failed);
}

static double cell_mean(const struct rp_cell *c)
{
    double m = 0;
    for (size_t i = 0; i < c->n; i++)
        m += c->v[i];
    return c->n ? m / (double)c->n : NAN;
}

/* ---- selecting trials ------------------------------------------------------ */
struct rp_query {
    int setting;
    const char *dataset;   /* NULL: any */
    const char *label;     /* NULL: any */
    const char *omit;      /* axis left out of the label (ablations) */
    int shots;             /* -1: any */
    const char *axis, *axis_value; /* "axis_n_ctx" = "16" */
    const char *target;
    bool base2new; /* the protocol's trials, or (false) every other */
};

static bool match(const struct rp_trial *t, const struct rp_query *q)
{
    if (t->setting != q->setting || t->base2new != q->base2new ||
        (q->dataset && strcmp(t->dataset, q->dataset) != 0) ||
        (q->shots >= 0 && t->shots != q->shots))
        return false;
    if (q->axis) {
        const char *v = coop_rp_get(t, q->axis);
        if (!v || strcmp(v, q->axis_value) != 0)
            return false;
    }
    if (q->label) {
        char l[RP_LABEL_MAX];
        coop_rp_label(l, sizeof l, t, q->omit);
        if (strcmp(l, q->label) != 0)
            return false;
    }
    return true;
}

static bool any_match(const struct rp_set *s, const struct rp_query *q)
{
    for (size_t i = 0; i < s->n; i++)
        if (match(&s->t[i], q))
            return true;
    return false;
}

/* Distinct seeds among trials of the setting with (shots > 0) == positive. */
static size_t expected_seeds(const struct rp_set *s, int setting, bool positive)
{
    struct rp_strs seen = {0};
    for (size_t i = 0; i < s->n; i++) {
        const struct rp_trial *t = &s->t[i];
        const char *sd = t->seed ? t->seed : "";
        if (t->setting == setting && (t->shots > 0) == positive && coop_rp_strs_find(&seen, sd) < 0)
            coop_rp_strs_push(&seen, sd);
    }
    size_t n = seen.n ? seen.n : 1;
    coop_rp_strs_free(&seen);
    return n;
}

static void collect(struct rp_cell *c, struct rp_set *s, const struct rp_query *q,
                    size_t expected)
{
    memset(c, 0, sizeof *c);
    c->applicable = true;
    c->expected = expected;
    struct rp_strs seeds = {0};
    const char *epochs = NULL;
    const char *first_file = NULL;
    for (size_t i = 0; i < s->n; i++) {
        struct rp_trial *t = &s->t[i];
        if (!match(t, q))
            continue;
        if (t->failed) {
            c->failed++;
            continue;
        }
        double v = t->completed ? coop_rp_eval_acc(t, q->target) : NAN;
        if (isnan(v))
            continue;
        const char *sd = t->seed ? t->seed : "";
        bool dup = coop_rp_strs_find(&seeds, sd) >= 0;
        bool ep = epochs && t->epochs && strcmp(epochs, t->epochs) != 0;
        if ((dup || ep) && !c->mixed) {
            c->mixed = true;
            coop_rp_strs_pushf(&s->warnings, "not averaging %s and %s (%s, %s, %d shots): %s",
                               first_file, t->file, t->dataset, q->label ? q->label : t->method,
                               t->shots,
                               dup ? "same seed twice: configs differ in a non-swept setting"
                                   : "different epoch counts");
        }
        if (!first_file)
            first_file = t->file;
        if (t->epochs && !epochs)
            epochs = t->epochs;
        coop_rp_strs_push(&seeds, sd);
        if (c->n == sizeof c->v / sizeof *c->v) {
            if (!c->mixed)
                coop_rp_strs_pushf(&s->warnings,
                                   "%s, %s, %d shots: more than %zu trials in one cell; "
                                   "not averaged", t->dataset, t->method, t->shots, c->n);
            c->mixed = true;
            continue;
        }
        c->v[c->n++] = v;
    }
    coop_rp_strs_free(&seeds);
}

/* ---- shared helpers ---------------------------------------------------------- */
static int label_cmp_q(const void *a, const void *b)
{
    return coop_rp_label_cmp(*(char *const *)a, *(char *const *)b);
}

int coop_rp_str_cmp_q(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int int_cmp_q(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The distinct_* helpers see the trials of one setting and protocol. */
static bool in_scope(const struct rp_trial *t, int setting, bool base2new)
{
    return t->setting == setting && t->base2new == base2new;
}

static void distinct_datasets(struct rp_strs *out, const struct rp_set *s, int setting,
                              bool base2new)
{
    for (size_t i = 0; i < s->n; i++)
        if (in_scope(&s->t[i], setting, base2new) && coop_rp_strs_find(out, s->t[i].dataset) < 0)
            coop_rp_strs_push(out, s->t[i].dataset);
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, coop_rp_str_cmp_q);
}

static void distinct_labels(struct rp_strs *out, const struct rp_set *s, int setting,
                            const char *omit, bool base2new)
{
    char l[RP_LABEL_MAX];
    for (size_t i = 0; i < s->n; i++) {
        if (!in_scope(&s->t[i], setting, base2new))
            continue;
        coop_rp_label(l, sizeof l, &s->t[i], omit);
        if (coop_rp_strs_find(out, l) < 0)
            coop_rp_strs_push(out, l);
    }
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, label_cmp_q);
}

static size_t distinct_shots(int *out, size_t max, const struct rp_set *s, int setting,
                             bool base2new)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!in_scope(&s->t[i], setting, base2new))
            continue;
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= out[j] == s->t[i].shots;
        if (!seen && n < max)
            out[n++] = s->t[i].shots;
    }
    qsort(out, n, sizeof *out, int_cmp_q);
    return n;
}

static void push_cell(struct rp_table *t, const struct rp_cell *c)
{
    char buf[128];
    coop_rp_cell_text(buf, sizeof buf, c);
    coop_rp_strs_push(&t->cells, buf);
}

/* Average over datasets of per-dataset means; cells[i] for dataset i. */
static void push_average(struct rp_table *t, const struct rp_cell *cells, size_t nd)
{
    size_t r = 0, R = 0, have = 0;
    bool applicable = false, mixed = false;
    double sum = 0;
    for (size_t i = 0; i < nd; i++) {
        applicable |= cells[i].applicable;
        mixed |= cells[i].mixed;
        r += cells[i].n;
        R += cells[i].expected;
        if (cells[i].n) {
            sum += cell_mean(&cells[i]);
            have++;
        }
    }
    char buf[128];
    if (!applicable)
        buf[0] = 0;
    else if (mixed)
        snprintf(buf, sizeof buf, "mixed (see warnings)");
    else if (!have)
        snprintf(buf, sizeof buf, "\xe2\x80\x94");
    else if (r < R)
        snprintf(buf, sizeof buf, "%.1f (%zu/%zu runs)", sum / (double)have, r, R);
    else
        snprintf(buf, sizeof buf, "%.1f", sum / (double)have);
    coop_rp_strs_push(&t->cells, buf);
}

int coop_rp_table_start(struct rp_table *t, const char *name, const char *title,
                        const char *setting)
{
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    size_t l = strlen(title) + strlen(setting) + 16;
    t->title = malloc(l);
    if (!t->name || !t->title)
        return COOP_E_NOMEM;
    snprintf(t->title, l, "%s [%s]", title, setting);
    return 0;
}

static const char *const cell_note =
    "Cells: mean \xc2\xb1 95% CI (1.96 \xc2\xb7 sample std / \xe2\x88\x9an) over seeds; "
    "(n/N seeds) = incomplete, \xe2\x80\x94 = missing, blank = not applicable.";
static const char *const avg_note =
    "Average: mean over datasets of the per-dataset means; (r/R runs) = some runs missing.";

/* ---- few-shot table ------------------------------------------------------------ */
static void curve_add(struct rp_curves *cv, const char *panel, const char *label, int shots,
                      double mean)
{
    struct rp_series *sr = NULL;
    for (size_t i = 0; i < cv->n; i++)
        if (!strcmp(cv->s[i].panel, panel) && !strcmp(cv->s[i].label, label))
            sr = &cv->s[i];
    if (!sr) {
        struct rp_series *ns = realloc(cv->s, (cv->n + 1) * sizeof *ns);
        if (!ns)
            return;
        cv->s = ns;
        sr = &cv->s[cv->n];
        memset(sr, 0, sizeof *sr);
        sr->panel = strdup(panel);
        sr->label = strdup(label);
        if (!sr->panel || !sr->label) {
            free(sr->panel);
            free(sr->label);
            return;
        }
        cv->n++;
    }
    if (sr->n < 32) {
        sr->shots[sr->n] = shots;
        sr->mean[sr->n++] = mean;
    }
}

void coop_rp_curves_free(struct rp_curves *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->s[i].panel);
        free(c->s[i].label);
    }
    free(c->s);
    free(c->title);
    memset(c, 0, sizeof *c);
}

static void fewshot_header(struct rp_table *t, const int *shots, size_t ns)
{
    coop_rp_strs_push(&t->header, "Dataset");
    coop_rp_strs_push(&t->header, "Method");
    for (size_t j = 0; j < ns; j++)
        coop_rp_strs_pushf(&t->header, "%d shot%s", shots[j], shots[j] == 1 ? "" : "s");
    t->ncol = 2 + ns;
}

int coop_rp_table_fewshot(struct rp_table *t, struct rp_curves *cv, struct rp_set *s, int setting)
{
    if (coop_rp_table_start(t, "fewshot", "Few-shot accuracy (%) on the test split",
                    s->settings.v[setting]))
        return COOP_E_NOMEM;
    memset(cv, 0, sizeof *cv);
    struct rp_strs ds = {0}, labels = {0};
    distinct_datasets(&ds, s, setting, false);
    distinct_labels(&labels, s, setting, NULL, false);
    int shots[32];
    size_t ns = distinct_shots(shots, 32, s, setting, false);
    memcpy(cv->shots, shots, sizeof shots);
    cv->n_shots = ns;
    cv->title = strdup(t->title);
    fewshot_header(t, shots, ns);
    size_t exp_pos = expected_seeds(s, setting, true), exp_zero = expected_seeds(s, setting, false);
    struct rp_cell *cells = calloc(ds.n * ns * labels.n + 1, sizeof *cells);
    if (!cells)
        return COOP_E_NOMEM;
#define CELL(d, l, j) cells[((d) * labels.n + (l)) * ns + (j)]
    for (size_t d = 0; d < ds.n; d++)
        for (size_t l = 0; l < labels.n; l++) {
            coop_rp_strs_push(&t->cells, ds.v[d]);
            coop_rp_strs_push(&t->cells, labels.v[l]);
            for (size_t j = 0; j < ns; j++) {
                struct rp_query q = {setting, NULL, labels.v[l], NULL, shots[j], NULL, NULL,
                                     "test", false};
                struct rp_cell *c = &CELL(d, l, j);
                if (!any_match(s, &q)) {
                    memset(c, 0, sizeof *c);
                } else {
                    q.dataset = ds.v[d];
                    collect(c, s, &q, shots[j] > 0 ? exp_pos : exp_zero);
                    if (c->n && !c->mixed)
                        curve_add(cv, ds.v[d], labels.v[l], shots[j], cell_mean(c));
                }
                push_cell(t, c);
            }
        }
    struct rp_cell *col = calloc(ds.n + 1, sizeof *col);
    for (size_t l = 0; col && l < labels.n; l++) {
        coop_rp_strs_push(&t->cells, "Average");
        coop_rp_strs_push(&t->cells, labels.v[l]);
        for (size_t j = 0; j < ns; j++) {
            bool all = ds.n > 0, mixed = false;
            double sum = 0;
            for (size_t d = 0; d < ds.n; d++) {
                col[d] = CELL(d, l, j);
                all &= col[d].n > 0;
                mixed |= col[d].mixed;
                sum += col[d].n ? cell_mean(&col[d]) : 0;
            }
            push_average(t, col, ds.n);
            if (all && !mixed)
                curve_add(cv, "Average", labels.v[l], shots[j], sum / (double)ds.n);
        }
    }
#undef CELL
    coop_rp_strs_push(&t->notes, cell_note);
    coop_rp_strs_push(&t->notes, avg_note);
    free(col);
    free(cells);
    coop_rp_strs_free(&ds);
    coop_rp_strs_free(&labels);
    return 0;
}

/* ---- domain generalisation ------------------------------------------------------- */
static bool has_shift_target(const struct rp_trial *t)
{
    for (size_t i = 0; i < t->n_evals; i++)
        if (strcmp(t->evals[i].target, "test") != 0)
            return true;
    return false;
}

/* Source datasets (those with a trial evaluated on a shift target) and the
 * union of their targets, both sorted. */
static void dg_axes(struct rp_strs *src, struct rp_strs *tg, const struct rp_set *s, int setting)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct rp_trial *t = &s->t[i];
        if (t->setting != setting || t->base2new || !has_shift_target(t))
            continue;
        if (coop_rp_strs_find(src, t->dataset) < 0)
            coop_rp_strs_push(src, t->dataset);
        for (size_t j = 0; j < t->n_evals; j++)
            if (strcmp(t->evals[j].target, "test") && coop_rp_strs_find(tg, t->evals[j].target) < 0)
                coop_rp_strs_push(tg, t->evals[j].target);
    }
    if (src->n)
        qsort(src->v, src->n, sizeof *src->v, coop_rp_str_cmp_q);
    if (tg->n)
        qsort(tg->v, tg->n, sizeof *tg->v, coop_rp_str_cmp_q);
}

static bool dataset_has_target(const struct rp_set *s, int setting, const char *ds,
                               const char *target)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct rp_trial *t = &s->t[i];
        if (t->setting == setting && !strcmp(t->dataset, ds) && !isnan(coop_rp_eval_acc(t, target)))
            return true;
    }
    return false;
}

/* Rows of one source: (label, shots) pairs with a shift-evaluated trial. */
static void dg_rows(struct rp_set *s, struct rp_table *t, int setting, const char *ds,
                    const struct rp_strs *targets)
{
    struct rp_strs labels = {0};
    distinct_labels(&labels, s, setting, NULL, false);
    int shots[32];
    size_t ns = distinct_shots(shots, 32, s, setting, false), npos = 0;
    bool use[RP_LABEL_MAX][32] = {{false}};
    for (size_t l = 0; l < labels.n && l < RP_LABEL_MAX; l++)
        for (size_t j = 0; j < ns; j++)
            for (size_t i = 0; i < s->n; i++) {
                struct rp_query q = {setting, ds, labels.v[l], NULL, shots[j], NULL, NULL, NULL,
                                     false};
                if (match(&s->t[i], &q) && has_shift_target(&s->t[i]) && !use[l][j]) {
                    use[l][j] = true;
                    npos += shots[j] > 0;
                }
            }
    size_t exp_pos = expected_seeds(s, setting, true), exp_zero = expected_seeds(s, setting, false);
    for (size_t l = 0; l < labels.n && l < RP_LABEL_MAX; l++)
        for (size_t j = 0; j < ns; j++) {
            if (!use[l][j])
                continue;
            coop_rp_strs_push(&t->cells, ds);
            if (shots[j] > 0)
                coop_rp_strs_pushf(&t->cells, "%s (%d shots)", labels.v[l], shots[j]);
            else
                coop_rp_strs_push(&t->cells, labels.v[l]);
            for (size_t k = 0; k <= targets->n; k++) {
                const char *tg = k == 0 ? "test" : targets->v[k - 1];
                struct rp_query q = {setting, ds, labels.v[l], NULL, shots[j], NULL, NULL, tg,
                                     false};
                struct rp_cell c;
                collect(&c, s, &q, shots[j] > 0 ? exp_pos : exp_zero);
                c.applicable = k == 0 || dataset_has_target(s, setting, ds, tg);
                push_cell(t, &c);
            }
        }
    (void)npos;
    coop_rp_strs_free(&labels);
}

int coop_rp_table_dg(struct rp_table *t, struct rp_set *s, int setting)
{
    if (coop_rp_table_start(t, "domain_generalisation",
                    "Domain generalisation: accuracy (%) on the source test split and each "
                    "target", s->settings.v[setting]))
        return COOP_E_NOMEM;
    struct rp_strs src = {0}, tg = {0};
    dg_axes(&src, &tg, s, setting);
    coop_rp_strs_push(&t->header, "Source dataset");
    coop_rp_strs_push(&t->header, "Method");
    coop_rp_strs_push(&t->header, "Source");
    for (size_t i = 0; i < tg.n; i++)
        coop_rp_strs_push(&t->header, tg.v[i]);
    t->ncol = 3 + tg.n;
    for (size_t i = 0; i < src.n; i++)
        dg_rows(s, t, setting, src.v[i], &tg);
    coop_rp_strs_push(&t->notes, cell_note);
    if (!src.n)
        coop_rp_strs_push(&t->notes, "No trial was evaluated on a domain-shift target.");
    coop_rp_strs_free(&src);
    coop_rp_strs_free(&tg);
    return 0;
}

/* ---- ablations ---------------------------------------------------------------- */
struct ab_group {
    const char *dataset;
    char label[RP_LABEL_MAX];
    int shots;
};

static const char *ab_axis; /* for the qsort comparators below */

static int ab_value_cmp_q(const void *a, const void *b)
{
    return coop_rp_axis_value_cmp(ab_axis, *(char *const *)a, *(char *const *)b);
}

static int ab_group_cmp_q(const void *a, const void *b)
{
    const struct ab_group *x = a, *y = b;
    int c = strcmp(x->dataset, y->dataset);
    if (!c)
        c = coop_rp_label_cmp(x->label, y->label);
    return c ? c : (x->shots > y->shots) - (x->shots < y->shots);
}

static void ab_header(struct rp_table *t, const char *axis, const struct rp_strs *vals)
{
    coop_rp_strs_push(&t->header, "Dataset");
    coop_rp_strs_push(&t->header, "Method");
    coop_rp_strs_push(&t->header, "Shots");
    for (size_t i = 0; i < vals->n; i++) {
        const char *v = vals->v[i];
        if (!strcmp(axis, "n_ctx"))
            coop_rp_strs_pushf(&t->header, "M=%s", v);
        else if (!strcmp(axis, "csc"))
            coop_rp_strs_push(&t->header,
                              coop_rp_axis_value_cmp("csc", v, "false") ? "CSC" : "unified");
        else
            coop_rp_strs_push(&t->header, v);
    }
    t->ncol = 3 + vals->n;
}

/* Groups (dataset, label without the axis, shots) in which the axis takes at
 * least two values. */
static size_t ab_groups(struct ab_group **out, const struct rp_set *s, int setting,
                        const char *axis, const char *key)
{
    struct ab_group *g = calloc(s->n + 1, sizeof *g);
    size_t n = 0;
    for (size_t i = 0; g && i < s->n; i++) {
        const struct rp_trial *t = &s->t[i];
        if (t->setting != setting || !coop_rp_get(t, key))
            continue;
        struct ab_group cand = {t->dataset, "", t->shots};
        coop_rp_label(cand.label, sizeof cand.label, t, axis);
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = !ab_group_cmp_q(&g[j], &cand);
        if (seen)
            continue;
        const char *first = NULL;
        bool varies = false;
        for (size_t j = 0; j < s->n && !varies; j++) {
            struct rp_query q = {setting, cand.dataset, cand.label, axis, cand.shots, NULL,
                                 NULL, NULL, false};
            const char *v = coop_rp_get(&s->t[j], key);
            if (!v || !match(&s->t[j], &q))
                continue;
            if (!first)
                first = v;
            varies = strcmp(first, v) != 0;
        }
        if (varies)
            g[n++] = cand;
    }
    if (n)
        qsort(g, n, sizeof *g, ab_group_cmp_q);
    *out = g;
    return n;
}

static void ab_row(struct rp_table *t, struct rp_cell *cells, struct rp_set *s, int setting,
                   const struct ab_group *g, const char *axis, const char *key,
                   const struct rp_strs *vals, size_t exp_pos, size_t exp_zero)
{
    coop_rp_strs_push(&t->cells, g->dataset);
    coop_rp_strs_push(&t->cells, g->label);
    coop_rp_strs_pushf(&t->cells, "%d", g->shots);
    for (size_t v = 0; v < vals->n; v++) {
        struct rp_query q = {setting, g->dataset, g->label, axis, g->shots, key, vals->v[v],
                             "test", false};
        collect(&cells[v], s, &q, g->shots > 0 ? exp_pos : exp_zero);
        push_cell(t, &cells[v]);
    }
}

static const char *ab_title(const char *axis)
{
    if (!strcmp(axis, "n_ctx"))
        return "Ablation: context length M, accuracy (%) on the test split";
    if (!strcmp(axis, "position"))
        return "Ablation: class-token position, accuracy (%) on the test split";
    if (!strcmp(axis, "csc"))
        return "Ablation: unified vs class-specific context, accuracy (%) on the test split";
    return "Ablation, accuracy (%) on the test split";
}

int coop_rp_table_ablation(struct rp_table *t, struct rp_set *s, int setting, const char *axis)
{
    char key[64], name[80];
    snprintf(key, sizeof key, "axis_%s", axis);
    snprintf(name, sizeof name, "ablation_%s", axis);
    if (coop_rp_table_start(t, name, ab_title(axis), s->settings.v[setting]))
        return COOP_E_NOMEM;
    struct rp_strs vals = {0};
    for (size_t i = 0; i < s->n; i++) {
        const char *v = s->t[i].setting == setting ? coop_rp_get(&s->t[i], key) : NULL;
        if (v && coop_rp_strs_find(&vals, v) < 0)
            coop_rp_strs_push(&vals, v);
    }
    ab_axis = axis;
    if (vals.n)
        qsort(vals.v, vals.n, sizeof *vals.v, ab_value_cmp_q);
    ab_header(t, axis, &vals);
    struct ab_group *g;
    size_t ng = ab_groups(&g, s, setting, axis, key);
    size_t exp_pos = expected_seeds(s, setting, true), exp_zero = expected_seeds(s, setting, false);
    struct rp_cell *cells = calloc(ng * vals.n + 1, sizeof *cells);
    struct rp_cell *col = calloc(ng + 1, sizeof *col);
    if (!g || !cells || !col) {
        free(g), free(cells), free(col), coop_rp_strs_free(&vals);
        return COOP_E_NOMEM;
    }
    for (size_t i = 0; i < ng; i++)
        ab_row(t, &cells[i * vals.n], s, setting, &g[i], axis, key, &vals, exp_pos, exp_zero);
    /* Average rows: one per (label, shots), over the datasets that have it. */
    for (size_t i = 0; i < ng; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = !(g[j].shots == g[i].shots && !strcmp(g[j].label, g[i].label));
        if (!first)
            continue;
        coop_rp_strs_push(&t->cells, "Average");
        coop_rp_strs_push(&t->cells, g[i].label);
        coop_rp_strs_pushf(&t->cells, "%d", g[i].shots);
        for (size_t v = 0; v < vals.n; v++) {
            size_t nd = 0;
            for (size_t j = i; j < ng; j++)
                if (g[j].shots == g[i].shots && !strcmp(g[j].label, g[i].label))
                    col[nd++] = cells[j * vals.n + v];
            push_average(t, col, nd);
        }
    }
    coop_rp_strs_push(&t->notes, cell_note);
    coop_rp_strs_push(&t->notes, avg_note);
    if (!ng)
        coop_rp_strs_pushf(&t->notes, "No trials vary %s with everything else fixed.", axis);
    free(g);
    free(cells);
    free(col);
    coop_rp_strs_free(&vals);
    return 0;
}

/* ---- base-to-new --------------------------------------------------------------- */
bool coop_rp_setting_has(const struct rp_set *s, int setting, bool base2new)
{
    for (size_t i = 0; i < s->n; i++)
        if (in_scope(&s->t[i], setting, base2new))
            return true;
    return false;
}

/* H of two cells' means: blank when New is not applicable, "—" when either
 * is missing or mixed; plain (no CI: it is a function of the two means). */
static void push_harmonic(struct rp_table *t, double base, double novel, bool applicable)
{
    if (!applicable)
        coop_rp_strs_push(&t->cells, "");
    else if (isnan(base) || isnan(novel))
        coop_rp_strs_push(&t->cells, "\xe2\x80\x94");
    else
        coop_rp_strs_pushf(&t->cells, "%.1f", coop_harmonic_mean(base, novel));
}

static double usable_mean(const struct rp_cell *c)
{
    return c->n && !c->mixed ? cell_mean(c) : NAN;
}

/* One row: Base, New, H of (dataset, label, shots); c[0], c[1] keep the cells. */
static void b2n_row(struct rp_table *t, struct rp_set *s, int setting, const char *ds,
                    const char *label, int shots, size_t expected, struct rp_cell c[2])
{
    coop_rp_strs_push(&t->cells, ds);
    if (shots > 0)
        coop_rp_strs_pushf(&t->cells, "%s (%d shots)", label, shots);
    else
        coop_rp_strs_push(&t->cells, label);
    static const char *const split[2] = {"base", "new"};
    for (int k = 0; k < 2; k++) {
        struct rp_query q = {setting, ds, label, NULL, shots, NULL, NULL, split[k], true};
        collect(&c[k], s, &q, expected);
        /* New is not applicable to a classifier that has no new-class weights:
         * no completed trial of the row was evaluated on it. */
        if (k == 1 && !c[1].n && !c[1].failed) {
            bool any = false;
            for (size_t i = 0; i < s->n && !any; i++)
                any = match(&s->t[i], &q) && !isnan(coop_rp_eval_acc(&s->t[i], "new"));
            c[1].applicable = any;
        }
        push_cell(t, &c[k]);
    }
    push_harmonic(t, usable_mean(&c[0]), usable_mean(&c[1]), c[1].applicable);
}

/* Average rows per (label, shots) over the datasets: Base and New as the
 * other tables' averages, H of those two averages (as CoCoOp's Table 1). */
static void b2n_average(struct rp_table *t, const char *label, int shots, struct rp_cell *c,
                        size_t nd)
{
    struct rp_cell *col = calloc(nd + 1, sizeof *col);
    if (!col) {
        t->cells.oom = true;
        return;
    }
    double mean[2];
    bool applicable = false;
    coop_rp_strs_push(&t->cells, "Average");
    if (shots > 0)
        coop_rp_strs_pushf(&t->cells, "%s (%d shots)", label, shots);
    else
        coop_rp_strs_push(&t->cells, label);
    for (int k = 0; k < 2; k++) {
        size_t have = 0;
        bool bad = false;
        double sum = 0;
        for (size_t d = 0; d < nd; d++) {
            col[d] = c[d * 2 + k];
            applicable |= k == 1 && col[d].applicable;
            bad |= col[d].applicable && isnan(usable_mean(&col[d]));
            sum += col[d].n ? cell_mean(&col[d]) : 0;
            have += col[d].n > 0;
        }
        mean[k] = bad || !have ? NAN : sum / (double)have;
        push_average(t, col, nd);
    }
    push_harmonic(t, mean[0], mean[1], applicable);
    free(col);
}

int coop_rp_table_base2new(struct rp_table *t, struct rp_set *s, int setting)
{
    if (coop_rp_table_start(t, "base2new",
                    "Base-to-new generalisation: accuracy (%) on the base and the new classes, "
                    "harmonic mean H", s->settings.v[setting]))
        return COOP_E_NOMEM;
    static const char *const head[] = {"Dataset", "Method", "Base", "New", "H"};
    for (int i = 0; i < 5; i++)
        coop_rp_strs_push(&t->header, head[i]);
    t->ncol = 5;
    struct rp_strs ds = {0}, labels = {0};
    distinct_datasets(&ds, s, setting, true);
    distinct_labels(&labels, s, setting, NULL, true);
    int shots[32];
    size_t ns = distinct_shots(shots, 32, s, setting, true);
    size_t exp_pos = expected_seeds(s, setting, true), exp_zero = expected_seeds(s, setting, false);
    /* rows: the (label, shots) pairs with trials, each for every dataset */
    size_t nr = 0, *rl = calloc(labels.n * ns + 1, sizeof *rl);
    int *rs = calloc(labels.n * ns + 1, sizeof *rs);
    for (size_t l = 0; rl && rs && l < labels.n; l++)
        for (size_t j = 0; j < ns; j++) {
            struct rp_query q = {setting, NULL, labels.v[l], NULL, shots[j], NULL, NULL, NULL,
                                 true};
            if (any_match(s, &q)) {
                rl[nr] = l;
                rs[nr++] = shots[j];
            }
        }
    struct rp_cell *cells = calloc(ds.n * nr * 2 + 1, sizeof *cells), *avg = NULL;
    for (size_t d = 0; rl && rs && cells && d < ds.n; d++)
        for (size_t r = 0; r < nr; r++)
            b2n_row(t, s, setting, ds.v[d], labels.v[rl[r]], rs[r],
                    rs[r] > 0 ? exp_pos : exp_zero, &cells[(d * nr + r) * 2]);
    if (cells && ds.n > 1)
        avg = calloc(ds.n * 2, sizeof *avg);
    for (size_t r = 0; avg && r < nr; r++) {
        for (size_t d = 0; d < ds.n; d++)
            memcpy(&avg[d * 2], &cells[(d * nr + r) * 2], 2 * sizeof *avg);
        b2n_average(t, labels.v[rl[r]], rs[r], avg, ds.n);
    }
    int rc = rl && rs && cells && (ds.n < 2 || avg) ? 0 : COOP_E_NOMEM;
    free(rl), free(rs), free(avg);
    coop_rp_strs_push(&t->notes, cell_note);
    coop_rp_strs_push(&t->notes, "H = 2 \xc2\xb7 Base \xc2\xb7 New / (Base + New) of the means "
                                 "in its row; Average: Base and New averaged over datasets, H "
                                 "of those averages. A blank New: the method has no weights "
                                 "for classes it was not fitted on (linear probe).");
    free(cells);
    coop_rp_strs_free(&ds);
    coop_rp_strs_free(&labels);
    return rc;
}
