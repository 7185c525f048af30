/* test_text.c: the CLIP text tower. The fast path (truncation at the longest
 * EOT + shared prefix) against the plain path (all positions, no sharing):
 * features and every gradient within 1e-5 relative (max |a-b| / max |b|);
 * the recompute-in-backward tape against the full tape; a reused tape
 * against a fresh one (exactly equal); finite differences
 * of the whole tower; encode_ids; argument errors. Golden PyTorch fixtures
 * are checked in test_text_golden.c. */
#include "coop/clip.h"
#include "coop/util.h"
#include "nn_testutil.h"
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

struct model {
    struct coop_clip_text t;
    float *arena;
};

static void model_init(struct model *m, int L, int V, int W, int H, int layers, int E)
{
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_alloc(&m->t, L, V, W, H, layers, E, &m->arena, &e), 0);
    coop_clip_text_init_random(&m->t, 7);
}

/* Prompts [K, L, W] whose rows [0, P) are identical; eot[k] varies. */
static float *make_prompts(const struct coop_clip_text *t, int K, int P, int *eot, uint64_t seed)
{
    int L = t->context_length, W = t->width;
    float *emb = tu_rand((size_t)K * L * W, seed, -0.05, 0.05);
    for (int k = 1; k < K; k++)
        memcpy(emb + (size_t)k * L * W, emb, sizeof(float) * P * W);
    for (int k = 0; k < K; k++)
        eot[k] = P + 1 + (k * 3) % 4;
    return emb;
}

/* Sums prompt rows [0, P) into prompt 0 (what the fast path reports). */
static void fold_prefix(float *demb, int K, int L, int W, int P)
{
    for (int k = 1; k < K; k++)
        for (size_t i = 0; i < (size_t)P * W; i++) {
            demb[i] += demb[(size_t)k * L * W + i];
            demb[(size_t)k * L * W + i] = 0.0f;
        }
}

static void compare_grads(const struct coop_clip_text *a, const struct coop_clip_text *b,
                          double tol)
{
    size_t n = coop_clip_text_size(a->context_length, a->vocab_size, a->width, a->layers,
                                   a->embed_dim);
    /* both arenas are contiguous in canonical order starting at token_embedding */
    const float *pa = a->token_embedding, *pb = b->token_embedding;
    size_t W = (size_t)a->width, off = (size_t)a->vocab_size * W;
    ck_assert_double_lt(tu_relerr(pa + off, pb + off, (size_t)a->context_length * W), tol);
    for (int l = 0; l < a->layers; l++) {
        const struct coop_clip_block *x = &a->blocks[l], *y = &b->blocks[l];
        ck_assert_double_lt(tu_relerr(x->ln_1_w, y->ln_1_w, W), tol);
        ck_assert_double_lt(tu_relerr(x->ln_1_b, y->ln_1_b, W), tol);
        ck_assert_double_lt(tu_relerr(x->in_proj_w, y->in_proj_w, 3 * W * W), tol);
        ck_assert_double_lt(tu_relerr(x->in_proj_b, y->in_proj_b, 3 * W), tol);
        ck_assert_double_lt(tu_relerr(x->out_proj_w, y->out_proj_w, W * W), tol);
        ck_assert_double_lt(tu_relerr(x->out_proj_b, y->out_proj_b, W), tol);
        ck_assert_double_lt(tu_relerr(x->ln_2_w, y->ln_2_w, W), tol);
        ck_assert_double_lt(tu_relerr(x->ln_2_b, y->ln_2_b, W), tol);
        ck_assert_double_lt(tu_relerr(x->c_fc_w, y->c_fc_w, 4 * W * W), tol);
        ck_assert_double_lt(tu_relerr(x->c_fc_b, y->c_fc_b, 4 * W), tol);
        ck_assert_double_lt(tu_relerr(x->c_proj_w, y->c_proj_w, 4 * W * W), tol);
        ck_assert_double_lt(tu_relerr(x->c_proj_b, y->c_proj_b, W), tol);
    }
    ck_assert_double_lt(tu_relerr(a->ln_final_w, b->ln_final_w, W), tol);
    ck_assert_double_lt(tu_relerr(a->ln_final_b, b->ln_final_b, W), tol);
    ck_assert_double_lt(tu_relerr(a->text_projection, b->text_projection, W * a->embed_dim),
                        tol);
    (void)n;
}

