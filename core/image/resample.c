/* resample.c: Pillow's resampling (libImaging/Resample.c and the nearest
 * ScaleAffine path of Geometry.c, Pillow 9.4) reproduced bit for bit:
 * bicubic (a = -0.5) with antialiasing, coefficients in double, 8-bit path
 * with 22-bit fixed-point weights, horizontal pass first into an 8-bit
 * intermediate holding only the rows the vertical pass reads; the 32-bit path
 * ("I" images) in double with round-half-up. No allocation escapes. */
#include "image_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)

static double bicubic_filter(double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

void coop_resample_coeffs_free(struct coop_resample_coeffs *c)
{
    free(c->bounds);
    free(c->kk);
    free(c->kk8);
    memset(c, 0, sizeof *c);
}

/* Pillow's precompute_coeffs: for each output pixel xx, taps
 * [bounds[2xx], bounds[2xx] + bounds[2xx+1]) with weights kk[xx * ksize + i].
 * (in1 - in0) is a float subtraction as in Pillow. */
int coop_resample_coeffs(struct coop_resample_coeffs *c, int in_size, float in0, float in1,
                         int out_size)
{
    memset(c, 0, sizeof *c);
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    c->ksize = ksize;
    c->out_size = out_size;
    c->bounds = malloc((size_t)out_size * 2 * sizeof(int));
    c->kk = malloc((size_t)out_size * ksize * sizeof(double));
    if (!c->bounds || !c->kk) {
        coop_resample_coeffs_free(c);
        return COOP_E_NOMEM;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        double *k = &c->kk[(size_t)xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = bicubic_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0)
                k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        c->bounds[xx * 2] = xmin;
        c->bounds[xx * 2 + 1] = xmax;
    }
    return COOP_OK;
}

/* Pillow's normalize_coeffs_8bpc: round half away from zero to 22 bits. */
static int coeffs_to_fixed(struct coop_resample_coeffs *c)
{
    size_t n = (size_t)c->out_size * c->ksize;
    c->kk8 = malloc(n * sizeof(int32_t));
    if (!c->kk8)
        return COOP_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        double v = c->kk[i] * (1 << PRECISION_BITS);
        c->kk8[i] = (int32_t)(c->kk[i] < 0 ? -0.5 + v : 0.5 + v);
    }
    return COOP_OK;
}

static inline uint8_t clip8(int32_t v)
{
    if (v >= (1 << PRECISION_BITS << 8))
        return 255;
    if (v <= 0)
        return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* One output row of the horizontal pass; CH is a literal at every expansion
 * so the channel loop unrolls into scalar accumulators. */
#define HORIZONTAL_ROW(CH)                                                                       \
    for (int xx = 0; xx < ow; xx++) {                                                            \
        int xmin = c->bounds[xx * 2], xmax = c->bounds[xx * 2 + 1];                              \
        const int32_t *k = &c->kk8[(size_t)xx * c->ksize];                                       \
        const uint8_t *p = src + (size_t)xmin * (CH);                                            \
        int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0, s3 = s0;                       \
        for (int x = 0; x < xmax; x++, p += (CH)) {                                              \
            s0 += p[0] * k[x];                                                                   \
            if ((CH) > 1)                                                                        \
                s1 += p[(CH) > 1 ? 1 : 0] * k[x];                                                \
            if ((CH) > 2)                                                                        \
                s2 += p[(CH) > 2 ? 2 : 0] * k[x];                                                \
            if ((CH) > 3)                                                                        \
                s3 += p[(CH) > 3 ? 3 : 0] * k[x];                                                \
        }                                                                                        \
        uint8_t *d = dst + (size_t)xx * (CH);                                                    \
        d[0] = clip8(s0);                                                                        \
        if ((CH) > 1)                                                                            \
            d[(CH) > 1 ? 1 : 0] = clip8(s1);                                                     \
        if ((CH) > 2)                                                                            \
            d[(CH) > 2 ? 2 : 0] = clip8(s2);                                                     \
        if ((CH) > 3)                                                                            \
            d[(CH) > 3 ? 3 : 0] = clip8(s3);                                                     \
    }

/* out [rows, ow, ch] from in rows [row0, row0 + rows) of [*, iw, ch], ch 1..4. */
static void horizontal_8bpc(uint8_t *out, const uint8_t *in, int iw, int row0, int rows, int ow,
                            int ch, const struct coop_resample_coeffs *c)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *src = in + (size_t)(y + row0) * iw * ch;
        uint8_t *dst = out + (size_t)y * ow * ch;
        switch (ch) {
        case 1:
            HORIZONTAL_ROW(1)
            break;
        case 2:
            HORIZONTAL_ROW(2)
            break;
        case 3:
            HORIZONTAL_ROW(3)
            break;
        default:
            HORIZONTAL_ROW(4)
            break;
        }
    }
}

