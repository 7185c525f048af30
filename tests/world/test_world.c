/* test_world.c: the procedural world: determinism (pinned checksum), every
 * attribute value renders as named, sketches have no fill, captions mention
 * only true attributes (parsed back), task splits are balanced and labelled
 * by the right attribute, targets map to the source classes, collection
 * habits hold where they should. */
#include "../../core/world/world_internal.h"
#include "coop/util.h"
#include "coop/world.h"
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

/* world-shapes' first 12 test images: with the collection bias off (world 2.0's
 * images, unchanged) and at its default (world 3.0) */
#define WORLD_PINNED_SHA256_NO_BIAS                                                            \
    "383b93e7bcb3177ff4554748af9665f948eef2a40121df2604c3dbe50927c685"
#define WORLD_PINNED_SHA256 "66c136b719c567bdc361005235fc1926be85fe3a0580d107f45ff4f3ff7ee3c1"

static int reduced(void) { return getenv("COOP_VALGRIND") != NULL; }

/* A single object in the middle of a plain background. */
static void lone_scene(struct coop_world_scene *s, int shape, int colour, int pattern, int size,
                       int style)
{
    struct coop_world_constraints c;
    struct coop_err e;
    coop_world_constraints_default(&c);
    c.shape = shape;
    c.colour = colour;
    c.pattern = pattern;
    c.size = size;
    c.position = COOP_WORLD_CENTER;
    c.background = COOP_WORLD_BG_PLAIN;
    c.max_distractors = 0;
    c.style = style;
    ck_assert_int_eq(coop_world_scene_sample(s, &c, 1234 + (uint64_t)(shape * 31 + colour * 7 + pattern), &e), 0);
}

/* Pixels of the main object entirely inside its outline (centre inside and
 * more than half a diagonal from the boundary), untouched by anti-aliasing. */
static int deep_inside(const uint8_t *mask, const struct world_poly *p, int n, int x, int y)
{
    return mask[y * n + x] && coop_world_poly_edge_dist(p, x + 0.5f, y + 0.5f) > 0.75f;
}

/* SHA-256 hex of world-shapes' first 12 test images under cfg, each rendered twice. */
static void first_images_sha256(const struct coop_world_config *cfg, char hex[65])
{
    const struct coop_world_task *t = coop_world_task_find("world-shapes");
    struct coop_world_scene s;
    struct coop_err e;
    int label;
    uint8_t a[32 * 32 * 3], b[32 * 32 * 3];
    struct coop_sha256 h;
    coop_sha256_init(&h);
    for (size_t i = 0; i < 12; i++) {
        ck_assert_int_eq(coop_world_task_item(t, cfg, 2, i, &s, &label, &e), 0);
        ck_assert_int_eq(coop_world_render(a, &s, 32, 4, &e), 0);
        ck_assert_int_eq(coop_world_render(b, &s, 32, 4, &e), 0);
        ck_assert_mem_eq(a, b, sizeof a);
        coop_sha256_update(&h, a, sizeof a);
    }
    uint8_t d[32];
    coop_sha256_final(&h, d);
    coop_sha256_digest_hex(d, hex);
}

START_TEST(same_seed_same_pixels_checksum_pinned)
{
    const struct coop_world_task *t = coop_world_task_find("world-shapes");
    struct coop_world_config cfg;
    struct coop_world_scene s;
    struct coop_err e;
    int label;
    char hex[65];
    coop_world_config_default(&cfg);
    /* Pinned on x86-64 / glibc with the default build: a change here means the
     * world's images changed (bump the dataset version and say so in docs). */
    first_images_sha256(&cfg, hex);
    ck_assert_str_eq(hex, WORLD_PINNED_SHA256);
    /* without the collection bias, the scenes are exactly the unbiased world's */
    cfg.bias = 0;
    first_images_sha256(&cfg, hex);
    ck_assert_str_eq(hex, WORLD_PINNED_SHA256_NO_BIAS);
    coop_world_config_default(&cfg);
    /* captions are pinned too (test item 0, caption seed 0) */
    char cap[COOP_WORLD_CAPTION_MAX];
    ck_assert_int_eq(coop_world_task_item(t, &cfg, 2, 0, &s, &label, &e), 0);
    ck_assert_int_eq(coop_world_caption(cap, sizeof cap, &s, 0, &e), 0);
    ck_assert_str_eq(cap, "there is a circle");
}
END_TEST

START_TEST(different_seeds_differ)
{
    const struct coop_world_task *t = coop_world_task_find("world-objects");
    struct coop_world_config c1, c2;
    struct coop_world_scene s1, s2;
    struct coop_err e;
    int l1, l2;
    uint8_t a[32 * 32 * 3], b[32 * 32 * 3];
    coop_world_config_default(&c1);
    c2 = c1;
    c2.seed = 2;
    int differ = 0;
    for (size_t i = 0; i < 8; i++) {
        coop_world_task_item(t, &c1, 0, i, &s1, &l1, &e);
        coop_world_task_item(t, &c2, 0, i, &s2, &l2, &e);
        ck_assert_int_eq(l1, l2); /* labels depend on the index only */
        coop_world_render(a, &s1, 32, 4, &e);
        coop_world_render(b, &s2, 32, 4, &e);
        differ += memcmp(a, b, sizeof a) != 0;
    }
    ck_assert_int_eq(differ, 8);
    /* splits of one seed differ too */
    coop_world_task_item(t, &c1, 0, 0, &s1, &l1, &e);
    coop_world_task_item(t, &c1, 2, 0, &s2, &l2, &e);
    coop_world_render(a, &s1, 32, 4, &e);
    coop_world_render(b, &s2, 32, 4, &e);
    ck_assert(memcmp(a, b, sizeof a) != 0);
}
END_TEST

