/* render.c: rasterises a scene into RGB8. Backgrounds are evaluated per
 * pixel (supersampled where they have hard edges); each object is a polygon
 * whose pixels are classified by their distance to the outline: pixels far
 * inside or outside take one sample (or k x k for patterned interiors), the
 * band along the edge takes k x k samples, so anti-aliasing costs little. */
#include "world_internal.h"
#include "coop/util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct canvas {
    float *px; /* [size, size, 3], 0..255 */
    int size, ss;
};

static float frac(float v) { return v - floorf(v); }

static float mixf(float a, float b, float t) { return a + (b - a) * t; }

static float hash01(uint64_t seed, uint64_t i)
{
    return (float)(coop_mix64(seed + 0x9E3779B97F4A7C15ULL * (i + 1)) >> 40) * (1.0f / 16777216.0f);
}

/* ---- backgrounds ------------------------------------------------------------ */

/* Smooth value noise over the image from a 4x4-cell lattice of random
 * values lat[6][6] in [-1, 1], at (u, v) in image units. */
static float value_noise(float lat[6][6], float u, float v)
{
    float gx = u * 4.0f, gy = v * 4.0f;
    int ix = (int)gx, iy = (int)gy;
    ix = ix > 4 ? 4 : ix;
    iy = iy > 4 ? 4 : iy;
    float fx = gx - ix, fy = gy - iy;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    return mixf(mixf(lat[iy][ix], lat[iy][ix + 1], fx), mixf(lat[iy + 1][ix], lat[iy + 1][ix + 1], fx),
                fy);
}

/* Fraction of [a, a + 1) (pixel units) covered by periodic bands
 * [k * period, k * period + width), estimated with ss samples. */
static float band_cover(float a, float period, float width, int ss)
{
    int hit = 0;
    for (int i = 0; i < ss; i++)
        hit += frac((a + (i + 0.5f) / ss) / period) * period < width;
    return (float)hit / (float)ss;
}

/* Halftone: dots on a lattice of pitch q (pixels), radius growing downwards. */
static float halftone_cover(float x, float y, float q, int n, int ss)
{
    float rad = q * (0.15f + 0.25f * (y + 0.5f) / n);
    float fu = (frac((x + 0.5f) / q) - 0.5f) * q, fv = (frac((y + 0.5f) / q) - 0.5f) * q;
    float d = sqrtf(fu * fu + fv * fv);
    if (d < rad - 0.75f || d > rad + 0.75f)
        return d < rad ? 1.0f : 0.0f;
    int hit = 0;
    for (int j = 0; j < ss; j++)
        for (int i = 0; i < ss; i++) {
            float sx = x + (i + 0.5f) / ss, sy = y + (j + 0.5f) / ss;
            float r2 = q * (0.15f + 0.25f * sy / n);
            float a = (frac(sx / q) - 0.5f) * q, b = (frac(sy / q) - 0.5f) * q;
            hit += a * a + b * b < r2 * r2;
        }
    return (float)hit / (float)(ss * ss);
}

static void background(struct canvas *c, const struct coop_world_scene *s)
{
    int n = c->size, ss = c->ss;
    float ca = cosf(s->bg_angle), sa = sinf(s->bg_angle), period = s->bg_scale * n;
    float lat[6][6], line = 0.12f * period;
    for (int j = 0; j < 6; j++)
        for (int i = 0; i < 6; i++)
            lat[j][i] = hash01(s->bg_seed ^ 0x5bd1e995ULL, (uint64_t)(j * 6 + i)) * 2 - 1;
    for (int y = 0; y < n; y++) {
        float cy = s->background == COOP_WORLD_BG_GRID ? band_cover((float)y, period, line, ss) : 0;
        for (int x = 0; x < n; x++) {
            float u = (x + 0.5f) / n, v = (y + 0.5f) / n, t = 0.0f, add = 0.0f;
            switch (s->background) {
            case COOP_WORLD_BG_GRADIENT:
                t = fminf(1.0f, fmaxf(0.0f, 0.5f + (u - 0.5f) * ca + (v - 0.5f) * sa));
                break;
            case COOP_WORLD_BG_NOISY:
                add = 22.0f * value_noise(lat, u, v) +
                      36.0f * (hash01(s->bg_seed, (uint64_t)(y * n + x)) - 0.5f);
                break;
            case COOP_WORLD_BG_GRID: {
                float cx = band_cover((float)x, period, line, ss);
                t = 1.0f - (1.0f - cx) * (1.0f - cy);
                break;
            }
            case COOP_WORLD_BG_HATCHED:
                /* stripes along x + y: sample the sum's offsets */
                t = band_cover((float)(x + y), 0.7f * period, 0.35f * period, ss);
                break;
            case COOP_WORLD_BG_HALFTONE:
                t = halftone_cover((float)x, (float)y, 0.6f * period, n, ss);
                break;
            default:
                break;
            }
            float *o = c->px + 3 * ((size_t)y * n + x);
            for (int k = 0; k < 3; k++)
                o[k] = mixf(s->bg_rgb[k], s->bg_rgb2[k], t) + add;
        }
    }
}

