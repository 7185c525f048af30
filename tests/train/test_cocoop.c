/* test_cocoop.c: the image-conditioned and loss-term prompt variants through
 * the real plugins (cocoop, kgcoop), the training loop and a tiny random CLIP
 * text tower behind a test backbone whose tokenizer reads numbers (word "n"
 * is token n, "." is DOT):
 * - CoCoOp's logits, loss and gradient (context and meta-net) against the
 *   official code in PyTorch (tests/fixtures/gen_cocoop.py ->
 *   tests/fixtures/text/cocoop_golden.h5);
 * - CoCoOp's and KgCoOp's training-step gradient against central finite
 *   differences of the loss, and KgCoOp's loss against its definition with
 *   the hand-crafted features computed here. */
#include "coop/clip.h"
#include "coop/loader.h"
#include "coop/nn.h"
#include "coop/train.h"
#include "coop/util.h"
#include "results/h5_internal.h"
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

/* keep in sync with tests/fixtures/gen_cocoop.py */
enum { L = 16, V = 64, W = 32, HEADS = 2, LAYERS = 2, E = 32, SEED = 5, B = 2, K = 3 };
enum { SOS = V - 2, EOT = V - 1, DOT = V - 3 };
#define SCALE 10.0f
#define META_SEED 77
#define META_A 0.3
#define IMG_SEED 78

/* ---- the number backbone --------------------------------------------------- */
struct coop_backbone {
    struct coop_clip_text t;
    float *arena;
};
struct coop_tape {
    struct coop_clip_text_tape *t;
};

static int nb_open(const struct coop_host *h, const char *ck, const char *vocab,
                   const struct coop_params *o, struct coop_backbone **out, struct coop_err *e)
{
    (void)h, (void)ck, (void)vocab, (void)o;
    struct coop_backbone *b = calloc(1, sizeof *b);
    int rc = b ? coop_clip_text_alloc(&b->t, L, V, W, HEADS, LAYERS, E, &b->arena, e)
               : COOP_E_NOMEM;
    if (rc) {
        free(b);
        return rc;
    }
    coop_clip_text_init_random(&b->t, SEED);
    *out = b;
    return 0;
}
static void nb_close(struct coop_backbone *b)
{
    coop_clip_text_free(&b->t, b->arena);
    free(b);
}
static void nb_info(const struct coop_backbone *b, struct coop_backbone_info *o)
{
    (void)b;
    memset(o, 0, sizeof *o);
    o->embed_dim = E;
    o->token_width = W;
    o->context_length = L;
    o->vocab_size = V;
    o->logit_scale = SCALE;
    strcpy(o->arch, "numbers");
    o->version = COOP_BACKBONE_INFO_VERSION;
}
/* "5 6 10." -> 5 6 10 DOT, "X" -> 1; returns the count, or -1 past max. */
static int nb_parse(const char *text, int32_t *ids, int max)
{
    int n = 0;
    for (const char *s = text; *s;) {
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        int32_t id = 1; /* any other word ("X") */
        if (*s == '.')
            id = DOT, s++;
        else if (isdigit((unsigned char)*s))
            id = (int32_t)strtol(s, (char **)&s, 10);
        else
            while (*s && !isspace((unsigned char)*s) && *s != '.')
                s++;
        if (n >= max)
            return -1;
        if (ids)
            ids[n] = id;
        n++;
    }
    return n;
}
static int nb_count(const struct coop_backbone *b, const char *text, struct coop_err *e)
{
    (void)b;
    int n = nb_parse(text, NULL, 1 << 20);
    return n >= 0 ? n : coop_fail(e, COOP_E_INVAL, "bad text");
}
static int nb_tokenize(const struct coop_backbone *b, const char *text, bool truncate,
                       int32_t *ids, int *eot, struct coop_err *e)
{
    (void)b, (void)truncate;
    memset(ids, 0, L * sizeof *ids);
    ids[0] = SOS;
    int n = nb_parse(text, ids + 1, L - 2);
    if (n < 0)
        return coop_fail(e, COOP_E_INVAL, "'%s' is too long", text);
    ids[1 + n] = EOT;
    *eot = 1 + n;
    return 0;
}
static int nb_embed(const struct coop_backbone *b, const int32_t *ids, int n, float *out,
                    struct coop_err *e)
{
    (void)e;
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * W, b->t.token_embedding + (size_t)ids[i] * W, W * sizeof(float));
    return 0;
}
static int nb_images(struct coop_backbone *b, const float *px, int n, float *out,
                     struct coop_err *e)
{
    (void)b, (void)px, (void)n, (void)out;
    return coop_fail(e, COOP_E_INVAL, "no image tower");
}
static int nb_forward(struct coop_backbone *b, const float *emb, const int *eot, int n,
                      int shared, float *feat, struct coop_tape **tape, struct coop_err *e)
{
    struct coop_clip_text_tape *t = NULL;
    int rc = coop_clip_text_forward(&b->t, emb, eot, n, shared, feat, tape ? &t : NULL, e);
    if (rc == 0 && tape) {
        *tape = malloc(sizeof **tape);
        (*tape)->t = t;
    }
    return rc;
}
static int nb_backward(struct coop_backbone *b, struct coop_tape *tape, const float *dfeat,
                       float *demb, struct coop_err *e)
{
    return coop_clip_text_backward(&b->t, tape->t, dfeat, demb, NULL, e);
}
static void nb_tape_free(struct coop_backbone *b, struct coop_tape *tape)
{
    (void)b;
    if (tape)
        coop_clip_text_tape_free(tape->t);
    free(tape);
}
static const struct coop_backbone_ops nb_ops = {
    .version = COOP_BACKBONE_OPS_VERSION, .open = nb_open, .close = nb_close, .info = nb_info,
    .tokenize = nb_tokenize, .token_count = nb_count, .token_embed = nb_embed,
    .encode_images = nb_images, .text_forward = nb_forward, .text_backward = nb_backward,
    .tape_free = nb_tape_free};

