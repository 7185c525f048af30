/* linear_probe.c: the linear-probe baseline of CLIP / CoOp: L2-regularised
 * multinomial logistic regression on unnormalised image features, solved by
 * L-BFGS (up to 1000 iterations), with scikit-learn's objective
 *     C * sum_i CE(W x_i + b, y_i) + 0.5 * ||W||^2   (bias not penalised).
 * C is searched on the few-shot validation sample as CoOp's lpclip does:
 * {1e6, 1e4, 1e2, 1, 1e-2, 1e-4, 1e-6}, then 8 bisection steps in log10
 * space between 0.1x and 10x the best; the classifier kept is the last
 * step's winner (trained on the training shots only). Features that make the
 * objective non-finite fail the fit instead of leaving the zero classifier. */
#include "coop/nn.h"
#include "coop/plugin.h"
#include "coop/util.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LBFGS_M 10

struct coop_baseline {
    int K, D;
    float *W; /* [K, D] */
    float *b; /* [K] */
    double C, val_acc;
    int iters;
};

static const struct coop_param_spec lp_params[] = {
    {"C", COOP_PARAM_FLOAT, "0", 0, 1e12, NULL,
     "inverse regularisation strength; 0 = search on the validation sample"},
    {"max_iter", COOP_PARAM_INT, "1000", 1, 100000, NULL, "L-BFGS iterations"},
    {"steps", COOP_PARAM_INT, "8", 0, 64, NULL, "bisection steps of the C search"},
    COOP_PARAM_END};

struct problem {
    const float *X;
    const int *y;
    int n, D, K;
    double C;
    float *logits; /* [n, K] */
};

/* f and grad over theta = [W (K*D) | b (K)], scikit-learn's scaling (>= 1.1):
 *     f = mean_i CE_i + ||W||^2 / (2 C n),
 * the same minimiser as C * sum CE + ||W||^2 / 2, with gradients O(1) so the
 * stopping tolerance means what it means in scikit-learn. */
