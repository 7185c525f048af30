/* scene.c: sampling a scene (main object, distractors, background, style)
 * from constraints and a seed. Pure function of its inputs; no rendering. */
#include "world_internal.h"
#include "coop/util.h"
#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

/* Radius ranges per size, in image units. */
static const float size_lo[COOP_WORLD_NUM_SIZES] = {0.21f, 0.27f, 0.33f, 0.07f};
static const float size_hi[COOP_WORLD_NUM_SIZES] = {0.25f, 0.31f, 0.39f, 0.10f};
/* The hard ("-a") sets pack a small main object among 4-7 distractors of the
 * same size; "small" is smaller there so that they fit. */
static const float hard_lo = 0.15f, hard_hi = 0.19f;

static const uint8_t photo_bg[][3] = {
    {200, 200, 200}, {232, 222, 198}, {188, 208, 228}, {205, 228, 200},
    {70, 72, 80},    {40, 40, 46},    {150, 150, 150}, {228, 205, 215}};
static const uint8_t cartoon_bg[][3] = {
    {255, 235, 120}, {120, 220, 240}, {255, 170, 200}, {180, 255, 170}, {255, 255, 255}};
#define NPHOTO (sizeof photo_bg / sizeof photo_bg[0])
#define NCARTOON (sizeof cartoon_bg / sizeof cartoon_bg[0])

void coop_world_constraints_default(struct coop_world_constraints *c)
{
    memset(c, 0, sizeof *c);
    c->shape = c->colour = c->pattern = c->size = c->background = c->position = -1;
    c->min_distractors = 0;
    c->max_distractors = 2;
    c->style = COOP_WORLD_STYLE_PHOTO;
}

static float uni(struct coop_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)coop_rng_uniform(r);
}

static int pick(struct coop_rng *r, int forced, int n)
{
    return forced >= 0 ? forced : (int)coop_rng_below(r, (uint64_t)n);
}

static float dist2(const uint8_t a[3], const uint8_t b[3])
{
    float d = 0;
    for (int i = 0; i < 3; i++)
        d += ((float)a[i] - b[i]) * ((float)a[i] - b[i]);
    return d;
}

/* The colour an object is actually drawn with in a style. */
static void styled(const struct coop_world_object *o, int style, uint8_t out[3])
{
    if (style == COOP_WORLD_STYLE_RENDITION)
        coop_world_posterise(o->rgb, out);
    else
        memcpy(out, o->rgb, 3);
}

