/* test_bf16.c: the bf16 linear layer (coop/bf16.h) against the naive fp32
 * reference (coop_linear_forward_ref) with the error bound documented in
 * bf16.h, per element and overall (max |out - ref| / max |ref| < 1e-2), and
 * against the bf16-rounded reference in double (only float32 accumulation
 * error left), at odd sizes and the text tower's shapes, with and without
 * bias, several row counts on one object; the forward's flags (bf16 input
 * and output, QuickGELU, accumulation) against the plain forward; the bf16
 * LayerNorm and attention against their double references; the channels-last
 * convolution against the plain-plane one; the convolution (coop_bf16_conv,
 * the ResNet's) against the same references on its im2col product;
 * the array rounding against coop_f32_to_bf16. Where bf16 cannot run (a build
 * without oneDNN, a CPU without AMX or AVX512-BF16) the refusal and its
 * message are what is tested. */
#include "coop/bf16.h"
#include "coop/nn.h"
#include "coop/safetensors.h"
#include "coop/util.h"
#include "nn/bf16_internal.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

#define U_BF16 (1.0 / 256.0) /* unit roundoff of bf16's 8 significant bits */
#define U_F32 (1.0 / 16777216.0)
#define TOL_OVERALL 1e-2

START_TEST(isa_choice)
{
    struct coop_cpu_features f = {"GenuineIntel", 1, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(coop_bf16_isa(&f), COOP_BF16_ISA_AMX);
    f.amx = false;
    ck_assert_int_eq(coop_bf16_isa(&f), COOP_BF16_ISA_AVX512);
    f.avx512_bf16 = false;
    ck_assert_int_eq(coop_bf16_isa(&f), COOP_BF16_ISA_NONE);
    ck_assert_str_eq(coop_bf16_isa_name(COOP_BF16_ISA_AMX), "amx");
    ck_assert_str_eq(coop_bf16_isa_name(COOP_BF16_ISA_AVX512), "avx512_bf16");
    ck_assert_str_eq(coop_bf16_isa_name(COOP_BF16_ISA_NONE), "none");
}
END_TEST

/* The inlined rounding of the layer equals the checkpoint code's on every
 * class of value: ties both ways, NaN, infinities, denormals, random bits. */
START_TEST(rounding_matches)
{
    const uint32_t special[] = {0x00000000u, 0x80000000u, 0x3f808000u, 0x3f818000u,
                                0x3f80ffffu, 0x7f7fffffu, 0x7f800000u, 0xff800000u,
                                0x7fc00000u, 0x7f800001u, 0xffffffffu, 0x00000001u,
                                0x007fffffu};
    for (size_t i = 0; i < sizeof special / sizeof *special + 100000; i++) {
        uint32_t u = i < sizeof special / sizeof *special ? special[i]
                                                          : (uint32_t)coop_mix64(i);
        float x;
        memcpy(&x, &u, sizeof x);
        ck_assert_msg(coop_bf16_round(x) == coop_f32_to_bf16(x), "0x%08x", u);
    }
    ck_assert_int_eq(coop_bf16_round(1.00390625f), 0x3f80); /* tie to even: down */
    ck_assert_int_eq(coop_bf16_round(1.01171875f), 0x3f82); /* tie to even: up */
}
END_TEST

/* Where bf16 cannot run here: every entry point refuses, saying why. */
START_TEST(refusal)
{
    struct coop_cpu_features f;
    coop_cpu_detect(&f);
    struct coop_err e = {{0}};
    int rc = coop_bf16_check(&e);
    if (coop_bf16_built() && coop_bf16_isa(&f) != COOP_BF16_ISA_NONE) {
        ck_assert_msg(rc == 0, "%s", e.msg);
        return;
    }
    fprintf(stderr, "bf16 cannot run here: %s\n", e.msg);
    ck_assert_int_eq(rc, COOP_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, coop_bf16_built() ? "neither AMX nor AVX512-BF16"
                                                          : "no oneDNN"));
    float w[4] = {1, 2, 3, 4}, out[4];
    static char sentinel;
    struct coop_bf16_linear *l = (void *)&sentinel; /* create must clear it */
    ck_assert_int_eq(coop_bf16_linear_create(&l, w, NULL, 2, 2, &e), COOP_E_UNSUPPORTED);
    ck_assert_ptr_null(l);
    ck_assert_int_eq(coop_bf16_linear_forward(NULL, out, w, 2, &e), COOP_E_UNSUPPORTED);
    ck_assert_int_eq(coop_bf16_linear_forward_ex(NULL, out, w, 2, 0, &e), COOP_E_UNSUPPORTED);
    struct coop_bf16_attention *at = (void *)&sentinel;
    ck_assert_int_eq(coop_bf16_attention_create(&at, 4, 8, 2, &e), COOP_E_UNSUPPORTED);
    ck_assert_ptr_null(at);
    ck_assert_int_eq(coop_bf16_attention_forward(NULL, NULL, NULL, &e), COOP_E_UNSUPPORTED);
    struct coop_bf16_conv *cl = (void *)&sentinel;
    ck_assert_int_eq(coop_bf16_conv_create(&cl, w, 1, 1, 2, 1, 0, &e), COOP_E_UNSUPPORTED);
    ck_assert_ptr_null(cl);
    coop_bf16_linear_free(NULL);
}
END_TEST

