/* test_vision.c: the image towers. Batch norm / pooling against
 * naive references; a finite-difference check of the ViT backward; parity
 * with PyTorch golden fixtures (tests/fixtures/vision/vision.h5, made by
 * gen_vision.py): small ViTs (features, every weight gradient, dpixels),
 * small ResNets (RN50-style and RN101-depth), and full-size randomly
 * initialised ViT-B/16 and RN50 (skipped when COOP_VALGRIND is set); an
 * image's features are the same bits alone and anywhere in any batch. */
#include "coop/clip.h"
#include "coop/nn.h"
#include "coop/util.h"
#include "results/h5_internal.h"
#include "vision/vision.h"
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

static double max_abs_diff(const float *a, const float *b, size_t n, double *max_ref)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = fabs((double)a[i] - b[i]);
        d = x > d ? x : d;
        m = fabs(b[i]) > m ? fabs(b[i]) : m;
    }
    if (max_ref)
        *max_ref = m;
    return d;
}

/* ---- kernels against references ----------------------------------------- */
START_TEST(bn_and_pool_match_reference)
{
    enum { C = 5, H = 6, W = 6 };
    float x[C * H * W], y[C * H * W], w[C], b[C], mean[C], var[C], pooled[C * 9];
    struct coop_clip_bn bn = {w, b, mean, var};
    coop_hash_uniform(x, C * H * W, 1, -2, 2);
    coop_hash_uniform(w, C, 2, 0.5, 1.5);
    coop_hash_uniform(b, C, 3, -1, 1);
    coop_hash_uniform(mean, C, 4, -1, 1);
    coop_hash_uniform(var, C, 5, 0.2, 2);
    for (int relu = 0; relu < 2; relu++) {
        memcpy(y, x, sizeof x);
        float z[C * H * W];
        memcpy(z, x, sizeof x);
        coop_vision_bn_act(y, &bn, C, H * W, relu);
        coop_vision_bn_act_ref(z, &bn, C, H * W, relu);
        ck_assert_double_lt(max_abs_diff(y, z, C * H * W, NULL), 1e-5);
        if (relu)
            for (int i = 0; i < C * H * W; i++)
                ck_assert(y[i] >= 0.0f);
    }
    coop_vision_avgpool(pooled, x, C, H, W, 2);
    for (int c = 0; c < C; c++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                const float *p = x + (c * H + 2 * i) * W + 2 * j;
                float e = (p[0] + p[1] + p[W] + p[W + 1]) / 4.0f;
                ck_assert_float_eq_tol(pooled[(c * 3 + i) * 3 + j], e, 1e-6);
            }
}
END_TEST

/* ---- finite differences --------------------------------------------------- */
static double vit_loss(const struct coop_clip_vit *v, const float *px, int B, const float *g)
{
    float feat[64];
    struct coop_err e;
    ck_assert_int_eq(coop_clip_vit_forward(v, px, B, feat, NULL, &e), 0);
    double s = 0;
    for (int i = 0; i < B * v->embed_dim; i++)
        s += (double)feat[i] * g[i];
    return s;
}

/* central difference of the loss w.r.t. x[i] (modified in place and restored) */
static double fd(const struct coop_clip_vit *v, float *px, int B, const float *g, float *x)
{
    const float h = 1e-2f;
    float x0 = *x;
    *x = x0 + h;
    double lp = vit_loss(v, px, B, g);
    *x = x0 - h;
    double lm = vit_loss(v, px, B, g);
    *x = x0;
    return (lp - lm) / (2.0 * h);
}

