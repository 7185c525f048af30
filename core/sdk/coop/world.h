/* coop/world.h: the procedural vision-language world. A scene (one main
 * object with compositional attributes, optional distractors, a background
 * and a drawing style) is sampled deterministically from a seed, rendered
 * into an RGB8 buffer with supersampled anti-aliasing, and described by
 * captions drawn from varied templates that mention only true attributes.
 * On top of scenes sit the downstream classification tasks (dataset
 * descriptors with splits and class names) and their domain-shift targets.
 * Nothing here reads files, prints or keeps global mutable state: the same
 * (seed, arguments) give the same pixels and text on every call and thread.
 * See docs/synthetic-world.md. */
#ifndef COOP_WORLD_H
#define COOP_WORLD_H

#include "coop/common.h"
#include <stdbool.h>

/* ---- vocabulary ---------------------------------------------------------- */
enum coop_world_shape {
    COOP_WORLD_CIRCLE = 0, COOP_WORLD_SQUARE, COOP_WORLD_TRIANGLE, COOP_WORLD_STAR,
    COOP_WORLD_HEART, COOP_WORLD_HEXAGON, COOP_WORLD_PENTAGON, COOP_WORLD_DIAMOND,
    COOP_WORLD_CROSS, COOP_WORLD_CRESCENT, COOP_WORLD_ARROW, COOP_WORLD_ELLIPSE,
    COOP_WORLD_NUM_SHAPES
};
/* The first COOP_WORLD_NUM_CHROMATIC colours are the ones the fine-grained
 * object task combines with shapes (12 x 8 = 96 classes). */
enum coop_world_colour {
    COOP_WORLD_RED = 0, COOP_WORLD_ORANGE, COOP_WORLD_YELLOW, COOP_WORLD_GREEN,
    COOP_WORLD_BLUE, COOP_WORLD_PURPLE, COOP_WORLD_PINK, COOP_WORLD_BROWN,
    COOP_WORLD_BLACK, COOP_WORLD_WHITE,
    COOP_WORLD_NUM_COLOURS
};
#define COOP_WORLD_NUM_CHROMATIC 8
enum coop_world_pattern {
    COOP_WORLD_SOLID = 0, COOP_WORLD_STRIPED, COOP_WORLD_DOTTED, COOP_WORLD_CHECKERED,
    COOP_WORLD_GRADIENT, COOP_WORLD_RINGED,
    COOP_WORLD_NUM_PATTERNS
};
/* TINY is used for distractors only; main objects are SMALL..LARGE. */
enum coop_world_size {
    COOP_WORLD_SMALL = 0, COOP_WORLD_MEDIUM, COOP_WORLD_LARGE, COOP_WORLD_TINY,
    COOP_WORLD_NUM_SIZES
};
/* The first COOP_WORLD_NUM_PHOTO_BACKGROUNDS appear in the normal world; the
 * others belong to the rendition and sketch styles. */
enum coop_world_background {
    COOP_WORLD_BG_PLAIN = 0, COOP_WORLD_BG_NOISY, COOP_WORLD_BG_GRADIENT, COOP_WORLD_BG_GRID,
    COOP_WORLD_BG_HATCHED, COOP_WORLD_BG_HALFTONE, COOP_WORLD_BG_PAPER,
    COOP_WORLD_NUM_BACKGROUNDS
};
#define COOP_WORLD_NUM_PHOTO_BACKGROUNDS 4
/* Position zone of the main object's centre on a 3x3 grid, row-major. */
enum coop_world_position {
    COOP_WORLD_TOP_LEFT = 0, COOP_WORLD_TOP, COOP_WORLD_TOP_RIGHT,
    COOP_WORLD_LEFT, COOP_WORLD_CENTER, COOP_WORLD_RIGHT,
    COOP_WORLD_BOTTOM_LEFT, COOP_WORLD_BOTTOM, COOP_WORLD_BOTTOM_RIGHT,
    COOP_WORLD_NUM_POSITIONS
};
enum coop_world_style {
    COOP_WORLD_STYLE_PHOTO = 0,     /* filled, patterned objects on photo backgrounds */
    COOP_WORLD_STYLE_SKETCH = 1,    /* outlines only, no fill, white paper */
    COOP_WORLD_STYLE_RENDITION = 2  /* posterised palette, thick outlines, cartoon backgrounds */
};

/* Canonical lower-case English names (the first synonym); NULL if out of range. */
COOP_API const char *coop_world_shape_name(int shape);
COOP_API const char *coop_world_colour_name(int colour);
COOP_API const char *coop_world_pattern_name(int pattern);
COOP_API const char *coop_world_size_name(int size);
COOP_API const char *coop_world_background_name(int background);
COOP_API const char *coop_world_position_name(int position);
/* Synonyms the captions may use: NULL-terminated list, first = canonical
 * name. kind: 's' shape, 'c' colour, 'p' pattern (adjectives), 'z' size,
 * 'b' background, 'o' position phrase. NULL for a bad kind or value. */
