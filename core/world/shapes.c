/* shapes.c: the twelve object outlines as polygons and the geometric
 * queries the renderer needs (inside test, distance to the boundary). */
#include "world_internal.h"
#include "coop/util.h"
#include <math.h>

#define PI 3.14159265358979323846

static int regular(float *x, float *y, int n, double start_deg, double r_in, int alt)
{
    /* alt: alternate radius 1 and r_in (stars); n counts all vertices */
    for (int i = 0; i < n; i++) {
        double a = (start_deg + 360.0 * i / n) * PI / 180.0;
        double r = (alt && (i & 1)) ? r_in : 1.0;
        x[i] = (float)(r * cos(a));
        y[i] = (float)(r * sin(a));
    }
    return n;
}

static int from_table(float *x, float *y, const float (*v)[2], int n)
{
    for (int i = 0; i < n; i++) {
        x[i] = v[i][0];
        y[i] = v[i][1];
    }
    return n;
}

static int heart(float *x, float *y)
{
    int n = 48;
    for (int i = 0; i < n; i++) {
        double t = 2.0 * PI * i / n;
        double s = sin(t);
        x[i] = (float)(16.0 * s * s * s);
        y[i] = (float)(-(13.0 * cos(t) - 5.0 * cos(2 * t) - 2.0 * cos(3 * t) - cos(4 * t)));
    }
    return n;
}

static int crescent(float *x, float *y)
{
    /* outer unit circle minus an inner circle (radius ri, centre (d, 0)) */
    const double d = 0.5, ri = 0.85;
    double ix = (1.0 - ri * ri + d * d) / (2.0 * d), iy = sqrt(1.0 - ix * ix);
    double a0 = atan2(iy, ix), a1 = 2.0 * PI - a0;
    double b0 = atan2(-iy, ix - d) + 2.0 * PI, b1 = atan2(iy, ix - d);
    int n = 0, m = 24;
    for (int i = 0; i <= m; i++, n++) {
        double a = a0 + (a1 - a0) * i / m;
        x[n] = (float)cos(a);
        y[n] = (float)sin(a);
    }
    for (int i = 1; i < m; i++, n++) {
        double b = b0 + (b1 - b0) * i / m;
        x[n] = (float)(d + ri * cos(b));
        y[n] = (float)(ri * sin(b));
    }
    return n;
}

/* Centres the bounding box and scales so the farthest vertex is at 1. */
static void normalise(float *x, float *y, int n)
{
    float minx = x[0], maxx = x[0], miny = y[0], maxy = y[0];
    for (int i = 1; i < n; i++) {
        minx = fminf(minx, x[i]); maxx = fmaxf(maxx, x[i]);
        miny = fminf(miny, y[i]); maxy = fmaxf(maxy, y[i]);
    }
    float cx = 0.5f * (minx + maxx), cy = 0.5f * (miny + maxy), r = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] -= cx;
        y[i] -= cy;
        r = fmaxf(r, sqrtf(x[i] * x[i] + y[i] * y[i]));
    }
    for (int i = 0; i < n; i++) {
        x[i] /= r;
        y[i] /= r;
    }
}