static bool can_run(void)
{
    struct coop_err e;
    if (coop_bf16_check(&e) == 0)
        return true;
    fprintf(stderr, "bf16 products not tested: %s\n", e.msg);
    return false;
}

static float *rand_buf(size_t n, uint64_t seed)
{
    float *p = coop_alloc_floats(n);
    ck_assert_ptr_nonnull(p);
    coop_hash_uniform(p, n, seed, -1.0, 1.0);
    return p;
}

/* |p| elementwise, first rounded to bf16 when rounded. */
static float *abs_copy(const float *p, size_t n, int rounded)
{
    float *q = coop_alloc_floats(n);
    ck_assert_ptr_nonnull(q);
    for (size_t i = 0; i < n; i++)
        q[i] = fabsf(rounded ? coop_bf16_to_f32(coop_f32_to_bf16(p[i])) : p[i]);
    return q;
}

/* Checks out against both references for one (M, K, N); returns the overall
 * error against fp32. */
static double check_against_refs(const float *out, const float *x, const float *w,
                                 const float *b, int M, int K, int N)
{
    size_t mn = (size_t)M * N;
    float *r32 = coop_alloc_floats(mn), *r16 = coop_alloc_floats(mn);
    coop_linear_forward_ref(r32, x, w, b, M, K, N);
    coop_bf16_linear_forward_ref(r16, x, w, b, M, K, N);
    double gamma = 2 * U_BF16 + U_BF16 * U_BF16 +
                   (K + 1) * U_F32 * (1 + 2 * U_BF16 + U_BF16 * U_BF16);
    /* |x| |w| and the bf16-rounded |x| |w| as products: mag = |x| @ |w|^T */
    float *ax = abs_copy(x, (size_t)M * K, 0), *aw = abs_copy(w, (size_t)N * K, 0);
    float *ax16 = abs_copy(x, (size_t)M * K, 1), *aw16 = abs_copy(w, (size_t)N * K, 1);
    float *mags = coop_alloc_floats(mn), *mags16 = coop_alloc_floats(mn);
    coop_linear_forward(mags, ax, aw, NULL, M, K, N); /* sgemm: positive terms, */
    coop_linear_forward(mags16, ax16, aw16, NULL, M, K, N); /* error <= (K+1) U_F32 */
    double up = 1 + 2 * (K + 1) * U_F32;
    double maxd = 0, maxr = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            size_t i = (size_t)m * N + n;
            double bias = b ? fabs(b[n]) : 0;
            double mag = (mags[i] + bias) * up, mag16 = (mags16[i] + bias) * up;
            double d32 = fabs((double)out[i] - r32[i]), d16 = fabs((double)out[i] - r16[i]);
            ck_assert_msg(d32 <= gamma * mag + U_F32 * fabs(r32[i]) + 1e-30,
                          "[%d,%d] of %dx%dx%d: |%g - %g| > %g", m, n, M, K, N, out[i],
                          r32[i], gamma * mag);
            /* the bf16-rounded reference leaves fp32 accumulation (+ its own final rounding) */
            ck_assert_msg(d16 <= (K + 2) * U_F32 * mag16 + U_F32 * fabs(r16[i]) + 1e-30,
                          "[%d,%d] of %dx%dx%d: |%g - %g| vs bf16 reference", m, n, M, K, N,
                          out[i], r16[i]);
            maxd = fmax(maxd, d32);
            maxr = fmax(maxr, fabs((double)r32[i]));
        }
    coop_free(r32), coop_free(r16), coop_free(ax), coop_free(aw), coop_free(ax16);
    coop_free(aw16), coop_free(mags), coop_free(mags16);
    return maxr > 0 ? maxd / maxr : maxd;
}

static const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 65, 17}, {3, 200, 31},
                                {740, 512, 512}, {64, 512, 2048}, {20, 2048, 512}};

