/* task.c: the downstream classification tasks over the world and their
 * domain-shift targets, as a table. An item is a pure function of (world
 * seed, task name, split, index): its label is index % K and its scene is
 * sampled with the label's attribute forced. */
#include "coop/world.h"
#include "coop/util.h"
#include <stdio.h>
#include <string.h>

enum label_kind { BY_SHAPE, BY_COLOUR, BY_PATTERN, BY_OBJECT };
enum variant { V_SOURCE, V_RESAMPLED, V_SKETCH, V_RENDITION, V_HARD };

struct coop_world_task {
    const char *name, *summary, *template_text, *source;
    int kind, variant;
};

#define SHAPES_T "a photo of a {}."
static const struct coop_world_task tasks[] = {
    {"world-shapes", "synthetic world: object kind (12 classes)", SHAPES_T, NULL, BY_SHAPE,
     V_SOURCE},
    {"world-colors", "synthetic world: object colour (10 classes)", "a photo of a {} object.",
     NULL, BY_COLOUR, V_SOURCE},
    {"world-textures", "synthetic world: surface pattern (6 classes)", "a {} texture.", NULL,
     BY_PATTERN, V_SOURCE},
    {"world-objects", "synthetic world: fine-grained colour and kind (96 classes)", SHAPES_T,
     NULL, BY_OBJECT, V_SOURCE},
    {"world-shapes-v2", "world-shapes re-sampled with a fresh seed (like ImageNet-V2)", SHAPES_T,
     "world-shapes", BY_SHAPE, V_RESAMPLED},
    {"world-shapes-sketch", "world-shapes as outline sketches on white (like ImageNet-Sketch)",
     SHAPES_T, "world-shapes", BY_SHAPE, V_SKETCH},
    {"world-shapes-r", "world-shapes as posterised cartoons (like ImageNet-R)", SHAPES_T,
     "world-shapes", BY_SHAPE, V_RENDITION},
    {"world-shapes-a", "half of world-shapes' classes, small, cluttered, occluded (like ImageNet-A)",
     SHAPES_T, "world-shapes", BY_SHAPE, V_HARD},
    {"world-objects-v2", "world-objects re-sampled with a fresh seed (like ImageNet-V2)",
     SHAPES_T, "world-objects", BY_OBJECT, V_RESAMPLED},
    {"world-objects-sketch", "world-objects as coloured outline sketches on white", SHAPES_T,
     "world-objects", BY_OBJECT, V_SKETCH},
    {"world-objects-r", "world-objects as posterised cartoons (like ImageNet-R)", SHAPES_T,
     "world-objects", BY_OBJECT, V_RENDITION},
    {"world-objects-a", "half of world-objects' classes, small, cluttered, occluded", SHAPES_T,
     "world-objects", BY_OBJECT, V_HARD},
};
#define NTASKS (sizeof tasks / sizeof tasks[0])

void coop_world_config_default(struct coop_world_config *c)
{
    c->seed = 1;
    c->image_size = 32;
    c->supersample = 4;
    c->per_class[0] = 32;
    c->per_class[1] = 8;
    c->per_class[2] = 25;
    c->bias = COOP_WORLD_COLLECTION_BIAS;
}

const struct coop_world_task *coop_world_task_at(size_t i) { return i < NTASKS ? &tasks[i] : NULL; }

const struct coop_world_task *coop_world_task_find(const char *name)
{
    for (size_t i = 0; i < NTASKS; i++)
        if (strcmp(tasks[i].name, name) == 0)
            return &tasks[i];
    return NULL;
}

const char *coop_world_task_name(const struct coop_world_task *t) { return t->name; }
const char *coop_world_task_summary(const struct coop_world_task *t) { return t->summary; }
const char *coop_world_task_template(const struct coop_world_task *t) { return t->template_text; }

/* Sizes of a main object and the photo backgrounds, in vocab.c's first
 * synonyms, around the noun phrase of the task's template. */