/* ---- objects ----------------------------------------------------------------- */

struct look {
    float c1[3], c2[3], dark[3]; /* base, pattern tint, gradient dark end */
    int pattern, posterise;
    float scale, phase, ca, sa, R, cx, cy; /* pattern frame: object-local coordinates */
};

static void look_init(struct look *l, const struct coop_world_object *o, int size, int poster)
{
    int bright = o->rgb[0] + o->rgb[1] + o->rgb[2] > 3 * 180;
    for (int k = 0; k < 3; k++) {
        float v = o->rgb[k];
        l->c1[k] = v;
        l->c2[k] = bright ? v * 0.65f : v + (255.0f - v) * 0.35f;
        l->dark[k] = v * 0.5f;
    }
    l->pattern = o->pattern;
    l->posterise = poster;
    l->scale = o->pattern_scale;
    l->phase = o->pattern_phase;
    l->ca = cosf(o->angle);
    l->sa = sinf(o->angle);
    l->R = o->radius * size;
    l->cx = o->cx * size;
    l->cy = o->cy * size;
}

/* Object colour at pixel position (x, y). */
static void look_colour(const struct look *l, float x, float y, float out[3])
{
    float dx = (x - l->cx) / l->R, dy = (y - l->cy) / l->R;
    float u = dx * l->ca + dy * l->sa, v = -dx * l->sa + dy * l->ca, t = 0;
    const float *a = l->c1, *b = l->c2;
    switch (l->pattern) {
    case COOP_WORLD_STRIPED: t = frac(u * l->scale + l->phase) < 0.5f; break;
    case COOP_WORLD_DOTTED: {
        float fu = frac(u * l->scale + l->phase) - 0.5f, fv = frac(v * l->scale + l->phase) - 0.5f;
        t = fu * fu + fv * fv < 0.09f;
        break;
    }
    case COOP_WORLD_CHECKERED:
        t = (float)(((int)floorf(u * l->scale + l->phase) + (int)floorf(v * l->scale + l->phase)) & 1);
        break;
    case COOP_WORLD_GRADIENT:
        a = l->dark;
        t = fminf(1.0f, fmaxf(0.0f, 0.5f * (u + 1.0f)));
        break;
    case COOP_WORLD_RINGED: t = frac(sqrtf(u * u + v * v) * l->scale * 1.3f + l->phase) < 0.5f; break;
    default: break;
    }
    for (int k = 0; k < 3; k++)
        out[k] = mixf(a[k], b[k], t);
    if (l->posterise) {
        uint8_t in[3], po[3];
        for (int k = 0; k < 3; k++)
            in[k] = (uint8_t)fminf(255.0f, fmaxf(0.0f, out[k] + 0.5f));
        coop_world_posterise(in, po);
        for (int k = 0; k < 3; k++)
            out[k] = po[k];
    }
}

static void blend(struct canvas *c, int x, int y, const float col[3], float alpha)
{
    float *o = c->px + 3 * ((size_t)y * c->size + x);
    for (int k = 0; k < 3; k++)
        o[k] = o[k] * (1 - alpha) + col[k] * alpha;
}

static void bbox(const struct world_poly *p, float pad, int n, int *x0, int *x1, int *y0, int *y1)
{
    *x0 = (int)fmaxf(0.0f, floorf(p->minx - pad));
    *y0 = (int)fmaxf(0.0f, floorf(p->miny - pad));
    *x1 = (int)fminf((float)n - 1, ceilf(p->maxx + pad));
    *y1 = (int)fminf((float)n - 1, ceilf(p->maxy + pad));
}

