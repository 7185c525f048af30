/* caption.c: captions of a scene from varied templates and synonyms. Every
 * word naming an attribute comes from the vocabulary tables (vocab.c) and
 * is true of the object it is attached to; which attributes are mentioned,
 * and how, is drawn from a seeded stream. Layout (the parser in the tests
 * relies on it): an optional "<bg> background with" opening or "on a <bg>
 * background" part, the main object's phrase with its position, and at the
 * end at most one distractor introduced by a connector. */
#include "coop/world.h"
#include "coop/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct sb {
    char *buf;
    size_t len, n;
    int over;
};

static void put(struct sb *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k + 1 > b->len) {
        b->over = 1;
        return;
    }
    memcpy(b->buf + b->n, s, k + 1);
    b->n += k;
}

static int chance(struct coop_rng *r, double p) { return coop_rng_uniform(r) < p; }

static const char *syn(char kind, int v, struct coop_rng *r)
{
    const char *const *s = coop_world_synonyms(kind, v);
    size_t n = 0;
    while (s[n])
        n++;
    return s[coop_rng_below(r, n)];
}

static const char *any(const char *const *list, size_t n, struct coop_rng *r)
{
    return list[coop_rng_below(r, n)];
}

/* "a" or "an" for the word that follows. */
static const char *article(const char *next)
{
    if (strncmp(next, "uni", 3) == 0)
        return "a ";
    return strchr("aeiou", next[0]) ? "an " : "a ";
}

/* Words (size, colour, pattern, noun, postfix) of one object into words[]. */
static int object_words(const char **w, const struct coop_world_scene *s,
                        const struct coop_world_object *o, int is_main, struct coop_rng *r)
{
    int n = 0, sketch = s->style == COOP_WORLD_STYLE_SKETCH;
    int show_colour = (!sketch || s->ink_in_colour) && chance(r, is_main ? 0.6 : 0.5);
    int show_pattern = is_main && !sketch && chance(r, o->pattern == COOP_WORLD_SOLID ? 0.25 : 0.55);
    int post = show_pattern && chance(r, 0.3);
    double p_size = !is_main ? 0.6 : (o->size == COOP_WORLD_MEDIUM ? 0.25 : 0.5);
    if (chance(r, p_size))
        w[n++] = syn('z', o->size, r);
    int colour = o->colour, loose = coop_world_colour_loose(colour);
    if (show_colour && loose >= 0 && chance(r, COOP_WORLD_LOOSE_COLOURS))
        colour = loose; /* captions name colours as loosely as people do */
    const char *c = show_colour ? syn('c', colour, r) : NULL;
    const char *p = show_pattern && !post ? syn('p', o->pattern, r) : NULL;
    if (chance(r, 0.5)) {
        const char *t = c;
        c = p;
        p = t;
    }
    if (c)
        w[n++] = c;
    if (p)
        w[n++] = p;
    w[n++] = syn('s', o->shape, r);
    if (post)
        w[n++] = syn('q', o->pattern, r);
    return n;
}

static void put_object(struct sb *b, const struct coop_world_scene *s,
                       const struct coop_world_object *o, int is_main, struct coop_rng *r)
{
    const char *w[6];
    int n = object_words(w, s, o, is_main, r);
    put(b, article(w[0]));
    for (int i = 0; i < n; i++) {
        if (i)
            put(b, " ");
        put(b, w[i]);
    }
}

static const char *const photo_prefix[] = {"", "", "a photo of ", "an image of ", "a picture of ",
                                           "there is ", "this is ", "a rendering of ",
                                           "a close up photo of "};
static const char *const sketch_prefix[] = {"a sketch of ", "a drawing of ", "a pencil sketch of ",
                                            "a line drawing of "};
static const char *const cartoon_prefix[] = {"a cartoon of ", "an illustration of ",
                                             "a cartoon drawing of ", "a painting of "};
#define N_STYLE_PREFIXES (sizeof sketch_prefix / sizeof sketch_prefix[0])
_Static_assert(sizeof sketch_prefix == sizeof cartoon_prefix, "one count for both style lists");

