/* world_internal.h: helpers shared by the world's source files (shape
 * outlines, the rendition palette). Not part of the public API. */
#ifndef COOP_WORLD_INTERNAL_H
#define COOP_WORLD_INTERNAL_H

#include "coop/world.h"

#define WORLD_MAX_VERTS 64

/* A closed simple polygon in pixel coordinates, with its bounding box. */
struct world_poly {
    int n;
    float x[WORLD_MAX_VERTS], y[WORLD_MAX_VERTS];
    float minx, maxx, miny, maxy;
};

/* Outline of shape in unit coordinates (circumradius 1, centred, y down);
 * returns the vertex count (<= WORLD_MAX_VERTS). */
int coop_world_shape_outline(int shape, float *x, float *y);
/* The object's outline in pixel coordinates of a size x size image;
 * wobble > 0 perturbs vertices radially (hand-drawn look), seeded by seed. */
void coop_world_object_poly(struct world_poly *p, const struct coop_world_object *o, int size,
                            float wobble, uint64_t seed);
/* Even-odd point-in-polygon test. */
int coop_world_poly_inside(const struct world_poly *p, float x, float y);
/* Distance from (x, y) to the polygon's boundary. */
float coop_world_poly_edge_dist(const struct world_poly *p, float x, float y);
/* Rendition palette: each channel snapped to {0, 128, 255}. */
void coop_world_posterise(const uint8_t in[3], uint8_t out[3]);

#endif