START_TEST(vit_backward_finite_differences)
{
    struct coop_clip_vit v, dw;
    void *mv, *mg;
    size_t nf, ng;
    struct coop_err e;
    enum { B = 2, S = 8, P = 4, E = 4 };
    ck_assert_int_eq(coop_clip_vit_alloc(&v, &mv, &nf, S, P, 8, 2, 2, E, &e), 0);
    ck_assert_int_eq(coop_clip_vit_grads_alloc(&dw, &mg, &ng, &v, &e), 0);
    ck_assert_uint_eq(nf, ng);
    ck_assert_int_eq(coop_clip_vit_init_hash(&v, 5), 0);
    float px[B * 3 * S * S], dpx[B * 3 * S * S] = {0}, g[B * E], feat[B * E];
    coop_hash_uniform(px, B * 3 * S * S, 6, -2, 2);
    coop_hash_uniform(g, B * E, 7, -1, 1);
    struct coop_clip_vit_tape *tape;
    ck_assert_int_eq(coop_clip_vit_forward(&v, px, B, feat, &tape, &e), 0);
    ck_assert_int_eq(coop_clip_vit_backward(&v, tape, g, dpx, &dw, &e), 0);
    coop_clip_vit_tape_free(tape);
    int n = coop_vision_vit_tensors(&v, NULL, 0);
    struct vision_tensor *tv = calloc((size_t)n, sizeof *tv), *tg = calloc((size_t)n, sizeof *tg);
    coop_vision_vit_tensors(&v, tv, n);
    coop_vision_vit_tensors(&dw, tg, n);
    int checked = 0;
    for (int t = 0; t < n; t++)
        for (int r = 0; r < 3; r++) { /* three entries of every tensor */
            size_t i = (size_t)(coop_mix64((uint64_t)(t * 3 + r)) % tv[t].n);
            double num = fd(&v, px, B, g, *tv[t].ptr + i), an = (*tg[t].ptr)[i];
            ck_assert_msg(fabs(num - an) <= 3e-3 + 2e-2 * fabs(an), "%s[%zu]: fd %g vs %g",
                          tv[t].name, i, num, an);
            checked++;
        }
    for (int r = 0; r < 8; r++) {
        size_t i = (size_t)(coop_mix64(1000 + r) % (B * 3 * S * S));
        double num = fd(&v, px, B, g, px + i);
        ck_assert_msg(fabs(num - dpx[i]) <= 3e-3 + 2e-2 * fabs(dpx[i]), "pixel %zu: %g vs %g",
                      i, num, dpx[i]);
    }
    ck_assert_int_gt(checked, 50);
    free(tv), free(tg);
    coop_free(mv), coop_free(mg);
}
END_TEST

/* forward_reuse: a tape (and the backward's scratch on it) taken over from an
 * earlier step gives bit-identical features and gradients to a fresh tape, also
 * after a step on other pixels; another batch size makes a new tape. */
START_TEST(vit_forward_reuse_matches_fresh)
{
    struct coop_clip_vit v, dw0, dwa, dwb;
    void *mv, *m0, *ma, *mb;
    size_t nf, ng;
    struct coop_err e;
    enum { B = 3, S = 8, P = 4, E = 4, NPX = B * 3 * S * S };
    ck_assert_int_eq(coop_clip_vit_alloc(&v, &mv, &nf, S, P, 8, 2, 2, E, &e), 0);
    ck_assert_int_eq(coop_clip_vit_grads_alloc(&dw0, &m0, &ng, &v, &e), 0);
    ck_assert_int_eq(coop_clip_vit_grads_alloc(&dwa, &ma, &ng, &v, &e), 0);
    ck_assert_int_eq(coop_clip_vit_grads_alloc(&dwb, &mb, &ng, &v, &e), 0);
    ck_assert_int_eq(coop_clip_vit_init_hash(&v, 5), 0);
    static float px0[NPX], px1[NPX], g0[B * E], g1[B * E];
    coop_hash_uniform(px0, NPX, 16, -2, 2);
    coop_hash_uniform(px1, NPX, 17, -2, 2);
    coop_hash_uniform(g0, B * E, 18, -1, 1);
    coop_hash_uniform(g1, B * E, 19, -1, 1);
    /* fresh: features, weight and pixel gradients of (px1, g1) */
    static float fa[B * E], fb[B * E], dpa[NPX], dpb[NPX], dp0[NPX];
    struct coop_clip_vit_tape *tape = NULL;
    ck_assert_int_eq(coop_clip_vit_forward(&v, px1, B, fa, &tape, &e), 0);
    ck_assert_int_eq(coop_clip_vit_backward(&v, tape, g1, dpa, &dwa, &e), 0);
    coop_clip_vit_tape_free(tape);
    /* reused: one step on (px0, g0) first, then (px1, g1) in the same tape */
    tape = NULL;
    ck_assert_int_eq(coop_clip_vit_forward_reuse(&v, px0, B, fb, &tape, &e), 0);
    ck_assert_int_eq(coop_clip_vit_backward(&v, tape, g0, dp0, &dw0, &e), 0);
    struct coop_clip_vit_tape *first = tape;
    ck_assert_int_eq(coop_clip_vit_forward_reuse(&v, px1, B, fb, &tape, &e), 0);
    ck_assert_ptr_eq(tape, first); /* same sizes: the same tape */
    ck_assert_int_eq(coop_clip_vit_backward(&v, tape, g1, dpb, &dwb, &e), 0);
    ck_assert_mem_eq(fa, fb, sizeof fa);
    ck_assert_mem_eq(dpa, dpb, sizeof dpa);
    int n = coop_vision_vit_tensors(&v, NULL, 0);
    struct vision_tensor *ta = calloc((size_t)n, sizeof *ta), *tb = calloc((size_t)n, sizeof *tb);
    coop_vision_vit_tensors(&dwa, ta, n);
    coop_vision_vit_tensors(&dwb, tb, n);
    for (int t = 0; t < n; t++)
        ck_assert_msg(memcmp(*ta[t].ptr, *tb[t].ptr, ta[t].n * sizeof(float)) == 0,
                      "%s differs with a reused tape", ta[t].name);
    /* another batch size: features of the first image alone, as a fresh taped call
     * gives (the untaped call computes only the class token in the last block, which
     * may differ in the last bit) */
    float f1[E], f2[E];
    struct coop_clip_vit_tape *t2 = NULL;
    ck_assert_int_eq(coop_clip_vit_forward_reuse(&v, px1, 1, f1, &tape, &e), 0);
    ck_assert_int_eq(coop_clip_vit_forward(&v, px1, 1, f2, &t2, &e), 0);
    ck_assert_mem_eq(f1, f2, sizeof f1);
    coop_clip_vit_tape_free(t2);
    coop_clip_vit_tape_free(tape);
    ck_assert_int_eq(coop_clip_vit_forward_reuse(&v, px1, 1, f1, NULL, &e), COOP_E_INVAL);
    free(ta), free(tb);
    coop_free(mv), coop_free(m0), coop_free(ma), coop_free(mb);
}
END_TEST

