/* findings.c: the report's "findings" table: the CoOp paper's headline
 * claims, each checked against the setting's results (the paper's claim,
 * the measured numbers, holds / does not hold / not measured). Numbers are
 * means over seeds of test accuracy, averaged over datasets as the few-shot
 * table's Average rows are (docs/reports.md lists the exact rules). */
#include "report_internal.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A CoOp variant: n_ctx, position, class-specific context. */
struct variant {
    int n_ctx;
    const char *position;
    bool csc;
};

struct fnd {
    struct rp_set *s;
    int setting;
    struct rp_strs datasets; /* sources with few-shot trials, sorted */
};

static bool in_setting(const struct fnd *f, const struct rp_trial *t)
{
    return t->setting == f->setting && !t->base2new && t->completed && !t->failed;
}

static bool is_method(const struct rp_trial *t, const char *method, const struct variant *v)
{
    if (strcmp(t->method, method) != 0)
        return false;
    if (!v)
        return true;
    const char *n = coop_rp_get(t, "axis_n_ctx"), *p = coop_rp_get(t, "axis_position");
    return n && p && atoi(n) == v->n_ctx && !strcmp(p, v->position) &&
           coop_rp_truthy(coop_rp_get(t, "axis_csc")) == v->csc;
}

/* Accuracies (one per trial, i.e. per seed) of method/variant on dataset ds,
 * shots (-1: any), evaluated on target; returns how many, at most max. */
static size_t values(const struct fnd *f, const char *ds, const char *method,
                     const struct variant *v, int shots, const char *target, double *out,
                     size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < f->s->n && n < max; i++) {
        const struct rp_trial *t = &f->s->t[i];
        if (!in_setting(f, t) || strcmp(t->dataset, ds) != 0 || !is_method(t, method, v) ||
            (shots >= 0 && t->shots != shots))
            continue;
        double a = coop_rp_eval_acc(t, target);
        if (!isnan(a))
            out[n++] = a;
    }
    return n;
}

static double mean_of(const struct fnd *f, const char *ds, const char *method,
                      const struct variant *v, int shots, const char *target)
{
    double x[64], m = 0;
    size_t n = values(f, ds, method, v, shots, target, x, 64);
    for (size_t i = 0; i < n; i++)
        m += x[i];
    return n ? m / (double)n : NAN;
}

/* The mean over datasets of per-dataset means; NaN unless every dataset has it. */
static double average(const struct fnd *f, const char *method, const struct variant *v,
                      int shots)
{
    double m = 0;
    for (size_t d = 0; d < f->datasets.n; d++) {
        double x = mean_of(f, f->datasets.v[d], method, v, shots, "test");
        if (isnan(x))
            return NAN;
        m += x;
    }
    return f->datasets.n ? m / (double)f->datasets.n : NAN;
}

/* The classes of dataset ds (from a test evaluation's per-class accuracy). */
static size_t classes_of(const struct fnd *f, const char *ds)
{
    for (size_t i = 0; i < f->s->n; i++) {
        const struct rp_trial *t = &f->s->t[i];
        if (!in_setting(f, t) || strcmp(t->dataset, ds) != 0)
            continue;
        for (size_t j = 0; j < t->n_evals; j++)
            if (!strcmp(t->evals[j].target, "test") && t->evals[j].n_classes)
                return t->evals[j].n_classes;
    }
    return 0;
}

static const char *const positions[] = {"end", "middle", "front"};

static void variant_name(char *buf, size_t len, const struct variant *v)
{
    snprintf(buf, len, "M=%d %s %s", v->n_ctx, v->position, v->csc ? "CSC" : "unified");
}

/* The best CoOp variant with n_ctx = 16 at `shots` by its dataset average. */
static double best_coop(const struct fnd *f, int shots, struct variant *best)
{
    double b = NAN;
    for (int p = 0; p < 3; p++)
        for (int c = 0; c < 2; c++) {
            struct variant v = {16, positions[p], c == 1};
            double a = average(f, "coop", &v, shots);
            if (!isnan(a) && (isnan(b) || a > b)) {
                b = a;
                *best = v;
            }
        }
    return b;
}

struct row {
    char measured[1024];
    size_t len;
    int tested, failed;
};