/* Runs forward + backward (fast or plain) and returns feat, demb, grads. */
static void run(const struct coop_clip_text *t, const float *emb, const int *eot, int K, int P,
                int plain, float *feat, float *demb, struct coop_clip_text *dw, const float *dfeat)
{
    struct coop_err e;
    struct coop_clip_text_tape *tape = NULL;
    int rc = plain ? coop_clip_text_forward_plain(t, emb, eot, K, feat, &tape, &e)
                   : coop_clip_text_forward(t, emb, eot, K, P, feat, &tape, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    rc = coop_clip_text_backward(t, tape, dfeat, demb, dw, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    coop_clip_text_tape_free(tape);
}

static void fast_vs_plain(int W, int H, int layers, int K, int P, size_t budget)
{
    struct model m;
    int L = 16, E = 24, eot[16];
    model_init(&m, L, 50, W, H, layers, E);
    float *emb = make_prompts(&m.t, K, P, eot, 3);
    size_t ne = (size_t)K * L * W;
    float *f1 = tu_zeros((size_t)K * E), *f2 = tu_zeros((size_t)K * E);
    float *d1 = tu_zeros(ne), *d2 = tu_zeros(ne), *dfeat = tu_rand((size_t)K * E, 5, -1, 1);
    struct coop_clip_text g1, g2;
    float *a1, *a2;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_grads_alloc(&g1, &m.t, &a1, &e), 0);
    ck_assert_int_eq(coop_clip_text_grads_alloc(&g2, &m.t, &a2, &e), 0);
    m.t.tape_budget = budget;
    run(&m.t, emb, eot, K, P, 0, f1, d1, &g1, dfeat);
    m.t.tape_budget = 0;
    run(&m.t, emb, eot, K, P, 1, f2, d2, &g2, dfeat);
    ck_assert_double_lt(tu_relerr(f1, f2, (size_t)K * E), 1e-5);
    fold_prefix(d2, K, L, W, K > 1 ? P : 0);
    ck_assert_double_lt(tu_relerr(d1, d2, ne), 1e-5);
    /* rows past each EOT get exactly nothing */
    for (int k = 0; k < K; k++)
        for (size_t i = (size_t)(eot[k] + 1) * W; i < (size_t)L * W; i++)
            ck_assert(d1[(size_t)k * L * W + i] == 0.0f);
    compare_grads(&g1, &g2, 1e-5);
    coop_clip_text_free(&g1, a1);
    coop_clip_text_free(&g2, a2);
    coop_clip_text_free(&m.t, m.arena);
    coop_free(emb), coop_free(f1), coop_free(f2), coop_free(d1), coop_free(d2);
    coop_free(dfeat);
}

START_TEST(fast_path_equals_plain)
{
    fast_vs_plain(64, 1, 2, 5, 4, COOP_CLIP_TEXT_TAPE_BUDGET); /* shared prefix, full tape */
    fast_vs_plain(64, 2, 2, 4, 0, COOP_CLIP_TEXT_TAPE_BUDGET); /* truncation only */
    fast_vs_plain(128, 2, 1, 3, 6, COOP_CLIP_TEXT_TAPE_BUDGET); /* W = 128, 2 heads */
    fast_vs_plain(64, 1, 2, 1, 4, COOP_CLIP_TEXT_TAPE_BUDGET); /* one prompt: no sharing */
}
END_TEST

START_TEST(recompute_tape_equals_full)
{
    fast_vs_plain(64, 2, 2, 5, 4, 1); /* a 1-byte budget forces the recompute tape */
    fast_vs_plain(64, 1, 3, 3, 0, 1);
}
END_TEST

/* forward_reuse: a tape taken over from an earlier forward (same sizes:
 * buffers kept; other sizes: replaced) gives exactly the fresh results, with
 * and without weight gradients; backward twice on one tape agrees. */
static void reuse_case(size_t budget)
{
    struct model m;
    int L = 16, W = 64, E = 24, K = 5, P = 4, eot[16], eot3[16];
    model_init(&m, L, 50, W, 2, 2, E);
    float *emb1 = make_prompts(&m.t, K, P, eot, 3), *emb2 = make_prompts(&m.t, K, P, eot, 11);
    float *emb3 = make_prompts(&m.t, 3, 6, eot3, 13);
    size_t ne = (size_t)K * L * W, nf = (size_t)K * E;
    float *fr = tu_zeros(nf), *f = tu_zeros(nf), *dr = tu_zeros(ne), *d = tu_zeros(ne);
    float *dfeat = tu_rand(nf, 5, -1, 1);
    struct coop_clip_text g;
    float *ga;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_grads_alloc(&g, &m.t, &ga, &e), 0);
    m.t.tape_budget = budget;
    run(&m.t, emb2, eot, K, P, 0, fr, dr, &g, dfeat); /* fresh reference, weight grads on */
    struct coop_clip_text_tape *tape = NULL;
    ck_assert_int_eq(coop_clip_text_forward_reuse(&m.t, emb1, eot, K, P, f, &tape, &e), 0);
    ck_assert_int_eq(coop_clip_text_backward(&m.t, tape, dfeat, d, NULL, &e), 0);
    memset(d, 0, ne * sizeof(float));
    ck_assert_int_eq(coop_clip_text_forward_reuse(&m.t, emb2, eot, K, P, f, &tape, &e), 0);
    ck_assert_int_eq(coop_clip_text_backward(&m.t, tape, dfeat, d, NULL, &e), 0);
    ck_assert(memcmp(f, fr, nf * sizeof(float)) == 0);
    ck_assert(memcmp(d, dr, ne * sizeof(float)) == 0); /* frozen weights: same input grads */
    memset(d, 0, ne * sizeof(float));
    ck_assert_int_eq(coop_clip_text_backward(&m.t, tape, dfeat, d, NULL, &e), 0);
    ck_assert(memcmp(d, dr, ne * sizeof(float)) == 0); /* a second backward on the tape */
    /* same group sizes, prompts of each length elsewhere: kept, rows remapped */
    int perm[16];
    for (int k = 0; k < K; k++)
        perm[k] = eot[K - 1 - k];
    memset(dr, 0, ne * sizeof(float));
    run(&m.t, emb2, perm, K, P, 0, fr, dr, NULL, dfeat);
    memset(d, 0, ne * sizeof(float));
    ck_assert_int_eq(coop_clip_text_forward_reuse(&m.t, emb2, perm, K, P, f, &tape, &e), 0);
    ck_assert_int_eq(coop_clip_text_backward(&m.t, tape, dfeat, d, NULL, &e), 0);
    ck_assert(memcmp(f, fr, nf * sizeof(float)) == 0);
    ck_assert(memcmp(d, dr, ne * sizeof(float)) == 0);
    /* other sizes (3 prompts, prefix 6): the old tape is replaced */
    float *f3 = tu_zeros(3 * (size_t)E), *f3r = tu_zeros(3 * (size_t)E);
    float *d3 = tu_zeros((size_t)3 * L * W), *d3r = tu_zeros((size_t)3 * L * W);
    run(&m.t, emb3, eot3, 3, 6, 0, f3r, d3r, NULL, dfeat);
    ck_assert_int_eq(coop_clip_text_forward_reuse(&m.t, emb3, eot3, 3, 6, f3, &tape, &e), 0);
    ck_assert_int_eq(coop_clip_text_backward(&m.t, tape, dfeat, d3, NULL, &e), 0);
    ck_assert(memcmp(f3, f3r, 3 * (size_t)E * sizeof(float)) == 0);
    ck_assert(memcmp(d3, d3r, (size_t)3 * L * W * sizeof(float)) == 0);
    /* an error consumes the old tape and leaves none */
    eot3[1] = L;
    ck_assert_int_eq(coop_clip_text_forward_reuse(&m.t, emb3, eot3, 3, 6, f3, &tape, &e),
                     COOP_E_INVAL);
    ck_assert_ptr_null(tape);
    ck_assert_int_eq(coop_clip_text_forward_reuse(&m.t, emb3, eot3, 3, 6, f3, NULL, &e),
                     COOP_E_INVAL);
    coop_clip_text_free(&g, ga);
    coop_clip_text_free(&m.t, m.arena);
    coop_free(emb1), coop_free(emb2), coop_free(emb3), coop_free(fr), coop_free(f);
    coop_free(dr), coop_free(d), coop_free(dfeat), coop_free(f3), coop_free(f3r);
    coop_free(d3), coop_free(d3r);
}

