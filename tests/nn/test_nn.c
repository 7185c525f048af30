/* test_nn.c: every fast kernel in coop/nn.h against its naive reference on
 * random (also odd) sizes, and every backward against central finite
 * differences of the reference forward (directional derivatives). Metric:
 * max |a - b| / max |b| per tensor. */
#include "coop/nn.h"
#include "coop/util.h"
#include "nn_testutil.h"
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

#define TOL_REF 1e-5
#define TOL_FD 1e-2

static const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 65, 17}, {64, 128, 96}, {3, 200, 31}};
#define NSIZES ((int)(sizeof(sizes) / sizeof(sizes[0])))

/* ---- linear / matmul ---------------------------------------------------- */
struct lin_ctx {
    float *inp, *w, *b, *r, *out;
    int M, K, N, matmul;
};

static double lin_loss(void *p)
{
    struct lin_ctx *c = p;
    if (c->matmul)
        coop_matmul_forward_ref(c->out, c->inp, c->w, c->M, c->K, c->N);
    else
        coop_linear_forward_ref(c->out, c->inp, c->w, c->b, c->M, c->K, c->N);
    return tu_dot(c->out, c->r, (size_t)c->M * c->N);
}

START_TEST(linear_matches_ref)
{
    for (int s = 0; s < NSIZES; s++) {
        int M = sizes[s][0], K = sizes[s][1], N = sizes[s][2];
        size_t mk = (size_t)M * K, nk = (size_t)N * K, mn = (size_t)M * N;
        float *x = tu_rand(mk, 1 + s, -1, 1), *w = tu_rand(nk, 2 + s, -1, 1);
        float *b = tu_rand(N, 3 + s, -1, 1), *y = tu_zeros(mn), *yr = tu_zeros(mn);
        for (int withb = 0; withb < 2; withb++) {
            coop_linear_forward(y, x, w, withb ? b : NULL, M, K, N);
            coop_linear_forward_ref(yr, x, w, withb ? b : NULL, M, K, N);
            ck_assert_double_lt(tu_relerr(y, yr, mn), TOL_REF);
        }
        float *dy = tu_rand(mn, 4 + s, -1, 1);
        float *dx = tu_rand(mk, 5, -1, 1), *dxr = tu_zeros(mk), *dw = tu_zeros(nk),
              *dwr = tu_zeros(nk), *db = tu_zeros(N), *dbr = tu_zeros(N);
        for (size_t i = 0; i < mk; i++)
            dxr[i] = dx[i]; /* checks accumulation (+=) too */
        coop_linear_backward(dx, dw, db, dy, x, w, M, K, N);
        coop_linear_backward_ref(dxr, dwr, dbr, dy, x, w, M, K, N);
        ck_assert_double_lt(tu_relerr(dx, dxr, mk), TOL_REF);
        ck_assert_double_lt(tu_relerr(dw, dwr, nk), TOL_REF);
        ck_assert_double_lt(tu_relerr(db, dbr, N), TOL_REF);
        coop_free(x), coop_free(w), coop_free(b), coop_free(y), coop_free(yr), coop_free(dy);
        coop_free(dx), coop_free(dxr), coop_free(dw), coop_free(dwr), coop_free(db);
        coop_free(dbr);
    }
}
END_TEST

START_TEST(linear_backward_fd)
{
    int M = 5, K = 9, N = 7;
    struct lin_ctx c = {tu_rand(M * K, 1, -1, 1), tu_rand(N * K, 2, -1, 1), tu_rand(N, 3, -1, 1),
                        tu_rand(M * N, 4, -1, 1), tu_zeros(M * N), M, K, N, 0};
    float *dx = tu_zeros(M * K), *dw = tu_zeros(N * K), *db = tu_zeros(N);
    coop_linear_backward(dx, dw, db, c.r, c.inp, c.w, M, K, N);
    ck_assert_double_lt(tu_fd_check(lin_loss, &c, c.inp, dx, M * K, 11), TOL_FD);
    ck_assert_double_lt(tu_fd_check(lin_loss, &c, c.w, dw, N * K, 12), TOL_FD);
    ck_assert_double_lt(tu_fd_check(lin_loss, &c, c.b, db, N, 13), TOL_FD);
    /* a wrong gradient must be caught by the same check */
    dw[3] += 0.5f;
    ck_assert_double_gt(tu_fd_check(lin_loss, &c, c.w, dw, N * K, 12), TOL_FD);
    coop_free(c.inp), coop_free(c.w), coop_free(c.b), coop_free(c.r), coop_free(c.out);
    coop_free(dx), coop_free(dw), coop_free(db);
}
END_TEST