/* ---- fixture ------------------------------------------------------------------ */
struct fixture {
    struct coop_registry *reg;
    struct coop_backbone_ref bb;
    const struct coop_prompt_ops *pops;
    struct coop_prompt *p;
    float x[B * E];
    int labels[B];
    const float *hand; /* kgcoop: [K, E] computed here, NULL for cocoop */
    double lambda;
};
static const char *const names[K] = {"10", "11 12", "13"};
#define TEMPLATE "20 21 {} 22."

static int fetch(void *ctx, int epoch, const int *idx, int n, float *out, struct coop_err *e)
{
    (void)epoch, (void)e;
    struct fixture *f = ctx;
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * E, f->x + (size_t)idx[i] * E, E * sizeof(float));
    return 0;
}

static void fixture_open(struct fixture *f, const char *plugin, const struct coop_kv *kv,
                         size_t nkv)
{
    struct coop_err e;
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(coop_registry_create(&f->reg, &e), 0);
    ck_assert_int_eq(coop_registry_discover(f->reg, NULL, 0, &e), 0);
    const struct coop_plugin *pp = coop_registry_find(f->reg, COOP_PLUGIN_PROMPT, plugin);
    ck_assert_ptr_nonnull(pp);
    f->pops = coop_plugin_prompt(pp, &e);
    ck_assert_ptr_nonnull(f->pops);
    f->bb.ops = &nb_ops;
    ck_assert_int_eq(nb_open(NULL, NULL, NULL, NULL, &f->bb.bb, &e), 0);
    struct coop_params params = {kv, nkv};
    struct coop_prompt_args a = {NULL, &params, f->bb, names, K, 3, TEMPLATE};
    ck_assert_msg(f->pops->create(&a, &f->p, &e) == 0, "%s", e.msg);
    coop_hash_uniform(f->x, B * E, IMG_SEED, -1, 1);
    coop_l2norm_forward(f->x, NULL, f->x, B, E);
    f->labels[0] = 0;
    f->labels[1] = 2;
}

static void fixture_close(struct fixture *f)
{
    f->pops->destroy(f->p);
    nb_close(f->bb.bb);
    coop_registry_free(f->reg);
}

/* The training loss at the current parameters, computed outside the loop:
 * the evaluation path's logits, mean cross-entropy, and for kgcoop
 * lambda (1 - mean cos) against f->hand. */