/* Sorted x positions where the horizontal line at y crosses the outline. */
static int crossings(const struct world_poly *p, float y, float *xs)
{
    int n = 0;
    for (int i = 0, j = p->n - 1; i < p->n; j = i++) {
        float yi = p->y[i], yj = p->y[j];
        if ((yi > y) != (yj > y)) {
            float xc = p->x[j] + (y - yj) * (p->x[i] - p->x[j]) / (yi - yj);
            int k = n++;
            while (k > 0 && xs[k - 1] > xc) {
                xs[k] = xs[k - 1];
                k--;
            }
            xs[k] = xc;
        }
    }
    return n;
}

/* Even-odd: inside if an odd number of crossings lie left of x. */
static int in_spans(const float *xs, int n, float x)
{
    int k = 0;
    while (k < n && xs[k] <= x)
        k++;
    return k & 1;
}

/* Filled, patterned object, scanline by scanline: each of the ss sub-rows of
 * a pixel row gets its crossings once, so every sample's inside test is a
 * lookup. Interior pixels of plain fills take one colour evaluation. */
static void fill(struct canvas *c, const struct world_poly *p, const struct look *l)
{
    int x0, x1, y0, y1, ss = c->ss;
    int aa_inside = l->pattern != COOP_WORLD_SOLID && l->pattern != COOP_WORLD_GRADIENT;
    float xs[8][WORLD_MAX_VERTS];
    int nx[8];
    bbox(p, 1.0f, c->size, &x0, &x1, &y0, &y1);
    for (int y = y0; y <= y1; y++) {
        for (int j = 0; j < ss; j++)
            nx[j] = crossings(p, y + (j + 0.5f) / ss, xs[j]);
        for (int x = x0; x <= x1; x++) {
            float col[3], acc[3] = {0, 0, 0};
            int cnt = 0;
            for (int j = 0; j < ss; j++)
                for (int i = 0; i < ss; i++) {
                    float sx = x + (i + 0.5f) / ss;
                    if (!in_spans(xs[j], nx[j], sx))
                        continue;
                    cnt++;
                    if (aa_inside) {
                        look_colour(l, sx, y + (j + 0.5f) / ss, col);
                        for (int k = 0; k < 3; k++)
                            acc[k] += col[k];
                    }
                }
            if (!cnt)
                continue;
            if (aa_inside)
                for (int k = 0; k < 3; k++)
                    acc[k] /= (float)cnt;
            else
                look_colour(l, x + 0.5f, y + 0.5f, acc);
            blend(c, x, y, acc, (float)cnt / (float)(ss * ss));
        }
    }
}

/* Distance from (x, y) to the outline over a subset of its edges. */
static float dist_edges(const struct world_poly *p, const int *edges, int ne, float x, float y)
{
    float best = 1e30f;
    for (int k = 0; k < ne; k++) {
        int i = edges[k], j = i ? i - 1 : p->n - 1;
        float ax = p->x[j], ay = p->y[j], bx = p->x[i] - ax, by = p->y[i] - ay;
        float px = x - ax, py = y - ay, l2 = bx * bx + by * by;
        float t = l2 > 0 ? (px * bx + py * by) / l2 : 0.0f;
        t = t < 0 ? 0 : (t > 1 ? 1 : t);
        float dx = px - t * bx, dy = py - t * by, d2 = dx * dx + dy * dy;
        best = d2 < best ? d2 : best;
    }
    return sqrtf(best);
}

/* Outline of width w pixels centred on the polygon's boundary. Per pixel row
 * only the edges within reach of the row are considered. */
static void stroke(struct canvas *c, const struct world_poly *p, const float col[3], float w)
{
    int x0, x1, y0, y1, ss = c->ss, edges[WORLD_MAX_VERTS];
    float h = 0.5f * w, reach = h + 1.0f;
    bbox(p, reach, c->size, &x0, &x1, &y0, &y1);
    for (int y = y0; y <= y1; y++) {
        int ne = 0;
        for (int i = 0, j = p->n - 1; i < p->n; j = i++)
            if (fminf(p->y[i], p->y[j]) - reach <= y + 1 && fmaxf(p->y[i], p->y[j]) + reach >= y)
                edges[ne++] = i;
        if (!ne)
            continue;
        for (int x = x0; x <= x1; x++) {
            float d = dist_edges(p, edges, ne, x + 0.5f, y + 0.5f);
            if (d > h + 0.75f) {
                /* distance is 1-Lipschitz: the next pixels are out of reach too */
                int skip = (int)floorf(d - (h + 0.75f) - 1e-3f);
                x += skip > 0 ? skip : 0;
                continue;
            }
            int cnt = 0;
            if (d < h - 0.75f)
                cnt = ss * ss;
            else
                for (int j = 0; j < ss; j++)
                    for (int i = 0; i < ss; i++)
                        cnt += dist_edges(p, edges, ne, x + (i + 0.5f) / ss, y + (j + 0.5f) / ss) < h;
            if (cnt)
                blend(c, x, y, col, (float)cnt / (float)(ss * ss));
        }
    }
}

