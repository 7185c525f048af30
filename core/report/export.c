/* export.c: every trial in one HDF5 file and CSVs (export/all_trials*) for
 * pandas users: one row per (trial, evaluation target), one column per root
 * attribute (config excluded: it is in each trial file); beside it two long
 * tables keyed by file: per-class accuracy (one row per trial, target and
 * class) and training curves (one row per trial and epoch). */
#include "report_internal.h"
#include "coop/results.h"
#include "coop/util.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_q(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One export row: trial index and evaluation index (-1: none). */
struct row {
    size_t trial;
    long eval;
};

static size_t build_rows(struct row **out, const struct rp_set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->t[i].n_evals ? s->t[i].n_evals : 1;
    struct row *r = calloc(n + 1, sizeof *r);
    size_t k = 0;
    for (size_t i = 0; r && i < s->n; i++) {
        if (!s->t[i].n_evals)
            r[k++] = (struct row){i, -1};
        for (size_t j = 0; j < s->t[i].n_evals; j++)
            r[k++] = (struct row){i, (long)j};
    }
    *out = r;
    return r ? n : 0;
}

static const char *num_cols[] = {"accuracy", "macro_f1", "n_samples"};

static double eval_num(const struct rp_eval *ev, int c)
{
    if (!ev)
        return NAN;
    return c == 0 ? ev->accuracy : c == 1 ? ev->macro_f1 : ev->n_samples;
}

static int write_csv(const char *path, const struct rp_set *s, const struct rp_strs *cols,
                     const struct row *rows, size_t nr, struct coop_err *e)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return coop_fail(e, COOP_E_IO, "%s: cannot write: %s", path, strerror(errno));
    fputs("file", f);
    for (size_t c = 0; c < cols->n; c++)
        fprintf(f, ",%s", cols->v[c]);
    fputs(",target,accuracy,macro_f1,n_samples\n", f);
    for (size_t i = 0; i < nr; i++) {
        const struct rp_trial *t = &s->t[rows[i].trial];
        const struct rp_eval *ev = rows[i].eval >= 0 ? &t->evals[rows[i].eval] : NULL;
        coop_rp_csv_cell(f, t->file);
        for (size_t c = 0; c < cols->n; c++) {
            const char *v = coop_rp_get(t, cols->v[c]);
            fputc(',', f);
            coop_rp_csv_cell(f, v ? v : "");
        }
        fputc(',', f);
        coop_rp_csv_cell(f, ev ? ev->target : "");
        for (int c = 0; c < 3; c++) {
            double v = eval_num(ev, c);
            if (isnan(v))
                fputs(",", f);
            else
                fprintf(f, ",%.17g", v);
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return coop_fail(e, COOP_E_IO, "%s: write failed", path);
    return 0;
}

static int write_h5_columns(struct coop_results_writer *w, const struct rp_set *s,
                            const struct rp_strs *cols, const struct row *rows, size_t nr,
                            struct coop_err *e)
{
    const char **sv = calloc(nr + 1, sizeof *sv);
    double *dv = calloc(nr + 1, sizeof *dv);
    int rc = (!sv || !dv) ? coop_fail(e, COOP_E_NOMEM, "report: out of memory") : 0;
    char p[512];
    for (size_t c = 0; !rc && c < cols->n + 2; c++) {
        const char *name = c < cols->n ? cols->v[c] : c == cols->n ? "file" : "target";
        for (size_t i = 0; i < nr; i++) {
            const struct rp_trial *t = &s->t[rows[i].trial];
            const char *v = c < cols->n ? coop_rp_get(t, name) : c == cols->n ? t->file
                            : rows[i].eval >= 0 ? t->evals[rows[i].eval].target : "";
            sv[i] = v ? v : "";
        }
        snprintf(p, sizeof p, "trials/%s", name);
        rc = coop_results_write_strings(w, p, sv, 1, &nr, e);
    }
    for (int c = 0; !rc && c < 3; c++) {
        for (size_t i = 0; i < nr; i++) {
            const struct rp_trial *t = &s->t[rows[i].trial];
            dv[i] = eval_num(rows[i].eval >= 0 ? &t->evals[rows[i].eval] : NULL, c);
        }
        snprintf(p, sizeof p, "trials/%s", num_cols[c]);
        rc = coop_results_write_f64(w, p, dv, 1, &nr, e);
    }
    free(sv);
    free(dv);
    return rc;
}

/* ---- per-class accuracy and training curves: long tables ------------------ */
static size_t n_class_rows(const struct rp_set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < s->t[i].n_evals; j++)
            n += s->t[i].evals[j].n_classes;
    return n;
}