START_TEST(matmul_matches_ref_and_fd)
{
    for (int s = 0; s < NSIZES; s++) {
        int M = sizes[s][0], K = sizes[s][1], N = sizes[s][2];
        size_t mk = (size_t)M * K, kn = (size_t)K * N, mn = (size_t)M * N;
        float *a = tu_rand(mk, 1 + s, -1, 1), *b = tu_rand(kn, 2 + s, -1, 1);
        float *y = tu_zeros(mn), *yr = tu_zeros(mn), *dy = tu_rand(mn, 3 + s, -1, 1);
        coop_matmul_forward(y, a, b, M, K, N);
        coop_matmul_forward_ref(yr, a, b, M, K, N);
        ck_assert_double_lt(tu_relerr(y, yr, mn), TOL_REF);
        float *da = tu_zeros(mk), *dar = tu_zeros(mk), *db = tu_zeros(kn), *dbr = tu_zeros(kn);
        coop_matmul_backward(da, db, dy, a, b, M, K, N);
        coop_matmul_backward_ref(dar, dbr, dy, a, b, M, K, N);
        ck_assert_double_lt(tu_relerr(da, dar, mk), TOL_REF);
        ck_assert_double_lt(tu_relerr(db, dbr, kn), TOL_REF);
        if (mk * N < 20000) {
            struct lin_ctx c = {a, b, NULL, dy, yr, M, K, N, 1};
            ck_assert_double_lt(tu_fd_check(lin_loss, &c, a, da, mk, 21), TOL_FD);
            ck_assert_double_lt(tu_fd_check(lin_loss, &c, b, db, kn, 22), TOL_FD);
        }
        coop_free(a), coop_free(b), coop_free(y), coop_free(yr), coop_free(dy), coop_free(da);
        coop_free(dar), coop_free(db), coop_free(dbr);
    }
}
END_TEST

/* ---- layernorm ---------------------------------------------------------- */
struct ln_ctx {
    float *x, *w, *b, *r, *out;
    int M, C;
};

static double ln_loss(void *p)
{
    struct ln_ctx *c = p;
    coop_layernorm_forward_ref(c->out, NULL, NULL, c->x, c->w, c->b, c->M, c->C, 1e-5f);
    return tu_dot(c->out, c->r, (size_t)c->M * c->C);
}

START_TEST(layernorm_matches_ref_and_fd)
{
    static const int ls[][2] = {{1, 1}, {1, 7}, {9, 33}, {77, 512}, {130, 64}};
    for (int s = 0; s < 5; s++) {
        int M = ls[s][0], C = ls[s][1];
        size_t n = (size_t)M * C;
        float *x = tu_rand(n, 1 + s, -2, 3), *w = tu_rand(C, 2 + s, 0.5, 1.5);
        float *b = tu_rand(C, 3 + s, -1, 1), *y = tu_zeros(n), *yr = tu_zeros(n);
        float *m = tu_zeros(M), *rs = tu_zeros(M), *mr = tu_zeros(M), *rsr = tu_zeros(M);
        coop_layernorm_forward(y, m, rs, x, w, b, M, C, 1e-5f);
        coop_layernorm_forward_ref(yr, mr, rsr, x, w, b, M, C, 1e-5f);
        ck_assert_double_lt(tu_relerr(y, yr, n), TOL_REF);
        ck_assert_double_lt(tu_relerr(m, mr, M), TOL_REF);
        ck_assert_double_lt(tu_relerr(rs, rsr, M), TOL_REF);
        float *dy = tu_rand(n, 4 + s, -1, 1), *dx = tu_zeros(n), *dxr = tu_zeros(n);
        float *dw = tu_zeros(C), *dwr = tu_zeros(C), *db = tu_zeros(C), *dbr = tu_zeros(C);
        coop_layernorm_backward(dx, dw, db, dy, x, w, m, rs, M, C);
        coop_layernorm_backward_ref(dxr, dwr, dbr, dy, x, w, mr, rsr, M, C);
        if (C > 1) /* C == 1: dx is exactly 0 up to rounding */
            ck_assert_double_lt(tu_relerr(dx, dxr, n), 1e-4);
        float *dxf = tu_zeros(n);
        coop_layernorm_backward_input_fast(dxf, dy, x, w, m, rs, M, C);
        if (C > 1)
            ck_assert_double_lt(tu_relerr(dxf, dx, n), 1e-5);
        coop_free(dxf);
        ck_assert_double_lt(tu_relerr(dw, dwr, C), TOL_REF);
        ck_assert_double_lt(tu_relerr(db, dbr, C), TOL_REF);
        if (n < 2000 && C > 1) {
            struct ln_ctx c = {x, w, b, dy, yr, M, C};
            ck_assert_double_lt(tu_fd_check(ln_loss, &c, x, dx, n, 31), TOL_FD);
            ck_assert_double_lt(tu_fd_check(ln_loss, &c, w, dw, C, 32), TOL_FD);
            ck_assert_double_lt(tu_fd_check(ln_loss, &c, b, db, C, 33), TOL_FD);
        }
        coop_free(x), coop_free(w), coop_free(b), coop_free(y), coop_free(yr), coop_free(m);
        coop_free(rs), coop_free(mr), coop_free(rsr), coop_free(dy), coop_free(dx);
        coop_free(dxr), coop_free(dw), coop_free(dwr), coop_free(db), coop_free(dbr);
    }
}
END_TEST

