/* test_text_golden.c: the C text tower against PyTorch (float64 reference,
 * tests/fixtures/gen_text.py -> tests/fixtures/text/text_golden.h5): small
 * configurations' features, input-embedding gradients and every weight
 * gradient, both through the plain path and the fast path (EOT truncation +
 * shared prefix), and the full-size ViT-B/16 text tower's features from token
 * ids. Metric: max |c - ref| / max |ref| per tensor; bounds 1e-4 (features)
 * and 1e-3 (gradients). Weights come from coop_clip_text_init_random. */
#include "coop/clip.h"
#include "coop/util.h"
#include "results/h5_internal.h"
#include "nn_testutil.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

#define TOL_FEAT 1e-4
#define TOL_GRAD 1e-3

static hid_t open_fixture(void)
{
    const char *root = getenv("COOP_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/fixtures/text/text_golden.h5", root ? root : ".");
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot open %s", path);
    ck_assert_int_eq(coop_h5_attr_long(f, "version", -1), 1);
    return f;
}

static void check_tensor(hid_t g, const char *name, const float *c, size_t n, double tol)
{
    size_t m = 0;
    float *ref = coop_h5_floats(g, name, &m);
    ck_assert_msg(ref != NULL, "fixture tensor %s missing", name);
    ck_assert_uint_eq(m, n);
    double err = tu_relerr(c, ref, n);
    printf("  %-28s max rel err %.2e\n", name, err);
    ck_assert_msg(err < tol, "%s: max rel err %g >= %g", name, err, tol);
    coop_free(ref);
}

/* Every weight gradient but token_embedding, named as in gen_text.py. */
static void check_grads(hid_t g, const struct coop_clip_text *d)
{
    size_t W = (size_t)d->width;
    check_tensor(g, "grad/positional_embedding", d->positional_embedding,
                 (size_t)d->context_length * W, TOL_GRAD);
    for (int l = 0; l < d->layers; l++) {
        const struct coop_clip_block *b = &d->blocks[l];
        struct {
            const char *n;
            const float *p;
            size_t sz;
        } t[] = {{"ln_1_w", b->ln_1_w, W}, {"ln_1_b", b->ln_1_b, W},
                 {"in_proj_w", b->in_proj_w, 3 * W * W}, {"in_proj_b", b->in_proj_b, 3 * W},
                 {"out_proj_w", b->out_proj_w, W * W}, {"out_proj_b", b->out_proj_b, W},
                 {"ln_2_w", b->ln_2_w, W}, {"ln_2_b", b->ln_2_b, W},
                 {"c_fc_w", b->c_fc_w, 4 * W * W}, {"c_fc_b", b->c_fc_b, 4 * W},
                 {"c_proj_w", b->c_proj_w, 4 * W * W}, {"c_proj_b", b->c_proj_b, W}};
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            char name[96];
            snprintf(name, sizeof(name), "grad/blocks.%d.%s", l, t[i].n);
            check_tensor(g, name, t[i].p, t[i].sz, TOL_GRAD);
        }
    }
    check_tensor(g, "grad/ln_final_w", d->ln_final_w, W, TOL_GRAD);
    check_tensor(g, "grad/ln_final_b", d->ln_final_b, W, TOL_GRAD);
    check_tensor(g, "grad/text_projection", d->text_projection, W * d->embed_dim, TOL_GRAD);
}