static size_t n_curve_rows(const struct rp_set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->t[i].curve.n;
    return n;
}

static int write_csv_long(const char *dir, const struct rp_set *s, struct rp_strs *written,
                          struct coop_err *e)
{
    char *pc = coop_asprintf("%s/all_trials_per_class.csv", dir);
    char *cv = coop_asprintf("%s/all_trials_curves.csv", dir);
    FILE *f = pc ? fopen(pc, "w") : NULL, *g = f && cv ? fopen(cv, "w") : NULL;
    int rc = 0;
    if (!pc || !cv)
        rc = coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    else if (!f || !g)
        rc = coop_fail(e, COOP_E_IO, "%s: cannot write: %s", f ? cv : pc, strerror(errno));
    if (!rc) {
        fputs("file,target,class_index,class,accuracy\n", f);
        fputs("file,epoch,loss,accuracy,lr\n", g);
    }
    for (size_t i = 0; !rc && i < s->n; i++) {
        const struct rp_trial *t = &s->t[i];
        for (size_t j = 0; j < t->n_evals; j++)
            for (size_t k = 0; k < t->evals[j].n_classes; k++) {
                coop_rp_csv_cell(f, t->file);
                fputc(',', f);
                coop_rp_csv_cell(f, t->evals[j].target);
                fprintf(f, ",%zu,", k);
                coop_rp_csv_cell(f, t->evals[j].class_names[k]);
                fprintf(f, ",%.9g\n", (double)t->evals[j].per_class[k]);
            }
        for (size_t k = 0; k < t->curve.n; k++) {
            coop_rp_csv_cell(g, t->file);
            fprintf(g, ",%d,%.17g,%.17g,%.17g\n", (int)t->curve.epoch[k], t->curve.loss[k],
                    t->curve.accuracy[k], t->curve.lr[k]);
        }
    }
    int bad = (f && ferror(f)) || (g && ferror(g));
    if (f && fclose(f) != 0)
        bad = 1;
    if (g && fclose(g) != 0)
        bad = 1;
    if (!rc && bad)
        rc = coop_fail(e, COOP_E_IO, "%s, %s: write failed", pc, cv);
    if (!rc) {
        coop_rp_strs_push(written, pc);
        coop_rp_strs_push(written, cv);
    }
    free(pc), free(cv);
    return rc;
}

/* per_class/{file,target,class_index,class,accuracy}: one row per trial,
 * target and class. */
static int write_h5_per_class(struct coop_results_writer *w, const struct rp_set *s,
                              struct coop_err *e)
{
    size_t n = n_class_rows(s), k = 0;
    const char **file = calloc(n + 1, sizeof *file), **tg = calloc(n + 1, sizeof *tg),
               **cls = calloc(n + 1, sizeof *cls);
    int32_t *ix = calloc(n + 1, sizeof *ix);
    float *acc = calloc(n + 1, sizeof *acc);
    int rc = file && tg && cls && ix && acc ? 0 : coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    for (size_t i = 0; !rc && i < s->n; i++)
        for (size_t j = 0; j < s->t[i].n_evals; j++)
            for (size_t c = 0; c < s->t[i].evals[j].n_classes; c++, k++) {
                file[k] = s->t[i].file;
                tg[k] = s->t[i].evals[j].target;
                cls[k] = s->t[i].evals[j].class_names[c];
                ix[k] = (int32_t)c;
                acc[k] = s->t[i].evals[j].per_class[c];
            }
    if (!rc)
        rc = coop_results_write_strings(w, "per_class/file", file, 1, &n, e);
    if (!rc)
        rc = coop_results_write_strings(w, "per_class/target", tg, 1, &n, e);
    if (!rc)
        rc = coop_results_write_i32(w, "per_class/class_index", ix, 1, &n, e);
    if (!rc)
        rc = coop_results_write_strings(w, "per_class/class", cls, 1, &n, e);
    if (!rc)
        rc = coop_results_write_f32(w, "per_class/accuracy", acc, 1, &n, e);
    free(file), free(tg), free(cls), free(ix), free(acc);
    return rc;
}

