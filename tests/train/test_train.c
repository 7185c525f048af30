/* test_train.c: optimisers (SGD; AdamW vs torch.optim.AdamW numbers from
 * gen_adamw_golden.py), schedules, metrics, and the whole CoOp iteration's
 * gradient (prompt build -> text tower -> normalise -> cosine logits -> CE ->
 * back to the context) against central finite differences, for every
 * class-token position, unified and class-specific, through the real `coop`
 * prompt plugin and the test-only toy backbone. */
#include "coop/loader.h"
#include "coop/nn.h"
#include "coop/train.h"
#include "coop/util.h"
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

START_TEST(lr_schedule_matches_published_formula)
{
    struct coop_optim_config c = {200, 32, 1, 0.002, 0.9, 5e-4, 1e-5, "cosine", "constant"};
    ck_assert_double_eq(coop_lr_at_epoch(&c, 0), 1e-5);
    ck_assert_double_eq_tol(coop_lr_at_epoch(&c, 1), 0.002, 1e-15);
    for (int e = 1; e < 200; e++)
        ck_assert_double_eq_tol(coop_lr_at_epoch(&c, e),
                                0.001 * (1 + cos(M_PI * (e - 1) / 200.0)), 1e-15);
    ck_assert_double_lt(coop_lr_at_epoch(&c, 199), 1e-6);
    strcpy(c.schedule, "constant");
    ck_assert_double_eq(coop_lr_at_epoch(&c, 50), 0.002);
    strcpy(c.schedule, "linear");
    ck_assert_double_eq_tol(coop_lr_at_epoch(&c, 101), 0.002 * (1 - 100.0 / 200), 1e-15);
    strcpy(c.schedule, "constant");
    strcpy(c.warmup_type, "linear");
    c.warmup_epochs = 3;
    ck_assert_double_eq_tol(coop_lr_at_epoch(&c, 0), 0.002 / 4, 1e-15);
}
END_TEST

/* Both schedules share coop_cosine_anneal to the bit. */
START_TEST(pretrain_schedule_and_one_cosine)
{
    ck_assert_double_eq_tol(coop_cosine_lr(1.0, 0, 10, 110), 0.1, 1e-12);
    ck_assert_double_eq_tol(coop_cosine_lr(1.0, 9, 10, 110), 1.0, 1e-12);
    ck_assert_double_eq_tol(coop_cosine_lr(1.0, 10, 10, 110), 1.0, 1e-12);
    ck_assert_double_eq_tol(coop_cosine_lr(1.0, 60, 10, 110), 0.5, 1e-12);
    ck_assert_double_eq_tol(coop_cosine_lr(1.0, 110, 10, 110), 0.0, 1e-12);
    for (long s = 10; s <= 110; s++)
        ck_assert_double_eq(coop_cosine_lr(1e-3, s, 10, 110),
                            coop_cosine_anneal(1e-3, (double)(s - 10), 100.0));
    ck_assert_double_eq(coop_cosine_lr(1e-3, 150, 10, 110), coop_cosine_lr(1e-3, 110, 10, 110));
    struct coop_optim_config c = {50, 32, 1, 0.002, 0.9, 5e-4, 1e-5, "cosine", "constant"};
    for (int e = 1; e < 50; e++)
        ck_assert_double_eq(coop_lr_at_epoch(&c, e),
                            coop_cosine_anneal(0.002, (double)(e - 1), 50.0));
}
END_TEST

START_TEST(sgd_matches_pytorch_semantics)
{
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.25f}, buf[2] = {0, 0};
    coop_sgd_step(p, g, buf, 2, 0.1, 0.9, 0.01);
    /* d = g + wd p = (0.51, 0.23); buf = d; p -= lr buf */
    ck_assert_float_eq_tol(p[0], 1.0f - 0.051f, 1e-7f);
    ck_assert_float_eq_tol(p[1], -2.0f - 0.023f, 1e-7f);
    float p0 = p[0];
    coop_sgd_step(p, g, buf, 2, 0.1, 0.9, 0.01);
    float d0 = 0.5f + 0.01f * p0, b0 = 0.9f * 0.51f + d0;
    ck_assert_float_eq_tol(p[0], p0 - 0.1f * b0, 1e-7f);
}
END_TEST