#define ENSEMBLE(own, np)                                                                     \
    {own,                                                                                     \
     "a photo of a small " np ".",                                                            \
     "a photo of a medium sized " np ".",                                                     \
     "a photo of a large " np ".",                                                            \
     "a photo of a " np " on a plain background.",                                            \
     "a photo of a " np " on a noisy background.",                                            \
     "a photo of a " np " on a gradient background.",                                         \
     "a photo of a " np " on a grid background.",                                             \
     NULL}
static const char *const ensemble_kind[][9] = {
    [BY_SHAPE] = ENSEMBLE(SHAPES_T, "{}"),
    [BY_COLOUR] = ENSEMBLE("a photo of a {} object.", "{} object"),
    [BY_PATTERN] = ENSEMBLE("a {} texture.", "{} texture"),
    [BY_OBJECT] = ENSEMBLE(SHAPES_T, "{}"),
};
#undef ENSEMBLE

const char *const *coop_world_task_ensemble(const struct coop_world_task *t)
{
    return ensemble_kind[t->kind];
}
const char *coop_world_task_source(const struct coop_world_task *t) { return t->source; }

static int source_classes(const struct coop_world_task *t)
{
    switch (t->kind) {
    case BY_SHAPE: return COOP_WORLD_NUM_SHAPES;
    case BY_COLOUR: return COOP_WORLD_NUM_COLOURS;
    case BY_PATTERN: return COOP_WORLD_NUM_PATTERNS;
    default: return COOP_WORLD_NUM_SHAPES * COOP_WORLD_NUM_CHROMATIC;
    }
}

int coop_world_task_num_classes(const struct coop_world_task *t)
{
    return t->variant == V_HARD ? source_classes(t) / 2 : source_classes(t);
}

/* Hard subsets keep the classes whose attribute indices sum to an even
 * number: every other shape; for objects, half of each shape's colours. */
int coop_world_task_source_class(const struct coop_world_task *t, int k)
{
    if (k < 0 || k >= coop_world_task_num_classes(t))
        return -1;
    if (t->variant != V_HARD)
        return k;
    if (t->kind != BY_OBJECT)
        return 2 * k;
    int colour = (2 * k) / COOP_WORLD_NUM_SHAPES, shape = (2 * k) % COOP_WORLD_NUM_SHAPES;
    return colour * COOP_WORLD_NUM_SHAPES + shape + (colour & 1);
}

const char *coop_world_task_class_name(const struct coop_world_task *t, int k, char *buf,
                                       size_t len)
{
    int s = coop_world_task_source_class(t, k);
    if (s < 0 || len == 0)
        return NULL;
    switch (t->kind) {
    case BY_SHAPE: snprintf(buf, len, "%s", coop_world_shape_name(s)); break;
    case BY_COLOUR: snprintf(buf, len, "%s", coop_world_colour_name(s)); break;
    case BY_PATTERN: snprintf(buf, len, "%s", coop_world_pattern_name(s)); break;
    default:
        snprintf(buf, len, "%s %s", coop_world_colour_name(s / COOP_WORLD_NUM_SHAPES),
                 coop_world_shape_name(s % COOP_WORLD_NUM_SHAPES));
    }
    return buf;
}

size_t coop_world_task_split_size(const struct coop_world_task *t,
                                  const struct coop_world_config *c, int split)
{
    if (split == COOP_WORLD_SPLIT_DEV)
        split = 2; /* the test split's size */
    if (split < 0 || split > 2 || c->per_class[split] < 0)
        return 0;
    return (size_t)c->per_class[split] * (size_t)coop_world_task_num_classes(t);
}