START_TEST(matches_references)
{
    if (!can_run())
        return;
    int M = shapes[_i][0], K = shapes[_i][1], N = shapes[_i][2];
    float *x = rand_buf((size_t)M * K, 10 + _i), *w = rand_buf((size_t)N * K, 20 + _i);
    float *b = rand_buf((size_t)N, 30 + _i), *out = coop_alloc_floats((size_t)M * N);
    for (int withb = 0; withb < 2; withb++) {
        struct coop_bf16_linear *l = NULL;
        struct coop_err e;
        ck_assert_msg(coop_bf16_linear_create(&l, w, withb ? b : NULL, K, N, &e) == 0, "%s",
                      e.msg);
        ck_assert_msg(coop_bf16_linear_forward(l, out, x, M, &e) == 0, "%s", e.msg);
        double err = check_against_refs(out, x, w, withb ? b : NULL, M, K, N);
        ck_assert_msg(err < TOL_OVERALL, "%dx%dx%d: error %g", M, K, N, err);
        const char *impl = coop_bf16_linear_impl(l);
        fprintf(stderr, "%4d x %4d x %4d%s: max|out - ref| / max|ref| = %.2e (%s)\n", M, K,
                N, withb ? " + bias" : "", err, impl);
        ck_assert_msg(impl[0] && !strstr(impl, "ref"), "oneDNN ran '%s'", impl);
        coop_bf16_linear_free(l);
    }
    coop_free(x), coop_free(w), coop_free(b), coop_free(out);
}
END_TEST

/* One object, row counts changing between calls (the primitive is rebuilt),
 * then the first count again: the same result bit for bit. */
START_TEST(row_counts_change)
{
    if (!can_run())
        return;
    const int K = 96, N = 80, Ms[] = {5, 1, 130, 5};
    float *x = rand_buf(130 * K, 41), *w = rand_buf(N * K, 42), *b = rand_buf(N, 43);
    float *out = coop_alloc_floats(130 * N), *first = coop_alloc_floats(5 * N);
    struct coop_bf16_linear *l = NULL;
    struct coop_err e;
    ck_assert_msg(coop_bf16_linear_create(&l, w, b, K, N, &e) == 0, "%s", e.msg);
    for (int t = 0; t < 4; t++) {
        ck_assert_msg(coop_bf16_linear_forward(l, out, x, Ms[t], &e) == 0, "%s", e.msg);
        ck_assert_double_lt(check_against_refs(out, x, w, b, Ms[t], K, N), TOL_OVERALL);
        if (t == 0)
            memcpy(first, out, sizeof(float) * 5 * N);
    }
    ck_assert_int_eq(memcmp(first, out, sizeof(float) * 5 * N), 0);
    ck_assert_int_eq(coop_bf16_linear_forward(l, out, x, 0, &e), COOP_E_INVAL);
    coop_bf16_linear_free(l);
    ck_assert_int_eq(coop_bf16_linear_create(&l, w, b, 0, N, &e), COOP_E_INVAL);
    ck_assert_ptr_null(l);
    coop_free(x), coop_free(w), coop_free(b), coop_free(out), coop_free(first);
}
END_TEST

/* The array rounding equals coop_f32_to_bf16 element by element, past the
 * OpenMP threshold and at an odd length. */
START_TEST(round_n_matches)
{
    size_t n = ((size_t)1 << 18) + 1001;
    float *x = rand_buf(n, 51);
    uint16_t *r = malloc(n * sizeof *r);
    ck_assert_ptr_nonnull(r);
    for (size_t i = 0; i < 13; i++) /* ties, NaN, infinities, denormals */
        x[i] = (float[]){1.00390625f, 1.01171875f, NAN, INFINITY, -INFINITY, 1e-40f, -1e-40f,
                         0.0f, -0.0f, 3.4e38f, -3.4e38f, 1e-30f, 65504.0f}[i];
    coop_bf16_round_n(r, x, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(r[i] == coop_f32_to_bf16(x[i]), "element %zu", i);
    free(r);
    coop_free(x);
}
END_TEST

/* colT [Ho*Wo, Ci*k*k]: row p holds what output position p reads through
 * each tap (c, ky, kx) of inp [Ci, H, W], 0 in the padding; the convolution
 * is then the linear layer out [Co, P] = w [Co, K] @ colT^T. */
static void im2col_t(float *colT, const float *inp, int Ci, int H, int W, int k, int stride,
                     int pad, int Ho, int Wo)
{
    int K = Ci * k * k;
    for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++)
            for (int c = 0; c < Ci; c++)
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                        bool in = iy >= 0 && iy < H && ix >= 0 && ix < W;
                        colT[(size_t)(oy * Wo + ox) * K + (c * k + ky) * k + kx] =
                            in ? inp[((size_t)c * H + iy) * W + ix] : 0.0f;
                    }
}

/* The convolution against the references of its im2col product, at the
 * ResNet's kinds of layer (the stem's 3 channels at stride 2, a 3 x 3, a
 * pointwise one, odd sizes), two input sizes on one object and the first
 * again (the same bits), and its argument checks. */