START_TEST(tape_reuse_equals_fresh)
{
    reuse_case(COOP_CLIP_TEXT_TAPE_BUDGET); /* full tape */
    reuse_case(1);                          /* recompute tape */
}
END_TEST

struct fd_ctx {
    const struct coop_clip_text *t;
    const float *emb, *r;
    const int *eot;
    float *feat;
    int K, P;
};

static double fd_loss(void *p)
{
    struct fd_ctx *c = p;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_forward(c->t, c->emb, c->eot, c->K, c->P, c->feat, NULL, &e),
                     0);
    return tu_dot(c->feat, c->r, (size_t)c->K * c->t->embed_dim);
}

START_TEST(finite_differences)
{
    struct model m;
    int L = 12, W = 32, E = 16, K = 3, P = 3, eot[3];
    model_init(&m, L, 40, W, 2, 2, E);
    float *emb = make_prompts(&m.t, K, P, eot, 9);
    size_t ne = (size_t)K * L * W;
    float *feat = tu_zeros((size_t)K * E), *demb = tu_zeros(ne);
    float *r = tu_rand((size_t)K * E, 4, -1, 1);
    struct coop_clip_text g;
    float *ga;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_grads_alloc(&g, &m.t, &ga, &e), 0);
    run(&m.t, emb, eot, K, P, 0, feat, demb, &g, r);
    struct fd_ctx c = {&m.t, emb, r, eot, feat, K, P};
    /* input: a direction that keeps rows [0, P) identical in every prompt */
    float *dir = tu_rand(ne, 77, -1, 1);
    for (int k = 1; k < K; k++)
        for (size_t i = 0; i < (size_t)P * W; i++)
            dir[(size_t)k * L * W + i] = dir[i];
    double an = tu_dot(demb, dir, ne), fd = tu_fd_dir(fd_loss, &c, (float *)emb, dir, ne, 1e-3);
    ck_assert_double_lt(fabs(an - fd) / fabs(fd), 1e-2);
    /* weights */
    struct {
        float *w, *g;
        size_t n;
    } ws[] = {{m.t.blocks[0].in_proj_w, g.blocks[0].in_proj_w, (size_t)3 * W * W},
              {m.t.blocks[1].c_fc_b, g.blocks[1].c_fc_b, (size_t)4 * W},
              {m.t.blocks[0].ln_1_w, g.blocks[0].ln_1_w, (size_t)W},
              {m.t.positional_embedding, g.positional_embedding, (size_t)L * W},
              {m.t.ln_final_b, g.ln_final_b, (size_t)W},
              {m.t.text_projection, g.text_projection, (size_t)W * E}};
    for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]); i++) {
        float *d = tu_rand(ws[i].n, 100 + i, -1, 1);
        double a = tu_dot(ws[i].g, d, ws[i].n), f = tu_fd_dir(fd_loss, &c, ws[i].w, d, ws[i].n,
                                                               1e-3);
        ck_assert_msg(fabs(a - f) <= 1e-2 * fabs(f) + 1e-4, "tensor %zu: %g vs %g", i, a, f);
        coop_free(d);
    }
    coop_clip_text_free(&g, ga);
    coop_clip_text_free(&m.t, m.arena);
    coop_free(emb), coop_free(feat), coop_free(demb), coop_free(r), coop_free(dir);
}
END_TEST