static void constrain(struct coop_world_constraints *w, const struct coop_world_task *t, int src,
                      uint64_t seed)
{
    coop_world_constraints_default(w);
    switch (t->kind) {
    case BY_SHAPE: w->shape = src; break;
    case BY_COLOUR: w->colour = src; break;
    case BY_PATTERN:
        /* textures need room to show: medium or large, little clutter */
        w->pattern = src;
        w->size = (seed >> 7) & 1 ? COOP_WORLD_LARGE : COOP_WORLD_MEDIUM;
        w->max_distractors = 1;
        break;
    default:
        w->shape = src % COOP_WORLD_NUM_SHAPES;
        w->colour = src / COOP_WORLD_NUM_SHAPES;
        w->num_colours = COOP_WORLD_NUM_CHROMATIC;
    }
    if (t->variant == V_SKETCH) {
        w->style = COOP_WORLD_STYLE_SKETCH;
        w->ink_in_colour = t->kind == BY_OBJECT || t->kind == BY_COLOUR;
    } else if (t->variant == V_RENDITION)
        w->style = COOP_WORLD_STYLE_RENDITION;
    else if (t->variant == V_HARD) {
        w->size = COOP_WORLD_SMALL;
        w->min_distractors = 4;
        w->max_distractors = 7;
        w->big_distractors = true;
        w->occlusion = 0.5f;
        w->distractor_rule = t->kind == BY_OBJECT ? 2 : 1;
    }
}

/* A collection's habits: with probability c->bias each, an item of source
 * class src gets its class's background and its class's secondary attribute
 * (colour; pattern where colour is part of the label). The class's values
 * are fixed by the world seed and the source task's name, so a re-sampled
 * target shares them and the pretraining stream knows nothing of them.
 * Other targets were collected differently (like ImageNet-Sketch, -R, -A)
 * and have none. The draws use their own stream: bias 0 leaves every scene
 * as it was without bias. */
static void collection_bias(struct coop_world_constraints *w, const struct coop_world_task *t,
                            const struct coop_world_config *c, int src, uint64_t seed)
{
    if (c->bias <= 0 || (t->variant != V_SOURCE && t->variant != V_RESAMPLED))
        return;
    const char *collection = t->source ? t->source : t->name;
    uint64_t habit = coop_mix64(coop_seed_derive(coop_seed_derive(c->seed, collection), "habits") +
                                (uint64_t)src);
    struct coop_rng r;
    coop_rng_seed(&r, coop_mix64(seed ^ 0xB1A5C011EC7107ULL));
    if (coop_rng_uniform(&r) < c->bias)
        w->background = (int)(habit % COOP_WORLD_NUM_PHOTO_BACKGROUNDS);
    if (coop_rng_uniform(&r) < c->bias) {
        if (t->kind == BY_OBJECT || t->kind == BY_COLOUR)
            w->pattern = (int)((habit >> 16) % COOP_WORLD_NUM_PATTERNS);
        else
            w->colour = (int)((habit >> 32) % COOP_WORLD_NUM_COLOURS);
    }
}

int coop_world_task_item(const struct coop_world_task *t, const struct coop_world_config *c,
                         int split, size_t index, struct coop_world_scene *scene, int *label,
                         struct coop_err *e)
{
    static const char *const split_names[] = {"train", "val", "test", "dev"};
    size_t n = coop_world_task_split_size(t, c, split);
    if (index >= n)
        return coop_fail(e, COOP_E_INVAL, "%s: item %zu past the end of split %d (%zu items)",
                         t->name, index, split, n);
    int K = coop_world_task_num_classes(t), k = (int)(index % (size_t)K);
    uint64_t base = coop_seed_derive(coop_seed_derive(c->seed, t->name), split_names[split]);
    uint64_t seed = coop_mix64(base + 0x9E3779B97F4A7C15ULL * (uint64_t)(index + 1));
    struct coop_world_constraints w;
    int src = coop_world_task_source_class(t, k);
    constrain(&w, t, src, seed);
    collection_bias(&w, t, c, src, seed);
    *label = k;
    int rc = coop_world_scene_sample(scene, &w, seed, e);
    return rc ? coop_fail_prefix(e, rc, "%s item %zu", t->name, index) : COOP_OK;
}