START_TEST(conv_matches_references)
{
    if (!can_run())
        return;
    static const struct {
        int Co, Ci, k, stride, pad, H[2], W[2];
    } cs[] = {{32, 3, 3, 2, 1, {56, 17}, {56, 23}},
              {64, 64, 3, 1, 1, {28, 7}, {28, 7}},
              {96, 48, 1, 1, 0, {14, 5}, {14, 9}},
              {5, 7, 3, 1, 0, {9, 4}, {11, 3}}};
    struct coop_err e;
    for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
        int Co = cs[t].Co, Ci = cs[t].Ci, k = cs[t].k, st = cs[t].stride, pd = cs[t].pad;
        int K = Ci * k * k;
        float *w = rand_buf((size_t)Co * K, 70 + t);
        struct coop_bf16_conv *l = NULL;
        ck_assert_msg(coop_bf16_conv_create(&l, w, Co, Ci, k, st, pd, &e) == 0, "%s", e.msg);
        float *first = NULL;
        for (int r = 0; r < 3; r++) {
            int H = cs[t].H[r % 2], W = cs[t].W[r % 2];
            int Ho = (H + 2 * pd - k) / st + 1, Wo = (W + 2 * pd - k) / st + 1, P = Ho * Wo;
            float *x = rand_buf((size_t)Ci * H * W, 80 + t + r % 2);
            float *colT = coop_alloc_floats((size_t)P * K), *out = coop_alloc_floats((size_t)Co * P);
            im2col_t(colT, x, Ci, H, W, k, st, pd, Ho, Wo);
            ck_assert_msg(coop_bf16_conv_forward(l, out, x, H, W, &e) == 0, "%s", e.msg);
            double err = check_against_refs(out, w, colT, NULL, Co, K, P);
            fprintf(stderr, "conv %d -> %d, k %d, stride %d, %d x %d: %.2e (%s)\n", Ci, Co, k,
                    st, H, W, err, coop_bf16_conv_impl(l));
            ck_assert_double_lt(err, TOL_OVERALL);
            if (r == 0)
                first = out;
            else if (r == 2)
                ck_assert_int_eq(memcmp(out, first, sizeof(float) * (size_t)Co * P), 0);
            if (out != first)
                coop_free(out);
            coop_free(x), coop_free(colT);
        }
        ck_assert_str_ne(coop_bf16_conv_impl(l), "");
        ck_assert_int_eq(coop_bf16_conv_forward(l, first, w, 0, 4, &e), COOP_E_INVAL);
        int tiny = k - 1 - 2 * pd; /* no output position (0: no input) */
        ck_assert_int_eq(coop_bf16_conv_forward(l, first, w, tiny, tiny ? tiny : 1, &e), COOP_E_INVAL);
        coop_bf16_conv_free(l);
        coop_free(first), coop_free(w);
    }
    struct coop_bf16_conv *l = NULL;
    float w1[1] = {1};
    ck_assert_int_eq(coop_bf16_conv_create(&l, w1, 1, 1, 1, 0, 0, &e), COOP_E_INVAL);
    ck_assert_ptr_null(l);
    coop_bf16_conv_free(NULL);
}
END_TEST

/* The affine form (a BatchNorm folded in, ReLU as a post-op) equals the plain
 * convolution by the pre-scaled weights, the shift added and the ReLU applied
 * in float32 afterwards: the same bf16 weights, so only the bias's place in the
 * accumulation differs. Without scale and shift it is the plain convolution. */
START_TEST(conv_affine_matches_plain)
{
    if (!can_run())
        return;
    static const struct {
        int Co, Ci, k, stride, pad, H, W;
    } cs[] = {{32, 3, 3, 2, 1, 30, 26}, {48, 40, 1, 1, 0, 14, 14}, {7, 5, 3, 1, 1, 9, 11}};
    struct coop_err e;
    for (size_t t = 0; t < sizeof cs / sizeof *cs; t++)
        for (int relu = 0; relu < 2; relu++) {
            int Co = cs[t].Co, Ci = cs[t].Ci, k = cs[t].k, st = cs[t].stride, pd = cs[t].pad;
            int H = cs[t].H, W = cs[t].W, Ho = (H + 2 * pd - k) / st + 1;
            int Wo = (W + 2 * pd - k) / st + 1;
            size_t nw = (size_t)Co * Ci * k * k, no = (size_t)Co * Ho * Wo, per = nw / Co;
            float *w = rand_buf(nw, 90 + t), *x = rand_buf((size_t)Ci * H * W, 95 + t);
            float *scale = rand_buf((size_t)Co, 100 + t), *shift = rand_buf((size_t)Co, 105 + t);
            float *ws = coop_alloc_floats(nw), *ref = coop_alloc_floats(no);
            float *out = coop_alloc_floats(no);
            for (size_t i = 0; i < nw; i++)
                ws[i] = w[i] * scale[i / per];
            struct coop_bf16_conv *plain = NULL, *aff = NULL;
            ck_assert_msg(coop_bf16_conv_create(&plain, ws, Co, Ci, k, st, pd, &e) == 0, "%s",
                          e.msg);
            ck_assert_msg(coop_bf16_conv_create_affine(&aff, w, Co, Ci, k, st, pd, scale, shift,
                                                       relu, &e) == 0, "%s", e.msg);
            ck_assert_msg(coop_bf16_conv_forward(plain, ref, x, H, W, &e) == 0, "%s", e.msg);
            ck_assert_msg(coop_bf16_conv_forward(aff, out, x, H, W, &e) == 0, "%s", e.msg);
            double worst = 0, big = 0;
            int zeros = 0;
            for (size_t i = 0; i < no; i++) {
                float y = ref[i] + shift[i / (no / Co)];
                y = relu && y < 0.0f ? 0.0f : y;
                worst = fmax(worst, fabs((double)out[i] - y));
                big = fmax(big, fabs((double)y));
                zeros += out[i] == 0.0f;
            }
            ck_assert_msg(worst <= 1e-5 * big, "conv %d -> %d relu %d: %.3g of %.3g", Ci, Co,
                          relu, worst, big);
            ck_assert(relu ? zeros > 0 : zeros == 0); /* the ReLU did (not) clip */
            coop_bf16_conv_free(plain), coop_bf16_conv_free(aff);
            coop_free(w), coop_free(x), coop_free(scale), coop_free(shift), coop_free(ws);
            coop_free(ref), coop_free(out);
        }
}
END_TEST

