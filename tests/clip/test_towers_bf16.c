/* test_towers_bf16.c: the towers with bf16 products (coop/clip.h, "bf16
 * products") against the same towers in float32, at full size with random
 * weights as the benchmarks build them: the ViT-B/16 text tower (W 512, 12
 * layers, 8 heads) on 37 CoOp-shaped prompts through the fast path (shared
 * prefix of 17 rows, each prompt cut at its own EOT), features and the input
 * gradient the CoOp backward uses; the ViT-B/16 image tower (224 px, W 768,
 * 12 layers) and RN50 (every convolution as the GEMM of its im2col) on two
 * images each. Errors are max |bf16 - fp32| / max |fp32| over
 * the whole output (the figures docs/performance.md quotes) and the smallest
 * cosine between a bf16 and an fp32 row. Also: bf16 really ran (results
 * differ, oneDNN named its kernel), float32 after disabling is bit-identical
 * to float32 before, the recompute-in-backward tape gives the full tape's
 * bf16 results exactly, and where bf16 cannot run the refusal. */
#include "coop/bf16.h"
#include "coop/clip.h"
#include "coop/util.h"
#include "nn_testutil.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

/* Tolerances (measured errors in the comments at each use, this machine). */
#define TEXT_FEAT_TOL 2e-2
#define TEXT_GRAD_TOL 3e-2
#define VIT_FEAT_TOL 2e-2
#define RN_FEAT_TOL 2e-2
#define COS_MIN 0.999

static bool can_run(void)
{
    struct coop_err e;
    if (coop_bf16_check(&e) == 0)
        return true;
    fprintf(stderr, "bf16 towers not tested: %s\n", e.msg);
    return false;
}

/* Smallest cosine between rows of a and b [n, d]. */
static double min_cosine(const float *a, const float *b, int n, int d)
{
    double worst = 1.0;
    for (int i = 0; i < n; i++) {
        const float *x = a + (size_t)i * d, *y = b + (size_t)i * d;
        double c = tu_dot(x, y, (size_t)d) /
                   sqrt(tu_dot(x, x, (size_t)d) * tu_dot(y, y, (size_t)d));
        worst = fmin(worst, c);
    }
    return worst;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* CoOp prompts [K, L, W]: SOS + 16 shared context rows, then 2-5 rows of
 * class tokens, "." and EOT per prompt (EOT at 19..22). */
static float *coop_prompts(const struct coop_clip_text *t, int K, int P, int *eot)
{
    int L = t->context_length, W = t->width;
    float *emb = tu_rand((size_t)K * L * W, 5, -0.05, 0.05);
    for (int k = 1; k < K; k++)
        memcpy(emb + (size_t)k * L * W, emb, sizeof(float) * (size_t)P * W);
    for (int k = 0; k < K; k++)
        eot[k] = P + 2 + k % 4;
    return emb;
}

struct text_run {
    float *feat, *demb;
};

/* Forward with a tape and backward of a fixed dfeat. */
static struct text_run text_pass(const struct coop_clip_text *t, const float *emb,
                                 const int *eot, int K, int P, const float *dfeat)
{
    struct text_run r = {tu_zeros((size_t)K * t->embed_dim),
                         tu_zeros((size_t)K * t->context_length * t->width)};
    struct coop_clip_text_tape *tape = NULL;
    struct coop_err e;
    ck_assert_msg(coop_clip_text_forward(t, emb, eot, K, P, r.feat, &tape, &e) == 0, "%s",
                  e.msg);
    ck_assert_msg(coop_clip_text_backward(t, tape, dfeat, r.demb, NULL, &e) == 0, "%s", e.msg);
    coop_clip_text_tape_free(tape);
    return r;
}

static void run_free(struct text_run *r)
{
    coop_free(r->feat);
    coop_free(r->demb);
}

START_TEST(text_tower_full_size)
{
    if (!can_run())
        return;
    enum { L = 77, V = 512, W = 512, H = 8, LAYERS = 12, E = 512, K = 37, P = 17 };
    struct coop_clip_text t;
    float *arena;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_alloc(&t, L, V, W, H, LAYERS, E, &arena, &e), 0);
    coop_clip_text_init_random(&t, 1);
    int eot[K];
    float *emb = coop_prompts(&t, K, P, eot);
    float *dfeat = tu_rand((size_t)K * E, 6, -1, 1);
    struct text_run f32 = text_pass(&t, emb, eot, K, P, dfeat);

    ck_assert_msg(coop_clip_text_bf16_enable(&t, true, &e) == 0, "%s", e.msg);
    ck_assert_ptr_nonnull(t.bf16);
    ck_assert_int_eq(coop_clip_text_bf16_enable(&t, true, &e), 0); /* kept */
    struct text_run b16 = text_pass(&t, emb, eot, K, P, dfeat);
    ck_assert_str_ne(coop_clip_bf16_impl(t.bf16), "");
    size_t nf = (size_t)K * E, ng = (size_t)K * L * W;
    double ef = tu_relerr(b16.feat, f32.feat, nf), eg = tu_relerr(b16.demb, f32.demb, ng);
    double cf = min_cosine(b16.feat, f32.feat, K, E);
    /* the gradient's rows: prompt 0's L rows hold the shared prefix's sum */
    double cg = min_cosine(b16.demb, f32.demb, K * L, W);
    fprintf(stderr, "text tower bf16 (%s): features %.2e (min cosine %.6f), input gradient "
            "%.2e (min row cosine %.6f)\n", coop_clip_bf16_impl(t.bf16), ef, cf, eg, cg);
    ck_assert_double_gt(max_abs_diff(b16.feat, f32.feat, nf), 0); /* bf16 did run */
    ck_assert_double_lt(ef, TEXT_FEAT_TOL);
    ck_assert_double_lt(eg, TEXT_GRAD_TOL);
    ck_assert_double_gt(cf, COS_MIN);

    coop_clip_text_bf16_disable(&t);
    ck_assert_ptr_null(t.bf16);
    struct text_run again = text_pass(&t, emb, eot, K, P, dfeat);
    ck_assert_int_eq(memcmp(again.feat, f32.feat, sizeof(float) * nf), 0);
    ck_assert_int_eq(memcmp(again.demb, f32.demb, sizeof(float) * ng), 0);
    run_free(&f32), run_free(&b16), run_free(&again);
    coop_free(emb), coop_free(dfeat);
    coop_clip_text_free(&t, arena);
}
END_TEST