/* acc[i] += row[i] * k; unrolled by 8 so GCC's -O2 SLP pass vectorises it. */
static void accumulate_row(int32_t *restrict acc, const uint8_t *restrict row, int32_t k, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        acc[i] += row[i] * k;
        acc[i + 1] += row[i + 1] * k;
        acc[i + 2] += row[i + 2] * k;
        acc[i + 3] += row[i + 3] * k;
        acc[i + 4] += row[i + 4] * k;
        acc[i + 5] += row[i + 5] * k;
        acc[i + 6] += row[i + 6] * k;
        acc[i + 7] += row[i + 7] * k;
    }
    for (; i < n; i++)
        acc[i] += row[i] * k;
}

/* out [oh, w, ch] from in [*, w, ch]; in's row 0 is source row row_shift.
 * Accumulates whole rows (tap-major) so the inner loop is contiguous. */
static int vertical_8bpc(uint8_t *out, const uint8_t *in, int w, int oh, int ch,
                         const struct coop_resample_coeffs *c, int row_shift)
{
    size_t stride = (size_t)w * ch;
    int32_t *acc = malloc(stride * sizeof(int32_t));
    if (!acc)
        return COOP_E_NOMEM;
    for (int yy = 0; yy < oh; yy++) {
        int ymin = c->bounds[yy * 2] - row_shift, ymax = c->bounds[yy * 2 + 1];
        const int32_t *k = &c->kk8[(size_t)yy * c->ksize];
        for (size_t i = 0; i < stride; i++)
            acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < ymax; y++)
            accumulate_row(acc, in + (size_t)(y + ymin) * stride, k[y], stride);
        uint8_t *dst = out + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++)
            dst[i] = clip8(acc[i]);
    }
    free(acc);
    return COOP_OK;
}

static const float *full_box(float b[4], const float *box, int iw, int ih)
{
    if (box)
        return box;
    b[0] = 0;
    b[1] = 0;
    b[2] = (float)iw;
    b[3] = (float)ih;
    return b;
}

static int check_resize_args(int ow, int oh, int iw, int ih, const float *box,
                             struct coop_err *e)
{
    if (ow <= 0 || oh <= 0 || iw <= 0 || ih <= 0)
        return coop_fail(e, COOP_E_INVAL, "resize: bad size %dx%d -> %dx%d", iw, ih, ow, oh);
    if (box[0] < 0 || box[1] < 0 || box[2] > iw || box[3] > ih || box[2] < box[0] ||
        box[3] < box[1])
        return coop_fail(e, COOP_E_INVAL, "resize: box (%g, %g, %g, %g) outside %dx%d image",
                         (double)box[0], (double)box[1], (double)box[2], (double)box[3], iw, ih);
    return COOP_OK;
}

/* Pillow's ImagingResampleInner for 8-bit images (any channel count). */
int coop_image_resize_bicubic(uint8_t *out, int ow, int oh, const uint8_t *in, int iw, int ih,
                              int ch, const float *box_in, struct coop_err *e)
{
    float fb[4];
    const float *box = full_box(fb, box_in, iw, ih);
    if (ch < 1 || ch > 4)
        return coop_fail(e, COOP_E_INVAL, "resize: %d channels (1 to 4 supported)", ch);
    int rc = check_resize_args(ow, oh, iw, ih, box, e);
    if (rc)
        return rc;
    /* Pillow's test compares box[2] with the OUTPUT width; kept as is. */
    int need_h = ow != iw || box[0] != 0 || box[2] != ow;
    int need_v = oh != ih || box[1] != 0 || box[3] != oh;
    struct coop_resample_coeffs ch_c, cv_c;
    uint8_t *tmp = NULL;
    rc = coop_resample_coeffs(&ch_c, iw, box[0], box[2], ow);
    if (!rc)
        rc = coop_resample_coeffs(&cv_c, ih, box[1], box[3], oh);
    else
        memset(&cv_c, 0, sizeof cv_c);
    if (!rc)
        rc = coeffs_to_fixed(&ch_c);
    if (!rc)
        rc = coeffs_to_fixed(&cv_c);
    if (rc)
        goto done;
    int first = cv_c.bounds[0];
    int last = cv_c.bounds[oh * 2 - 2] + cv_c.bounds[oh * 2 - 1];
    const uint8_t *src = in;
    int src_w = iw, shift = 0;
    if (need_h) {
        tmp = malloc((size_t)(last - first) * ow * ch + 1);
        if (!tmp) {
            rc = COOP_E_NOMEM;
            goto done;
        }
        horizontal_8bpc(tmp, in, iw, first, last - first, ow, ch, &ch_c);
        src = tmp;
        src_w = ow;
        shift = first;
    }
    if (need_v)
        rc = vertical_8bpc(out, src, src_w, oh, ch, &cv_c, shift);
    else if (need_h)
        memcpy(out, tmp, (size_t)oh * ow * ch); /* first == 0, last == oh here */
    else
        memcpy(out, in, (size_t)oh * ow * ch);
done:
    if (rc == COOP_E_NOMEM)
        coop_fail(e, rc, "resize: out of memory for %dx%d -> %dx%d", iw, ih, ow, oh);
    free(tmp);
    coop_resample_coeffs_free(&ch_c);
    coop_resample_coeffs_free(&cv_c);
    return rc;
}