START_TEST(adamw_matches_torch)
{
    /* gen_adamw_golden.py: torch.optim.AdamW(betas (0.9, 0.98), eps 1e-6, wd 0.2) */
    static const double want[3][6] = {
        {0.49890000999990003, -1.2487500049999751, 1.9986000033333222, 0.00099999750000625003,
         -0.032243748000003999, 3.4992999999999999},
        {0.49816624134662735, -1.2485756257098073, 1.9959848251798762, 0.00089433460626874765,
         -0.031500743595593329, 3.4964190971179496},
        {0.49798441820279732, -1.2485337792892746, 1.9954638041894981, 0.00085120298439877204,
         -0.031370266358335536, 3.4957915412051359},
    };
    static const float grads[3][6] = {{0.1f, -0.2f, 0.3f, -0.4f, 0.5f, 0.0f},
                                      {-0.05f, 0.25f, 0.125f, 0.4f, -1.0f, 2.0f},
                                      {0.01f, 0.02f, -0.03f, 0.04f, 0.05f, -0.06f}};
    static const float lrs[3] = {1e-3f, 2e-3f, 5e-4f};
    float p[6] = {0.5f, -1.25f, 2.0f, 0.0f, -0.03125f, 3.5f}, m[6] = {0}, v[6] = {0};
    struct coop_adamw h = {0.9f, 0.98f, 1e-6f};
    for (int t = 0; t < 3; t++) {
        coop_adamw_update(p, m, v, grads[t], 6, &h, lrs[t], 0.2f, t + 1);
        for (int i = 0; i < 6; i++)
            ck_assert_msg(fabs(p[i] - want[t][i]) < 2e-6 * (1 + fabs(want[t][i])),
                          "step %d p[%d] = %.9g, torch %.9g", t + 1, i, (double)p[i],
                          want[t][i]);
    }
}
END_TEST

START_TEST(metrics_match_sklearn)
{
    /* y_true = [0 0 1 1 2 2], y_pred = [0 1 1 1 2 0]; sklearn: accuracy 4/6,
     * f1 per class: c0 0.5, c1 0.8, c2 0.6667 -> macro 0.65556; class 3 absent */
    int y[] = {0, 0, 1, 1, 2, 2}, p[] = {0, 1, 1, 1, 2, 0};
    struct coop_metrics m;
    float pc[4];
    int32_t conf[16];
    struct coop_err e;
    ck_assert_int_eq(coop_metrics_compute(p, y, 6, 4, &m, pc, conf, &e), 0);
    ck_assert_double_eq_tol(m.accuracy, 100.0 * 4 / 6, 1e-9);
    ck_assert_double_eq_tol(m.macro_f1, 100.0 * (0.5 + 0.8 + 2.0 / 3.0) / 3, 1e-9);
    ck_assert_float_eq_tol(pc[0], 50.0f, 1e-5f);
    ck_assert_float_eq_tol(pc[1], 100.0f, 1e-5f);
    ck_assert(isnan(pc[3]));
    ck_assert_int_eq(conf[0 * 4 + 1], 1);
    ck_assert_int_eq(conf[2 * 4 + 0], 1);
    int bad[] = {5};
    ck_assert_int_eq(coop_metrics_compute(bad, y, 1, 4, &m, NULL, NULL, &e), COOP_E_INVAL);
}
END_TEST

/* ---- the iteration's gradient ----------------------------------------------- */
struct fixture {
    struct coop_registry *reg;
    struct coop_backbone_ref bb;
    const struct coop_prompt_ops *pops;
    struct coop_prompt *p;
    int K, E, n;
    float img[6 * 64];
    int labels[6];
    int poison_epoch, poison_call, calls; /* fetch: an Inf in that call of that epoch */
};