int coop_world_shape_outline(int shape, float *x, float *y)
{
    static const float diamond[][2] = {{0, -1}, {0.62f, 0}, {0, 1}, {-0.62f, 0}};
    static const float cross[][2] = {
        {0.33f, -1}, {0.33f, -0.33f}, {1, -0.33f}, {1, 0.33f}, {0.33f, 0.33f}, {0.33f, 1},
        {-0.33f, 1}, {-0.33f, 0.33f}, {-1, 0.33f}, {-1, -0.33f}, {-0.33f, -0.33f},
        {-0.33f, -1}};
    static const float arrow[][2] = {{-1, -0.24f}, {0.12f, -0.24f}, {0.12f, -0.62f}, {1, 0},
                                     {0.12f, 0.62f}, {0.12f, 0.24f}, {-1, 0.24f}};
    int n;
    switch (shape) {
    case COOP_WORLD_CIRCLE: n = regular(x, y, 48, 0, 1, 0); break;
    case COOP_WORLD_SQUARE: n = regular(x, y, 4, 45, 1, 0); break;
    case COOP_WORLD_TRIANGLE: n = regular(x, y, 3, -90, 1, 0); break;
    case COOP_WORLD_STAR: n = regular(x, y, 10, -90, 0.42, 1); break;
    case COOP_WORLD_HEART: n = heart(x, y); break;
    case COOP_WORLD_HEXAGON: n = regular(x, y, 6, 0, 1, 0); break;
    case COOP_WORLD_PENTAGON: n = regular(x, y, 5, -90, 1, 0); break;
    case COOP_WORLD_DIAMOND: n = from_table(x, y, diamond, 4); break;
    case COOP_WORLD_CROSS: n = from_table(x, y, cross, 12); break;
    case COOP_WORLD_CRESCENT: n = crescent(x, y); break;
    case COOP_WORLD_ARROW: n = from_table(x, y, arrow, 7); break;
    default: /* ellipse */
        n = regular(x, y, 48, 0, 1, 0);
        for (int i = 0; i < n; i++)
            y[i] *= 0.58f;
        break;
    }
    /* regular polygons are already centred on their circumcentre */
    if (shape == COOP_WORLD_HEART || shape == COOP_WORLD_CRESCENT ||
        shape == COOP_WORLD_ARROW || shape == COOP_WORLD_CROSS)
        normalise(x, y, n);
    return n;
}

void coop_world_object_poly(struct world_poly *p, const struct coop_world_object *o, int size,
                            float wobble, uint64_t seed)
{
    float ux[WORLD_MAX_VERTS], uy[WORLD_MAX_VERTS];
    int n = coop_world_shape_outline(o->shape, ux, uy);
    double R = (double)o->radius * size, c = cos(o->angle), s = sin(o->angle);
    double cx = (double)o->cx * size, cy = (double)o->cy * size;
    p->n = n;
    p->minx = p->miny = 1e30f;
    p->maxx = p->maxy = -1e30f;
    for (int i = 0; i < n; i++) {
        double k = 1.0;
        if (wobble > 0) { /* two low harmonics of the angle: smooth, hand-drawn */
            double t = atan2(uy[i], ux[i]);
            double p1 = (double)(coop_mix64(seed) >> 11) * (6.283185307179586 / 9007199254740992.0);
            double p2 = (double)(coop_mix64(seed + 1) >> 11) * (6.283185307179586 / 9007199254740992.0);
            k += wobble * (0.6 * sin(2.0 * t + p1) + 0.4 * sin(3.0 * t + p2));
        }
        double u = ux[i] * k, v = uy[i] * k;
        p->x[i] = (float)(cx + R * (u * c - v * s));
        p->y[i] = (float)(cy + R * (u * s + v * c));
        p->minx = fminf(p->minx, p->x[i]);
        p->maxx = fmaxf(p->maxx, p->x[i]);
        p->miny = fminf(p->miny, p->y[i]);
        p->maxy = fmaxf(p->maxy, p->y[i]);
    }
}

int coop_world_poly_inside(const struct world_poly *p, float x, float y)
{
    int in = 0;
    for (int i = 0, j = p->n - 1; i < p->n; j = i++) {
        float yi = p->y[i], yj = p->y[j];
        if ((yi > y) != (yj > y)) {
            float xc = p->x[j] + (y - yj) * (p->x[i] - p->x[j]) / (yi - yj);
            if (x < xc)
                in = !in;
        }
    }
    return in;
}

float coop_world_poly_edge_dist(const struct world_poly *p, float x, float y)
{
    float best = 1e30f;
    for (int i = 0, j = p->n - 1; i < p->n; j = i++) {
        float ax = p->x[j], ay = p->y[j], bx = p->x[i] - ax, by = p->y[i] - ay;
        float px = x - ax, py = y - ay;
        float l2 = bx * bx + by * by;
        float t = l2 > 0 ? (px * bx + py * by) / l2 : 0.0f;
        t = t < 0 ? 0 : (t > 1 ? 1 : t);
        float dx = px - t * bx, dy = py - t * by, d2 = dx * dx + dy * dy;
        if (d2 < best)
            best = d2;
    }
    return sqrtf(best);
}

void coop_world_posterise(const uint8_t in[3], uint8_t out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = in[i] < 80 ? 0 : (in[i] < 175 ? 128 : 255);
}
