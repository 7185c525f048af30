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

/* Smooth value noise on a 5x5 lattice over the image, in [-1, 1]. */
static float value_noise(uint64_t seed, float u, float v)
{
    float gx = u * 4.0f, gy = v * 4.0f;
    int ix = (int)floorf(gx), iy = (int)floorf(gy);
    float fx = gx - ix, fy = gy - iy;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    float c[4];
    for (int k = 0; k < 4; k++)
        c[k] = hash01(seed ^ 0x5bd1e995ULL, (uint64_t)((iy + (k >> 1)) * 7 + ix + (k & 1))) * 2 - 1;
    return mixf(mixf(c[0], c[1], fx), mixf(c[2], c[3], fx), fy);
}

/* Blend weight of the second background colour at (u, v) in image units,
 * for the backgrounds with edges (grid, hatching, halftone). */
static float bg_edge_weight(const struct coop_world_scene *s, float u, float v)
{
    float p = s->bg_scale;
    switch (s->background) {
    case COOP_WORLD_BG_GRID: {
        float w = 0.12f;
        return (frac(u / p) < w || frac(v / p) < w) ? 1.0f : 0.0f;
    }
    case COOP_WORLD_BG_HATCHED:
        return frac((u + v) / (0.7f * p)) < 0.5f ? 1.0f : 0.0f;
    case COOP_WORLD_BG_HALFTONE: {
        float q = 0.6f * p, fu = frac(u / q) - 0.5f, fv = frac(v / q) - 0.5f;
        float rad = 0.15f + 0.25f * v;
        return fu * fu + fv * fv < rad * rad ? 1.0f : 0.0f;
    }
    default:
        return 0.0f;
    }
}

static void background(struct canvas *c, const struct coop_world_scene *s)
{
    int n = c->size, ss = c->ss;
    int edged = s->background == COOP_WORLD_BG_GRID || s->background == COOP_WORLD_BG_HATCHED ||
                s->background == COOP_WORLD_BG_HALFTONE;
    float ca = cosf(s->bg_angle), sa = sinf(s->bg_angle);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            float u = (x + 0.5f) / n, v = (y + 0.5f) / n, t = 0.0f, add = 0.0f;
            if (s->background == COOP_WORLD_BG_GRADIENT)
                t = fminf(1.0f, fmaxf(0.0f, 0.5f + (u - 0.5f) * ca + (v - 0.5f) * sa));
            else if (s->background == COOP_WORLD_BG_NOISY)
                add = 22.0f * value_noise(s->bg_seed, u, v) +
                      36.0f * (hash01(s->bg_seed, (uint64_t)(y * n + x)) - 0.5f);
            else if (edged) {
                for (int j = 0; j < ss; j++)
                    for (int i = 0; i < ss; i++)
                        t += bg_edge_weight(s, (x + (i + 0.5f) / ss) / n, (y + (j + 0.5f) / ss) / n);
                t /= (float)(ss * ss);
            }
            float *o = c->px + 3 * ((size_t)y * n + x);
            for (int k = 0; k < 3; k++)
                o[k] = mixf(s->bg_rgb[k], s->bg_rgb2[k], t) + add;
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
        l->c2[k] = bright ? v * 0.55f : v + (255.0f - v) * 0.55f;
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
        world_posterise(in, po);
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

/* Filled, patterned object. */
static void fill(struct canvas *c, const struct world_poly *p, const struct look *l)
{
    int x0, x1, y0, y1, ss = c->ss;
    int aa_inside = l->pattern != COOP_WORLD_SOLID && l->pattern != COOP_WORLD_GRADIENT;
    bbox(p, 1.0f, c->size, &x0, &x1, &y0, &y1);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            float px = x + 0.5f, py = y + 0.5f, col[3], acc[3] = {0, 0, 0};
            float d = world_poly_edge_dist(p, px, py);
            int in = world_poly_inside(p, px, py), cnt = 0;
            if (d > 0.75f && !in)
                continue;
            if (d > 0.75f && !aa_inside) {
                look_colour(l, px, py, col);
                blend(c, x, y, col, 1.0f);
                continue;
            }
            int edge = d <= 0.75f;
            for (int j = 0; j < ss; j++)
                for (int i = 0; i < ss; i++) {
                    float sx = x + (i + 0.5f) / ss, sy = y + (j + 0.5f) / ss;
                    if (edge && !world_poly_inside(p, sx, sy))
                        continue;
                    look_colour(l, sx, sy, col);
                    for (int k = 0; k < 3; k++)
                        acc[k] += col[k];
                    cnt++;
                }
            if (!cnt)
                continue;
            for (int k = 0; k < 3; k++)
                acc[k] /= (float)cnt;
            blend(c, x, y, acc, (float)cnt / (float)(ss * ss));
        }
}

/* Outline of width w pixels centred on the polygon's boundary. */
static void stroke(struct canvas *c, const struct world_poly *p, const float col[3], float w)
{
    int x0, x1, y0, y1, ss = c->ss;
    float h = 0.5f * w;
    bbox(p, h + 1.0f, c->size, &x0, &x1, &y0, &y1);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            float d = world_poly_edge_dist(p, x + 0.5f, y + 0.5f);
            if (d > h + 0.75f)
                continue;
            int cnt = 0;
            if (d < h - 0.75f)
                cnt = ss * ss;
            else
                for (int j = 0; j < ss; j++)
                    for (int i = 0; i < ss; i++)
                        cnt += world_poly_edge_dist(p, x + (i + 0.5f) / ss, y + (j + 0.5f) / ss) < h;
            if (cnt)
                blend(c, x, y, col, (float)cnt / (float)(ss * ss));
        }
}

static void draw_object(struct canvas *c, const struct coop_world_scene *s,
                        const struct coop_world_object *o, uint64_t id)
{
    struct world_poly p;
    float R = o->radius * c->size;
    if (s->style == COOP_WORLD_STYLE_SKETCH) {
        world_object_poly(&p, o, c->size, 0.04f, s->bg_seed ^ id);
        float ink[3] = {45, 45, 50};
        if (s->ink_in_colour)
            for (int k = 0; k < 3; k++)
                ink[k] = o->rgb[k];
        stroke(c, &p, ink, fmaxf(1.0f, 0.1f * R));
        return;
    }
    struct look l;
    world_object_poly(&p, o, c->size, 0.0f, 0);
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
    world_object_poly(&p, &s->main, size, s->style == COOP_WORLD_STYLE_SKETCH ? 0.04f : 0.0f,
                      s->bg_seed);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            mask[(size_t)y * size + x] = (uint8_t)world_poly_inside(&p, x + 0.5f, y + 0.5f);
    return COOP_OK;
}