static int fetch(void *ctx, int epoch, const int *idx, int n, float *out, struct coop_err *e)
{
    struct fixture *f = ctx;
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * f->E, f->img + (size_t)idx[i] * f->E, f->E * sizeof(float));
    if (epoch == f->poison_epoch && ++f->calls == f->poison_call)
        out[1] = INFINITY;
    return 0;
}

static double loss_at(struct fixture *f)
{
    struct coop_err e;
    struct coop_backbone_info info;
    f->bb.ops->info(f->bb.bb, &info);
    float *t = coop_alloc_floats((size_t)f->K * f->E), *lg = coop_alloc_floats((size_t)f->n * f->K);
    ck_assert_int_eq(coop_prompt_text_features(f->bb, f->pops, f->p, f->K, t, &e), 0);
    coop_cosine_logits(lg, f->img, t, f->n, f->K, f->E, info.logit_scale);
    double l = coop_cross_entropy_ref(lg, f->labels, f->n, f->K);
    coop_free(t);
    coop_free(lg);
    return l;
}

/* The toy backbone, the coop prompt (4 context vectors) and 6 unit image
 * features over 3 classes. */
static void fixture_open(struct fixture *fp, const char *position, const char *csc)
{
    struct fixture f = {0};
    struct coop_err e;
    f.poison_epoch = -1;
    ck_assert_int_eq(coop_registry_create(&f.reg, &e), 0);
    ck_assert_int_eq(coop_registry_discover(f.reg, NULL, 0, &e), 0);
    const struct coop_plugin *bp = coop_registry_find(f.reg, COOP_PLUGIN_BACKBONE, "toy");
    const struct coop_plugin *pp = coop_registry_find(f.reg, COOP_PLUGIN_PROMPT, "coop");
    ck_assert_ptr_nonnull(bp);
    ck_assert_ptr_nonnull(pp);
    f.bb.ops = coop_plugin_backbone(bp, &e);
    f.pops = coop_plugin_prompt(pp, &e);
    ck_assert_int_eq(f.bb.ops->open(NULL, "toy", NULL, NULL, &f.bb.bb, &e), 0);
    struct coop_backbone_info info;
    f.bb.ops->info(f.bb.bb, &info);
    f.K = 3;
    f.E = info.embed_dim;
    f.n = 6;
    const char *names[] = {"red", "dark green", "blue"};
    struct coop_kv kv[] = {{"n_ctx", "4"}, {"position", position}, {"csc", csc},
                           {"init", ""}, {"init_std", "0.5"}};
    struct coop_params params = {kv, 5};
    struct coop_prompt_args a = {NULL, &params, f.bb, names, f.K, 7, NULL};
    ck_assert_int_eq(f.pops->create(&a, &f.p, &e), 0);
    coop_hash_uniform(f.img, (size_t)f.n * f.E, 99, -1, 1);
    coop_l2norm_forward(f.img, NULL, f.img, f.n, f.E);
    for (int i = 0; i < f.n; i++)
        f.labels[i] = i % f.K;
    *fp = f;
}

static void fixture_close(struct fixture *f)
{
    f->pops->destroy(f->p);
    f->bb.ops->close(f->bb.bb);
    coop_registry_free(f->reg);
}

