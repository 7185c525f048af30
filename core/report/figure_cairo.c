/* figure_cairo.c: the paper's few-shot curves drawn with cairo: one panel per
 * dataset plus the average, accuracy against shots (categorical x axis),
 * one line per method; methods without training shots (zero-shot) are a
 * marker at 0 shots with a dashed flat line. Writes <stem>.png and .svg. */
#include "report_internal.h"
#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const bool coop_rp_have_figures = true;

enum { PANEL_W = 300, PANEL_H = 240, ML = 45, MR = 12, MT = 26, MB = 36, LEG_ROW = 18 };

static const double palette[][3] = {
    {0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
    {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
    {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81},
    /* beyond ten methods: darker and lighter variants, so no two lines share a colour */
    {0.00, 0.00, 0.00}, {0.40, 0.76, 0.65}, {0.55, 0.63, 0.80}, {0.99, 0.55, 0.38},
    {0.40, 0.20, 0.60}, {0.65, 0.85, 0.33}, {0.90, 0.67, 0.01}, {0.70, 0.10, 0.35}};
#define NPAL (sizeof palette / sizeof *palette)

struct layout {
    const char *panels[64];
    size_t np;
    const char *labels[64];
    size_t nl;
    int cols, rows, w, h, legend_h;
};

static size_t index_of(const char **v, size_t *n, const char *s, size_t max)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(v[i], s))
            return i;
    if (*n < max)
        v[(*n)++] = s;
    return *n - 1;
}

static void make_layout(struct layout *L, const struct rp_curves *c)
{
    memset(L, 0, sizeof *L);
    for (size_t i = 0; i < c->n; i++) {
        index_of(L->panels, &L->np, c->s[i].panel, 64);
        index_of(L->labels, &L->nl, c->s[i].label, 64);
    }
    for (size_t i = 1; i < L->nl; i++) /* legend and colours in table order */
        for (size_t j = i; j > 0 && coop_rp_label_cmp(L->labels[j - 1], L->labels[j]) > 0; j--) {
            const char *tmp = L->labels[j];
            L->labels[j] = L->labels[j - 1];
            L->labels[j - 1] = tmp;
        }
    L->cols = L->np < 4 ? (int)(L->np ? L->np : 1) : 4;
    L->rows = (int)((L->np + (size_t)L->cols - 1) / (size_t)L->cols);
    if (L->rows < 1)
        L->rows = 1;
    L->legend_h = LEG_ROW * (int)((L->nl + 1) / 2) + 12;
    L->w = L->cols * PANEL_W;
    L->h = L->rows * PANEL_H + L->legend_h;
}

static double x_of(const struct rp_curves *c, int shots, double x0, double pw)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n_shots; i++)
        if (c->shots[i] == shots)
            k = i;
    return c->n_shots > 1 ? x0 + pw * (double)k / (double)(c->n_shots - 1) : x0 + pw / 2;
}

static void y_range(const struct rp_curves *c, const char *panel, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; !strcmp(c->s[i].panel, panel) && j < c->s[i].n; j++) {
            *lo = fmin(*lo, c->s[i].mean[j]);
            *hi = fmax(*hi, c->s[i].mean[j]);
        }
    *lo = fmax(0, floor((*lo - 1) / 5) * 5); /* accuracies are percentages */
    *hi = fmin(100, ceil((*hi + 1) / 5) * 5);
    if (*hi - *lo < 10) {
        if (*lo + 10 <= 100)
            *hi = *lo + 10;
        else
            *lo = *hi - 10;
    }
}

static void text(cairo_t *cr, double x, double y, const char *s, double align)
{
    cairo_text_extents_t ex;
    cairo_text_extents(cr, s, &ex);
    cairo_move_to(cr, x - align * ex.width, y);
    cairo_show_text(cr, s);
}

static void axes(cairo_t *cr, const struct rp_curves *c, const char *panel, double x0, double y0,
                 double pw, double ph, double lo, double hi)
{
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, y0, pw, ph);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 12);
    text(cr, x0 + pw / 2, y0 - 8, panel, 0.5);
    cairo_set_font_size(cr, 10);
    double step = hi - lo > 40 ? 10 : 5;
    char buf[32];
    for (double v = ceil(lo / step) * step; v <= hi + 1e-9; v += step) {
        double y = y0 + ph - ph * (v - lo) / (hi - lo);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, x0, y);
        cairo_line_to(cr, x0 + pw, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        snprintf(buf, sizeof buf, "%.0f", v);
        text(cr, x0 - 4, y + 3, buf, 1.0);
    }
    for (size_t i = 0; i < c->n_shots; i++) {
        snprintf(buf, sizeof buf, "%d", c->shots[i]);
        text(cr, x_of(c, c->shots[i], x0 + 10, pw - 20), y0 + ph + 13, buf, 0.5);
    }
    text(cr, x0 + pw / 2, y0 + ph + 27, "shots per class", 0.5);
}