/* Every shape and colour: non-empty mask, solid interior equal to the
 * object's colour, which is within the jitter of the named colour. */
START_TEST(every_shape_and_colour_renders_as_named)
{
    enum { N = 48 };
    uint8_t rgb[N * N * 3], mask[N * N];
    struct coop_world_scene s;
    struct coop_err e;
    for (int shape = 0; shape < COOP_WORLD_NUM_SHAPES; shape++)
        for (int colour = 0; colour < COOP_WORLD_NUM_COLOURS; colour++) {
            if (reduced() && colour != shape % COOP_WORLD_NUM_COLOURS)
                continue; /* valgrind: one colour per shape, every colour once */
            lone_scene(&s, shape, colour, COOP_WORLD_SOLID, COOP_WORLD_LARGE, 0);
            ck_assert_int_eq(coop_world_render(rgb, &s, N, 4, &e), 0);
            ck_assert_int_eq(coop_world_main_mask(mask, &s, N, &e), 0);
            struct world_poly poly;
            coop_world_object_poly(&poly, &s.main, N, 0.0f, 0);
            uint8_t named[3];
            coop_world_colour_rgb(colour, named);
            int area = 0, deep = 0;
            for (int y = 0; y < N; y++)
                for (int x = 0; x < N; x++) {
                    area += mask[y * N + x];
                    if (!deep_inside(mask, &poly, N, x, y))
                        continue;
                    deep++;
                    for (int k = 0; k < 3; k++) {
                        int v = rgb[3 * (y * N + x) + k];
                        ck_assert_int_le(abs(v - s.main.rgb[k]), 1);
                        ck_assert_int_le(abs(v - named[k]), 15);
                    }
                }
            ck_assert_msg(area > 150, "%s: area %d", coop_world_shape_name(shape), area);
            ck_assert_int_gt(deep, 40);
            /* background corner stays background */
            for (int k = 0; k < 3; k++)
                ck_assert_int_eq(rgb[k], s.bg_rgb[k]);
        }
}
END_TEST

/* Solid and gradient interiors are smooth; the other patterns alternate two
 * colours (a spread of values inside the object); all stay near the hue. */
START_TEST(every_pattern_renders)
{
    enum { N = 64 };
    uint8_t rgb[N * N * 3], mask[N * N];
    struct coop_world_scene s;
    struct coop_err e;
    for (int p = 0; p < COOP_WORLD_NUM_PATTERNS; p++) {
        lone_scene(&s, COOP_WORLD_SQUARE, COOP_WORLD_BLUE, p, COOP_WORLD_LARGE, 0);
        coop_world_render(rgb, &s, N, 4, &e);
        coop_world_main_mask(mask, &s, N, &e);
        struct world_poly poly;
        coop_world_object_poly(&poly, &s.main, N, 0.0f, 0);
        int lo = 255, hi = 0, n = 0, jumps = 0, prev = -1;
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
                if (deep_inside(mask, &poly, N, x, y)) {
                    int r = rgb[3 * (y * N + x)];
                    lo = r < lo ? r : lo;
                    hi = r > hi ? r : hi;
                    if (prev >= 0 && abs(r - prev) > 40)
                        jumps++;
                    prev = r;
                    n++;
                    /* blue stays the dominant channel */
                    ck_assert_int_ge(rgb[3 * (y * N + x) + 2], rgb[3 * (y * N + x)]);
                } else
                    prev = -1;
        ck_assert_int_gt(n, 200);
        if (p == COOP_WORLD_SOLID)
            ck_assert_int_le(hi - lo, 1);
        else
            ck_assert_msg(hi - lo > 60, "%s: range %d", coop_world_pattern_name(p), hi - lo);
        if (p == COOP_WORLD_GRADIENT)
            ck_assert_int_eq(jumps, 0); /* smooth */
        if (p == COOP_WORLD_STRIPED || p == COOP_WORLD_CHECKERED)
            ck_assert_int_gt(jumps, 10);
    }
}
END_TEST

START_TEST(sizes_positions_and_rotation)
{
    enum { N = 48 };
    uint8_t mask[N * N], mask2[N * N];
    struct coop_world_scene s;
    struct coop_world_constraints c;
    struct coop_err e;
    int area[3];
    for (int z = 0; z < 3; z++) {
        lone_scene(&s, COOP_WORLD_CIRCLE, 0, 0, z, 0);
        coop_world_main_mask(mask, &s, N, &e);
        area[z] = 0;
        for (int i = 0; i < N * N; i++)
            area[z] += mask[i];
    }
    ck_assert_int_lt(area[0], area[1]);
    ck_assert_int_lt(area[1], area[2]);
    coop_world_constraints_default(&c);
    for (int pos = 0; pos < COOP_WORLD_NUM_POSITIONS; pos++)
        for (uint64_t seed = 1; seed < (reduced() ? 4u : 20u); seed++) {
            c.position = pos;
            coop_world_scene_sample(&s, &c, seed, &e);
            ck_assert_int_eq(s.position, pos);
            coop_world_main_mask(mask, &s, N, &e);
            double sx = 0, sy = 0, n = 0;
            for (int y = 0; y < N; y++)
                for (int x = 0; x < N; x++)
                    if (mask[y * N + x]) {
                        sx += x + 0.5;
                        sy += y + 0.5;
                        n++;
                    }
            ck_assert(n > 0);
            /* centre of the outline's box in the zone (mask centroid within 15%) */
            ck_assert_int_eq((int)(s.main.cx * 3), pos % 3);
            ck_assert_int_eq((int)(s.main.cy * 3), pos / 3);
            ck_assert_double_lt(fabs(sx / n / N - s.main.cx), 0.15);
            ck_assert_double_lt(fabs(sy / n / N - s.main.cy), 0.15);
        }
    lone_scene(&s, COOP_WORLD_ARROW, 0, 0, COOP_WORLD_LARGE, 0);
    coop_world_main_mask(mask, &s, N, &e);
    s.main.angle += 1.0f;
    coop_world_main_mask(mask2, &s, N, &e);
    ck_assert(memcmp(mask, mask2, sizeof mask) != 0);
}
END_TEST