static void object_colour(struct coop_world_object *o, struct coop_rng *r)
{
    uint8_t base[3];
    coop_world_colour_rgb(o->colour, base);
    for (int i = 0; i < 3; i++) {
        int v = base[i] + (int)coop_rng_below(r, 29) - 14;
        o->rgb[i] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
}

static void object_look(struct coop_world_object *o, struct coop_rng *r)
{
    o->angle = uni(r, -0.5f, 0.5f); /* upright within about 30 degrees */
    o->pattern_scale = uni(r, 1.6f, 2.4f);
    o->pattern_phase = uni(r, 0.0f, 1.0f);
    object_colour(o, r);
}

/* Centre inside position zone `zone`, keeping most of the object visible. */
static void place_in_zone(struct coop_world_object *o, int zone, struct coop_rng *r)
{
    float m = 0.75f * o->radius;
    float x0 = fmaxf((float)(zone % 3) / 3.0f, m), x1 = fminf((float)(zone % 3 + 1) / 3.0f, 1 - m);
    float y0 = fmaxf((float)(zone / 3) / 3.0f, m), y1 = fminf((float)(zone / 3 + 1) / 3.0f, 1 - m);
    o->cx = uni(r, x0, x1);
    o->cy = uni(r, y0, y1);
}

static void background(struct coop_world_scene *s, const struct coop_world_constraints *c,
                       struct coop_rng *r)
{
    uint8_t main_rgb[3];
    styled(&s->main, s->style, main_rgb);
    s->bg_angle = uni(r, 0.0f, (float)(2.0 * PI));
    s->bg_scale = uni(r, 0.12f, 0.22f);
    s->bg_seed = coop_rng_u64(r);
    if (s->style == COOP_WORLD_STYLE_SKETCH) {
        s->background = COOP_WORLD_BG_PAPER;
        s->bg_rgb[0] = s->bg_rgb[1] = s->bg_rgb[2] = 250;
        memcpy(s->bg_rgb2, s->bg_rgb, 3);
        return;
    }
    int cartoon = s->style == COOP_WORLD_STYLE_RENDITION;
    if (c->background >= 0)
        s->background = c->background;
    else if (cartoon) {
        static const int kinds[] = {COOP_WORLD_BG_PLAIN, COOP_WORLD_BG_HATCHED,
                                    COOP_WORLD_BG_HALFTONE};
        s->background = kinds[coop_rng_below(r, 3)];
    } else
        s->background = (int)coop_rng_below(r, COOP_WORLD_NUM_PHOTO_BACKGROUNDS);
    const uint8_t(*pal)[3] = cartoon ? cartoon_bg : photo_bg;
    size_t npal = cartoon ? NCARTOON : NPHOTO;
    /* the base colour must stand out from the main object; try in random order */
    size_t start = (size_t)coop_rng_below(r, npal), k = 0;
    for (; k < npal; k++)
        if (dist2(pal[(start + k) % npal], main_rgb) > 120.0f * 120.0f)
            break;
    memcpy(s->bg_rgb, pal[(start + (k < npal ? k : 0)) % npal], 3);
    /* second colour: a darker or lighter variant (lines, hatching, gradient end) */
    int lum = s->bg_rgb[0] + s->bg_rgb[1] + s->bg_rgb[2];
    float f = uni(r, 0.25f, 0.45f);
    for (int i = 0; i < 3; i++) {
        float v = s->bg_rgb[i];
        v = lum > 3 * 128 ? v * (1 - f) : v + (255 - v) * f;
        s->bg_rgb2[i] = (uint8_t)lrintf(v);
    }
}

/* Places distractor d; returns 0 if no free spot was found. */
static int place_distractor(struct coop_world_scene *s, struct coop_world_object *d,
                            const struct coop_world_constraints *c, struct coop_rng *r)
{
    int on_top = 0;
    for (int j = 0; j < s->n_distractors; j++)
        on_top += s->distractors[j].on_top;
    /* at most two occluders, so the main object stays partly visible */
    int occlude = c->occlusion > 0 && coop_rng_uniform(r) < c->occlusion && on_top < 2;
    const struct coop_world_object *m = &s->main;
    for (int tries = 0; tries < 24; tries++) {
        if (occlude) {
            float a = uni(r, 0.0f, (float)(2.0 * PI)), t = uni(r, 0.5f, 1.0f) * m->radius;
            d->cx = m->cx + t * cosf(a);
            d->cy = m->cy + t * sinf(a);
        } else {
            d->cx = uni(r, 0.6f * d->radius, 1 - 0.6f * d->radius);
            d->cy = uni(r, 0.6f * d->radius, 1 - 0.6f * d->radius);
        }
        if (d->cx < 0.5f * d->radius || d->cx > 1 - 0.5f * d->radius ||
            d->cy < 0.5f * d->radius || d->cy > 1 - 0.5f * d->radius)
            continue;
        float dx = d->cx - m->cx, dy = d->cy - m->cy;
        if (!occlude && sqrtf(dx * dx + dy * dy) < 1.05f * (d->radius + m->radius))
            continue;
        int clash = 0;
        for (int j = 0; j < s->n_distractors && !clash; j++) {
            const struct coop_world_object *o = &s->distractors[j];
            float ex = d->cx - o->cx, ey = d->cy - o->cy;
            clash = sqrtf(ex * ex + ey * ey) < 0.9f * (d->radius + o->radius);
        }
        if (clash)
            continue;
        d->on_top = (uint8_t)occlude;
        return 1;
    }
    return 0;
}

static void distractors(struct coop_world_scene *s, const struct coop_world_constraints *c,
                        struct coop_rng *r)
{
    int n = c->min_distractors +
            (int)coop_rng_below(r, (uint64_t)(c->max_distractors - c->min_distractors + 1));
    int ncol = c->num_colours > 0 ? c->num_colours : COOP_WORLD_NUM_COLOURS;
    s->n_distractors = 0;
    for (int i = 0; i < n; i++) {
        struct coop_world_object d;
        memset(&d, 0, sizeof d);
        d.shape = (s->main.shape + 1 + (int)coop_rng_below(r, COOP_WORLD_NUM_SHAPES - 1)) %
                  COOP_WORLD_NUM_SHAPES;
        d.colour = (int)coop_rng_below(r, (uint64_t)ncol);
        if (c->distractor_rule == 1 && d.shape % 2 == 0)
            d.shape = (d.shape + 1) % COOP_WORLD_NUM_SHAPES;
        if (c->distractor_rule == 2 && (d.shape + d.colour) % 2 == 0)
            d.colour = (d.colour + 1) % ncol;
        if (d.shape == s->main.shape)
            continue; /* the rules may map onto the main shape: skip this one */
        d.pattern = coop_rng_uniform(r) < 0.7 ? COOP_WORLD_SOLID
                                              : (int)coop_rng_below(r, COOP_WORLD_NUM_PATTERNS);
        d.size = c->big_distractors ? COOP_WORLD_SMALL : COOP_WORLD_TINY;
        d.radius = c->big_distractors ? uni(r, hard_lo, hard_hi)
                                      : uni(r, size_lo[d.size], size_hi[d.size]);
        object_look(&d, r);
        if (place_distractor(s, &d, c, r))
            s->distractors[s->n_distractors++] = d;
    }
}

static int check(const struct coop_world_constraints *c, struct coop_err *e)
{
    struct { int v, n; const char *what; } f[] = {
        {c->shape, COOP_WORLD_NUM_SHAPES, "shape"}, {c->colour, COOP_WORLD_NUM_COLOURS, "colour"},
        {c->pattern, COOP_WORLD_NUM_PATTERNS, "pattern"}, {c->size, COOP_WORLD_TINY, "size"},
        {c->background, COOP_WORLD_NUM_BACKGROUNDS, "background"},
        {c->position, COOP_WORLD_NUM_POSITIONS, "position"},
        {c->num_colours, COOP_WORLD_NUM_COLOURS + 1, "num_colours"},
        {c->style, 3, "style"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < -1 || f[i].v >= f[i].n)
            return coop_fail(e, COOP_E_INVAL, "world constraints: %s %d out of range", f[i].what,
                             f[i].v);
    if (c->min_distractors < 0 || c->max_distractors > COOP_WORLD_MAX_DISTRACTORS ||
        c->min_distractors > c->max_distractors)
        return coop_fail(e, COOP_E_INVAL, "world constraints: distractors %d..%d not within 0..%d",
                         c->min_distractors, c->max_distractors, COOP_WORLD_MAX_DISTRACTORS);
    if (c->distractor_rule < 0 || c->distractor_rule > 2)
        return coop_fail(e, COOP_E_INVAL, "world constraints: distractor_rule %d not 0..2",
                         c->distractor_rule);
    if (c->distractor_rule == 2 && (c->num_colours ? c->num_colours : COOP_WORLD_NUM_COLOURS) % 2)
        return coop_fail(e, COOP_E_INVAL, "world constraints: distractor_rule 2 needs an even "
                         "number of colours");
    if (!(c->occlusion >= 0 && c->occlusion <= 1))
        return coop_fail(e, COOP_E_INVAL, "world constraints: occlusion %g not in [0, 1]",
                         (double)c->occlusion);
    return COOP_OK;
}

int coop_world_scene_sample(struct coop_world_scene *s, const struct coop_world_constraints *c,
                            uint64_t seed, struct coop_err *e)
{
    int rc = check(c, e);
    if (rc)
        return rc;
    struct coop_rng r;
    coop_rng_seed(&r, seed);
    memset(s, 0, sizeof *s);
    s->style = c->style;
    s->ink_in_colour = c->ink_in_colour;
    struct coop_world_object *m = &s->main;
    int ncol = c->num_colours > 0 ? c->num_colours : COOP_WORLD_NUM_COLOURS;
    m->shape = pick(&r, c->shape, COOP_WORLD_NUM_SHAPES);
    m->colour = pick(&r, c->colour, ncol);
    m->pattern = pick(&r, c->pattern, COOP_WORLD_NUM_PATTERNS);
    m->size = pick(&r, c->size, COOP_WORLD_TINY);
    m->radius = c->big_distractors ? uni(&r, hard_lo, hard_hi)
                                   : uni(&r, size_lo[m->size], size_hi[m->size]);
    object_look(m, &r);
    s->position = pick(&r, c->position, COOP_WORLD_NUM_POSITIONS);
    place_in_zone(m, s->position, &r);
    background(s, c, &r);
    distractors(s, c, &r);
    return COOP_OK;
}