static double objective(struct problem *p, const float *th, float *g)
{
    const int n = p->n, D = p->D, K = p->K;
    const float *W = th, *b = th + (size_t)K * D;
    const double alpha = 1.0 / (p->C * n);
    for (int i = 0; i < n; i++)
        memcpy(p->logits + (size_t)i * K, b, (size_t)K * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, K, D, 1.0f, p->X, D, W, D, 1.0f,
                p->logits, K);
    /* mean CE; dlogits = (softmax - onehot) / n in place */
    double f = coop_cross_entropy(p->logits, p->logits, p->y, n, K);
    /* dW = dlogits^T X + alpha W; db = colsum(dlogits) */
    for (size_t j = 0; j < (size_t)K * D; j++)
        g[j] = (float)alpha * W[j];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, D, n, 1.0f, p->logits, K, p->X, D,
                1.0f, g, D);
    double reg = 0;
    for (size_t j = 0; j < (size_t)K * D; j++)
        reg += (double)W[j] * W[j];
    float *gb = g + (size_t)K * D;
    memset(gb, 0, (size_t)K * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++)
            gb[k] += p->logits[(size_t)i * K + k];
    return f + 0.5 * alpha * reg;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* L-BFGS with backtracking (Armijo) line search; stops when max|g| <= 1e-4
 * (scikit-learn's default tol) or after max_iter. Returns iterations. */
static int lbfgs(struct problem *p, float *th, int max_iter, struct coop_err *e, int *rc)
{
    const size_t n = (size_t)p->K * p->D + p->K;
    float *g = coop_alloc_floats(n), *d = coop_alloc_floats(n), *x2 = coop_alloc_floats(n),
          *g2 = coop_alloc_floats(n), *S = coop_alloc_floats(n * LBFGS_M),
          *Y = coop_alloc_floats(n * LBFGS_M);
    double rho[LBFGS_M], alpha[LBFGS_M];
    int it = 0, stored = 0, head = 0;
    *rc = 0;
    if (!g || !d || !x2 || !g2 || !S || !Y) {
        *rc = coop_fail(e, COOP_E_NOMEM, "linear probe: out of memory (%zu parameters)", n);
        goto done;
    }
    double f = objective(p, th, g);
    bool finite = isfinite(f);
    for (size_t j = 0; finite && j < n; j++)
        finite = isfinite(g[j]);
    if (!finite) { /* the line search would reject every step and keep W = 0 */
        *rc = coop_fail(e, COOP_E_NUMERIC,
                        "linear probe: non-finite objective or gradient at C=%g before the "
                        "first L-BFGS iteration: the training image features hold NaN or Inf",
                        p->C);
        goto done;
    }
    for (it = 0; it < max_iter; it++) {
        float gmax = 0;
        for (size_t j = 0; j < n; j++)
            gmax = fmaxf(gmax, fabsf(g[j]));
        if (gmax <= 1e-4f)
            break;
        /* two-loop recursion: d = -H g */
        for (size_t j = 0; j < n; j++)
            d[j] = -g[j];
        for (int m = 0; m < stored; m++) {
            int idx = (head - 1 - m + LBFGS_M) % LBFGS_M;
            alpha[idx] = rho[idx] * dot(S + idx * n, d, n);
            cblas_saxpy((int)n, (float)-alpha[idx], Y + idx * n, 1, d, 1);
        }
        if (stored) {
            int last = (head - 1 + LBFGS_M) % LBFGS_M;
            double gamma = dot(S + last * n, Y + last * n, n) / dot(Y + last * n, Y + last * n, n);
            cblas_sscal((int)n, (float)gamma, d, 1);
        } else {
            cblas_sscal((int)n, (float)(1.0 / fmax(1.0, sqrt(dot(g, g, n)))), d, 1);
        }
        for (int m = stored - 1; m >= 0; m--) {
            int idx = (head - 1 - m + LBFGS_M) % LBFGS_M;
            double beta = rho[idx] * dot(Y + idx * n, d, n);
            cblas_saxpy((int)n, (float)(alpha[idx] - beta), S + idx * n, 1, d, 1);
        }
        double gd = dot(g, d, n);
        if (gd >= 0) { /* not a descent direction: restart from steepest descent */
            for (size_t j = 0; j < n; j++)
                d[j] = -g[j];
            gd = -dot(g, g, n);
            stored = 0;
        }
        double step = 1.0, f2 = 0;
        for (int ls = 0; ls < 40; ls++, step *= 0.5) {
            for (size_t j = 0; j < n; j++)
                x2[j] = th[j] + (float)step * d[j];
            f2 = objective(p, x2, g2);
            if (f2 <= f + 1e-4 * step * gd)
                break;
        }
        if (!(f2 < f)) /* no progress possible in float precision */
            break;
        float *s = S + head * n, *yv = Y + head * n;
        for (size_t j = 0; j < n; j++) {
            s[j] = x2[j] - th[j];
            yv[j] = g2[j] - g[j];
        }
        double sy = dot(s, yv, n);
        if (sy > 1e-10) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % LBFGS_M;
            if (stored < LBFGS_M)
                stored++;
        }
        memcpy(th, x2, n * sizeof(float));
        memcpy(g, g2, n * sizeof(float));
        f = f2;
    }
done:
    coop_free(g), coop_free(d), coop_free(x2), coop_free(g2), coop_free(S), coop_free(Y);
    return it;
}

static int fit_c(const struct coop_baseline_args *a, double C, int max_iter, float *th,
                 int *iters, struct coop_err *e)
{
    struct problem p = {a->train_x, a->train_y, (int)a->n_train, a->dim, a->num_classes, C,
                        coop_alloc_floats(a->n_train * (size_t)a->num_classes)};
    if (!p.logits)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    memset(th, 0, ((size_t)p.K * p.D + p.K) * sizeof(float));
    int rc;
    *iters = lbfgs(&p, th, max_iter, e, &rc);
    coop_free(p.logits);
    return rc;
}

static double accuracy(const float *th, int K, int D, const float *X, const int *y, size_t n)
{
    if (n == 0)
        return 0;
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        int best = 0;
        double bv = -INFINITY;
        for (int k = 0; k < K; k++) {
            double v = th[(size_t)K * D + k] + dot(th + (size_t)k * D, X + i * D, (size_t)D);
            if (v > bv) {
                bv = v;
                best = k;
            }
        }
        correct += best == y[i];
    }
    return 100.0 * (double)correct / (double)n;
}

/* Fits at C, scores on val; keeps the best parameters in best. */
static int try_c(const struct coop_baseline_args *a, double C, int max_iter, float *th,
                 double *acc, int *iters, struct coop_err *e)
{
    int rc = fit_c(a, C, max_iter, th, iters, e);
    if (rc == 0)
        *acc = accuracy(th, a->num_classes, a->dim, a->val_x, a->val_y, a->n_val);
    return rc;
}