START_TEST(every_background_renders)
{
    enum { N = 48 };
    uint8_t rgb[N * N * 3];
    struct coop_world_scene s;
    struct coop_err e;
    for (int b = 0; b < COOP_WORLD_NUM_BACKGROUNDS; b++) {
        lone_scene(&s, COOP_WORLD_STAR, COOP_WORLD_RED, 0, COOP_WORLD_SMALL, 0);
        s.background = b;
        s.main.cx = -1; /* off canvas: background only */
        ck_assert_int_eq(coop_world_render(rgb, &s, N, 4, &e), 0);
        int distinct = 0;
        int seen[256] = {0};
        for (int i = 0; i < N * N; i++)
            if (!seen[rgb[3 * i + 1]]++)
                distinct++;
        if (b == COOP_WORLD_BG_PLAIN || b == COOP_WORLD_BG_PAPER)
            ck_assert_msg(distinct == 1, "%s: %d levels", coop_world_background_name(b), distinct);
        else
            ck_assert_msg(distinct >= 3, "%s: %d levels", coop_world_background_name(b), distinct);
        if (b == COOP_WORLD_BG_NOISY)
            ck_assert_int_gt(distinct, 30);
    }
}
END_TEST

/* Distractors are drawn where they are placed; occluders cover the main object. */
START_TEST(distractors_render_and_occlude)
{
    enum { N = 64 };
    uint8_t with[N * N * 3], without[N * N * 3];
    struct coop_world_constraints c;
    struct coop_world_scene s;
    struct coop_err e;
    int checked = 0, on_top = 0;
    coop_world_constraints_default(&c);
    c.min_distractors = 2;
    c.max_distractors = 4;
    c.occlusion = 0.5f;
    c.big_distractors = true;
    c.background = COOP_WORLD_BG_PLAIN;
    c.pattern = COOP_WORLD_SOLID;
    for (uint64_t seed = 1; seed <= (reduced() ? 3u : 20u); seed++) {
        ck_assert_int_eq(coop_world_scene_sample(&s, &c, seed, &e), 0);
        coop_world_render(with, &s, N, 4, &e);
        for (int i = 0; i < s.n_distractors; i++) {
            const struct coop_world_object *d = &s.distractors[i];
            ck_assert_int_ne(d->shape, s.main.shape);
            struct coop_world_scene alone = s;
            alone.n_distractors = 0;
            coop_world_render(without, &alone, N, 4, &e);
            /* the distractor's outline contains pixels that changed */
            struct world_poly p;
            coop_world_object_poly(&p, d, N, 0.0f, 0);
            int changed = 0;
            for (int y = 0; y < N; y++)
                for (int x = 0; x < N; x++)
                    if (coop_world_poly_inside(&p, x + 0.5f, y + 0.5f) &&
                        memcmp(with + 3 * (y * N + x), without + 3 * (y * N + x), 3) != 0)
                        changed++;
            if (d->colour != s.main.colour)
                ck_assert_int_gt(changed, 0);
            if (d->on_top) {
                /* drawn over the main object: its solid colour shows where they overlap */
                on_top++;
                struct world_poly m;
                coop_world_object_poly(&m, &s.main, N, 0.0f, 0);
                for (int y = 0; y < N; y++)
                    for (int x = 0; x < N; x++) {
                        float cx = x + 0.5f, cy = y + 0.5f;
                        int last = 1;
                        for (int j = i + 1; j < s.n_distractors; j++) {
                            struct world_poly q;
                            coop_world_object_poly(&q, &s.distractors[j], N, 0.0f, 0);
                            last &= !(s.distractors[j].on_top &&
                                      (coop_world_poly_edge_dist(&q, cx, cy) < 1.0f ||
                                       coop_world_poly_inside(&q, cx, cy)));
                        }
                        if (!last || d->pattern != COOP_WORLD_SOLID)
                            continue;
                        if (coop_world_poly_inside(&m, cx, cy) &&
                            coop_world_poly_inside(&p, cx, cy) &&
                            coop_world_poly_edge_dist(&p, cx, cy) > 0.75f) {
                            for (int k = 0; k < 3; k++)
                                ck_assert_int_le(abs(with[3 * (y * N + x) + k] - d->rgb[k]), 1);
                            checked++;
                        }
                    }
            }
        }
    }
    ck_assert_int_gt(on_top, 0);
    ck_assert_int_gt(checked, 0);
}
END_TEST