static double loss_at(struct fixture *f, float *logits)
{
    struct coop_err e;
    ck_assert_int_eq(coop_prompt_logits(f->bb, f->pops, f->p, K, f->x, B, SCALE, logits, &e), 0);
    double l = coop_cross_entropy_ref(logits, f->labels, B, K);
    if (f->hand) {
        float t[K * E];
        ck_assert_int_eq(coop_prompt_text_features(f->bb, f->pops, f->p, K, t, &e), 0);
        double cos = 0;
        for (int i = 0; i < K * E; i++)
            cos += (double)t[i] * f->hand[i];
        l += f->lambda * (1.0 - cos / K);
    }
    return l;
}

/* One plain SGD step (lr 1, no momentum or decay) through the training loop
 * on the whole batch: grad = p0 - p1. Returns the loss it reports. */
static double train_grad(struct fixture *f, double *grad)
{
    struct coop_err e;
    size_t np = f->pops->num_params(f->p);
    float *p = f->pops->param_data(f->p), *p0 = malloc(np * sizeof *p0);
    memcpy(p0, p, np * sizeof *p0);
    struct coop_optim_config oc = {1, B, 0, 1.0, 0.0, 0.0, 0.0, "constant", "none"};
    struct coop_train_args ta = {f->bb, f->pops, f->p, K, f->labels, B, E, SCALE,
                                 oc, 1, fetch, f, NULL, NULL, NULL};
    struct coop_train_curve c;
    ck_assert_msg(coop_train_prompt(&ta, &c, &e) == 0, "%s", e.msg);
    double loss = c.loss[0];
    for (size_t i = 0; i < np; i++)
        grad[i] = (double)p0[i] - p[i];
    memcpy(p, p0, np * sizeof *p0);
    coop_train_curve_free(&c);
    free(p0);
    return loss;
}

static double relerr(const double *c, const float *ref, size_t n)
{
    double err = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs(c[i] - ref[i]));
        top = fmax(top, fabs(ref[i]));
    }
    return top > 0 ? err / top : err;
}

static const struct coop_kv cocoop_kv[] = {{"n_ctx", "4"}, {"init", "5 6 7 8"},
                                           {"init_std", "0.02"}};

/* ---- tests ------------------------------------------------------------------------ */
START_TEST(cocoop_matches_pytorch)
{
    struct fixture f;
    fixture_open(&f, "cocoop", cocoop_kv, 3);
    size_t np = f.pops->num_params(f.p), nctx = 4 * W;
    ck_assert_uint_eq(np, nctx + (E / 16) * E + E / 16 + W * (E / 16) + W);
    /* the meta-net's weights as the fixture has them */
    coop_hash_uniform(f.pops->param_data(f.p) + nctx, np - nctx, META_SEED, -META_A, META_A);
    const char *root = getenv("COOP_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/text/cocoop_golden.h5", root ? root : ".");
    hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(h >= 0, "cannot open %s", path);
    ck_assert_int_eq(coop_h5_attr_long(h, "version", -1), 1);
    size_t n = 0;
    float *ref_logits = coop_h5_floats(h, "logits", &n);
    ck_assert_uint_eq(n, B * K);
    float *ref_loss = coop_h5_floats(h, "loss", &n);
    float *ref_grad = coop_h5_floats(h, "grad", &n);
    ck_assert_uint_eq(n, np);
    float logits[B * K];
    double lg[B * K], loss = loss_at(&f, logits), *grad = malloc(np * sizeof *grad);
    for (int i = 0; i < B * K; i++)
        lg[i] = logits[i];
    double el = relerr(lg, ref_logits, B * K);
    ck_assert_msg(el < 1e-4, "logits: max rel err %g", el);
    ck_assert_double_eq_tol(loss, ref_loss[0], 1e-4 * ref_loss[0]);
    double tl = train_grad(&f, grad);
    ck_assert_double_eq_tol(tl, ref_loss[0], 1e-4 * ref_loss[0]);
    double eg = relerr(grad, ref_grad, nctx), em = relerr(grad + nctx, ref_grad + nctx, np - nctx);
    printf("  cocoop vs PyTorch: logits %.2e, context grad %.2e, meta-net grad %.2e\n", el, eg, em);
    ck_assert_msg(eg < 1e-3, "context gradient: max rel err %g", eg);
    ck_assert_msg(em < 1e-3, "meta-net gradient: max rel err %g", em);
    free(ref_logits), free(ref_loss), free(ref_grad), free(grad);
    H5Fclose(h);
    fixture_close(&f);
}
END_TEST