START_TEST(encode_ids_matches_forward)
{
    struct model m;
    int L = 10, W = 64, E = 8, K = 3, V = 30;
    model_init(&m, L, V, W, 1, 2, E);
    int32_t ids[3 * 10] = {28, 5, 6, 29, 0, 0, 0, 0, 0, 0,  /* "29" plays EOT */
                           28, 5, 7, 8, 29, 0, 0, 0, 0, 0,
                           28, 5, 6, 9, 10, 11, 29, 0, 0, 0};
    int eot[3] = {3, 4, 6};
    float *emb = tu_zeros((size_t)K * L * W), *f1 = tu_zeros(K * E), *f2 = tu_zeros(K * E);
    for (int i = 0; i < K * L; i++)
        memcpy(emb + (size_t)i * W, m.t.token_embedding + (size_t)ids[i] * W, sizeof(float) * W);
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_encode_ids(&m.t, ids, K, f1, &e), 0);
    ck_assert_int_eq(coop_clip_text_forward_plain(&m.t, emb, eot, K, f2, NULL, &e), 0);
    ck_assert_double_lt(tu_relerr(f1, f2, K * E), 1e-5);
    ids[5] = V; /* out of vocabulary */
    ck_assert_int_eq(coop_clip_text_encode_ids(&m.t, ids, K, f1, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "token id"));
    coop_clip_text_free(&m.t, m.arena);
    coop_free(emb), coop_free(f1), coop_free(f2);
}
END_TEST

