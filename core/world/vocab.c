/* vocab.c: the world's vocabulary: names, synonyms and nominal colours of
 * every attribute value. Class names and captions are built from these
 * tables only, so a caption can be parsed back against them. */
#include "coop/world.h"
#include <stddef.h>

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *const *const shape_syn[COOP_WORLD_NUM_SHAPES] = {
    LIST("circle", "disc"), LIST("square"), LIST("triangle"), LIST("star"),
    LIST("heart"), LIST("hexagon"), LIST("pentagon"), LIST("diamond", "rhombus"),
    LIST("cross", "plus sign"), LIST("crescent", "crescent moon"), LIST("arrow"),
    LIST("ellipse", "oval"),
};
static const char *const *const colour_syn[COOP_WORLD_NUM_COLOURS] = {
    LIST("red"), LIST("orange"), LIST("yellow"), LIST("green"), LIST("blue"),
    LIST("purple", "violet"), LIST("pink"), LIST("brown"), LIST("black"), LIST("white"),
};
/* Adjectives placed before the noun. */
static const char *const *const pattern_syn[COOP_WORLD_NUM_PATTERNS] = {
    LIST("solid", "plain coloured"), LIST("striped", "stripy"),
    LIST("dotted", "spotted", "polka dot"), LIST("checkered", "chequered", "checked"),
    LIST("gradient", "shaded"), LIST("ringed"),
};
/* Phrases placed after the noun ("a star with stripes"). */
static const char *const *const pattern_post[COOP_WORLD_NUM_PATTERNS] = {
    LIST("in a single colour"), LIST("with stripes"), LIST("with dots", "with polka dots"),
    LIST("with a checkerboard pattern"), LIST("with a colour gradient"),
    LIST("with concentric rings"),
};
static const char *const *const size_syn[COOP_WORLD_NUM_SIZES] = {
    LIST("small", "little"), LIST("medium sized", "mid sized"), LIST("large", "big"),
    LIST("tiny"),
};
static const char *const *const bg_syn[COOP_WORLD_NUM_BACKGROUNDS] = {
    LIST("plain", "blank", "uniform"), LIST("noisy", "grainy", "speckled"),
    LIST("gradient", "fading"), LIST("grid", "tiled"), LIST("hatched"), LIST("halftone"),
    LIST("white", "paper"),
};
/* No phrase is a substring of another (the caption parser relies on it). */
static const char *const *const pos_syn[COOP_WORLD_NUM_POSITIONS] = {
    LIST("in the top left corner", "in the upper left"),
    LIST("at the top", "along the top edge"),
    LIST("in the top right corner", "in the upper right"),
    LIST("on the left", "at the left side"),
    LIST("in the center", "in the middle"),
    LIST("on the right", "at the right side"),
    LIST("in the bottom left corner", "in the lower left"),
    LIST("at the bottom", "along the bottom edge"),
    LIST("in the bottom right corner", "in the lower right"),
};
static const uint8_t colour_rgb[COOP_WORLD_NUM_COLOURS][3] = {
    {215, 35, 35},   /* red */
    {245, 135, 20},  /* orange */
    {240, 215, 30},  /* yellow */
    {40, 165, 55},   /* green */
    {35, 80, 215},   /* blue */
    {135, 45, 185},  /* purple */
    {245, 125, 190}, /* pink */
    {125, 75, 35},   /* brown */
    {20, 20, 20},    /* black */
    {245, 245, 245}, /* white */
};

const char *const *coop_world_synonyms(char kind, int v)
{
    if (v < 0)
        return NULL;
    switch (kind) {
    case 's': return v < COOP_WORLD_NUM_SHAPES ? shape_syn[v] : NULL;
    case 'c': return v < COOP_WORLD_NUM_COLOURS ? colour_syn[v] : NULL;
    case 'p': return v < COOP_WORLD_NUM_PATTERNS ? pattern_syn[v] : NULL;
    case 'q': return v < COOP_WORLD_NUM_PATTERNS ? pattern_post[v] : NULL;
    case 'z': return v < COOP_WORLD_NUM_SIZES ? size_syn[v] : NULL;
    case 'b': return v < COOP_WORLD_NUM_BACKGROUNDS ? bg_syn[v] : NULL;
    case 'o': return v < COOP_WORLD_NUM_POSITIONS ? pos_syn[v] : NULL;
    default: return NULL;
    }
}

static const char *first(char kind, int v)
{
    const char *const *s = coop_world_synonyms(kind, v);
    return s ? s[0] : NULL;
}

const char *coop_world_shape_name(int v) { return first('s', v); }
const char *coop_world_colour_name(int v) { return first('c', v); }
const char *coop_world_pattern_name(int v) { return first('p', v); }
const char *coop_world_size_name(int v) { return first('z', v); }
const char *coop_world_background_name(int v) { return first('b', v); }
const char *coop_world_position_name(int v) { return first('o', v); }

void coop_world_colour_rgb(int colour, uint8_t rgb[3])
{
    if (colour < 0 || colour >= COOP_WORLD_NUM_COLOURS)
        colour = COOP_WORLD_BLACK;
    for (int i = 0; i < 3; i++)
        rgb[i] = colour_rgb[colour][i];
}

static const int typical_colour[COOP_WORLD_NUM_SHAPES] = {
    COOP_WORLD_ORANGE, COOP_WORLD_BLUE,  COOP_WORLD_GREEN,  COOP_WORLD_YELLOW, /* circle..star */
    COOP_WORLD_RED,    COOP_WORLD_PURPLE, COOP_WORLD_BROWN, COOP_WORLD_PINK,   /* heart..diamond */
    COOP_WORLD_RED,    COOP_WORLD_YELLOW, COOP_WORLD_BLACK, COOP_WORLD_WHITE,  /* cross..ellipse */
};

int coop_world_typical_colour(int shape)
{
    return shape >= 0 && shape < COOP_WORLD_NUM_SHAPES ? typical_colour[shape] : -1;
}

int coop_world_colour_loose(int colour)
{
    switch (colour) {
    case COOP_WORLD_ORANGE:
    case COOP_WORLD_PINK: return COOP_WORLD_RED;
    case COOP_WORLD_PURPLE: return COOP_WORLD_BLUE;
    case COOP_WORLD_BROWN:
    case COOP_WORLD_YELLOW: return COOP_WORLD_ORANGE;
    default: return -1;
    }
}