/* ---- quick_gelu, l2norm, cross-entropy ---------------------------------- */
struct ew_ctx {
    float *x, *r, *out;
    int M, C, kind; /* 0 gelu, 1 l2norm */
};

static double ew_loss(void *p)
{
    struct ew_ctx *c = p;
    if (c->kind == 0)
        coop_quick_gelu_forward_ref(c->out, c->x, (size_t)c->M * c->C);
    else
        coop_l2norm_forward_ref(c->out, NULL, c->x, c->M, c->C);
    return tu_dot(c->out, c->r, (size_t)c->M * c->C);
}

START_TEST(quick_gelu_and_l2norm)
{
    int M = 13, C = 37;
    size_t n = (size_t)M * C;
    float *x = tu_rand(n, 1, -4, 4), *y = tu_zeros(n), *yr = tu_zeros(n);
    float *r = tu_rand(n, 2, -1, 1), *dx = tu_zeros(n), *nrm = tu_zeros(M);
    coop_quick_gelu_forward(y, x, n);
    coop_quick_gelu_forward_ref(yr, x, n);
    ck_assert_double_lt(tu_relerr(y, yr, n), TOL_REF);
    ck_assert_float_eq_tol(yr[0], (float)(x[0] / (1.0 + exp(-1.702 * x[0]))), 1e-6);
    coop_quick_gelu_backward(dx, r, x, n);
    struct ew_ctx c = {x, r, yr, M, C, 0};
    ck_assert_double_lt(tu_fd_check(ew_loss, &c, x, dx, n, 41), TOL_FD);

    coop_l2norm_forward(y, nrm, x, M, C);
    coop_l2norm_forward_ref(yr, NULL, x, M, C);
    ck_assert_double_lt(tu_relerr(y, yr, n), TOL_REF);
    for (size_t i = 0; i < n; i++)
        dx[i] = 0.0f;
    coop_l2norm_backward(dx, r, y, nrm, M, C);
    c.kind = 1;
    ck_assert_double_lt(tu_fd_check(ew_loss, &c, x, dx, n, 42), TOL_FD);
    coop_free(x), coop_free(y), coop_free(yr), coop_free(r), coop_free(dx), coop_free(nrm);
}
END_TEST

/* The vectorised-exp QuickGELU against the exact one, element by element,
 * over the whole range (large |x| included: the clamp) and past 2^20
 * elements (the OpenMP branch); relative error, absolute below |y| = 1e-6. */