COOP_API const char *const *coop_world_synonyms(char kind, int value);
/* Nominal sRGB of a colour (objects get a small per-object jitter). */
COOP_API void coop_world_colour_rgb(int colour, uint8_t rgb[3]);
/* The colour a careless captioner names instead of `colour` (orange and pink
 * objects called red, purple called blue, brown and yellow called orange),
 * or -1 where nobody errs. Captions use it for COOP_WORLD_LOOSE_COLOURS of
 * the mentions of such a colour; task labels never do. */
COOP_API int coop_world_colour_loose(int colour);
/* The colour a kind of object usually has in the pretraining stream's
 * "web" (hearts and crosses red, stars and crescents yellow, ...; see
 * docs/synthetic-world.md), or -1 for a bad shape. The downstream tasks
 * draw colours independently of the kind, as a curated benchmark does. */
COOP_API int coop_world_typical_colour(int shape);

/* ---- scenes ---------------------------------------------------------------- */
struct coop_world_object {
    int shape, colour, pattern, size;
    float cx, cy;   /* centre, in [0, 1] image units (x right, y down) */
    float radius;   /* circumradius, in image units */
    float angle;    /* rotation, radians */
    float pattern_scale, pattern_phase; /* stripe/dot frequency and offset */
    uint8_t rgb[3]; /* jittered fill colour (before any style palette) */
    uint8_t on_top; /* distractor drawn over the main object (occluder) */
};
#define COOP_WORLD_MAX_DISTRACTORS 8
struct coop_world_scene {
    struct coop_world_object main;
    int n_distractors;
    struct coop_world_object distractors[COOP_WORLD_MAX_DISTRACTORS];
    int position;            /* zone of main.cx, main.cy */
    int background;
    uint8_t bg_rgb[3], bg_rgb2[3];
    float bg_angle, bg_scale;
    uint64_t bg_seed;        /* grain of noisy backgrounds */
    int style;               /* enum coop_world_style */
    int ink_in_colour;       /* sketch: strokes in each object's colour, not graphite */
};

/* What to sample: -1 = any value, otherwise the value is forced. */
struct coop_world_constraints {
    int shape, colour, pattern, size, background, position;
    int num_colours;         /* random colours drawn from [0, num_colours); 0 = all */
    int min_distractors, max_distractors; /* 0..COOP_WORLD_MAX_DISTRACTORS */
    int style;               /* enum coop_world_style */
    float occlusion;         /* probability that a distractor overlaps and covers the main object */
    bool big_distractors;    /* distractors SMALL instead of TINY (clutter) */
    bool ink_in_colour;      /* sketch style: coloured strokes (keeps colour labels valid) */
    /* Which distractors are allowed (hard subsets keep distractors out of
     * their label space): 0 any; 1 odd shape index only; 2 odd shape + colour sum only. */
    int distractor_rule;
};
/* Defaults of the normal world: everything random, 0..2 distractors, photo style. */
COOP_API void coop_world_constraints_default(struct coop_world_constraints *c);
/* Samples a scene; deterministic in (c, seed). COOP_E_INVAL for bad constraints. */
COOP_API int coop_world_scene_sample(struct coop_world_scene *out,
                                     const struct coop_world_constraints *c, uint64_t seed,
                                     struct coop_err *e);

/* Renders s into rgb [size, size, 3] (caller-owned), with supersample x
 * supersample samples per pixel at object edges and inside patterns
 * (1..8; 4 is the default). size 8..1024. */
COOP_API int coop_world_render(uint8_t *rgb, const struct coop_world_scene *s, int size,
                               int supersample, struct coop_err *e);
/* Coverage mask of the main object alone (1 where the centre of a pixel is
 * inside it), mask [size, size]; for tests and attribute checks. */
COOP_API int coop_world_main_mask(uint8_t *mask, const struct coop_world_scene *s, int size,
                                  struct coop_err *e);

/* Writes a caption of s into buf (NUL-terminated; COOP_E_NOMEM if len is too
 * small, 256 always suffices). A random subset of the main object's
 * attributes (always its shape), and possibly the background, the position
 * and one distractor, through varied templates and synonyms; deterministic
 * in (s, seed). Plain lower-case English. */