/* The training step's gradient against central differences of loss_at over
 * every parameter (step h); the biggest entries must be non-trivial. */
static void check_fd(struct fixture *f, double h, double tol)
{
    size_t np = f->pops->num_params(f->p);
    float *p = f->pops->param_data(f->p), logits[B * K];
    double *fd = malloc(np * sizeof *fd), *g = malloc(np * sizeof *g);
    double l0 = loss_at(f, logits);
    for (size_t i = 0; i < np; i++) {
        float p0 = p[i];
        p[i] = p0 + (float)h;
        double lp = loss_at(f, logits);
        p[i] = p0 - (float)h;
        double lm = loss_at(f, logits);
        p[i] = p0;
        fd[i] = (lp - lm) / (2 * h);
    }
    double tl = train_grad(f, g), err = 0, top = 0;
    ck_assert_double_eq_tol(tl, l0, 1e-5 * fmax(1, l0));
    for (size_t i = 0; i < np; i++) {
        err = fmax(err, fabs(g[i] - fd[i]));
        top = fmax(top, fabs(fd[i]));
    }
    printf("  max |grad - fd| %.3g, max |fd| %.3g over %zu parameters\n", err, top, np);
    ck_assert_double_gt(top, 1e-3);
    ck_assert_msg(err <= tol * top, "max |grad - fd| %g vs max |fd| %g", err, top);
    free(fd), free(g);
}

START_TEST(cocoop_gradient_matches_finite_differences)
{
    struct fixture f;
    fixture_open(&f, "cocoop", cocoop_kv, 3);
    /* larger meta-net weights than PyTorch's init, so the image matters */
    size_t np = f.pops->num_params(f.p), nctx = 4 * W;
    coop_hash_uniform(f.pops->param_data(f.p) + nctx, np - nctx, 4, -0.5, 0.5);
    check_fd(&f, 1e-2, 2e-2);
    fixture_close(&f);
}
END_TEST

/* The hand-crafted features as the definition says: the template through the
 * frozen tower, normalised. */
static void hand_features(struct fixture *f, float *hand)
{
    struct coop_err e;
    float *emb = coop_alloc_floats((size_t)K * L * W);
    int32_t ids[L];
    int eot[K];
    for (int k = 0; k < K; k++) {
        char text[64];
        snprintf(text, sizeof text, "20 21 %s 22.", names[k]);
        ck_assert_int_eq(nb_tokenize(f->bb.bb, text, false, ids, &eot[k], &e), 0);
        nb_embed(f->bb.bb, ids, L, emb + (size_t)k * L * W, &e);
    }
    ck_assert_int_eq(nb_forward(f->bb.bb, emb, eot, K, 0, hand, NULL, &e), 0);
    coop_l2norm_forward(hand, NULL, hand, K, E);
    coop_free(emb);
}

START_TEST(kgcoop_loss_and_gradient)
{
    struct fixture f;
    const struct coop_kv kv[] = {{"n_ctx", "4"}, {"init", ""}, {"init_std", "0.3"},
                                 {"lambda", "8"}};
    fixture_open(&f, "kgcoop", kv, 4);
    float hand[K * E], logits[B * K];
    hand_features(&f, hand);
    f.lambda = 8;
    double ce = loss_at(&f, logits);
    f.hand = hand;
    double total = loss_at(&f, logits);
    ck_assert_double_gt(total - ce, 1e-3); /* the term is there */
    check_fd(&f, 1e-2, 2e-2);
    /* lambda 0 is CoOp: the same loss as without the term */
    fixture_close(&f);
    const struct coop_kv kv0[] = {{"n_ctx", "4"}, {"init", ""}, {"init_std", "0.3"},
                                  {"lambda", "0"}};
    fixture_open(&f, "kgcoop", kv0, 4);
    double g[4 * W];
    ck_assert_double_eq_tol(train_grad(&f, g), ce, 1e-5 * ce);
    fixture_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cocoop");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, cocoop_matches_pytorch);
    tcase_add_test(tc, cocoop_gradient_matches_finite_differences);
    tcase_add_test(tc, kgcoop_loss_and_gradient);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