START_TEST(argument_errors)
{
    struct model m;
    struct coop_err e;
    model_init(&m, 8, 10, 64, 1, 1, 8);
    float emb[2 * 8 * 64] = {0}, feat[16];
    int eot[2] = {3, 8};
    ck_assert_int_eq(coop_clip_text_forward(&m.t, emb, eot, 2, 0, feat, NULL, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "prompt 1"));
    eot[1] = 5;
    ck_assert_int_eq(coop_clip_text_forward(&m.t, emb, eot, 2, 9, feat, NULL, &e), COOP_E_INVAL);
    ck_assert_int_eq(coop_clip_text_forward(&m.t, emb, eot, 0, 0, feat, NULL, &e), COOP_E_INVAL);
    ck_assert_int_eq(coop_clip_text_backward(&m.t, NULL, feat, emb, NULL, &e), COOP_E_INVAL);
    struct coop_clip_text bad;
    float *ba;
    ck_assert_int_eq(coop_clip_text_alloc(&bad, 8, 10, 64, 3, 1, 8, &ba, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "heads"));
    /* no tape requested: features still come out */
    ck_assert_int_eq(coop_clip_text_forward(&m.t, emb, eot, 2, 2, feat, NULL, &e), 0);
    ck_assert(isfinite(feat[0]));
    coop_clip_text_free(&m.t, m.arena);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clip_text");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, fast_path_equals_plain);
    tcase_add_test(tc, recompute_tape_equals_full);
    tcase_add_test(tc, tape_reuse_equals_fresh);
    tcase_add_test(tc, finite_differences);
    tcase_add_test(tc, encode_ids_matches_forward);
    tcase_add_test(tc, argument_errors);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