static void put_prefix(struct sb *b, int style, struct coop_rng *r)
{
    if (style == COOP_WORLD_STYLE_SKETCH)
        put(b, any(sketch_prefix, N_STYLE_PREFIXES, r));
    else if (style == COOP_WORLD_STYLE_RENDITION)
        put(b, any(cartoon_prefix, N_STYLE_PREFIXES, r));
    else
        put(b, any(photo_prefix, sizeof photo_prefix / sizeof photo_prefix[0], r));
}

size_t coop_world_style_phrase(const char *caption, int style)
{
    const char *const *list = style == COOP_WORLD_STYLE_SKETCH      ? sketch_prefix
                              : style == COOP_WORLD_STYLE_RENDITION ? cartoon_prefix
                                                                    : NULL;
    size_t best = 0;
    for (size_t i = 0; list && caption && i < N_STYLE_PREFIXES; i++) {
        size_t n = strlen(list[i]);
        if (n > best && strncmp(caption, list[i], n) == 0)
            best = n;
    }
    return best;
}

int coop_world_caption(char *buf, size_t len, const struct coop_world_scene *s, uint64_t seed,
                       struct coop_err *e)
{
    static const char *const connect[] = {" next to ", " beside ", " near ", " and "};
    if (!buf || len == 0)
        return coop_fail(e, COOP_E_INVAL, "world caption: no buffer");
    if (s->main.shape < 0 || s->main.shape >= COOP_WORLD_NUM_SHAPES ||
        s->background < 0 || s->background >= COOP_WORLD_NUM_BACKGROUNDS)
        return coop_fail(e, COOP_E_INVAL, "world caption: bad scene");
    struct coop_rng r;
    /* mix in the scene's own random bits so that small caption seeds (0, 1,
     * 2, ...) do not pick the same template for every scene */
    coop_rng_seed(&r, coop_mix64(seed ^ s->bg_seed) ^ seed);
    struct sb b = {buf, len, 0, 0};
    buf[0] = '\0';
    if (chance(&r, COOP_WORLD_TERSE_CAPTIONS)) {
        /* terse, like much alt text: only what the thing is ("a photo of a star.") */
        put_prefix(&b, s->style, &r);
        const char *noun = syn('s', s->main.shape, &r);
        put(&b, article(noun));
        put(&b, noun);
        if (chance(&r, 0.5))
            put(&b, ".");
        return b.over ? coop_fail(e, COOP_E_NOMEM, "world caption: buffer of %zu bytes too small",
                                  len)
                      : COOP_OK;
    }
    int show_bg = chance(&r, 0.35), bg_first = show_bg && chance(&r, 0.3);
    const char *bg = syn('b', s->background, &r);
    if (bg_first) {
        put(&b, article(bg));
        put(&b, bg);
        put(&b, " background with ");
    } else
        put_prefix(&b, s->style, &r);
    put_object(&b, s, &s->main, 1, &r);
    if (chance(&r, 0.3)) {
        put(&b, " ");
        put(&b, syn('o', s->position, &r));
    }
    if (show_bg && !bg_first) {
        put(&b, " on ");
        put(&b, article(bg));
        put(&b, bg);
        put(&b, " background");
    }
    if (s->n_distractors > 0 && chance(&r, 0.4)) {
        const struct coop_world_object *d = &s->distractors[coop_rng_below(&r, (uint64_t)s->n_distractors)];
        put(&b, any(connect, 4, &r));
        put_object(&b, s, d, 0, &r);
    }
    if (chance(&r, 0.5))
        put(&b, ".");
    if (b.over)
        return coop_fail(e, COOP_E_NOMEM, "world caption: buffer of %zu bytes too small", len);
    return COOP_OK;
}

int coop_world_pair(uint8_t *rgb, char *caption, size_t caption_len,
                    struct coop_world_scene *scene, const struct coop_world_constraints *c,
                    int size, int supersample, uint64_t seed, struct coop_err *e)
{
    struct coop_world_constraints def;
    struct coop_world_scene local;
    if (!c) {
        coop_world_constraints_default(&def);
        c = &def;
    }
    if (!scene)
        scene = &local;
    int rc = coop_world_scene_sample(scene, c, coop_mix64(seed), e);
    if (!rc)
        rc = coop_world_render(rgb, scene, size, supersample, e);
    if (!rc)
        rc = coop_world_caption(caption, caption_len, scene, seed, e);
    return rc;
}