/* curves/{file,epoch,loss,accuracy,lr}: one row per trial and epoch. */
static int write_h5_curves(struct coop_results_writer *w, const struct rp_set *s,
                           struct coop_err *e)
{
    size_t n = n_curve_rows(s), k = 0;
    const char **file = calloc(n + 1, sizeof *file);
    int32_t *ep = calloc(n + 1, sizeof *ep);
    double *col[3] = {calloc(n + 1, sizeof(double)), calloc(n + 1, sizeof(double)),
                      calloc(n + 1, sizeof(double))};
    int rc = file && ep && col[0] && col[1] && col[2]
                 ? 0 : coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    for (size_t i = 0; !rc && i < s->n; i++) {
        const struct rp_curve *c = &s->t[i].curve;
        for (size_t j = 0; j < c->n; j++, k++) {
            file[k] = s->t[i].file;
            ep[k] = c->epoch[j];
            col[0][k] = c->loss[j];
            col[1][k] = c->accuracy[j];
            col[2][k] = c->lr[j];
        }
    }
    const char *names[3] = {"curves/loss", "curves/accuracy", "curves/lr"};
    if (!rc)
        rc = coop_results_write_strings(w, "curves/file", file, 1, &n, e);
    if (!rc)
        rc = coop_results_write_i32(w, "curves/epoch", ep, 1, &n, e);
    for (int c = 0; c < 3 && !rc; c++)
        rc = coop_results_write_f64(w, names[c], col[c], 1, &n, e);
    free(file), free(ep), free(col[0]), free(col[1]), free(col[2]);
    return rc;
}

static int write_h5(const char *dir, const struct rp_set *s, const struct rp_strs *cols,
                    const struct row *rows, size_t nr, struct coop_err *e)
{
    struct coop_results_writer *w;
    int rc = coop_results_begin(dir, "all_trials", true, &w, e);
    if (rc)
        return rc;
    if ((rc = coop_results_attr_str(w, "kind", "coop-report export", e)) ||
        (rc = coop_results_attr_int(w, "n_trials", (int64_t)s->n, e)) ||
        (rc = write_h5_columns(w, s, cols, rows, nr, e)) ||
        (rc = write_h5_per_class(w, s, e)) || (rc = write_h5_curves(w, s, e))) {
        coop_results_abort(w);
        return rc;
    }
    return coop_results_commit(w, "completed", NULL, e);
}

int coop_rp_export(const struct rp_set *s, const char *dir, struct rp_strs *written,
                   struct coop_err *e)
{
    int rc = coop_mkdirs(dir, e);
    if (rc)
        return rc;
    struct rp_strs cols = {0};
    for (size_t i = 0; i < s->n; i++)
        for (size_t k = 0; k < s->t[i].keys.n; k++)
            if (coop_rp_strs_find(&cols, s->t[i].keys.v[k]) < 0)
                coop_rp_strs_push(&cols, s->t[i].keys.v[k]);
    if (cols.n)
        qsort(cols.v, cols.n, sizeof *cols.v, cmp_q);
    struct row *rows;
    size_t nr = build_rows(&rows, s);
    char *csv = coop_asprintf("%s/all_trials.csv", dir);
    if (!rows || !csv)
        rc = coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    if (!rc && !(rc = write_csv(csv, s, &cols, rows, nr, e)))
        coop_rp_strs_push(written, csv);
    if (!rc)
        rc = write_csv_long(dir, s, written, e);
    if (!rc && !(rc = write_h5(dir, s, &cols, rows, nr, e)))
        coop_rp_strs_pushf(written, "%s/all_trials.h5", dir);
    free(csv);
    free(rows);
    coop_rp_strs_free(&cols);
    return rc;
}