/* coop_bf16_linear_forward_ex's flags against the plain forward y of the same
 * layer: IN_BF16 on pre-rounded input gives y bit for bit; OUT_BF16 with
 * QUICK_GELU gives QuickGELU(y) rounded to bf16 (within one bf16 step: the
 * post-op's exp is oneDNN's); ACCUMULATE gives r + y for the residual r in out
 * (one float32 rounding); six (rows, flags) primitives on one layer, more than
 * it keeps, then the first again, bit for bit; bad combinations are refused. */
START_TEST(forward_flags_match_plain)
{
    if (!can_run())
        return;
    static const int fs[][3] = {{7, 13, 5}, {197, 768, 3072}, {33, 65, 17}};
    struct coop_err e;
    for (size_t t = 0; t < sizeof fs / sizeof *fs; t++) {
        int M = fs[t][0], K = fs[t][1], N = fs[t][2];
        size_t mk = (size_t)M * K, mn = (size_t)M * N;
        float *x = rand_buf(mk, 120 + t), *w = rand_buf((size_t)N * K, 125 + t);
        float *b = rand_buf((size_t)N, 130 + t), *r = rand_buf(mn, 135 + t);
        float *y = coop_alloc_floats(mn), *out = coop_alloc_floats(mn), *g = coop_alloc_floats(mn);
        uint16_t *x16 = coop_alloc(mk * sizeof *x16), *o16 = coop_alloc(mn * sizeof *o16);
        struct coop_bf16_linear *l = NULL;
        ck_assert_msg(coop_bf16_linear_create(&l, w, b, K, N, &e) == 0, "%s", e.msg);
        ck_assert_msg(coop_bf16_linear_forward(l, y, x, M, &e) == 0, "%s", e.msg);
        coop_bf16_round_n(x16, x, mk);
        ck_assert_msg(coop_bf16_linear_forward_ex(l, out, x16, M, COOP_BF16_IN_BF16, &e) == 0,
                      "%s", e.msg);
        ck_assert_int_eq(memcmp(out, y, mn * sizeof *out), 0);
        ck_assert_msg(coop_bf16_linear_forward_ex(l, o16, x, M, COOP_BF16_OUT_BF16 |
                                                  COOP_BF16_QUICK_GELU, &e) == 0, "%s", e.msg);
        coop_quick_gelu_forward(g, y, mn);
        double big = 0, worst = 0;
        for (size_t i = 0; i < mn; i++)
            big = fmax(big, fabs((double)g[i]));
        for (size_t i = 0; i < mn; i++) {
            double ref = coop_bf16_to_f32(coop_f32_to_bf16(g[i]));
            double d = fabs(coop_bf16_to_f32(o16[i]) - ref);
            ck_assert_msg(d <= fabs(ref) / 128 + 1e-6 * big, "%dx%dx%d [%zu]: gelu %g vs %g", M,
                          K, N, i, coop_bf16_to_f32(o16[i]), ref);
            worst = fmax(worst, d);
        }
        ck_assert_double_gt(big, 0);
        memcpy(out, r, mn * sizeof *out);
        ck_assert_msg(coop_bf16_linear_forward_ex(l, out, x, M, COOP_BF16_ACCUMULATE, &e) == 0,
                      "%s", e.msg);
        for (size_t i = 0; i < mn; i++) {
            double want = (double)r[i] + y[i];
            ck_assert_msg(fabs(out[i] - want) <= 2 * U_F32 * (fabs(r[i]) + fabs(y[i])),
                          "%dx%dx%d [%zu]: accumulated %g vs %g", M, K, N, i, out[i], want);
        }
        fprintf(stderr, "%4d x %4d x %4d flags: QuickGELU in bf16 within %.2e of %.2e (%s)\n", M,
                K, N, worst, big, coop_bf16_linear_impl(l));
        /* more (rows, flags) pairs than the layer keeps, then the first again */
        static const unsigned fl[] = {0, COOP_BF16_ACCUMULATE, COOP_BF16_OUT_BF16,
                                      COOP_BF16_QUICK_GELU};
        for (int m = 1; m <= 2; m++)
            for (size_t f = 0; f < sizeof fl / sizeof *fl; f++) {
                memcpy(out, r, mn * sizeof *out);
                ck_assert_msg(coop_bf16_linear_forward_ex(l, out, x, M - (m == 2 && M > 1), fl[f],
                                                          &e) == 0, "%s", e.msg);
            }
        ck_assert_int_eq(coop_bf16_linear_forward(l, out, x, M, &e), 0);
        ck_assert_int_eq(memcmp(out, y, mn * sizeof *out), 0);
        ck_assert_int_eq(coop_bf16_linear_forward_ex(l, out, x, M, COOP_BF16_ACCUMULATE |
                                                     COOP_BF16_OUT_BF16, &e), COOP_E_INVAL);
        ck_assert_int_eq(coop_bf16_linear_forward_ex(l, out, x, M, COOP_BF16_ACCUMULATE |
                                                     COOP_BF16_QUICK_GELU, &e), COOP_E_INVAL);
        ck_assert_int_eq(coop_bf16_linear_forward_ex(l, out, x, M, 16, &e), COOP_E_INVAL);
        coop_bf16_linear_free(l);
        coop_free(x), coop_free(w), coop_free(b), coop_free(r), coop_free(y), coop_free(out);
        coop_free(g), coop_free(x16), coop_free(o16);
    }
}
END_TEST