static inline int32_t round_up(double f)
{
    return (int32_t)(f >= 0.0 ? f + 0.5 : f - 0.5);
}

/* Pillow's 32-bit path for mode "I": out [oh, ow] int32 from in [ih, iw]. */
int coop_image_resize_i32(int32_t *out, int ow, int oh, const int32_t *in, int iw, int ih,
                          const float *box_in, struct coop_err *e)
{
    float fb[4];
    const float *box = full_box(fb, box_in, iw, ih);
    int rc = check_resize_args(ow, oh, iw, ih, box, e);
    if (rc)
        return rc;
    int need_h = ow != iw || box[0] != 0 || box[2] != ow;
    int need_v = oh != ih || box[1] != 0 || box[3] != oh;
    struct coop_resample_coeffs hc, vc;
    int32_t *tmp = NULL;
    rc = coop_resample_coeffs(&hc, iw, box[0], box[2], ow);
    if (!rc)
        rc = coop_resample_coeffs(&vc, ih, box[1], box[3], oh);
    else
        memset(&vc, 0, sizeof vc);
    if (rc)
        goto done;
    int first = vc.bounds[0], last = vc.bounds[oh * 2 - 2] + vc.bounds[oh * 2 - 1];
    const int32_t *src = in;
    int sw = iw, shift = 0;
    if (need_h) {
        tmp = malloc(((size_t)(last - first) * ow + 1) * sizeof(int32_t));
        if (!tmp) {
            rc = COOP_E_NOMEM;
            goto done;
        }
        for (int y = 0; y < last - first; y++)
            for (int xx = 0; xx < ow; xx++) {
                const double *k = &hc.kk[(size_t)xx * hc.ksize];
                const int32_t *row = in + (size_t)(y + first) * iw + hc.bounds[xx * 2];
                double ss = 0.0;
                for (int x = 0; x < hc.bounds[xx * 2 + 1]; x++)
                    ss += row[x] * k[x];
                tmp[(size_t)y * ow + xx] = round_up(ss);
            }
        src = tmp;
        sw = ow;
        shift = first;
    }
    if (need_v) {
        for (int yy = 0; yy < oh; yy++) {
            const double *k = &vc.kk[(size_t)yy * vc.ksize];
            int ymin = vc.bounds[yy * 2] - shift;
            for (int x = 0; x < sw; x++) {
                double ss = 0.0;
                for (int y = 0; y < vc.bounds[yy * 2 + 1]; y++)
                    ss += src[(size_t)(y + ymin) * sw + x] * k[y];
                out[(size_t)yy * sw + x] = round_up(ss);
            }
        }
    } else {
        memcpy(out, src, (size_t)oh * ow * sizeof(int32_t));
    }
done:
    if (rc == COOP_E_NOMEM)
        coop_fail(e, rc, "resize: out of memory for %dx%d -> %dx%d", iw, ih, ow, oh);
    free(tmp);
    coop_resample_coeffs_free(&hc);
    coop_resample_coeffs_free(&vc);
    return rc;
}

/* Pillow's NEAREST resize (ImagingScaleAffine): source coordinates advance by
 * repeated double addition from box0 + scale / 2, truncated. Out-of-range
 * taps stay 0 (Pillow's fill). out [oh, ow, ch]. */
int coop_image_resize_nearest(uint8_t *out, int ow, int oh, const uint8_t *in, int iw, int ih,
                              int ch, const float *box_in, struct coop_err *e)
{
    float fb[4];
    const float *box = full_box(fb, box_in, iw, ih);
    int rc = check_resize_args(ow, oh, iw, ih, box, e);
    if (rc)
        return rc;
    int *xt = malloc((size_t)ow * sizeof(int));
    if (!xt)
        return coop_fail(e, COOP_E_NOMEM, "resize: out of memory");
    double a0 = (double)(box[2] - box[0]) / ow, a4 = (double)(box[3] - box[1]) / oh;
    double xo = box[0] + a0 * 0.5, yo = box[1] + a4 * 0.5;
    for (int x = 0; x < ow; x++, xo += a0)
        xt[x] = xo < 0.0 ? -1 : (int)xo;
    memset(out, 0, (size_t)ow * oh * ch);
    for (int y = 0; y < oh; y++, yo += a4) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        if (yi < 0 || yi >= ih)
            continue;
        for (int x = 0; x < ow; x++)
            if (xt[x] >= 0 && xt[x] < iw)
                memcpy(out + ((size_t)y * ow + x) * ch, in + ((size_t)yi * iw + xt[x]) * ch,
                       (size_t)ch);
    }
    free(xt);
    return COOP_OK;
}