static void check_gradient(const char *position, const char *csc)
{
    struct fixture f;
    struct coop_err e;
    fixture_open(&f, position, csc);
    struct coop_backbone_info info;
    f.bb.ops->info(f.bb.bb, &info);
    size_t np = f.pops->num_params(f.p);
    float *p = f.pops->param_data(f.p), *p0 = malloc(np * sizeof *p0);
    memcpy(p0, p, np * sizeof *p0);
    /* finite differences of the loss at p0 */
    double *fd = malloc(np * sizeof *fd);
    for (size_t i = 0; i < np; i++) {
        const float h = 1e-2f;
        p[i] = p0[i] + h;
        double lp = loss_at(&f);
        p[i] = p0[i] - h;
        double lm = loss_at(&f);
        p[i] = p0[i];
        fd[i] = (lp - lm) / (2.0 * h);
    }
    /* one plain SGD step through the training loop: grad = (p0 - p1) / lr */
    const double lr = 1e-3;
    struct coop_optim_config oc = {1, 32, 0, lr, 0.0, 0.0, 0.0, "constant", "none"};
    struct coop_train_args ta = {f.bb, f.pops, f.p, f.K, f.labels, f.n, f.E, info.logit_scale,
                                 oc, 1, fetch, &f, NULL, NULL, NULL};
    struct coop_train_curve c;
    double l0 = loss_at(&f);
    ck_assert_int_eq(coop_train_prompt(&ta, &c, &e), 0);
    ck_assert_double_eq_tol(c.loss[0], l0, 1e-5 * fmax(1.0, l0)); /* same loss as measured */
    double maxerr = 0, maxg = 0;
    for (size_t i = 0; i < np; i++) {
        double g = (p0[i] - p[i]) / lr;
        maxerr = fmax(maxerr, fabs(g - fd[i]));
        maxg = fmax(maxg, fabs(fd[i]));
    }
    ck_assert_double_gt(maxg, 1e-3); /* the check is not vacuous */
    ck_assert_msg(maxerr <= 2e-2 * maxg, "position %s csc %s: max |grad - fd| %g vs max |fd| %g",
                  position, csc, maxerr, maxg);
    coop_train_curve_free(&c);
    free(p0);
    free(fd);
    fixture_close(&f);
}

START_TEST(iteration_gradient_matches_finite_differences)
{
    const char *pos[] = {"end", "middle", "front"}, *csc[] = {"false", "true"};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            check_gradient(pos[i], csc[j]);
}
END_TEST

/* An Inf in a batch's features (here the second batch of the third epoch)
 * stops training there with its epoch and iteration, instead of carrying NaN
 * context to the end. */
START_TEST(non_finite_loss_stops_training)
{
    struct fixture f;
    struct coop_err e;
    fixture_open(&f, "end", "false");
    struct coop_backbone_info info;
    f.bb.ops->info(f.bb.bb, &info);
    f.poison_epoch = 2;
    f.poison_call = 2;
    struct coop_optim_config oc = {5, 2, 0, 1e-3, 0.9, 0.0, 0.0, "constant", "none"};
    struct coop_train_args ta = {f.bb, f.pops, f.p, f.K, f.labels, f.n, f.E, info.logit_scale,
                                 oc, 1, fetch, &f, NULL, NULL, NULL};
    struct coop_train_curve c;
    ck_assert_int_eq(coop_train_prompt(&ta, &c, &e), COOP_E_NUMERIC);
    ck_assert_msg(strstr(e.msg, "non-finite logit at epoch 3, iteration 2"), "%s", e.msg);
    ck_assert_ptr_null(c.loss); /* no curve is handed back */
    float *p = f.pops->param_data(f.p);
    for (size_t i = 0; i < f.pops->num_params(f.p); i++)
        ck_assert(isfinite(p[i])); /* the context was not stepped with the bad batch */
    /* the same run without the Inf trains all 5 epochs */
    f.poison_epoch = -1;
    ck_assert_int_eq(coop_train_prompt(&ta, &c, &e), 0);
    ck_assert_int_eq(c.epochs, 5);
    coop_train_curve_free(&c);
    fixture_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, lr_schedule_matches_published_formula);
    tcase_add_test(tc, pretrain_schedule_and_one_cosine);
    tcase_add_test(tc, sgd_matches_pytorch_semantics);
    tcase_add_test(tc, adamw_matches_torch);
    tcase_add_test(tc, metrics_match_sklearn);
    tcase_add_test(tc, iteration_gradient_matches_finite_differences);
    tcase_add_test(tc, non_finite_loss_stops_training);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