/* Sketch: strokes on white paper and nothing inside the outline. */
START_TEST(sketch_has_no_fill)
{
    enum { N = 64 };
    uint8_t rgb[N * N * 3], mask[N * N];
    struct coop_world_scene s;
    struct coop_err e;
    for (int shape = 0; shape < COOP_WORLD_NUM_SHAPES; shape += reduced() ? 5 : 1) {
        lone_scene(&s, shape, COOP_WORLD_RED, COOP_WORLD_CHECKERED, COOP_WORLD_LARGE,
                   COOP_WORLD_STYLE_SKETCH);
        ck_assert_int_eq(s.background, COOP_WORLD_BG_PAPER);
        coop_world_render(rgb, &s, N, 4, &e);
        coop_world_main_mask(mask, &s, N, &e);
        struct world_poly p;
        coop_world_object_poly(&p, &s.main, N, 0.04f, s.bg_seed);
        float w = fmaxf(1.0f, 0.1f * s.main.radius * N);
        int interior = 0, ink = 0;
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                const uint8_t *px = rgb + 3 * (y * N + x);
                float d = coop_world_poly_edge_dist(&p, x + 0.5f, y + 0.5f);
                if (mask[y * N + x] && d > 0.5f * w + 1.0f) {
                    interior++;
                    ck_assert_int_eq(px[0], 250);
                    ck_assert_int_eq(px[1], 250);
                    ck_assert_int_eq(px[2], 250);
                }
                ink += d < 0.5f * w - 0.8f && px[0] < 100;
            }
        ck_assert_int_gt(interior, 50);
        ck_assert_msg(ink > 20, "%s: %d ink pixels", coop_world_shape_name(shape), ink);
    }
}
END_TEST

/* Rendition: solid fills use the posterised palette; a dark outline. */
START_TEST(rendition_is_posterised_with_outline)
{
    enum { N = 64 };
    uint8_t rgb[N * N * 3], mask[N * N];
    struct coop_world_scene s;
    struct coop_err e;
    for (int colour = 0; colour < COOP_WORLD_NUM_COLOURS; colour += reduced() ? 4 : 1) {
        lone_scene(&s, COOP_WORLD_HEXAGON, colour, COOP_WORLD_SOLID, COOP_WORLD_LARGE,
                   COOP_WORLD_STYLE_RENDITION);
        coop_world_render(rgb, &s, N, 4, &e);
        coop_world_main_mask(mask, &s, N, &e);
        struct world_poly poly;
        coop_world_object_poly(&poly, &s.main, N, 0.0f, 0);
        uint8_t poster[3];
        coop_world_posterise(s.main.rgb, poster);
        int dark_edge = 0;
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                const uint8_t *px = rgb + 3 * (y * N + x);
                if (deep_inside(mask, &poly, N, x, y) && x % 3 == 0) {
                    /* deep inside but away from the thick outline: check a ring-free sample */
                    float dx = x + 0.5f - s.main.cx * N, dy = y + 0.5f - s.main.cy * N;
                    if (sqrtf(dx * dx + dy * dy) < 0.5f * s.main.radius * N)
                        for (int k = 0; k < 3; k++)
                            ck_assert_int_eq(px[k], poster[k]);
                }
                if (mask[y * N + x] && !deep_inside(mask, &poly, N, x, y))
                    dark_edge += px[0] < 30 && px[1] < 30 && px[2] < 30;
            }
        ck_assert_int_gt(dark_edge, 30);
    }
}
END_TEST

/* ---- captions ------------------------------------------------------------ */

/* Whole-phrase occurrence of w in s. */
static const char *find_phrase(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(s, w); p; p = strstr(p + 1, w)) {
        int left = p == s || !isalpha((unsigned char)p[-1]);
        int right = !isalpha((unsigned char)p[n]);
        if (left && right)
            return p;
    }
    return NULL;
}

static int mentions(const char *s, char kind, int v)
{
    const char *const *syn = coop_world_synonyms(kind, v);
    for (; *syn; syn++)
        if (find_phrase(s, *syn))
            return 1;
    return 0;
}

/* Blanks out the first occurrence of phrase w in s. */
static void cut(char *s, const char *w)
{
    char *p = (char *)find_phrase(s, w);
    if (p)
        memset(p, ' ', strlen(w));
}

/* Checks that every vocabulary word in text is true of object o (kinds:
 * shape always, colour, size, and patterns if allow_pattern). */
static void check_object_words(const char *text, const struct coop_world_object *o,
                               int allow_pattern, const char *caption)
{
    for (int v = 0; v < COOP_WORLD_NUM_SHAPES; v++)
        if (v != o->shape)
            ck_assert_msg(!mentions(text, 's', v), "'%s': wrong shape %d in '%s'", caption, v, text);
    for (int v = 0; v < COOP_WORLD_NUM_COLOURS; v++)
        if (v != o->colour && v != coop_world_colour_loose(o->colour))
            ck_assert_msg(!mentions(text, 'c', v), "'%s': wrong colour in '%s'", caption, text);
    for (int v = 0; v < COOP_WORLD_NUM_SIZES; v++)
        if (v != o->size)
            ck_assert_msg(!mentions(text, 'z', v), "'%s': wrong size in '%s'", caption, text);
    for (int v = 0; v < COOP_WORLD_NUM_PATTERNS; v++)
        if (v != o->pattern || !allow_pattern)
            ck_assert_msg(!mentions(text, 'p', v) && !mentions(text, 'q', v),
                          "'%s': wrong pattern in '%s'", caption, text);
}