START_TEST(quick_gelu_fast_matches)
{
    size_t n = ((size_t)1 << 20) + 77;
    float *x = tu_rand(n, 3, -30, 30), *r = tu_rand(n, 4, -1, 1);
    float *y = tu_zeros(n), *yf = tu_zeros(n), *dx = tu_zeros(n), *dxf = tu_zeros(n);
    const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 60.0f, -60.0f, 100.0f, -100.0f};
    memcpy(x, special, sizeof special);
    coop_quick_gelu_forward(y, x, n);
    coop_quick_gelu_forward_fast(yf, x, n);
    coop_quick_gelu_backward(dx, r, x, n);
    coop_quick_gelu_backward_fast(dxf, r, x, n);
    double worst = 0, worstd = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)yf[i] - y[i]) / fmax(fabs((double)y[i]), 1e-6));
        worstd = fmax(worstd, fabs((double)dxf[i] - dx[i]) / fmax(fabs((double)r[i]), 1e-30));
    }
    ck_assert_msg(worst < 1e-6, "forward: worst relative error %g", worst);
    ck_assert_msg(worstd < 1e-6, "backward: worst error %g of |dout|", worstd);
    coop_free(x), coop_free(r), coop_free(y), coop_free(yf), coop_free(dx), coop_free(dxf);
}
END_TEST

struct ce_ctx {
    float *logits;
    int *y, M, N;
};

static double ce_loss(void *p)
{
    struct ce_ctx *c = p;
    return coop_cross_entropy_ref(c->logits, c->y, c->M, c->N);
}

START_TEST(cross_entropy_value_and_fd)
{
    int M = 11, N = 37, y[11];
    for (int i = 0; i < M; i++)
        y[i] = (i * 7) % N;
    float *l = tu_rand((size_t)M * N, 5, -5, 5), *dl = tu_zeros((size_t)M * N);
    float loss = coop_cross_entropy(dl, l, y, M, N);
    double ref = coop_cross_entropy_ref(l, y, M, N);
    ck_assert_double_lt(fabs(loss - ref) / ref, TOL_REF);
    ck_assert_float_eq(coop_cross_entropy(NULL, l, y, M, N), loss);
    struct ce_ctx c = {l, y, M, N};
    ck_assert_double_lt(tu_fd_check(ce_loss, &c, l, dl, (size_t)M * N, 51), TOL_FD);
    /* uniform logits: loss = log N exactly */
    for (int i = 0; i < M * N; i++)
        l[i] = 100.0f;
    ck_assert_double_lt(fabs(coop_cross_entropy(NULL, l, y, M, N) - log(N)), 1e-5);
    coop_free(l), coop_free(dl);
}
END_TEST

/* ---- cosine logits ------------------------------------------------------ */
struct cos_ctx {
    float *x, *t, *r, *out;
    int N, K, E;
    float scale;
};

static double cos_loss(void *p)
{
    struct cos_ctx *c = p;
    coop_cosine_logits_ref(c->out, c->x, c->t, c->N, c->K, c->E, c->scale);
    return tu_dot(c->out, c->r, (size_t)c->N * c->K);
}

START_TEST(cosine_logits_match_ref_and_fd)
{
    for (int s = 0; s < NSIZES; s++) {
        int N = sizes[s][0], E = sizes[s][1], K = sizes[s][2];
        size_t ne = (size_t)N * E, ke = (size_t)K * E, nk = (size_t)N * K;
        float *x = tu_rand(ne, 61 + s, -1, 1), *t = tu_rand(ke, 71 + s, -1, 1);
        float *r = tu_rand(nk, 81 + s, -1, 1), *y = tu_zeros(nk), *yr = tu_zeros(nk);
        float *dx = tu_zeros(ne), *dt = tu_zeros(ke);
        coop_l2norm_forward(x, NULL, x, N, E);
        coop_l2norm_forward(t, NULL, t, K, E);
        coop_cosine_logits(y, x, t, N, K, E, 7.5f);
        coop_cosine_logits_ref(yr, x, t, N, K, E, 7.5f);
        ck_assert_double_lt(tu_relerr(y, yr, nk), TOL_REF);
        /* accumulates: a second call adds the same again */
        coop_cosine_logits_backward(dx, dt, r, x, t, N, K, E, 7.5f);
        coop_cosine_logits_backward(dx, NULL, r, x, t, N, K, E, 7.5f);
        for (size_t i = 0; i < ne; i++)
            dx[i] *= 0.5f;
        struct cos_ctx c = {x, t, r, yr, N, K, E, 7.5f};
        ck_assert_double_lt(tu_fd_check(cos_loss, &c, x, dx, ne, 91 + s), TOL_FD);
        ck_assert_double_lt(tu_fd_check(cos_loss, &c, t, dt, ke, 101 + s), TOL_FD);
        coop_free(x), coop_free(t), coop_free(r), coop_free(y), coop_free(yr);
        coop_free(dx), coop_free(dt);
    }
}
END_TEST