/* Forward-only bf16 (no transposed copies): the backward's input-gradient
 * products stay float32, so the gradient differs from the all-bf16 one. */
START_TEST(text_tower_forward_only)
{
    if (!can_run())
        return;
    enum { L = 16, V = 64, W = 64, H = 2, LAYERS = 2, E = 32, K = 6, P = 5 };
    struct coop_clip_text t;
    float *arena;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_alloc(&t, L, V, W, H, LAYERS, E, &arena, &e), 0);
    coop_clip_text_init_random(&t, 3);
    int eot[K];
    float *emb = coop_prompts(&t, K, P, eot), *dfeat = tu_rand((size_t)K * E, 8, -1, 1);
    ck_assert_int_eq(coop_clip_text_bf16_enable(&t, false, &e), 0);
    struct text_run fwd = text_pass(&t, emb, eot, K, P, dfeat);
    coop_clip_text_bf16_disable(&t);
    ck_assert_int_eq(coop_clip_text_bf16_enable(&t, true, &e), 0);
    struct text_run both = text_pass(&t, emb, eot, K, P, dfeat);
    ck_assert_int_eq(memcmp(fwd.feat, both.feat, sizeof(float) * K * E), 0);
    ck_assert_double_gt(max_abs_diff(fwd.demb, both.demb, (size_t)K * L * W), 0);
    ck_assert_double_lt(tu_relerr(fwd.demb, both.demb, (size_t)K * L * W), TEXT_GRAD_TOL);
    run_free(&fwd), run_free(&both);
    coop_free(emb), coop_free(dfeat);
    coop_clip_text_free(&t, arena);
}
END_TEST

/* The tape that keeps only each layer's input recomputes the layer in bf16
 * too: the same bits as the full tape. */