/* Parses a caption back (layout documented in caption.c) and checks it. */
static void check_caption(const struct coop_world_scene *s, const char *cap)
{
    static const char *const connect[] = {" next to ", " beside ", " near ", " and "};
    char main[COOP_WORLD_CAPTION_MAX], tail[COOP_WORLD_CAPTION_MAX] = "";
    for (const char *p = cap; *p; p++)
        ck_assert_msg(islower((unsigned char)*p) || *p == ' ' || *p == '.', "'%s'", cap);
    snprintf(main, sizeof main, "%s", cap);
    for (int i = 0; i < 4; i++) {
        char *p = strstr(main, connect[i]);
        if (p) {
            snprintf(tail, sizeof tail, "%s", p + strlen(connect[i]));
            *p = '\0';
            break;
        }
    }
    /* background: "<word> background" */
    char *bg = strstr(main, " background");
    if (bg) {
        char *w = bg;
        while (w > main && w[-1] != ' ')
            w--;
        char word[32];
        snprintf(word, sizeof word, "%.*s", (int)(bg - w), w);
        int ok = 0;
        for (const char *const *syn = coop_world_synonyms('b', s->background); *syn; syn++)
            ok |= strcmp(*syn, word) == 0;
        ck_assert_msg(ok, "'%s': background '%s' is not %s", cap, word,
                      coop_world_background_name(s->background));
        memset(w, ' ', (size_t)(bg - w) + strlen(" background"));
    }
    for (int pos = 0; pos < COOP_WORLD_NUM_POSITIONS; pos++)
        for (const char *const *syn = coop_world_synonyms('o', pos); *syn; syn++)
            if (find_phrase(main, *syn)) {
                ck_assert_msg(pos == s->position, "'%s': wrong position", cap);
                cut(main, *syn);
            }
    ck_assert_msg(mentions(main, 's', s->main.shape), "'%s' lacks the shape", cap);
    check_object_words(main, &s->main, 1, cap);
    if (tail[0]) {
        int ok = 0;
        for (int i = 0; i < s->n_distractors && !ok; i++) {
            const struct coop_world_object *d = &s->distractors[i];
            if (!mentions(tail, 's', d->shape))
                continue;
            ok = 1;
            for (int v = 0; v < COOP_WORLD_NUM_SHAPES; v++)
                ok &= v == d->shape || !mentions(tail, 's', v);
            for (int v = 0; v < COOP_WORLD_NUM_COLOURS; v++)
                ok &= v == d->colour || v == coop_world_colour_loose(d->colour) || !mentions(tail, 'c', v);
            for (int v = 0; v < COOP_WORLD_NUM_SIZES; v++)
                ok &= v == d->size || !mentions(tail, 'z', v);
        }
        ck_assert_msg(ok, "'%s': no distractor matches '%s'", cap, tail);
    }
}

START_TEST(captions_mention_only_true_attributes)
{
    struct coop_world_constraints c;
    struct coop_world_scene s;
    struct coop_err e;
    char cap[COOP_WORLD_CAPTION_MAX], cap2[COOP_WORLD_CAPTION_MAX];
    int n = reduced() ? 300 : 3000, with_tail = 0, with_bg = 0, with_pos = 0, terse = 0;
    int named = 0, named_loose = 0;
    coop_world_constraints_default(&c);
    for (int i = 0; i < n; i++) {
        c.style = i % 3;
        c.ink_in_colour = (i / 3) % 2;
        c.max_distractors = 3;
        ck_assert_int_eq(coop_world_scene_sample(&s, &c, (uint64_t)i, &e), 0);
        for (uint64_t k = 0; k < 3; k++) {
            ck_assert_int_eq(coop_world_caption(cap, sizeof cap, &s, k, &e), 0);
            ck_assert_int_eq(coop_world_caption(cap2, sizeof cap2, &s, k, &e), 0);
            ck_assert_str_eq(cap, cap2);
            check_caption(&s, cap);
            with_tail += strstr(cap, " next to ") || strstr(cap, " beside ") ||
                         strstr(cap, " near ") || strstr(cap, " and ");
            with_bg += strstr(cap, "background") != NULL;
            with_pos += mentions(cap, 'o', s.position);
            /* terse: prefix, article and the shape noun only */
            const char *noun = strstr(cap, " a ") ? strstr(cap, " a ") + 3
                               : strstr(cap, " an ") ? strstr(cap, " an ") + 4
                               : cap + (cap[1] == ' ' ? 2 : 3);
            char bare[COOP_WORLD_CAPTION_MAX];
            snprintf(bare, sizeof bare, "%s", noun);
            if (bare[0] && bare[strlen(bare) - 1] == '.')
                bare[strlen(bare) - 1] = '\0';
            for (const char *const *w = coop_world_synonyms('s', s.main.shape); *w; w++)
                terse += strcmp(bare, *w) == 0;
            /* loose colour names (the main object's colour is checked) */
            int loose = coop_world_colour_loose(s.main.colour);
            if (loose >= 0 && s.n_distractors == 0 && s.style == COOP_WORLD_STYLE_PHOTO) {
                named += mentions(cap, 'c', s.main.colour);
                named_loose += mentions(cap, 'c', loose);
            }
        }
    }
    /* about 30 % terse captions; about 35 % of colour mentions loose */
    ck_assert_msg(terse > 3 * n * 0.22 && terse < 3 * n * 0.38, "terse %d of %d", terse, 3 * n);
    double share = (double)named_loose / (named + named_loose);
    ck_assert_msg(share > 0.2 && share < 0.5, "loose %d, exact %d", named_loose, named);
    /* the optional parts do occur */
    ck_assert_int_gt(with_tail, n / 10);
    ck_assert_int_gt(with_bg, n / 5);
    ck_assert_int_gt(with_pos, n / 5);
    ck_assert_int_eq(coop_world_caption(cap, 10, &s, 1, &e) == COOP_E_NOMEM ||
                         strlen(cap) < 10, 1);
}
END_TEST