/* ---- InfoNCE ------------------------------------------------------------ */
START_TEST(infonce_matches_reference_and_fd)
{
    enum { B = 5, E = 4 };
    float img[B * E], txt[B * E], dimg[B * E], dtxt[B * E], ds;
    coop_hash_uniform(img, B * E, 11, -1, 1);
    coop_hash_uniform(txt, B * E, 12, -1, 1);
    float ls = 1.3f;
    double loss = coop_infonce(dimg, dtxt, &ds, img, txt, ls, B, E);
    double ref = coop_infonce_ref(img, txt, ls, B, E);
    ck_assert_double_eq_tol(loss, ref, 1e-5);
    const double h = 1e-3;
    for (int which = 0; which < 2; which++) {
        float *x = which ? txt : img, *g = which ? dtxt : dimg;
        for (int i = 0; i < B * E; i++) {
            float keep = x[i];
            x[i] = keep + (float)h;
            double lp = coop_infonce_ref(img, txt, ls, B, E);
            x[i] = keep - (float)h;
            double lm = coop_infonce_ref(img, txt, ls, B, E);
            x[i] = keep;
            double fd = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(fd - g[i]) < 1e-3 + 1e-2 * fabs(fd), "%s[%d]: fd %g vs %g",
                          which ? "txt" : "img", i, fd, (double)g[i]);
        }
    }
    double fd = (coop_infonce_ref(img, txt, ls + (float)h, B, E) -
                 coop_infonce_ref(img, txt, ls - (float)h, B, E)) / (2 * h);
    ck_assert_msg(fabs(fd - ds) < 1e-3 + 1e-2 * fabs(fd), "logit_scale: fd %g vs %g", fd,
                  (double)ds);
    /* perfectly aligned, well separated pairs: loss near 0 at a large scale */
    float eye[B * B] = {0};
    for (int i = 0; i < B; i++)
        eye[i * B + i] = 1;
    ck_assert(coop_infonce(NULL, NULL, NULL, eye, eye, logf(100), B, B) < 1e-10 + 5 * expf(-100));
    /* all features equal: loss = log B in both directions */
    float same[B * E];
    for (int i = 0; i < B * E; i++)
        same[i] = 0.5f;
    ck_assert_double_eq_tol(coop_infonce(NULL, NULL, NULL, same, same, 2.0f, B, E), log(B), 1e-6);
}
END_TEST

/* ---- attention ---------------------------------------------------------- */
struct att_ctx {
    float *qkv, *r, *out;
    int B, T, C, H, causal;
};

static double att_loss(void *p)
{
    struct att_ctx *c = p;
    coop_attention_forward_ref(c->out, NULL, c->qkv, c->B, c->T, c->C, c->H, c->causal);
    return tu_dot(c->out, c->r, (size_t)c->B * c->T * c->C);
}

