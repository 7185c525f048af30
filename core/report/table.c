/* table.c: a table of text cells and its Markdown, CSV and LaTeX renderings.
 * Cells are already formatted ("61.2 ± 1.3"); renderers only escape. */
#include "report_internal.h"
#include <stdlib.h>
#include <string.h>

size_t coop_rp_table_rows(const struct rp_table *t)
{
    return t->ncol ? t->cells.n / t->ncol : 0;
}

const char *coop_rp_table_cell(const struct rp_table *t, size_t row, size_t col)
{
    return t->cells.v[row * t->ncol + col];
}

void coop_rp_table_free(struct rp_table *t)
{
    free(t->title);
    free(t->name);
    coop_rp_strs_free(&t->header);
    coop_rp_strs_free(&t->cells);
    coop_rp_strs_free(&t->notes);
    memset(t, 0, sizeof *t);
}

static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

int coop_rp_table_write_md(FILE *f, const struct rp_table *t)
{
    fprintf(f, "### %s\n\n|", t->title);
    for (size_t c = 0; c < t->ncol; c++) {
        fputc(' ', f);
        md_cell(f, t->header.v[c]);
        fputs(" |", f);
    }
    fputs("\n|", f);
    for (size_t c = 0; c < t->ncol; c++)
        fputs(c < 2 ? "---|" : "--:|", f);
    fputc('\n', f);
    for (size_t r = 0; r < coop_rp_table_rows(t); r++) {
        fputc('|', f);
        for (size_t c = 0; c < t->ncol; c++) {
            fputc(' ', f);
            md_cell(f, coop_rp_table_cell(t, r, c));
            fputs(" |", f);
        }
        fputc('\n', f);
    }
    for (size_t i = 0; i < t->notes.n; i++)
        fprintf(f, "%s%s\n", i ? "" : "\n", t->notes.v[i]);
    fputc('\n', f);
    return ferror(f) ? -1 : 0;
}

void coop_rp_csv_cell(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int coop_rp_table_write_csv(FILE *f, const struct rp_table *t)
{
    for (size_t c = 0; c < t->ncol; c++) {
        if (c)
            fputc(',', f);
        coop_rp_csv_cell(f, t->header.v[c]);
    }
    fputc('\n', f);
    for (size_t r = 0; r < coop_rp_table_rows(t); r++) {
        for (size_t c = 0; c < t->ncol; c++) {
            if (c)
                fputc(',', f);
            coop_rp_csv_cell(f, coop_rp_table_cell(t, r, c));
        }
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

static void tex_cell(FILE *f, const char *s)
{
    while (*s) {
        if (strncmp(s, "\xc2\xb1", 2) == 0) { /* ± */
            fputs("$\\pm$", f);
            s += 2;
            continue;
        }
        if (strncmp(s, "\xe2\x80\x94", 3) == 0) { /* — */
            fputs("--", f);
            s += 3;
            continue;
        }
        switch (*s) {
        case '&': case '%': case '$': case '#': case '_': case '{': case '}':
            fputc('\\', f);
            fputc(*s, f);
            break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\textasciicircum{}", f); break;
        case '\\': fputs("\\textbackslash{}", f); break;
        default: fputc(*s, f);
        }
        s++;
    }
}

int coop_rp_table_write_tex(FILE *f, const struct rp_table *t)
{
    fputs("% ", f);
    tex_cell(f, t->title);
    fputs("\n\\begin{tabular}{", f);
    for (size_t c = 0; c < t->ncol; c++)
        fputc(c < 2 ? 'l' : 'c', f);
    fputs("}\n\\toprule\n", f);
    for (size_t c = 0; c < t->ncol; c++) {
        tex_cell(f, t->header.v[c]);
        fputs(c + 1 < t->ncol ? " & " : " \\\\\n", f);
    }
    fputs("\\midrule\n", f);
    for (size_t r = 0; r < coop_rp_table_rows(t); r++) {
        for (size_t c = 0; c < t->ncol; c++) {
            tex_cell(f, coop_rp_table_cell(t, r, c));
            fputs(c + 1 < t->ncol ? " & " : " \\\\\n", f);
        }
    }
    fputs("\\bottomrule\n\\end{tabular}\n", f);
    return ferror(f) ? -1 : 0;
}