START_TEST(captions_vary)
{
    struct coop_world_constraints c;
    struct coop_world_scene s;
    struct coop_err e;
    char caps[200][COOP_WORLD_CAPTION_MAX];
    coop_world_constraints_default(&c);
    c.min_distractors = 1;
    coop_world_scene_sample(&s, &c, 99, &e);
    int distinct = 0;
    for (int i = 0; i < 200; i++) {
        coop_world_caption(caps[i], sizeof caps[i], &s, (uint64_t)i, &e);
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = strcmp(caps[i], caps[j]) == 0;
        distinct += !dup;
    }
    ck_assert_int_gt(distinct, 100);
}
END_TEST

/* ---- tasks ---------------------------------------------------------------- */

static int attribute_of(const struct coop_world_task *t, const struct coop_world_scene *s)
{
    const char *name = coop_world_task_name(t);
    if (strstr(name, "world-shapes"))
        return s->main.shape;
    if (strstr(name, "world-colors"))
        return s->main.colour;
    if (strstr(name, "world-textures"))
        return s->main.pattern;
    return s->main.colour * COOP_WORLD_NUM_SHAPES + s->main.shape;
}

START_TEST(tasks_balanced_and_labelled_by_their_attribute)
{
    struct coop_world_config cfg;
    struct coop_world_scene s;
    struct coop_err e;
    char buf[64], src_buf[64];
    coop_world_config_default(&cfg);
    cfg.per_class[0] = 3;
    cfg.per_class[1] = 1;
    cfg.per_class[2] = 2;
    size_t ntasks = 0;
    for (const struct coop_world_task *t; (t = coop_world_task_at(ntasks)); ntasks++) {
        int K = coop_world_task_num_classes(t);
        const char *src_name = coop_world_task_source(t);
        const struct coop_world_task *src = src_name ? coop_world_task_find(src_name) : t;
        ck_assert_ptr_nonnull(src);
        ck_assert_ptr_nonnull(strstr(coop_world_task_template(t), "{}"));
        for (int k = 0; k < K; k++) {
            int sk = coop_world_task_source_class(t, k);
            ck_assert_int_ge(sk, 0);
            ck_assert_int_lt(sk, coop_world_task_num_classes(src));
            ck_assert_str_eq(coop_world_task_class_name(t, k, buf, sizeof buf),
                             coop_world_task_class_name(src, sk, src_buf, sizeof src_buf));
            for (const char *p = buf; *p; p++)
                ck_assert(islower((unsigned char)*p) || *p == ' ');
            for (int j = 0; j < k; j++)
                ck_assert_int_ne(coop_world_task_source_class(t, j), sk);
        }
        ck_assert_ptr_null(coop_world_task_class_name(t, K, buf, sizeof buf));
        for (int split = 0; split < 3; split++) {
            size_t n = coop_world_task_split_size(t, &cfg, split);
            ck_assert_uint_eq(n, (size_t)K * (size_t)cfg.per_class[split]);
            int *count = calloc((size_t)K, sizeof *count);
            for (size_t i = 0; i < n; i++) {
                int label;
                ck_assert_int_eq(coop_world_task_item(t, &cfg, split, i, &s, &label, &e), 0);
                ck_assert_int_ge(label, 0);
                ck_assert_int_lt(label, K);
                count[label]++;
                ck_assert_int_eq(attribute_of(t, &s), coop_world_task_source_class(t, label));
            }
            for (int k = 0; k < K; k++)
                ck_assert_int_eq(count[k], cfg.per_class[split]);
            free(count);
            int label;
            ck_assert_int_eq(coop_world_task_item(t, &cfg, split, n, &s, &label, &e), COOP_E_INVAL);
        }
    }
    ck_assert_uint_ge(ntasks, 12);
    ck_assert_int_ge(coop_world_task_num_classes(coop_world_task_find("world-shapes")), 12);
    ck_assert_int_ge(coop_world_task_num_classes(coop_world_task_find("world-colors")), 8);
    ck_assert_int_ge(coop_world_task_num_classes(coop_world_task_find("world-textures")), 6);
    ck_assert_int_ge(coop_world_task_num_classes(coop_world_task_find("world-objects")), 50);
}
END_TEST

/* Each task's ensemble list: its own template first, then the same noun
 * phrase at each main-object size and on each photo background, named as
 * the captions name them (vocab's first synonyms); one "{}" each; a target
 * shares its source's list. */
START_TEST(ensemble_lists_speak_the_captions_language)
{
    for (size_t i = 0; coop_world_task_at(i); i++) {
        const struct coop_world_task *t = coop_world_task_at(i);
        const char *const *l = coop_world_task_ensemble(t);
        ck_assert_ptr_nonnull(l);
        ck_assert_str_eq(l[0], coop_world_task_template(t));
        int n = 0;
        for (; l[n]; n++) {
            const char *h = strstr(l[n], "{}");
            ck_assert_ptr_nonnull(h);
            ck_assert_ptr_null(strstr(h + 2, "{}"));
        }
        ck_assert_int_eq(n, 1 + COOP_WORLD_TINY + COOP_WORLD_NUM_PHOTO_BACKGROUNDS);
        for (int z = 0; z < COOP_WORLD_TINY; z++) {
            char *want = coop_asprintf("a photo of a %s {}", coop_world_synonyms('z', z)[0]);
            ck_assert_ptr_nonnull(strstr(l[1 + z], want));
            free(want);
        }
        for (int b = 0; b < COOP_WORLD_NUM_PHOTO_BACKGROUNDS; b++) {
            char *want = coop_asprintf(" on a %s background.", coop_world_synonyms('b', b)[0]);
            ck_assert_ptr_nonnull(strstr(l[1 + COOP_WORLD_TINY + b], want));
            free(want);
        }
        const char *src = coop_world_task_source(t);
        if (src)
            ck_assert_ptr_eq(l, coop_world_task_ensemble(coop_world_task_find(src)));
    }
}
END_TEST