START_TEST(attention_matches_ref_and_fd)
{
    /* the last case is large enough to take the OpenMP path */
    static const int as[][4] = {{1, 1, 4, 1}, {2, 5, 8, 2}, {3, 17, 24, 3}, {2, 77, 128, 2},
                                {4, 77, 256, 4}};
    int n_cases = getenv("COOP_VALGRIND") ? 4 : 5; /* the OpenMP-sized case is slow there */
    for (int s = 0; s < n_cases; s++)
        for (int causal = 0; causal < 2; causal++) {
            int B = as[s][0], T = as[s][1], C = as[s][2], H = as[s][3];
            size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C;
            size_t na = (size_t)B * H * T * T;
            float *qkv = tu_rand(nq, 1 + s, -1.5, 1.5), *y = tu_zeros(no), *yr = tu_zeros(no);
            float *a = tu_zeros(na), *ar = tu_zeros(na), *y2 = tu_zeros(no);
            coop_attention_forward(y, a, qkv, B, T, C, H, causal);
            coop_attention_forward_ref(yr, ar, qkv, B, T, C, H, causal);
            coop_attention_forward(y2, NULL, qkv, B, T, C, H, causal);
            ck_assert_double_lt(tu_relerr(y, yr, no), TOL_REF);
            ck_assert_double_lt(tu_relerr(y2, yr, no), TOL_REF);
            ck_assert_double_lt(tu_relerr(a, ar, na), TOL_REF);
            /* the bf16 towers' vectorised softmax: close, not identical */
            float *yf = tu_zeros(no), *af = tu_zeros(na), *yf2 = tu_zeros(no);
            coop_attention_forward_fast(yf, af, qkv, B, T, C, H, causal);
            coop_attention_forward_fast(yf2, NULL, qkv, B, T, C, H, causal);
            ck_assert_double_lt(tu_relerr(yf, yr, no), 1e-5);
            ck_assert_double_lt(tu_relerr(yf2, yr, no), 1e-5);
            ck_assert_double_lt(tu_relerr(af, ar, na), 1e-5);
            for (size_t i = 0; causal && i < na; i++) /* masked entries are exact zeros */
                if (ar[i] == 0.0f)
                    ck_assert_float_eq(af[i], 0.0f);
            coop_free(yf), coop_free(af), coop_free(yf2);
            if (T <= 17) {
                float *r = tu_rand(no, 9 + s, -1, 1), *dq = tu_zeros(nq);
                coop_attention_backward(dq, r, qkv, a, B, T, C, H, causal);
                struct att_ctx c = {qkv, r, yr, B, T, C, H, causal};
                ck_assert_double_lt(tu_fd_check(att_loss, &c, qkv, dq, nq, 61 + s), TOL_FD);
                coop_free(r), coop_free(dq);
            }
            coop_free(qkv), coop_free(y), coop_free(yr), coop_free(a), coop_free(ar);
            coop_free(y2);
        }
}
END_TEST

/* Prefix attention equals full causal attention on [prefix ; suffix_b]. */
static void concat(float *full, const float *pqkv, const float *qkv, int B, int S, int P, int C)
{
    size_t row = (size_t)3 * C;
    for (int b = 0; b < B; b++) {
        float *f = full + (size_t)b * (P + S) * row;
        for (size_t i = 0; i < P * row; i++)
            f[i] = pqkv[i];
        for (size_t i = 0; i < S * row; i++)
            f[P * row + i] = qkv[(size_t)b * S * row + i];
    }
}

START_TEST(attention_prefix_matches_full)
{
    /* the last case is large enough to take the OpenMP path */
    static const int ps[][5] = {{3, 4, 5, 16, 2}, {1, 1, 1, 8, 1}, {4, 3, 0, 8, 2},
                                {5, 6, 17, 128, 2}, {2, 7, 2, 24, 3}, {600, 6, 17, 256, 4}};
    int n_cases = getenv("COOP_VALGRIND") ? 5 : 6;
    for (int s = 0; s < n_cases; s++) {
        int B = ps[s][0], S = ps[s][1], P = ps[s][2], C = ps[s][3], H = ps[s][4], T = P + S;
        size_t nq = (size_t)B * S * 3 * C, np = (size_t)P * 3 * C, nf = (size_t)B * T * 3 * C;
        float *qkv = tu_rand(nq, 1 + s, -1.5, 1.5), *pqkv = tu_rand(np, 2 + s, -1.5, 1.5);
        float *full = tu_zeros(nf), *yf = tu_zeros((size_t)B * T * C);
        float *af = tu_zeros((size_t)B * H * T * T), *y = tu_zeros((size_t)B * S * C);
        float *a = tu_zeros((size_t)H * B * S * T);
        concat(full, pqkv, qkv, B, S, P, C);
        coop_attention_forward_ref(yf, af, full, B, T, C, H, 1);
        coop_attention_prefix_forward(y, a, qkv, pqkv, B, S, P, C, H);
        for (int b = 0; b < B; b++)
            ck_assert_double_lt(tu_relerr(y + (size_t)b * S * C, yf + ((size_t)b * T + P) * C,
                                          (size_t)S * C), TOL_REF);
        /* backward: gradient only on suffix rows of the output */
        float *dyf = tu_zeros((size_t)B * T * C), *dy = tu_rand((size_t)B * S * C, 7, -1, 1);
        for (int b = 0; b < B; b++)
            for (size_t i = 0; i < (size_t)S * C; i++)
                dyf[((size_t)b * T + P) * C + i] = dy[(size_t)b * S * C + i];
        float *dfull = tu_zeros(nf), *dq = tu_zeros(nq), *dp = tu_zeros(np);
        float *scr = tu_zeros((size_t)H * B * S * T);
        coop_attention_backward(dfull, dyf, full, af, B, T, C, H, 1);
        coop_attention_prefix_backward(dq, dp, scr, dy, qkv, pqkv, a, B, S, P, C, H);
        float *dqf = tu_zeros(nq), *dpf = tu_zeros(np);
        size_t row = (size_t)3 * C;
        for (int b = 0; b < B; b++) {
            for (size_t i = 0; i < S * row; i++)
                dqf[(size_t)b * S * row + i] = dfull[((size_t)b * T + P) * row + i];
            for (size_t i = 0; i < P * row; i++)
                dpf[i] += dfull[(size_t)b * T * row + i];
        }
        ck_assert_double_lt(tu_relerr(dq, dqf, nq), 1e-5);
        if (P > 0)
            ck_assert_double_lt(tu_relerr(dp, dpf, np), 1e-5);
        coop_free(qkv), coop_free(pqkv), coop_free(full), coop_free(yf), coop_free(af);
        coop_free(y), coop_free(a), coop_free(dyf), coop_free(dy), coop_free(dfull);
        coop_free(dq), coop_free(dp), coop_free(scr), coop_free(dqf), coop_free(dpf);
    }
}
END_TEST