static void draw_object(struct canvas *c, const struct coop_world_scene *s,
                        const struct coop_world_object *o, uint64_t id)
{
    struct world_poly p;
    float R = o->radius * c->size;
    if (s->style == COOP_WORLD_STYLE_SKETCH) {
        coop_world_object_poly(&p, o, c->size, 0.04f, s->bg_seed ^ id);
        float ink[3] = {45, 45, 50};
        if (s->ink_in_colour)
            for (int k = 0; k < 3; k++)
                ink[k] = o->rgb[k];
        stroke(c, &p, ink, fmaxf(1.0f, 0.1f * R));
        return;
    }
    struct look l;
    coop_world_object_poly(&p, o, c->size, 0.0f, 0);
    look_init(&l, o, c->size, s->style == COOP_WORLD_STYLE_RENDITION);
    fill(c, &p, &l);
    if (s->style == COOP_WORLD_STYLE_RENDITION) {
        float black[3] = {10, 10, 10};
        stroke(c, &p, black, fmaxf(1.2f, 0.16f * R));
    }
}

static int check_args(const struct coop_world_scene *s, int size, int ss, struct coop_err *e)
{
    if (size < 8 || size > 1024)
        return coop_fail(e, COOP_E_INVAL, "world render: image size %d not in 8..1024", size);
    if (ss < 1 || ss > 8)
        return coop_fail(e, COOP_E_INVAL, "world render: supersample %d not in 1..8", ss);
    if (s->n_distractors < 0 || s->n_distractors > COOP_WORLD_MAX_DISTRACTORS)
        return coop_fail(e, COOP_E_INVAL, "world render: %d distractors", s->n_distractors);
    const struct coop_world_object *o = &s->main;
    for (int i = -1; i < s->n_distractors; o = &s->distractors[++i])
        if (o->shape < 0 || o->shape >= COOP_WORLD_NUM_SHAPES || o->pattern < 0 ||
            o->pattern >= COOP_WORLD_NUM_PATTERNS)
            return coop_fail(e, COOP_E_INVAL, "world render: object %d has a bad shape or pattern",
                             i + 1);
    return COOP_OK;
}

int coop_world_render(uint8_t *rgb, const struct coop_world_scene *s, int size, int ss,
                      struct coop_err *e)
{
    int rc = check_args(s, size, ss, e);
    if (rc)
        return rc;
    struct canvas c = {malloc(sizeof(float) * 3 * (size_t)size * size), size, ss};
    if (!c.px)
        return coop_fail(e, COOP_E_NOMEM, "world render: %dx%d canvas", size, size);
    background(&c, s);
    for (int i = 0; i < s->n_distractors; i++)
        if (!s->distractors[i].on_top)
            draw_object(&c, s, &s->distractors[i], (uint64_t)i + 1);
    draw_object(&c, s, &s->main, 0);
    for (int i = 0; i < s->n_distractors; i++)
        if (s->distractors[i].on_top)
            draw_object(&c, s, &s->distractors[i], (uint64_t)i + 1);
    for (size_t i = 0; i < 3 * (size_t)size * size; i++) {
        float v = c.px[i] + 0.5f;
        rgb[i] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
    free(c.px);
    return COOP_OK;
}

int coop_world_main_mask(uint8_t *mask, const struct coop_world_scene *s, int size,
                         struct coop_err *e)
{
    int rc = check_args(s, size, 1, e);
    if (rc)
        return rc;
    struct world_poly p;
    coop_world_object_poly(&p, &s->main, size, s->style == COOP_WORLD_STYLE_SKETCH ? 0.04f : 0.0f,
                           s->bg_seed);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            mask[(size_t)y * size + x] = (uint8_t)coop_world_poly_inside(&p, x + 0.5f, y + 0.5f);
    return COOP_OK;
}