/* The channels-last convolution against the plain-plane one of the same
 * object (the same bf16 weights and input; only the accumulation order may
 * differ): float32 output, bf16 output (within one bf16 step), accumulation
 * into a residual followed by the ReLU COOP_BF16_RELU adds (on the
 * convolution without a ReLU of its own), and the refusal of bad flags. */
START_TEST(conv_nhwc_matches_planes)
{
    if (!can_run())
        return;
    static const struct {
        int Co, Ci, k, stride, pad, H, W, relu;
    } cs[] = {{32, 3, 3, 2, 1, 30, 26, 1}, {48, 40, 1, 1, 0, 14, 14, 0}, {7, 5, 3, 1, 1, 9, 11, 1}};
    struct coop_err e;
    for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
        int Co = cs[t].Co, Ci = cs[t].Ci, k = cs[t].k, st = cs[t].stride, pd = cs[t].pad;
        int H = cs[t].H, W = cs[t].W, relu = cs[t].relu;
        int Ho = (H + 2 * pd - k) / st + 1, Wo = (W + 2 * pd - k) / st + 1;
        size_t nw = (size_t)Co * Ci * k * k, ni = (size_t)Ci * H * W, no = (size_t)Co * Ho * Wo;
        float *w = rand_buf(nw, 170 + t), *x = rand_buf(ni, 175 + t);
        float *shift = rand_buf((size_t)Co, 180 + t), *r = rand_buf(no, 185 + t);
        float *ref = coop_alloc_floats(no), *out = coop_alloc_floats(no);
        uint16_t *x16 = coop_alloc(ni * sizeof *x16), *o16 = coop_alloc(no * sizeof *o16);
        struct coop_bf16_conv *l = NULL;
        ck_assert_msg(coop_bf16_conv_create_affine(&l, w, Co, Ci, k, st, pd, NULL, shift, relu,
                                                   &e) == 0, "%s", e.msg);
        ck_assert_msg(coop_bf16_conv_forward(l, ref, x, H, W, &e) == 0, "%s", e.msg);
        for (int c = 0; c < Ci; c++) /* [Ci, H, W] -> [H, W, Ci] */
            for (int i = 0; i < H * W; i++)
                x16[(size_t)i * Ci + c] = coop_f32_to_bf16(x[(size_t)c * H * W + i]);
        double big = 0;
        for (size_t i = 0; i < no; i++)
            big = fmax(big, fabs((double)ref[i]));
        for (int mode = 0; mode < 3; mode++) {
            unsigned fl = mode == 1 ? COOP_BF16_OUT_BF16
                                    : mode == 2 ? COOP_BF16_ACCUMULATE | COOP_BF16_RELU : 0;
            if (mode == 2)
                for (int c = 0; c < Co; c++)
                    for (int i = 0; i < Ho * Wo; i++)
                        out[(size_t)i * Co + c] = r[(size_t)c * Ho * Wo + i];
            ck_assert_msg(coop_bf16_conv_forward_nhwc(l, mode == 1 ? (void *)o16 : out, x16, H, W,
                                                      fl, &e) == 0, "%s", e.msg);
            for (int c = 0; c < Co; c++)
                for (int i = 0; i < Ho * Wo; i++) {
                    size_t pl = (size_t)c * Ho * Wo + i, cl = (size_t)i * Co + c;
                    double want = ref[pl], got = mode == 1 ? coop_bf16_to_f32(o16[cl]) : out[cl];
                    double tol = 1e-5 * big + (mode == 1 ? fabs(want) / 128 : 0);
                    if (mode == 2) { /* relu(conv + shift [+ relu] + r), from the planes' value */
                        if (relu)
                            continue; /* the ReLU came before the add in ref: not comparable */
                        want = fmax(0.0, want + r[pl]);
                    }
                    ck_assert_msg(fabs(got - want) <= tol, "conv %d -> %d mode %d [%d,%d]: %g vs %g",
                                  Ci, Co, mode, c, i, got, want);
                }
        }
        ck_assert_int_eq(coop_bf16_conv_forward_nhwc(l, out, x16, H, W, COOP_BF16_ACCUMULATE |
                                                     COOP_BF16_OUT_BF16, &e), COOP_E_INVAL);
        ck_assert_int_eq(coop_bf16_conv_forward_nhwc(l, out, x16, H, W, COOP_BF16_QUICK_GELU, &e),
                         COOP_E_INVAL);
        /* the plain-plane forward is unaffected by the channels-last one */
        ck_assert_msg(coop_bf16_conv_forward(l, out, x, H, W, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(memcmp(out, ref, no * sizeof *out), 0);
        coop_bf16_conv_free(l);
        coop_free(w), coop_free(x), coop_free(shift), coop_free(r), coop_free(ref);
        coop_free(out), coop_free(x16), coop_free(o16);
    }
}
END_TEST

/* The bf16 LayerNorm against the double reference (coop_layernorm_forward_ref)
 * rounded to bf16: within one bf16 step, at an odd width and at ViT-B's; its
 * row statistics within float32 rounding of the reference's. */
START_TEST(layernorm_bf16_matches_reference)
{
    static const int ls[][2] = {{5, 37}, {197, 768}};
    for (size_t t = 0; t < sizeof ls / sizeof *ls; t++) {
        int M = ls[t][0], C = ls[t][1];
        size_t n = (size_t)M * C;
        float *x = rand_buf(n, 140 + t), *w = rand_buf((size_t)C, 145 + t);
        float *b = rand_buf((size_t)C, 150 + t), *ref = coop_alloc_floats(n);
        float *st = coop_alloc_floats((size_t)4 * M);
        uint16_t *y = coop_alloc(n * sizeof *y), *y2 = coop_alloc(n * sizeof *y2);
        for (size_t i = 0; i < n; i++)
            x[i] = 3.0f * x[i] + 0.5f; /* a mean and a scale to remove */
        coop_layernorm_forward_ref(ref, st, st + M, x, w, b, M, C, 1e-5f);
        coop_bf16_layernorm(y, NULL, NULL, x, w, b, M, C, 1e-5f);
        coop_bf16_layernorm(y2, st + 2 * M, st + 3 * M, x, w, b, M, C, 1e-5f);
        ck_assert_int_eq(memcmp(y, y2, n * sizeof *y), 0); /* statistics change nothing */
        for (size_t i = 0; i < n; i++) {
            double got = coop_bf16_to_f32(y[i]);
            ck_assert_msg(fabs(got - ref[i]) <= fabs(ref[i]) / 128 + 1e-6, "[%zu] %g vs %g", i,
                          got, ref[i]);
        }
        for (int i = 0; i < M; i++) {
            ck_assert_msg(fabs(st[2 * M + i] - st[i]) <= 1e-5 * (fabs(st[i]) + 3.0),
                          "mean[%d] %g vs %g", i, st[2 * M + i], st[i]);
            ck_assert_msg(fabs(st[3 * M + i] - st[M + i]) <= 1e-5 * st[M + i],
                          "rstd[%d] %g vs %g", i, st[3 * M + i], st[M + i]);
        }
        coop_free(x), coop_free(w), coop_free(b), coop_free(ref), coop_free(y);
        coop_free(y2), coop_free(st);
    }
}
END_TEST

/* QuickGELU in bf16 is the float32 _fast kernel's value rounded, forward and
 * backward (written, not added), bit for bit, over several binades of
 * either sign and on more elements than one thread takes. */
START_TEST(quick_gelu_bf16_matches_rounded)
{
    size_t n = 70001;
    float *x = rand_buf(n, 170), *dy = rand_buf(n, 171), *f = coop_alloc_floats(n);
    float *d = coop_alloc_floats(n);
    uint16_t *g = coop_alloc(n * sizeof *g), *dg = coop_alloc(n * sizeof *dg);
    for (size_t i = 0; i < n; i++)
        x[i] *= (float)(1 << (i % 5)); /* |x| up to 16: both tails of the sigmoid */
    coop_quick_gelu_forward_fast(f, x, n);
    memset(d, 0, n * sizeof *d);
    coop_quick_gelu_backward_fast(d, dy, x, n);
    coop_quick_gelu_forward_bf16(g, x, n);
    memset(dg, 0xff, n * sizeof *dg); /* written, not added */
    coop_quick_gelu_backward_bf16(dg, dy, x, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(g[i] == coop_f32_to_bf16(f[i]), "forward [%zu] x %g", i, x[i]);
        ck_assert_msg(dg[i] == coop_f32_to_bf16(d[i]), "backward [%zu] x %g", i, x[i]);
    }
    coop_free(x), coop_free(dy), coop_free(f), coop_free(d), coop_free(g), coop_free(dg);
}
END_TEST

/* The bf16 attention of one sequence against coop_attention_forward_ref on
 * the bf16-rounded qkv: within the rounding of the probabilities and of the
 * output (2^-7 of the largest |v| of the head's column, per element), at an
 * odd shape and at ViT-B/16's (197 positions, 12 heads of 64). */
START_TEST(attention_matches_reference)
{
    if (!can_run())
        return;
    static const int as[][3] = {{5, 12, 3}, {197, 768, 12}};
    struct coop_err e;
    for (size_t t = 0; t < sizeof as / sizeof *as; t++) {
        int T = as[t][0], C = as[t][1], H = as[t][2];
        size_t nq = (size_t)T * 3 * C, no = (size_t)T * C;
        float *qkv = rand_buf(nq, 160 + t), *ref = coop_alloc_floats(no);
        uint16_t *q16 = coop_alloc(nq * sizeof *q16), *o16 = coop_alloc(no * sizeof *o16);
        for (size_t i = 0; i < nq; i++) /* scores of a few units: a peaked softmax */
            qkv[i] *= 2.0f;
        coop_bf16_round_n(q16, qkv, nq);
        for (size_t i = 0; i < nq; i++)
            qkv[i] = coop_bf16_to_f32(q16[i]);
        coop_attention_forward_ref(ref, NULL, qkv, 1, T, C, H, 0);
        struct coop_bf16_attention *a = NULL;
        ck_assert_msg(coop_bf16_attention_create(&a, T, C, H, &e) == 0, "%s", e.msg);
        for (int rep = 0; rep < 2; rep++) { /* the object is reused */
            ck_assert_msg(coop_bf16_attention_forward(a, o16, q16, &e) == 0, "%s", e.msg);
            double worst = 0;
            for (int i = 0; i < T; i++)
                for (int c = 0; c < C; c++) {
                    double vmax = 0;
                    for (int j = 0; j < T; j++)
                        vmax = fmax(vmax, fabs(qkv[(size_t)j * 3 * C + 2 * C + c]));
                    double d = fabs(coop_bf16_to_f32(o16[(size_t)i * C + c]) - ref[(size_t)i * C + c]);
                    ck_assert_msg(d <= vmax / 128, "%dx%d/%d [%d,%d]: %g vs %g", T, C, H, i, c,
                                  coop_bf16_to_f32(o16[(size_t)i * C + c]), ref[(size_t)i * C + c]);
                    worst = fmax(worst, d);
                }
            if (rep == 0)
                fprintf(stderr, "attention %d x %d, %d heads: within %.2e (%s)\n", T, C, H, worst,
                        coop_bf16_attention_impl(a));
        }
        ck_assert_str_ne(coop_bf16_attention_impl(a), "");
        coop_bf16_attention_free(a);
        coop_free(qkv), coop_free(ref), coop_free(q16), coop_free(o16);
    }
    struct coop_bf16_attention *a = (void *)&e;
    ck_assert_int_eq(coop_bf16_attention_create(&a, 4, 10, 3, &e), COOP_E_INVAL);
    ck_assert_ptr_null(a);
    coop_bf16_attention_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("linear");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, isa_choice);
    tcase_add_test(tc, rounding_matches);
    tcase_add_test(tc, refusal);
    tcase_add_loop_test(tc, matches_references, 0, (int)(sizeof shapes / sizeof *shapes));
    tcase_add_test(tc, row_counts_change);
    tcase_add_test(tc, forward_flags_match_plain);
    tcase_add_test(tc, layernorm_bf16_matches_reference);
    tcase_add_test(tc, quick_gelu_bf16_matches_rounded);
    tcase_add_test(tc, attention_matches_reference);
    tcase_add_test(tc, round_n_matches);
    tcase_add_test(tc, conv_matches_references);
    tcase_add_test(tc, conv_affine_matches_plain);
    tcase_add_test(tc, conv_nhwc_matches_planes);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