/* One query row against the packed keys/values (ld = 3C) equals that row of
 * the full non-causal attention. */
START_TEST(attention_one_matches_full_attention_row)
{
    static const int as[][3] = {{1, 4, 1}, {5, 8, 2}, {17, 24, 3}, {50, 128, 4}};
    for (int s = 0; s < 4; s++) {
        int T = as[s][0], C = as[s][1], H = as[s][2];
        size_t nq = (size_t)T * 3 * C, no = (size_t)T * C;
        float *qkv = tu_rand(nq, 71 + s, -1.5, 1.5), *yr = tu_zeros(no);
        float *y = tu_zeros((size_t)C), *sc = tu_zeros((size_t)T);
        coop_attention_forward_ref(yr, NULL, qkv, 1, T, C, H, 0);
        for (int i = 0; i < T; i += T > 4 ? T / 4 : 1) {
            const float *row = qkv + (size_t)i * 3 * C;
            coop_attention_one_forward(y, row, qkv + C, qkv + 2 * C, 3 * C, T, C, H, sc);
            ck_assert_double_lt(tu_relerr(y, yr + (size_t)i * C, (size_t)C), TOL_REF);
        }
        coop_free(qkv), coop_free(yr), coop_free(y), coop_free(sc);
    }
}
END_TEST

/* ---- conv2d ------------------------------------------------------------ */
START_TEST(conv2d_matches_reference)
{
    static const int cfg[][7] = { /* Ci H W Co k stride pad */
        {3, 17, 13, 5, 3, 2, 1}, {4, 9, 9, 6, 1, 1, 0}, {2, 8, 10, 3, 3, 1, 1},
        {3, 12, 12, 4, 4, 4, 0}, {5, 7, 7, 2, 7, 1, 3}, {3, 11, 11, 8, 1, 2, 0}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        int Ci = cfg[c][0], H = cfg[c][1], W = cfg[c][2], Co = cfg[c][3], k = cfg[c][4];
        int s = cfg[c][5], p = cfg[c][6];
        int Ho = coop_conv2d_out(H, k, s, p), Wo = coop_conv2d_out(W, k, s, p);
        size_t nin = (size_t)Ci * H * W, nw = (size_t)Co * Ci * k * k, nout = (size_t)Co * Ho * Wo;
        float *in = coop_alloc_floats(nin), *w = coop_alloc_floats(nw);
        float *bias = coop_alloc_floats(Co);
        float *o1 = coop_alloc_floats(nout), *o2 = coop_alloc_floats(nout);
        coop_hash_uniform(in, nin, 100 + c, -1, 1);
        coop_hash_uniform(w, nw, 200 + c, -1, 1);
        coop_hash_uniform(bias, Co, 300 + c, -1, 1);
        for (int b = 0; b < 2; b++) {
            coop_conv2d_forward(o1, in, w, b ? bias : NULL, Ci, H, W, Co, k, k, s, p);
            coop_conv2d_forward_ref(o2, in, w, b ? bias : NULL, Ci, H, W, Co, k, k, s, p);
            double d = tu_relerr(o1, o2, nout);
            ck_assert_msg(d < TOL_REF, "conv cfg %zu bias %d: diff %g", c, b, d);
        }
        /* one output pinned by hand: top-left, padding zeroes the outside */
        double s0 = bias[0]; /* o2 holds the biased run */
        for (int ci = 0; ci < Ci; ci++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    int iy = ky - p, ix = kx - p;
                    if (iy >= 0 && ix >= 0 && iy < H && ix < W)
                        s0 += (double)w[((size_t)ci * k + ky) * k + kx] *
                              in[((size_t)ci * H + iy) * W + ix];
                }
        ck_assert_double_lt(fabs(s0 - o2[0]), 1e-5);
        coop_free(in), coop_free(w), coop_free(bias), coop_free(o1), coop_free(o2);
    }
}
END_TEST