static void series(cairo_t *cr, const struct rp_curves *c, const struct rp_series *s,
                   const double *rgb, double x0, double y0, double pw, double ph, double lo,
                   double hi)
{
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_set_line_width(cr, 2);
#define Y(v) (y0 + ph - ph * ((v) - lo) / (hi - lo))
    bool flat = s->n == 1 && s->shots[0] == 0;
    if (flat) {
        double dash = 5;
        cairo_set_dash(cr, &dash, 1, 0);
        cairo_move_to(cr, x0, Y(s->mean[0]));
        cairo_line_to(cr, x0 + pw, Y(s->mean[0]));
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    } else {
        for (size_t j = 0; j < s->n; j++) {
            double x = x_of(c, s->shots[j], x0 + 10, pw - 20);
            if (j == 0)
                cairo_move_to(cr, x, Y(s->mean[j]));
            else
                cairo_line_to(cr, x, Y(s->mean[j]));
        }
        cairo_stroke(cr);
    }
    for (size_t j = 0; j < s->n; j++) {
        cairo_arc(cr, x_of(c, s->shots[j], x0 + 10, pw - 20), Y(s->mean[j]), flat ? 4.5 : 3, 0,
                  2 * M_PI);
        cairo_fill(cr);
    }
#undef Y
}

static void draw(cairo_t *cr, const struct rp_curves *c, const struct layout *L)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    for (size_t p = 0; p < L->np; p++) {
        double x0 = (double)((int)p % L->cols) * PANEL_W + ML;
        double y0 = (double)((int)p / L->cols) * PANEL_H + MT;
        double pw = PANEL_W - ML - MR, ph = PANEL_H - MT - MB, lo, hi;
        y_range(c, L->panels[p], &lo, &hi);
        axes(cr, c, L->panels[p], x0, y0, pw, ph, lo, hi);
        cairo_save(cr);
        cairo_rectangle(cr, x0 - 6, y0 - 6, pw + 12, ph + 12); /* markers on the frame stay whole */
        cairo_clip(cr);
        for (size_t i = 0; i < c->n; i++) {
            if (strcmp(c->s[i].panel, L->panels[p]) != 0)
                continue;
            size_t li = 0;
            while (li < L->nl && strcmp(L->labels[li], c->s[i].label))
                li++;
            series(cr, c, &c->s[i], palette[li % NPAL], x0, y0, pw, ph, lo, hi);
        }
        cairo_restore(cr);
    }
    cairo_set_font_size(cr, 11);
    for (size_t i = 0; i < L->nl; i++) {
        double x = 20 + (double)(i % 2) * (L->w / 2.0), y = L->rows * PANEL_H + 12 +
                                                             (double)(i / 2) * LEG_ROW;
        const double *rgb = palette[i % NPAL];
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, x, y, 24, 4);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text(cr, x + 30, y + 6, L->labels[i], 0);
    }
}

static int finish(cairo_surface_t *sf, cairo_t *cr, const char *path, struct coop_err *e)
{
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(sf);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(sf);
    cairo_surface_destroy(sf);
    if (st != CAIRO_STATUS_SUCCESS)
        return coop_fail(e, COOP_E_IO, "%s: cairo: %s", path, cairo_status_to_string(st));
    return 0;
}

int coop_rp_figure_fewshot(const struct rp_curves *c, const char *stem, struct coop_err *e)
{
    struct layout L;
    make_layout(&L, c);
    char path[1200];
    snprintf(path, sizeof path, "%s.png", stem);
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, L.w, L.h);
    cairo_t *cr = cairo_create(img);
    draw(cr, c, &L);
    cairo_status_t st = cairo_surface_write_to_png(img, path);
    int rc = finish(img, cr, path, e);
    if (!rc && st != CAIRO_STATUS_SUCCESS)
        rc = coop_fail(e, COOP_E_IO, "%s: cannot write PNG: %s", path, cairo_status_to_string(st));
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s.svg", stem);
    cairo_surface_t *svg = cairo_svg_surface_create(path, L.w, L.h);
    cr = cairo_create(svg);
    draw(cr, c, &L);
    return finish(svg, cr, path, e);
}