/* ---- PyTorch fixtures ----------------------------------------------------- */
static hid_t open_fixtures(void)
{
    const char *root = getenv("COOP_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/vision/vision.h5", root ? root : ".");
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot open %s", path);
    ck_assert_int_eq(coop_h5_attr_long(f, "format_version", -1), 1);
    return f;
}

static long long attr_ll(hid_t g, const char *name)
{
    int64_t v = 0;
    ck_assert_msg(coop_h5_attr_i64(g, name, &v) == 0, "attribute %s missing", name);
    return (long long)v;
}

/* Reads dataset name of exactly n floats (coop_free). */
static float *read_floats(hid_t g, const char *name, size_t n)
{
    size_t got = 0;
    float *x = coop_h5_floats(g, name, &got);
    ck_assert_msg(x != NULL, "dataset %s missing", name);
    ck_assert_uint_eq(got, n);
    return x;
}

static void check_close(const char *what, const float *got, const float *want, size_t n,
                        double tol)
{
    double mref, d = max_abs_diff(got, want, n, &mref);
    double rel = d / (mref > 1e-30 ? mref : 1e-30);
    if (getenv("COOP_TEST_VERBOSE"))
        printf("%-60s rel err %.3g (max |ref| %.3g)\n", what, rel, mref);
    ck_assert_msg(rel <= tol, "%s: relative error %g > %g (max abs diff %g)", what, rel, tol, d);
}

static float *pixels(uint64_t seed, int B, int S)
{
    size_t n = (size_t)B * 3 * S * S;
    float *px = coop_alloc_floats(n);
    coop_hash_uniform(px, n, coop_seed_derive(seed, "pixels"), -2.0, 2.0);
    return px;
}