/* channel-major batches [C, nb, H, W]: one sgemm for nb images */
START_TEST(conv2d_batched_layout)
{
    enum { Ci = 3, NB = 3, H = 9, W = 7, Co = 4, K = 3, S = 2, P = 1 };
    int Ho = coop_conv2d_out(H, K, S, P), Wo = coop_conv2d_out(W, K, S, P);
    size_t nin = (size_t)Ci * NB * H * W, nout = (size_t)Co * NB * Ho * Wo;
    float in[Ci * NB * H * W], w[Co * Ci * K * K], out[Co * NB * 5 * 4], one[Co * 5 * 4];
    float img[Ci * H * W];
    float *work = coop_alloc_floats(NB * coop_conv2d_work(Ci, H, W, K, K, S, P));
    ck_assert_int_eq(Ho * Wo, 20);
    coop_hash_uniform(in, nin, 41, -1, 1);
    coop_hash_uniform(w, sizeof w / sizeof w[0], 42, -1, 1);
    coop_conv2d_forward_batch(out, in, w, NULL, Ci, NB, H, W, Co, K, K, S, P, work);
    for (int b = 0; b < NB; b++) {
        for (int c = 0; c < Ci; c++)
            memcpy(img + c * H * W, in + ((size_t)c * NB + b) * H * W, sizeof(float) * H * W);
        coop_conv2d_forward_ref(one, img, w, NULL, Ci, H, W, Co, K, K, S, P);
        for (int o = 0; o < Co; o++)
            for (int i = 0; i < Ho * Wo; i++)
                ck_assert_float_eq_tol(out[((size_t)o * NB + b) * Ho * Wo + i],
                                       one[o * Ho * Wo + i], 1e-5);
    }
    (void)nout;
    coop_free(work);
}
END_TEST

START_TEST(sgemm_peak_positive)
{
    double g = coop_sgemm_peak_gflops(128);
    ck_assert(g > 0.0 && isfinite(g));
    ck_assert(coop_sgemm_peak_gflops(0) == 0.0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, linear_matches_ref);
    tcase_add_test(tc, quick_gelu_fast_matches);
    tcase_add_test(tc, linear_backward_fd);
    tcase_add_test(tc, matmul_matches_ref_and_fd);
    tcase_add_test(tc, layernorm_matches_ref_and_fd);
    tcase_add_test(tc, quick_gelu_and_l2norm);
    tcase_add_test(tc, cross_entropy_value_and_fd);
    tcase_add_test(tc, cosine_logits_match_ref_and_fd);
    tcase_add_test(tc, infonce_matches_reference_and_fd);
    tcase_add_test(tc, attention_matches_ref_and_fd);
    tcase_add_test(tc, attention_prefix_matches_full);
    tcase_add_test(tc, attention_one_matches_full_attention_row);
    tcase_add_test(tc, conv2d_matches_reference);
    tcase_add_test(tc, conv2d_batched_layout);
    tcase_add_test(tc, sgemm_peak_positive);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