/* Targets: the right style; the hard sets are small, cluttered, and their
 * distractors never belong to the target's label space. */
START_TEST(targets_have_their_style)
{
    struct coop_world_config cfg;
    struct coop_world_scene s, s0;
    struct coop_err e;
    int label, label0, n = reduced() ? 12 : 96, clutter = 0;
    coop_world_config_default(&cfg);
    const struct coop_world_task *src = coop_world_task_find("world-shapes");
    struct { const char *name; int style; } want[] = {
        {"world-shapes-v2", 0}, {"world-shapes-sketch", 1}, {"world-shapes-r", 2},
        {"world-shapes-a", 0}, {"world-objects-v2", 0}, {"world-objects-sketch", 1},
        {"world-objects-r", 2}, {"world-objects-a", 0}};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        const struct coop_world_task *t = coop_world_task_find(want[w].name);
        ck_assert_ptr_nonnull(t);
        int hard = strstr(want[w].name, "-a") != NULL, objects = strstr(want[w].name, "objects") != NULL;
        int K = coop_world_task_num_classes(t);
        int Ks = coop_world_task_num_classes(coop_world_task_find(coop_world_task_source(t)));
        ck_assert_int_eq(K, hard ? Ks / 2 : Ks);
        for (int i = 0; i < n; i++) {
            coop_world_task_item(t, &cfg, 2, (size_t)i, &s, &label, &e);
            ck_assert_int_eq(s.style, want[w].style);
            if (want[w].style == COOP_WORLD_STYLE_SKETCH)
                ck_assert_int_eq(s.ink_in_colour, objects);
            if (!hard)
                continue;
            ck_assert_int_eq(s.main.size, COOP_WORLD_SMALL);
            ck_assert_int_ge(s.n_distractors, 1);
            clutter += s.n_distractors;
            for (int d = 0; d < s.n_distractors; d++) {
                const struct coop_world_object *o = &s.distractors[d];
                int code = objects ? o->colour * COOP_WORLD_NUM_SHAPES + o->shape : o->shape;
                for (int k = 0; k < K; k++)
                    ck_assert_int_ne(code, coop_world_task_source_class(t, k));
            }
        }
    }
    ck_assert_int_ge(clutter, 2 * 3 * n); /* on average >= 3 distractors in the hard sets */
    /* v2: same label sequence as the source, other images */
    const struct coop_world_task *v2 = coop_world_task_find("world-shapes-v2");
    int same = 0;
    for (size_t i = 0; i < 24; i++) {
        coop_world_task_item(src, &cfg, 2, i, &s0, &label0, &e);
        coop_world_task_item(v2, &cfg, 2, i, &s, &label, &e);
        ck_assert_int_eq(label, label0);
        same += fabsf(s.main.cx - s0.main.cx) < 1e-6f;
    }
    ck_assert_int_eq(same, 0);
}
END_TEST

/* The secondary attribute a task's collection habit fixes: pattern where the
 * label holds colour, else colour. */
static int habit_attribute(const struct coop_world_task *t, const struct coop_world_scene *s)
{
    const char *name = coop_world_task_name(t);
    return strstr(name, "objects") || strstr(name, "colors") ? s->main.pattern : s->main.colour;
}

/* Collection habits: at bias 1 every item of a class has the class's
 * background and secondary attribute, the classes do not all share them, and
 * the -v2 target has the same habits; at the default bias about that share of
 * the items follow them (plus chance); the sketch, rendition and hard targets
 * have none. */