static void destroy(struct coop_baseline *b)
{
    if (b) {
        coop_free(b->W);
        free(b);
    }
}

static int fit(const struct coop_baseline_args *a, struct coop_baseline **out, struct coop_err *e)
{
    const int K = a->num_classes, D = a->dim;
    const size_t np = (size_t)K * D + K;
    double C = coop_params_float(a->params, "C", 0);
    int max_iter = (int)coop_params_int(a->params, "max_iter", 1000);
    int steps = (int)coop_params_int(a->params, "steps", 8);
    if (a->n_train == 0)
        return coop_fail(e, COOP_E_INVAL, "linear probe: no training samples");
    if (C <= 0 && a->n_val == 0)
        return coop_fail(e, COOP_E_INVAL, "linear probe: searching C needs a validation sample; "
                                          "this dataset has none: set a fixed C");
    struct coop_baseline *b = calloc(1, sizeof *b);
    float *th = coop_alloc_floats(np), *tl = coop_alloc_floats(np), *tr = coop_alloc_floats(np);
    int rc = b && th && tl && tr ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    double acc = 0;
    if (rc == 0 && C > 0) {
        rc = try_c(a, C, max_iter, th, &acc, &b->iters, e);
    } else if (rc == 0) {
        static const double grid[] = {1e6, 1e4, 1e2, 1, 1e-2, 1e-4, 1e-6};
        double best = -1;
        for (int i = 0; i < 7 && rc == 0; i++) {
            rc = try_c(a, grid[i], max_iter, tl, &acc, &b->iters, e);
            if (rc == 0 && acc > best) {
                best = acc;
                C = grid[i];
            }
        }
        double cl = 0.1 * C, cr = 10.0 * C, accl = 0, accr = 0;
        int il = 0, ir = 0;
        for (int s = 0; s < steps && rc == 0; s++) {
            rc = try_c(a, cl, max_iter, tl, &accl, &il, e);
            if (rc == 0)
                rc = try_c(a, cr, max_iter, tr, &accr, &ir, e);
            if (rc)
                break;
            double lo = log10(cl), hi = log10(cr);
            if (accl < accr) { /* lpclip: ties keep the left (smaller C) */
                C = cr, acc = accr, b->iters = ir;
                memcpy(th, tr, np * sizeof(float));
                cl = pow(10, 0.5 * (lo + hi));
                cr = pow(10, hi);
            } else {
                C = cl, acc = accl, b->iters = il;
                memcpy(th, tl, np * sizeof(float));
                cr = pow(10, 0.5 * (lo + hi));
                cl = pow(10, lo);
            }
        }
        if (rc == 0 && steps == 0)
            rc = try_c(a, C, max_iter, th, &acc, &b->iters, e);
    }
    coop_free(tl);
    coop_free(tr);
    if (rc) {
        coop_free(th);
        destroy(b);
        return rc;
    }
    b->K = K;
    b->D = D;
    b->W = th;
    b->b = th + (size_t)K * D;
    b->C = C;
    b->val_acc = acc;
    *out = b;
    return 0;
}

static int logits(struct coop_baseline *b, const float *x, size_t n, float *out,
                  struct coop_err *e)
{
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * b->K, b->b, (size_t)b->K * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, b->K, b->D, 1.0f, x, b->D, b->W,
                b->D, 1.0f, out, b->K);
    return 0;
}

static int describe(const struct coop_baseline *b, char *buf, size_t len)
{
    snprintf(buf, len, "C=%.6g val_accuracy=%.2f lbfgs_iterations=%d", b->C, b->val_acc,
             b->iters);
    return 0;
}

static const struct coop_baseline_ops lp_ops = {
    .version = COOP_BASELINE_OPS_VERSION, .params = lp_params, .needs_training_data = true,
    .fit = fit, .logits = logits, .set_classes = NULL, .destroy = destroy,
    .describe = describe};

static const struct coop_plugin plugin = {
    COOP_PLUGIN_ABI, COOP_PLUGIN_BASELINE, "linear_probe", "1.0.0",
    "L2 logistic regression (L-BFGS) on image features, C searched on validation shots",
    &lp_ops};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t i)
{
    return i == 0 ? &plugin : NULL;
}
