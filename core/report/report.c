/* report.c: coop_report_generate: load a results folder, build every table
 * per setting, write them as Markdown/CSV/LaTeX, draw the figures and write
 * the consolidated export. Collects what a tool should print; prints nothing. */
#include "report_internal.h"
#include "coop/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool coop_report_have_figures(void)
{
    return coop_rp_have_figures;
}

void coop_report_output_free(struct coop_report_output *o)
{
    free(o->markdown);
    struct rp_strs w = {o->warnings, o->n_warnings, o->n_warnings, false};
    struct rp_strs f = {o->written, o->n_written, o->n_written, false};
    coop_rp_strs_free(&w);
    coop_rp_strs_free(&f);
    memset(o, 0, sizeof *o);
}

typedef int (*render_fn)(FILE *, const struct rp_table *);

static int write_table(const struct rp_table *t, const char *dir, struct rp_strs *written,
                       struct coop_err *e)
{
    static const char *const ext[] = {"md", "csv", "tex"};
    const render_fn fn[] = {coop_rp_table_write_md, coop_rp_table_write_csv,
                            coop_rp_table_write_tex};
    for (int i = 0; i < 3; i++) {
        char *p = coop_asprintf("%s/%s.%s", dir, t->name, ext[i]);
        if (!p)
            return coop_fail(e, COOP_E_NOMEM, "report: out of memory");
        FILE *f = fopen(p, "w");
        int bad = !f || fn[i](f, t) != 0;
        if (f && fclose(f) != 0)
            bad = 1;
        if (bad) {
            int rc = coop_fail(e, COOP_E_IO, "%s: cannot write: %s", p, strerror(errno));
            free(p);
            return rc;
        }
        coop_rp_strs_push(written, p);
        free(p);
    }
    return 0;
}

struct gen {
    struct rp_set s;
    const struct coop_report_options *opt;
    char *tables, *figures, *export;
    FILE *md;
    struct rp_strs written;
    bool figure_note;
};

static int emit(struct gen *g, struct rp_table *t, const char *suffix, bool always,
                struct coop_err *e)
{
    char *name = coop_asprintf("%s%s", t->name, suffix);
    if (!name)
        return coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    free(t->name);
    t->name = name;
    if (t->cells.oom || t->header.oom || t->notes.oom || g->s.warnings.oom)
        return coop_fail(e, COOP_E_NOMEM, "report: out of memory building %s", name);
    if (!always && coop_rp_table_rows(t) == 0) {
        fprintf(g->md, "(%s: no matching trials, table not written)\n\n", t->name);
        return 0;
    }
    coop_rp_table_write_md(g->md, t);
    return write_table(t, g->tables, &g->written, e);
}

static int figures(struct gen *g, const struct rp_curves *cv, const char *suffix,
                   struct coop_err *e)
{
    if (!g->opt->figures || !cv->n)
        return 0;
    if (!coop_rp_have_figures) {
        if (!g->figure_note)
            coop_rp_strs_push(&g->s.warnings, "figures skipped: coop was built without cairo "
                              "(install libcairo2-dev and reconfigure)");
        g->figure_note = true;
        return 0;
    }
    char *stem = coop_asprintf("%s/fewshot%s", g->figures, suffix);
    if (!stem)
        return coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    int rc = coop_rp_figure_fewshot(cv, stem, e);
    if (!rc) {
        coop_rp_strs_pushf(&g->written, "%s.png", stem);
        coop_rp_strs_pushf(&g->written, "%s.svg", stem);
    }
    free(stem);
    return rc;
}