START_TEST(collection_habits)
{
    struct coop_world_config cfg;
    struct coop_world_scene s;
    struct coop_err e;
    int label, per = reduced() ? 6 : 40;
    const char *sources[] = {"world-shapes", "world-colors", "world-textures", "world-objects"};
    for (size_t i = 0; i < 4; i++) {
        const struct coop_world_task *t = coop_world_task_find(sources[i]);
        const struct coop_world_task *v2 = coop_world_task_find(
            i == 0 ? "world-shapes-v2" : i == 3 ? "world-objects-v2" : sources[i]);
        int K = coop_world_task_num_classes(t), Kc = K < 12 ? K : 12;
        int bg[96], attr[96], distinct_bg = 0, distinct_attr = 0;
        coop_world_config_default(&cfg);
        cfg.bias = 1;
        for (int k = 0; k < Kc; k++)
            for (int j = 0; j < 4; j++) {
                size_t idx = (size_t)(j * K + k);
                ck_assert_int_eq(coop_world_task_item(j & 1 ? v2 : t, &cfg, j < 2 ? 0 : 2, idx,
                                                      &s, &label, &e), 0);
                ck_assert_int_eq(label, k);
                if (j == 0) {
                    bg[k] = s.background;
                    attr[k] = habit_attribute(t, &s);
                    ck_assert_int_lt(bg[k], COOP_WORLD_NUM_PHOTO_BACKGROUNDS);
                    distinct_bg += k == 0 || bg[k] != bg[0];
                    distinct_attr += k == 0 || attr[k] != attr[0];
                }
                ck_assert_int_eq(s.background, bg[k]);
                ck_assert_int_eq(habit_attribute(t, &s), attr[k]);
            }
        ck_assert_int_ge(distinct_bg, 2);
        ck_assert_int_ge(distinct_attr, 2);
        /* default bias: background share = bias + (1 - bias) / 4 */
        coop_world_config_default(&cfg);
        int follow = 0, n = per * Kc;
        for (int k = 0; k < Kc; k++)
            for (int j = 0; j < per; j++) {
                coop_world_task_item(t, &cfg, 0, (size_t)(j * K + k), &s, &label, &e);
                follow += s.background == bg[k];
            }
        double want = COOP_WORLD_COLLECTION_BIAS + (1 - COOP_WORLD_COLLECTION_BIAS) / 4;
        double tol = reduced() ? 0.2 : 0.07;
        ck_assert_msg(fabs((double)follow / n - want) < tol, "%s: %d of %d items follow the "
                      "background habit, want %.2f", sources[i], follow, n, want);
    }
    /* targets collected differently: no habit even at bias 1 */
    const char *others[] = {"world-shapes-r", "world-shapes-a", "world-objects-r",
                            "world-objects-a"};
    coop_world_config_default(&cfg);
    cfg.bias = 1;
    for (size_t i = 0; i < 4; i++) {
        const struct coop_world_task *t = coop_world_task_find(others[i]);
        int K = coop_world_task_num_classes(t), varies = 0, bg0 = -1;
        for (int j = 0; j < 8; j++) {
            coop_world_task_item(t, &cfg, 2, (size_t)(j * K), &s, &label, &e);
            varies += j > 0 && s.background != bg0;
            if (j == 0)
                bg0 = s.background;
        }
        ck_assert_msg(varies > 0, "%s follows a background habit", others[i]);
    }
}
END_TEST

START_TEST(image_caption_pairs)
{
    uint8_t a[32 * 32 * 3], b[32 * 32 * 3];
    char ca[COOP_WORLD_CAPTION_MAX], cb[COOP_WORLD_CAPTION_MAX];
    struct coop_world_scene s;
    struct coop_err e;
    ck_assert_int_eq(coop_world_pair(a, ca, sizeof ca, &s, NULL, 32, 4, 77, &e), 0);
    ck_assert_int_eq(coop_world_pair(b, cb, sizeof cb, NULL, NULL, 32, 4, 77, &e), 0);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_str_eq(ca, cb);
    check_caption(&s, ca);
    ck_assert_int_eq(coop_world_pair(b, cb, sizeof cb, NULL, NULL, 32, 4, 78, &e), 0);
    ck_assert(memcmp(a, b, sizeof a) != 0);
}
END_TEST

START_TEST(bad_arguments_are_errors)
{
    struct coop_world_constraints c;
    struct coop_world_scene s;
    struct coop_err e;
    uint8_t rgb[16 * 16 * 3];
    coop_world_constraints_default(&c);
    c.shape = COOP_WORLD_NUM_SHAPES;
    ck_assert_int_eq(coop_world_scene_sample(&s, &c, 1, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "shape"));
    coop_world_constraints_default(&c);
    c.size = COOP_WORLD_TINY;
    ck_assert_int_eq(coop_world_scene_sample(&s, &c, 1, &e), COOP_E_INVAL);
    coop_world_constraints_default(&c);
    c.max_distractors = COOP_WORLD_MAX_DISTRACTORS + 1;
    ck_assert_int_eq(coop_world_scene_sample(&s, &c, 1, &e), COOP_E_INVAL);
    coop_world_constraints_default(&c);
    ck_assert_int_eq(coop_world_scene_sample(&s, &c, 1, &e), 0);
    ck_assert_int_eq(coop_world_render(rgb, &s, 4, 4, &e), COOP_E_INVAL);
    ck_assert_int_eq(coop_world_render(rgb, &s, 16, 9, &e), COOP_E_INVAL);
    ck_assert_int_eq(coop_world_render(rgb, &s, 16, 1, &e), 0);
    ck_assert_ptr_null(coop_world_task_find("world-nope"));
    ck_assert_ptr_null(coop_world_shape_name(COOP_WORLD_NUM_SHAPES));
    ck_assert_ptr_null(coop_world_synonyms('x', 0));
}
END_TEST

int main(void)
{
    Suite *su = suite_create("world");
    TCase *tc = tcase_create("world");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, same_seed_same_pixels_checksum_pinned);
    tcase_add_test(tc, different_seeds_differ);
    tcase_add_test(tc, every_shape_and_colour_renders_as_named);
    tcase_add_test(tc, every_pattern_renders);
    tcase_add_test(tc, sizes_positions_and_rotation);
    tcase_add_test(tc, every_background_renders);
    tcase_add_test(tc, distractors_render_and_occlude);
    tcase_add_test(tc, sketch_has_no_fill);
    tcase_add_test(tc, rendition_is_posterised_with_outline);
    tcase_add_test(tc, captions_mention_only_true_attributes);
    tcase_add_test(tc, captions_vary);
    tcase_add_test(tc, tasks_balanced_and_labelled_by_their_attribute);
    tcase_add_test(tc, ensemble_lists_speak_the_captions_language);
    tcase_add_test(tc, targets_have_their_style);
    tcase_add_test(tc, collection_habits);
    tcase_add_test(tc, image_caption_pairs);
    tcase_add_test(tc, bad_arguments_are_errors);
    suite_add_tcase(su, tc);
    return coop_check_run(su);
}