static void check_vit(const char *group, int grads)
{
    hid_t f = open_fixtures(), g = H5Gopen2(f, group, H5P_DEFAULT);
    ck_assert(g >= 0);
    int S = (int)attr_ll(g, "image_size"), P = (int)attr_ll(g, "patch_size");
    int W = (int)attr_ll(g, "width"), L = (int)attr_ll(g, "layers"), H = (int)attr_ll(g, "heads");
    int E = (int)attr_ll(g, "embed_dim"), B = (int)attr_ll(g, "batch");
    uint64_t seed = (uint64_t)attr_ll(g, "seed");
    struct coop_clip_vit v, dw;
    void *mv, *mg = NULL;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_vit_alloc(&v, &mv, NULL, S, P, W, L, H, E, &e), 0);
    ck_assert_int_eq(coop_clip_vit_init_hash(&v, seed), 0);
    float *px = pixels(seed, B, S), *feat = coop_alloc_floats((size_t)B * E);
    float *want = read_floats(g, "feat", (size_t)B * E);
    struct coop_clip_vit_tape *tape = NULL;
    ck_assert_int_eq(coop_clip_vit_forward(&v, px, B, feat, grads ? &tape : NULL, &e), 0);
    check_close(group, feat, want, (size_t)B * E, 1e-4);
    if (grads) { /* the inference path (last block on class rows only) agrees */
        float *f2 = coop_alloc_floats((size_t)B * E);
        ck_assert_int_eq(coop_clip_vit_forward(&v, px, B, f2, NULL, &e), 0);
        check_close("vit inference path", f2, want, (size_t)B * E, 1e-4);
        coop_free(f2);
    }
    if (grads) {
        size_t npx = (size_t)B * 3 * S * S;
        float *dpx = coop_alloc_floats(npx), *dfeat = coop_alloc_floats((size_t)B * E);
        coop_hash_uniform(dfeat, (size_t)B * E, coop_seed_derive(seed, "dfeat"), -1, 1);
        ck_assert_int_eq(coop_clip_vit_grads_alloc(&dw, &mg, NULL, &v, &e), 0);
        ck_assert_int_eq(coop_clip_vit_backward(&v, tape, dfeat, dpx, &dw, &e), 0);
        float *wdpx = read_floats(g, "dpixels", npx);
        check_close("dpixels", dpx, wdpx, npx, 1e-4);
        /* frozen tower (dw NULL): the same pixel gradient, no weight work */
        float *dpx2 = coop_alloc_floats(npx);
        ck_assert_int_eq(coop_clip_vit_backward(&v, tape, dfeat, dpx2, NULL, &e), 0);
        check_close("dpixels (frozen)", dpx2, wdpx, npx, 1e-4);
        coop_free(dpx2);
        hid_t gg = H5Gopen2(g, "grad", H5P_DEFAULT);
        int n = coop_vision_vit_tensors(&dw, NULL, 0);
        struct vision_tensor *t = calloc((size_t)n, sizeof *t);
        coop_vision_vit_tensors(&dw, t, n);
        for (int i = 0; i < n; i++) {
            float *w = read_floats(gg, t[i].name, t[i].n);
            check_close(t[i].name, *t[i].ptr, w, t[i].n, 1e-4);
            coop_free(w);
        }
        free(t);
        coop_free(wdpx);
        H5Gclose(gg);
        coop_free(dpx), coop_free(dfeat), coop_free(mg);
    }
    coop_clip_vit_tape_free(tape);
    coop_free(want);
    coop_free(px), coop_free(feat), coop_free(mv);
    H5Gclose(g);
    H5Fclose(f);
}

static void check_resnet(const char *group)
{
    hid_t f = open_fixtures(), g = H5Gopen2(f, group, H5P_DEFAULT);
    ck_assert(g >= 0);
    int S = (int)attr_ll(g, "image_size"), W = (int)attr_ll(g, "width");
    int H = (int)attr_ll(g, "heads"), E = (int)attr_ll(g, "embed_dim");
    int B = (int)attr_ll(g, "batch"), layers[4];
    uint64_t seed = (uint64_t)attr_ll(g, "seed");
    hid_t a = H5Aopen(g, "layers", H5P_DEFAULT);
    ck_assert(a >= 0 && H5Aread(a, H5T_NATIVE_INT, layers) >= 0);
    H5Aclose(a);
    struct coop_clip_resnet r;
    void *mr;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_resnet_alloc(&r, &mr, NULL, S, W, layers, H, E, &e), 0);
    ck_assert_int_eq(coop_clip_resnet_init_hash(&r, seed), 0);
    float *px = pixels(seed, B, S), *feat = coop_alloc_floats((size_t)B * E);
    float *want = read_floats(g, "feat", (size_t)B * E);
    ck_assert_int_eq(coop_clip_resnet_forward(&r, px, B, feat, &e), 0);
    check_close(group, feat, want, (size_t)B * E, 1e-4);
    /* batch independence: image 1 alone gives the same features */
    ck_assert_int_eq(coop_clip_resnet_forward(&r, px + (size_t)3 * S * S, 1, feat, &e), 0);
    check_close("resnet single image", feat, want + E, (size_t)E, 1e-4);
    coop_free(want);
    coop_free(px), coop_free(feat), coop_free(mr);
    H5Gclose(g);
    H5Fclose(f);
}