static int one_setting(struct gen *g, int k, struct coop_err *e)
{
    char suffix[32] = "";
    if (g->s.settings.n > 1) {
        snprintf(suffix, sizeof suffix, "_s%d", k + 1);
        fprintf(g->md, "## Setting s%d: %s\n\n", k + 1, g->s.settings.v[k]);
    }
    struct rp_table t;
    struct rp_curves cv;
    int rc = coop_rp_table_findings(&t, &g->s, k);
    if (!rc && coop_rp_table_rows(&t) > 0)
        rc = emit(g, &t, suffix, true, e);
    coop_rp_table_free(&t);
    if (rc) {
        if (rc == COOP_E_NOMEM && !e->msg[0])
            coop_fail(e, rc, "report: out of memory");
        return rc;
    }
    rc = coop_rp_table_fewshot(&t, &cv, &g->s, k);
    if (!rc) /* a base-to-new study alone has no few-shot table */
        rc = emit(g, &t, suffix, coop_rp_setting_has(&g->s, k, false), e);
    coop_rp_table_free(&t);
    if (!rc)
        rc = figures(g, &cv, suffix, e);
    coop_rp_curves_free(&cv);
    if (!rc && !(rc = coop_rp_table_dg(&t, &g->s, k)))
        rc = emit(g, &t, suffix, false, e);
    coop_rp_table_free(&t);
    if (!rc && !(rc = coop_rp_table_base2new(&t, &g->s, k)))
        rc = emit(g, &t, suffix, false, e);
    coop_rp_table_free(&t);
    static const char *const axes[] = {"n_ctx", "position", "csc"};
    for (int a = 0; a < 3 && !rc; a++) {
        if (!(rc = coop_rp_table_ablation(&t, &g->s, k, axes[a])))
            rc = emit(g, &t, suffix, false, e);
        coop_rp_table_free(&t);
    }
    if (rc == COOP_E_NOMEM && !e->msg[0])
        coop_fail(e, rc, "report: out of memory");
    return rc;
}

static int prepare(struct gen *g, const struct coop_report_options *opt, char **mdbuf,
                   size_t *mdlen, struct coop_err *e)
{
    g->opt = opt;
    char *out = opt->out_dir ? coop_strdup(opt->out_dir)
                             : coop_asprintf("%s/report", opt->results_dir);
    if (!out)
        return coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    g->tables = coop_asprintf("%s/tables", out);
    g->figures = coop_asprintf("%s/figures", out);
    g->export = coop_asprintf("%s/export", out);
    free(out);
    if (!g->tables || !g->figures || !g->export)
        return coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    int rc;
    if ((rc = coop_mkdirs(g->tables, e)) ||
        (opt->figures && coop_rp_have_figures && (rc = coop_mkdirs(g->figures, e))))
        return rc;
    g->md = open_memstream(mdbuf, mdlen);
    return g->md ? 0 : coop_fail(e, COOP_E_NOMEM, "report: out of memory");
}

int coop_report_generate(const struct coop_report_options *opt, struct coop_report_output *out,
                         struct coop_err *e)
{
    memset(out, 0, sizeof *out);
    if (e)
        e->msg[0] = 0;
    struct gen g = {0};
    char *mdbuf = NULL;
    size_t mdlen = 0;
    int rc = coop_rp_load(&g.s, opt->results_dir, e);
    if (!rc)
        rc = prepare(&g, opt, &mdbuf, &mdlen, e);
    if (!rc && g.s.n == 0)
        coop_rp_strs_pushf(&g.s.warnings, "%s: no readable trial files (*.h5)", opt->results_dir);
    for (int k = 0; !rc && k < (int)g.s.settings.n; k++)
        rc = one_setting(&g, k, e);
    if (!rc)
        rc = coop_rp_export(&g.s, g.export, &g.written, e);
    if (g.md)
        fclose(g.md);
    for (size_t i = 0; i < g.s.n; i++) {
        out->n_completed += g.s.t[i].completed;
        out->n_failed += g.s.t[i].failed;
    }
    out->n_files = g.s.n_files;
    out->n_unreadable = g.s.n_unreadable;
    out->markdown = mdbuf ? mdbuf : coop_strdup("");
    out->warnings = g.s.warnings.v;
    out->n_warnings = g.s.warnings.n;
    g.s.warnings = (struct rp_strs){0};
    out->written = g.written.v;
    out->n_written = g.written.n;
    coop_rp_set_free(&g.s);
    free(g.tables);
    free(g.figures);
    free(g.export);
    if (rc)
        coop_report_output_free(out);
    return rc;
}