static void add(struct row *r, const char *fmt, ...) COOP_PRINTF(2, 3);
static void add(struct row *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->len < sizeof r->measured) {
        int k = vsnprintf(r->measured + r->len, sizeof r->measured - r->len, fmt, ap);
        if (k > 0)
            r->len += (size_t)k;
        if (r->len >= sizeof r->measured)
            r->len = sizeof r->measured - 1;
    }
    va_end(ap);
}

static void check(struct row *r, bool ok)
{
    r->tested++;
    r->failed += !ok;
}

static void push_row(struct rp_table *t, const char *claim, const struct row *r)
{
    coop_rp_strs_push(&t->cells, claim);
    coop_rp_strs_push(&t->cells, r->tested ? r->measured : "");
    coop_rp_strs_push(&t->cells, !r->tested    ? "not measured"
                                 : r->failed ? "does not hold"
                                             : "holds");
}

static const int shot_list[] = {1, 2, 4, 8, 16};

static void f_probe(struct fnd *f, struct rp_table *t)
{
    struct row r = {0};
    for (size_t i = 0; i < sizeof shot_list / sizeof *shot_list; i++) {
        struct variant v;
        double c = best_coop(f, shot_list[i], &v), p = average(f, "linear_probe", NULL,
                                                                 shot_list[i]);
        if (isnan(c) || isnan(p))
            continue;
        char name[64];
        variant_name(name, sizeof name, &v);
        add(&r, "%s%d shot%s: %.1f (%s) vs %.1f", r.tested ? "; " : "", shot_list[i],
            shot_list[i] == 1 ? "" : "s", c, name, p);
        check(&r, c > p);
    }
    push_row(t, "Fig. 3 (average): the best CoOp with M=16 is above the linear probe at every "
                "shot count", &r);
}

static void f_zeroshot(struct fnd *f, struct rp_table *t)
{
    struct row r = {0};
    double z = average(f, "zeroshot", NULL, -1);
    for (size_t i = 1; !isnan(z) && i < sizeof shot_list / sizeof *shot_list; i++) {
        struct variant v;
        double c = best_coop(f, shot_list[i], &v);
        if (isnan(c))
            continue;
        add(&r, "%s%d shots: %.1f", r.tested ? "; " : "", shot_list[i], c);
        check(&r, c > z);
    }
    if (r.tested)
        add(&r, "; zero-shot %.1f", z);
    push_row(t, "Fig. 3 (average): the best CoOp with M=16 is above zero-shot CLIP from 2 shots "
                "on", &r);
}

static const struct variant coop_default = {16, "end", false};

static void f_unified(struct fnd *f, struct rp_table *t)
{
    struct row r = {0};
    size_t gains = 0, n = 0;
    for (size_t d = 0; d < f->datasets.n; d++) {
        const char *ds = f->datasets.v[d];
        double c = mean_of(f, ds, "coop", &coop_default, 16, "test");
        double z = mean_of(f, ds, "zeroshot", NULL, -1, "test");
        if (isnan(c) || isnan(z))
            continue;
        add(&r, "%s%s %.1f vs %.1f", n ? "; " : "", ds, c, z);
        n++;
        gains += c > z;
    }
    if (n) {
        size_t need = (3 * n + 3) / 4; /* at least three quarters */
        add(&r, " (above on %zu of %zu; needed %zu)", gains, n, need);
        check(&r, gains >= need);
    }
    push_row(t, "Fig. 3: unified CoOp (M=16, end) is above zero-shot CLIP at 16 shots on "
                "most datasets", &r);
}

/* A seed "trains" when its accuracy reaches chance + 10 points. */
static void f_seeds(struct fnd *f, struct rp_table *t)
{
    struct row r = {0};
    for (size_t d = 0; d < f->datasets.n; d++) {
        const char *ds = f->datasets.v[d];
        size_t K = classes_of(f, ds);
        double x[64];
        size_t n = values(f, ds, "coop", &coop_default, 1, "test", x, 64);
        if (!K || !n)
            continue;
        double chance = 100.0 / (double)K, bar = chance + 10, lo = x[0];
        size_t stuck = 0;
        for (size_t i = 0; i < n; i++) {
            lo = fmin(lo, x[i]);
            stuck += x[i] < bar;
        }
        add(&r, "%s%s: lowest of %zu seeds %.1f (bar %.1f)", r.tested ? "; " : "", ds, n, lo,
            bar);
        check(&r, stuck == 0);
    }
    push_row(t, "CoOp learns from 1 shot: every seed of unified CoOp (M=16, end) trains at 1 "
                "shot (10 points above chance)", &r);
}