START_TEST(vit_small_matches_torch) { check_vit("vit_small", 1); }
END_TEST
START_TEST(vit_odd_patch_matches_torch) { check_vit("vit_odd", 1); }
END_TEST
START_TEST(resnet_small_matches_torch) { check_resnet("resnet_small"); }
END_TEST
START_TEST(rn101_depth_matches_torch) { check_resnet("rn101_narrow"); }
END_TEST
START_TEST(vit_b16_matches_torch) { check_vit("vit_b16", 0); }
END_TEST
START_TEST(rn50_matches_torch) { check_resnet("rn50"); }
END_TEST

/* ---- batch invariance ------------------------------------------------------
 * Image 0 of a pool encoded alone, then at slots 0 and 31 of a batch of 32, at
 * slot 3 of a batch of 7 and slot 1 of a batch of 2 (other companions each
 * time): the same bits. A batch-wide sgemm whose size crosses one of
 * OpenBLAS's kernel thresholds rounds differently (docs/vision.md). */
static void check_batch_invariant(const char *what, const struct coop_clip_model *m, int S,
                                  int E)
{
    enum { POOL = 40 };
    static const int cfg[][4] = {{32, 0, 31, 1}, {7, 3, 3, 20}, {2, 1, 1, 33}}; /* B, slots, next */
    size_t px = (size_t)3 * S * S;
    float *pool = coop_alloc_floats(POOL * px), *batch = coop_alloc_floats(32 * px);
    float *alone = coop_alloc_floats((size_t)E), *feat = coop_alloc_floats((size_t)32 * E);
    struct coop_err e;
    coop_hash_uniform(pool, POOL * px, 11, -2.0, 2.0);
    ck_assert_int_eq(coop_clip_encode_images(m, pool, 1, alone, &e), 0);
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        int B = cfg[c][0], next = cfg[c][3];
        for (int j = 0; j < B; j++) {
            int mine = j == cfg[c][1] || j == cfg[c][2];
            size_t src = mine ? 0 : (size_t)(next++ % (POOL - 1)) + 1;
            memcpy(batch + j * px, pool + src * px, px * sizeof(float));
        }
        ck_assert_int_eq(coop_clip_encode_images(m, batch, B, feat, &e), 0);
        for (int k = 1; k <= 2; k++)
            ck_assert_msg(memcmp(feat + (size_t)cfg[c][k] * E, alone,
                                 (size_t)E * sizeof(float)) == 0,
                          "%s: the image at slot %d of a batch of %d is not the bits it has "
                          "alone", what, cfg[c][k], B);
    }
    coop_free(pool), coop_free(batch), coop_free(alone), coop_free(feat);
}

START_TEST(features_do_not_depend_on_the_batch)
{
    struct coop_clip_model m = {0};
    void *mem;
    struct coop_err e;
    /* the shipped world CLIP's tower shape, and an odd small ViT */
    m.vision_kind = COOP_CLIP_VISION_VIT;
    ck_assert_int_eq(coop_clip_vit_alloc(&m.vit, &mem, NULL, 32, 4, 64, 2, 1, 64, &e), 0);
    ck_assert_int_eq(coop_clip_vit_init_hash(&m.vit, 5), 0);
    check_batch_invariant("vit 32px/4 w64", &m, 32, 64);
    coop_free(mem);
    ck_assert_int_eq(coop_clip_vit_alloc(&m.vit, &mem, NULL, 28, 7, 32, 2, 4, 16, &e), 0);
    ck_assert_int_eq(coop_clip_vit_init_hash(&m.vit, 6), 0);
    check_batch_invariant("vit 28px/7 w32", &m, 28, 16);
    coop_free(mem);
    static const int layers[4] = {1, 1, 1, 1};
    m.vision_kind = COOP_CLIP_VISION_RESNET;
    ck_assert_int_eq(coop_clip_resnet_alloc(&m.resnet, &mem, NULL, 64, 16, layers, 8, 64, &e),
                     0);
    ck_assert_int_eq(coop_clip_resnet_init_hash(&m.resnet, 7), 0);
    check_batch_invariant("resnet 64px w16", &m, 64, 64);
    coop_free(mem);
}
END_TEST

/* Float counts of OpenAI's visual state dicts (torch: sum of numel, BN running
 * stats included, num_batches_tracked excluded), and the dispatch. */