#define COOP_WORLD_CAPTION_MAX 256
/* Share of captions that name only the main object's kind ("a photo of a star."). */
#define COOP_WORLD_TERSE_CAPTIONS 0.3
/* Share of colour mentions that use coop_world_colour_loose's name instead. */
#define COOP_WORLD_LOOSE_COLOURS 0.35
COOP_API int coop_world_caption(char *buf, size_t len, const struct coop_world_scene *s,
                                uint64_t seed, struct coop_err *e);

/* Length in bytes of the phrase naming the style ("a sketch of ", "a cartoon
 * of ", ...) that a caption of a sketch or rendition scene starts with, or 0
 * (a photo, or a caption that starts with its background). Removing it gives
 * the caption of the same scene as alt text that does not say how it was drawn. */
COOP_API size_t coop_world_style_phrase(const char *caption, int style);

/* One image-caption pair for pretraining: samples a scene (c = NULL: the
 * normal world's defaults), renders rgb [size, size, 3] and writes one
 * caption (caption_len >= COOP_WORLD_CAPTION_MAX is always enough).
 * Deterministic in (c, size, supersample, seed). scene may be NULL. */
COOP_API int coop_world_pair(uint8_t *rgb, char *caption, size_t caption_len,
                             struct coop_world_scene *scene,
                             const struct coop_world_constraints *c, int size, int supersample,
                             uint64_t seed, struct coop_err *e);

/* ---- downstream tasks and domain-shift targets ------------------------------ */
/* A task is one dataset descriptor: a label space with class names, a
 * zero-shot template, splits of per-class sizes, and (for targets) the map of
 * its classes to the source task's labels. Item i of a split has label
 * i % K, so splits are exactly balanced. */
struct coop_world_task;
struct coop_world_config {
    uint64_t seed;          /* world seed (default 1) */
    int image_size;         /* default 32 */
    int supersample;        /* default 4 */
    int per_class[3];       /* train, val, test items per class (default 32, 8, 25) */
    /* Collection bias of source tasks and their re-sampled (-v2) targets: the
     * share of items whose background, and independently whose secondary
     * attribute (colour, or pattern where colour is part of the label), is
     * their class's own value (COOP_WORLD_COLLECTION_BIAS by default; 0 = none). */
    double bias;
};
#define COOP_WORLD_COLLECTION_BIAS 0.7
COOP_API void coop_world_config_default(struct coop_world_config *c);
/* Enumerates the tasks: NULL past the last. */
COOP_API const struct coop_world_task *coop_world_task_at(size_t i);
COOP_API const struct coop_world_task *coop_world_task_find(const char *name);
COOP_API const char *coop_world_task_name(const struct coop_world_task *t);
COOP_API const char *coop_world_task_summary(const struct coop_world_task *t);
COOP_API const char *coop_world_task_template(const struct coop_world_task *t);
/* The task's templates for prompt ensembling, NULL-terminated: its own
 * template, then the same noun phrase in the world's caption language at
 * each main-object size and on each photo background (the nuisances an
 * image of the task varies in, as CLIP's lists cover "the large" and "the
 * small" ones); a target shares its source's kind of list. */
COOP_API const char *const *coop_world_task_ensemble(const struct coop_world_task *t);
COOP_API int coop_world_task_num_classes(const struct coop_world_task *t);
/* Class k's name ("star", "red star", "striped", ...) into buf; NULL if k is out of range. */
COOP_API const char *coop_world_task_class_name(const struct coop_world_task *t, int k,
                                                char *buf, size_t len);
/* Name of the source task for a domain-shift target, NULL for a source task. */
COOP_API const char *coop_world_task_source(const struct coop_world_task *t);
/* Target class k's label in the source task (identity except for subsets). */
COOP_API int coop_world_task_source_class(const struct coop_world_task *t, int k);
/* Splits: 0 train, 1 val, 2 test, and COOP_WORLD_SPLIT_DEV, a held-out split
 * of the test split's size drawn from its own stream ("dev"): the split a
 * recipe is chosen on, so that test is never looked at for that. */
#define COOP_WORLD_SPLIT_DEV 3
COOP_API size_t coop_world_task_split_size(const struct coop_world_task *t,
                                           const struct coop_world_config *c, int split);
/* The scene and label of item index of split (0 train, 1 val, 2 test, 3 dev). */
COOP_API int coop_world_task_item(const struct coop_world_task *t,
                                  const struct coop_world_config *c, int split, size_t index,
                                  struct coop_world_scene *scene, int *label, struct coop_err *e);

/* ---- export ---------------------------------------------------------------- */
/* Writes rgb [h, w, 3] as an 8-bit RGB PNG: coop_image_write_png with 3
 * channels (the one PNG writer, core/image/). */
COOP_API int coop_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h,
                                struct coop_err *e);

#endif