static void f_ensemble(struct fnd *f, struct rp_table *t)
{
    struct row r = {0};
    double e = average(f, "ensemble", NULL, -1), z = average(f, "zeroshot", NULL, -1);
    if (!isnan(e) && !isnan(z)) {
        add(&r, "ensemble %.1f vs one template %.1f", e, z);
        check(&r, e > z);
    }
    push_row(t, "Prompt ensembling is above the single hand-written template on average", &r);
}

static bool ends_with_nocase(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

/* Table 2: on the -V2, -Sketch and -R targets of every source that has them:
 * target names ending in "v2", "sketch", "-r" or "_r" (world-objects-v2,
 * imagenetv2, imagenet_sketch, imagenet_r, ...). */
static void f_dg(struct fnd *f, struct rp_table *t)
{
    struct row r = {0};
    static const char *const kinds[] = {"v2", "sketch", "-r", "_r"};
    for (size_t d = 0; d < f->datasets.n; d++) {
        const char *ds = f->datasets.v[d];
        struct rp_strs tg = {0};
        for (size_t i = 0; i < f->s->n; i++) {
            const struct rp_trial *tr = &f->s->t[i];
            if (!in_setting(f, tr) || strcmp(tr->dataset, ds) != 0)
                continue;
            for (size_t j = 0; j < tr->n_evals; j++)
                for (int k = 0; k < 4; k++)
                    if (ends_with_nocase(tr->evals[j].target, kinds[k]) &&
                        coop_rp_strs_find(&tg, tr->evals[j].target) < 0)
                        coop_rp_strs_push(&tg, tr->evals[j].target);
        }
        for (size_t k = 0; k < tg.n; k++) {
            double c = mean_of(f, ds, "coop", &coop_default, 16, tg.v[k]);
            double z = mean_of(f, ds, "zeroshot", NULL, -1, tg.v[k]);
            double p = mean_of(f, ds, "linear_probe", NULL, 16, tg.v[k]);
            if (isnan(c) || isnan(z) || isnan(p))
                continue;
            add(&r, "%s%s: CoOp %.1f, zero-shot %.1f, probe %.1f", r.tested ? "; " : "",
                tg.v[k], c, z, p);
            check(&r, c >= z - 1 && c > p);
        }
        coop_rp_strs_free(&tg);
    }
    push_row(t, "Table 2: CoOp (M=16, end, unified, 16 shots) keeps zero-shot's robustness "
                "(at least zero-shot - 1) and beats the linear probe on the -V2, -Sketch and "
                "-R targets", &r);
}

int coop_rp_table_findings(struct rp_table *t, struct rp_set *s, int setting)
{
    if (coop_rp_table_start(t, "findings", "Findings: the paper's claims against these results",
                            s->settings.v[setting]))
        return COOP_E_NOMEM;
    struct fnd f = {s, setting, {0}};
    for (size_t i = 0; i < s->n; i++) {
        const struct rp_trial *tr = &s->t[i];
        if (in_setting(&f, tr) && tr->shots > 0 &&
            coop_rp_strs_find(&f.datasets, tr->dataset) < 0)
            coop_rp_strs_push(&f.datasets, tr->dataset);
    }
    if (f.datasets.n)
        qsort(f.datasets.v, f.datasets.n, sizeof *f.datasets.v, coop_rp_str_cmp_q);
    coop_rp_strs_push(&t->header, "Claim (paper)");
    coop_rp_strs_push(&t->header, "Measured (test accuracy %, mean over seeds)");
    coop_rp_strs_push(&t->header, "Verdict");
    t->ncol = 3;
    if (f.datasets.n) {
        f_probe(&f, t);
        f_zeroshot(&f, t);
        f_unified(&f, t);
        f_seeds(&f, t);
        f_ensemble(&f, t);
        f_dg(&f, t);
    }
    coop_rp_strs_push(&t->notes, "Averages are over the datasets with few-shot trials, as in "
                                 "the few-shot table; a claim is 'not measured' when a needed "
                                 "method, shot count or target is missing.");
    bool oom = f.datasets.oom;
    coop_rp_strs_free(&f.datasets);
    return oom ? COOP_E_NOMEM : 0;
}