START_TEST(text_tower_recompute_tape)
{
    if (!can_run())
        return;
    enum { L = 16, V = 64, W = 64, H = 2, LAYERS = 3, E = 32, K = 7, P = 5 };
    struct coop_clip_text t;
    float *arena;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_alloc(&t, L, V, W, H, LAYERS, E, &arena, &e), 0);
    coop_clip_text_init_random(&t, 4);
    ck_assert_int_eq(coop_clip_text_bf16_enable(&t, true, &e), 0);
    int eot[K];
    float *emb = coop_prompts(&t, K, P, eot), *dfeat = tu_rand((size_t)K * E, 9, -1, 1);
    struct text_run full = text_pass(&t, emb, eot, K, P, dfeat);
    t.tape_budget = 1;
    struct text_run ckpt = text_pass(&t, emb, eot, K, P, dfeat);
    t.tape_budget = 0;
    ck_assert_int_eq(memcmp(full.feat, ckpt.feat, sizeof(float) * K * E), 0);
    ck_assert_int_eq(memcmp(full.demb, ckpt.demb, sizeof(float) * K * L * W), 0);
    run_free(&full), run_free(&ckpt);
    coop_free(emb), coop_free(dfeat);
    coop_clip_text_free(&t, arena);
}
END_TEST

/* Weight gradients through the bf16 tower (pretraining's backward): the
 * stream's rows are padded to a multiple of 16 for the bf16 products (here
 * 5 prefix + 25 suffix rows -> 32); the padding rows must add nothing, so
 * every weight's gradient is finite and within the input gradient's
 * tolerance of float32's, and the features and input gradient are those of
 * the run without weight gradients. */
START_TEST(text_tower_weight_gradients)
{
    if (!can_run())
        return;
    enum { L = 16, V = 64, W = 64, H = 2, LAYERS = 3, E = 32, K = 7, P = 5 };
    struct coop_clip_text t, g32, g16;
    float *arena, *a32, *a16;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_alloc(&t, L, V, W, H, LAYERS, E, &arena, &e), 0);
    coop_clip_text_init_random(&t, 5);
    ck_assert_int_eq(coop_clip_text_grads_alloc(&g32, &t, &a32, &e), 0);
    ck_assert_int_eq(coop_clip_text_grads_alloc(&g16, &t, &a16, &e), 0);
    size_t nw = coop_clip_text_size(L, V, W, LAYERS, E);
    int eot[K];
    float *emb = coop_prompts(&t, K, P, eot), *dfeat = tu_rand((size_t)K * E, 10, -1, 1);
    size_t ng = (size_t)K * L * W;
    float *feat = tu_zeros((size_t)K * E), *demb = tu_zeros(ng);
    struct coop_clip_text_tape *tape = NULL;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            ck_assert_int_eq(coop_clip_text_bf16_enable(&t, true, &e), 0);
        memset(demb, 0, sizeof(float) * ng);
        ck_assert_msg(coop_clip_text_forward(&t, emb, eot, K, P, feat, &tape, &e) == 0, "%s",
                      e.msg);
        ck_assert_msg(coop_clip_text_backward(&t, tape, dfeat, demb, pass ? &g16 : &g32, &e) == 0,
                      "%s", e.msg);
        coop_clip_text_tape_free(tape);
        tape = NULL;
    }
    struct text_run plain = text_pass(&t, emb, eot, K, P, dfeat);
    ck_assert_int_eq(memcmp(plain.feat, feat, sizeof(float) * K * E), 0);
    for (size_t i = 0; i < nw; i++)
        ck_assert_msg(isfinite(a16[i]), "weight gradient [%zu] = %g", i, a16[i]);
    double ew = tu_relerr(a16, a32, nw);
    fprintf(stderr, "text tower bf16 weight gradients: %.2e of float32's\n", ew);
    ck_assert_double_gt(ew, 0);
    ck_assert_double_lt(ew, TEXT_GRAD_TOL);
    run_free(&plain);
    coop_free(emb), coop_free(dfeat), coop_free(feat), coop_free(demb);
    coop_clip_text_free(&g32, a32), coop_clip_text_free(&g16, a16);
    coop_clip_text_free(&t, arena);
}
END_TEST

/* An image tower behind three calls, for the check below. */
struct image_tower {
    const char *name;
    void *tower;
    struct coop_clip_bf16 **bf16;
    int (*forward)(void *tower, const float *px, int B, float *feat, struct coop_err *e);
    int (*enable)(void *tower, struct coop_err *e);
    void (*disable)(void *tower);
};