static void small_config(const char *group, int fast)
{
    hid_t f = open_fixture(), g = H5Gopen2(f, group, H5P_DEFAULT);
    ck_assert_msg(g >= 0, "group %s missing", group);
    int L = (int)coop_h5_attr_long(g, "L", 0), V = (int)coop_h5_attr_long(g, "V", 0);
    int W = (int)coop_h5_attr_long(g, "W", 0), H = (int)coop_h5_attr_long(g, "H", 0);
    int layers = (int)coop_h5_attr_long(g, "layers", 0), E = (int)coop_h5_attr_long(g, "E", 0);
    int K = (int)coop_h5_attr_long(g, "K", 0), P = (int)coop_h5_attr_long(g, "shared_prefix", 0);
    struct coop_clip_text t, d;
    float *ta, *da;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_alloc(&t, L, V, W, H, layers, E, &ta, &e), 0);
    ck_assert_int_eq(coop_clip_text_grads_alloc(&d, &t, &da, &e), 0);
    coop_clip_text_init_random(&t, (uint64_t)coop_h5_attr_long(g, "seed", 0));
    size_t ne, nk, nd;
    float *emb = coop_h5_floats(g, "emb", &ne), *dfeat = coop_h5_floats(g, "dfeat", &nd);
    int *eot = coop_h5_ints(g, "eot", &nk);
    ck_assert(emb && dfeat && eot && ne == (size_t)K * L * W && nk == (size_t)K);
    float *feat = tu_zeros((size_t)K * E), *demb = tu_zeros(ne);
    struct coop_clip_text_tape *tape = NULL;
    printf("%s (%s path)\n", group, fast ? "fast" : "plain");
    int rc = fast ? coop_clip_text_forward(&t, emb, eot, K, P, feat, &tape, &e)
                  : coop_clip_text_forward_plain(&t, emb, eot, K, feat, &tape, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert_int_eq(coop_clip_text_backward(&t, tape, dfeat, demb, &d, &e), 0);
    coop_clip_text_tape_free(tape);
    check_tensor(g, "feat", feat, (size_t)K * E, TOL_FEAT);
    if (fast && P > 0 && K > 1) { /* fast path reports the shared rows' sum in prompt 0 */
        float *ref = coop_h5_floats(g, "demb", NULL);
        for (int k = 1; k < K; k++)
            for (size_t i = 0; i < (size_t)P * W; i++)
                ref[i] += ref[(size_t)k * L * W + i], ref[(size_t)k * L * W + i] = 0.0f;
        double err = tu_relerr(demb, ref, ne);
        printf("  %-28s max rel err %.2e\n", "demb (prefix summed)", err);
        ck_assert_double_lt(err, TOL_GRAD);
        coop_free(ref);
    } else {
        check_tensor(g, "demb", demb, ne, TOL_GRAD);
    }
    check_grads(g, &d);
    coop_free(emb), coop_free(dfeat), coop_free(eot), coop_free(feat), coop_free(demb);
    coop_clip_text_free(&t, ta);
    coop_clip_text_free(&d, da);
    H5Gclose(g);
    H5Fclose(f);
}

START_TEST(small_configs_plain)
{
    small_config("w64_h1", 0);
    small_config("w64_h2", 0);
    small_config("w128_h2", 0);
}
END_TEST

START_TEST(small_configs_fast)
{
    small_config("w64_h1", 1);
    small_config("w64_h2", 1);
    small_config("w128_h2", 1);
}
END_TEST

START_TEST(vitb16_features)
{
    if (getenv("COOP_VALGRIND")) {
        printf("vitb16: skipped under valgrind (full-size tower)\n");
        return;
    }
    hid_t f = open_fixture(), g = H5Gopen2(f, "vitb16", H5P_DEFAULT);
    int L = (int)coop_h5_attr_long(g, "L", 0), V = (int)coop_h5_attr_long(g, "V", 0);
    int W = (int)coop_h5_attr_long(g, "W", 0), H = (int)coop_h5_attr_long(g, "H", 0);
    int layers = (int)coop_h5_attr_long(g, "layers", 0), E = (int)coop_h5_attr_long(g, "E", 0);
    int K = (int)coop_h5_attr_long(g, "K", 0);
    ck_assert(L == 77 && V == 49408 && W == 512 && H == 8 && layers == 12 && E == 512);
    struct coop_clip_text t;
    float *ta;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_text_alloc(&t, L, V, W, H, layers, E, &ta, &e), 0);
    coop_clip_text_init_random(&t, (uint64_t)coop_h5_attr_long(g, "seed", 0));
    size_t ni;
    int *ids = coop_h5_ints(g, "ids", &ni);
    ck_assert(ids && ni == (size_t)K * L);
    float *feat = tu_zeros((size_t)K * E);
    printf("vitb16 (encode_ids: EOT truncation + shared prefix)\n");
    ck_assert_int_eq(coop_clip_text_encode_ids(&t, (const int32_t *)ids, K, feat, &e), 0);
    check_tensor(g, "feat", feat, (size_t)K * E, TOL_FEAT);
    /* plain path from gathered embeddings */
    float *emb = tu_zeros((size_t)K * L * W);
    int eot[64];
    for (int k = 0; k < K; k++) {
        eot[k] = 0;
        for (int i = 0; i < L; i++) {
            int id = ids[(size_t)k * L + i];
            eot[k] = id > ids[(size_t)k * L + eot[k]] ? i : eot[k];
            memcpy(emb + ((size_t)k * L + i) * W, t.token_embedding + (size_t)id * W,
                   sizeof(float) * W);
        }
    }
    printf("vitb16 (plain path)\n");
    ck_assert_int_eq(coop_clip_text_forward_plain(&t, emb, eot, K, feat, NULL, &e), 0);
    check_tensor(g, "feat", feat, (size_t)K * E, TOL_FEAT);
    coop_free(ids), coop_free(feat), coop_free(emb);
    coop_clip_text_free(&t, ta);
    H5Gclose(g);
    H5Fclose(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clip_text_golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, small_configs_plain);
    tcase_add_test(tc, small_configs_fast);
    tcase_add_test(tc, vitb16_features);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