START_TEST(layouts_match_openai_sizes_and_dispatch)
{
    struct coop_clip_model m = {0};
    void *mem;
    size_t n;
    struct coop_err e;
    if (!getenv("COOP_VALGRIND")) { /* ~700 MB of zeroing: too slow under valgrind */
        ck_assert_int_eq(coop_clip_vit_alloc(&m.vit, &mem, &n, 224, 16, 768, 12, 12, 512, &e),
                         0);
        ck_assert_uint_eq(n, 86192640);
        ck_assert_ptr_eq(m.vit.conv1_w + n - 768 * 512, m.vit.proj); /* contiguous, proj last */
        coop_free(mem);
        int rn50[4] = {3, 4, 6, 3}, rn101[4] = {3, 4, 23, 3};
        ck_assert_int_eq(coop_clip_resnet_alloc(&m.resnet, &mem, &n, 224, 64, rn50, 32, 1024, &e),
                         0);
        ck_assert_uint_eq(n, 38370144);
        coop_free(mem);
        ck_assert_int_eq(coop_clip_resnet_alloc(&m.resnet, &mem, &n, 224, 64, rn101, 32, 512, &e),
                         0);
        ck_assert_uint_eq(n, 56365408);
        coop_free(mem);
    }
    /* coop_clip_encode_images dispatches on vision_kind */
    enum { B = 2, S = 32, E = 8 };
    float px[B * 3 * S * S], f1[B * E], f2[B * E];
    coop_hash_uniform(px, B * 3 * S * S, 9, -2, 2);
    int small[4] = {1, 1, 1, 1};
    void *mv, *mr;
    ck_assert_int_eq(coop_clip_vit_alloc(&m.vit, &mv, NULL, S, 8, 32, 1, 2, E, &e), 0);
    ck_assert_int_eq(coop_clip_resnet_alloc(&m.resnet, &mr, NULL, S, 8, small, 4, E, &e), 0);
    coop_clip_vit_init_hash(&m.vit, 1);
    coop_clip_resnet_init_hash(&m.resnet, 2);
    m.vision_kind = COOP_CLIP_VISION_VIT;
    ck_assert_int_eq(coop_clip_encode_images(&m, px, B, f1, &e), 0);
    ck_assert_int_eq(coop_clip_vit_forward(&m.vit, px, B, f2, NULL, &e), 0);
    ck_assert(memcmp(f1, f2, sizeof f1) == 0);
    m.vision_kind = COOP_CLIP_VISION_RESNET;
    ck_assert_int_eq(coop_clip_encode_images(&m, px, B, f1, &e), 0);
    ck_assert_int_eq(coop_clip_resnet_forward(&m.resnet, px, B, f2, &e), 0);
    ck_assert(memcmp(f1, f2, sizeof f1) == 0);
    coop_free(mv), coop_free(mr);
}
END_TEST

START_TEST(bad_configs_are_refused)
{
    struct coop_clip_vit v;
    struct coop_clip_resnet r;
    void *m;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_vit_alloc(&v, &m, NULL, 30, 8, 64, 1, 4, 8, &e), COOP_E_INVAL);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(coop_clip_vit_alloc(&v, &m, NULL, 32, 8, 64, 1, 5, 8, &e), COOP_E_INVAL);
    int layers[4] = {1, 0, 1, 1};
    ck_assert_int_eq(coop_clip_resnet_alloc(&r, &m, NULL, 64, 8, layers, 4, 8, &e),
                     COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "ResNet"));
    struct coop_clip_model model = {0};
    float px[1], feat[1];
    ck_assert_int_eq(coop_clip_encode_images(&model, px, 1, feat, &e), COOP_E_UNSUPPORTED);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vision");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, vit_forward_reuse_matches_fresh);
    tcase_add_test(tc, bn_and_pool_match_reference);
    tcase_add_test(tc, bad_configs_are_refused);
    tcase_add_test(tc, features_do_not_depend_on_the_batch);
    tcase_add_test(tc, layouts_match_openai_sizes_and_dispatch);
    tcase_add_test(tc, vit_backward_finite_differences);
    tcase_add_test(tc, vit_small_matches_torch);
    tcase_add_test(tc, vit_odd_patch_matches_torch);
    tcase_add_test(tc, resnet_small_matches_torch);
    tcase_add_test(tc, rn101_depth_matches_torch);
    if (!getenv("COOP_VALGRIND")) {
        tcase_add_test(tc, vit_b16_matches_torch);
        tcase_add_test(tc, rn50_matches_torch);
    } else {
        printf("COOP_VALGRIND set: full-size ViT-B/16 and RN50 parity skipped\n");
    }
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