/* Two random images through the tower in fp32, in bf16 and in fp32 again. */
static void check_image_tower(const struct image_tower *it, int E, double tol)
{
    enum { S = 224, B = 2 };
    struct coop_err e;
    float *px = tu_rand((size_t)B * 3 * S * S, 11, -2, 2);
    float *f32 = tu_zeros((size_t)B * E), *b16 = tu_zeros((size_t)B * E);
    float *again = tu_zeros((size_t)B * E);
    ck_assert_msg(it->forward(it->tower, px, B, f32, &e) == 0, "%s", e.msg);
    ck_assert_msg(it->enable(it->tower, &e) == 0, "%s", e.msg);
    ck_assert_msg(it->forward(it->tower, px, B, b16, &e) == 0, "%s", e.msg);
    double ef = tu_relerr(b16, f32, (size_t)B * E), cf = min_cosine(b16, f32, B, E);
    fprintf(stderr, "%s bf16 (%s): features %.2e (min cosine %.6f)\n", it->name,
            coop_clip_bf16_impl(*it->bf16), ef, cf);
    ck_assert_str_ne(coop_clip_bf16_impl(*it->bf16), "");
    ck_assert_double_gt(max_abs_diff(b16, f32, (size_t)B * E), 0);
    ck_assert_double_lt(ef, tol);
    ck_assert_double_gt(cf, COS_MIN);
    it->disable(it->tower);
    ck_assert_ptr_null(*it->bf16);
    ck_assert_int_eq(it->forward(it->tower, px, B, again, &e), 0);
    ck_assert_int_eq(memcmp(again, f32, sizeof(float) * B * E), 0);
    coop_free(px), coop_free(f32), coop_free(b16), coop_free(again);
}

static int vit_fwd(void *v, const float *px, int B, float *feat, struct coop_err *e)
{
    return coop_clip_vit_forward(v, px, B, feat, NULL, e);
}
static int vit_on(void *v, struct coop_err *e) { return coop_clip_vit_bf16_enable(v, e); }
static void vit_off(void *v) { coop_clip_vit_bf16_disable(v); }
static int rn_fwd(void *r, const float *px, int B, float *feat, struct coop_err *e)
{
    return coop_clip_resnet_forward(r, px, B, feat, e);
}
static int rn_on(void *r, struct coop_err *e) { return coop_clip_resnet_bf16_enable(r, e); }
static void rn_off(void *r) { coop_clip_resnet_bf16_disable(r); }

START_TEST(vit_full_size)
{
    if (!can_run())
        return;
    struct coop_clip_vit v;
    void *mem;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_vit_alloc(&v, &mem, NULL, 224, 16, 768, 12, 12, 512, &e), 0);
    ck_assert_int_eq(coop_clip_vit_init_hash(&v, 1), 0);
    struct image_tower it = {"ViT-B/16", &v, &v.bf16, vit_fwd, vit_on, vit_off};
    check_image_tower(&it, 512, VIT_FEAT_TOL);
    coop_free(mem);
}
END_TEST

/* RN50: every convolution as a bf16 GEMM of its im2col, the attention pool's
 * projections in bf16. */
START_TEST(resnet_full_size)
{
    if (!can_run())
        return;
    const int layers[4] = {3, 4, 6, 3};
    struct coop_clip_resnet r;
    void *mem;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_resnet_alloc(&r, &mem, NULL, 224, 64, layers, 32, 1024, &e), 0);
    ck_assert_int_eq(coop_clip_resnet_init_hash(&r, 2), 0);
    struct image_tower it = {"RN50", &r, &r.bf16, rn_fwd, rn_on, rn_off};
    check_image_tower(&it, 1024, RN_FEAT_TOL);
    coop_free(mem);
}
END_TEST

/* Where bf16 cannot run: enabling refuses with the reason, the tower stays
 * float32. */
START_TEST(refusal)
{
    struct coop_err e = {{0}};
    if (coop_bf16_check(&e) == 0)
        return;
    struct coop_clip_text t;
    float *arena;
    ck_assert_int_eq(coop_clip_text_alloc(&t, 8, 16, 16, 2, 1, 8, &arena, &e), 0);
    ck_assert_int_eq(coop_clip_text_bf16_enable(&t, true, &e), COOP_E_UNSUPPORTED);
    fprintf(stderr, "refused: %s\n", e.msg);
    ck_assert_ptr_nonnull(strstr(e.msg, "precision bf16"));
    ck_assert_ptr_null(t.bf16);
    coop_clip_text_free(&t, arena);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("towers_bf16");
    TCase *tc = tcase_create("towers");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, refusal);
    tcase_add_test(tc, text_tower_forward_only);
    tcase_add_test(tc, text_tower_recompute_tape);
    tcase_add_test(tc, text_tower_weight_gradients);
    tcase_add_test(tc, text_tower_full_size);
    tcase_add_test(tc, vit_full_size);
    tcase_add_test(tc, resnet_full_size);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
