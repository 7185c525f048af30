/* test_abi.c: the plugin ABI's version rules (plugin.h, docs/plugins.md).
 * A plugin built against the previous SDK (old_sdk.c over tests/plugins/
 * sdk-1.0/) loads on this host and what it fills in the old layouts reads
 * right; descriptors of another major, of a newer minor, with an ops table
 * older than the host drives or a required member NULL are refused with the
 * file and the versions; COOP_OPS_HAS answers from the table's version; a
 * prompt variant with a version-1 table (no condition, no loss) trains and
 * evaluates through the one training loop.
 * argv: the old-SDK module, the refused module, coop-testkit.so. */
#include "../common/check_run.h"
#include "coop/data.h"
#include "coop/loader.h"
#include "coop/nn.h"
#include "coop/train.h"
#include "coop/util.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *old_path, *bad_path, *testkit_path;

static struct coop_registry *load(const char *path, int want_rc)
{
    struct coop_registry *r = NULL;
    struct coop_err e;
    ck_assert_int_eq(coop_registry_create(&r, &e), 0);
    int rc = coop_registry_load_file(r, path, &e);
    ck_assert_msg(rc == want_rc, "%s: rc %d: %s", path, rc, rc ? e.msg : "");
    return r;
}

START_TEST(old_plugin_loads_and_its_items_read_right)
{
    struct coop_registry *r = load(old_path, 0);
    const struct coop_plugin *d = coop_registry_find(r, COOP_PLUGIN_DATASET, "old_sdk_colors");
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(COOP_PLUGIN_ABI_MAJOR_OF(d->abi), 1);
    ck_assert_uint_eq(COOP_PLUGIN_ABI_MINOR_OF(d->abi), 0);
    const struct coop_dataset_ops *ops = d->ops;
    struct coop_err e;
    struct coop_dataset_ref ref = {ops, NULL};
    ck_assert_int_eq(ops->open(NULL, NULL, NULL, &ref.ds, &e), 0);
    /* the host's sampler reads every item through the 1.0 struct */
    struct coop_fewshot fs;
    struct coop_fewshot_opts o = {.dataset = "old_sdk_colors", .shots = 2, .seed = 7,
                                  .val_shots = 0};
    ck_assert_int_eq(coop_fewshot_sample(&fs, ref, &o, NULL, &e), 0);
    ck_assert_uint_eq(fs.train.n, 4);
    for (size_t i = 0; i < fs.train.n; i++) {
        ck_assert_int_eq(fs.train.label[i], (int)(fs.train.index[i] % 2));
        char want[16];
        snprintf(want, sizeof want, "old/0/%zu", fs.train.index[i]);
        ck_assert_str_eq(fs.train.id[i], want);
    }
    coop_fewshot_free(&fs);
    struct coop_item it = {0};
    ck_assert_int_eq(ops->get_item(ref.ds, COOP_SPLIT_TEST, 3, &it, &e), 0);
    ck_assert_int_eq(it.label, 1);
    ck_assert_str_eq(it.id, "old/2/3");
    ck_assert_uint_eq(it.version, 0); /* a 1.0 plugin: label, path and id only */
    ops->close(ref.ds);
    coop_registry_free(r);
}
END_TEST

START_TEST(old_plugin_backbone_info_reads_right)
{
    struct coop_registry *r = load(old_path, 0);
    const struct coop_plugin *d = coop_registry_find(r, COOP_PLUGIN_BACKBONE, "old_sdk_bb");
    ck_assert_ptr_nonnull(d);
    const struct coop_backbone_ops *ops = d->ops;
    struct coop_backbone *bb = NULL;
    struct coop_err e;
    ck_assert_int_eq(ops->open(NULL, "x.ckpt", NULL, NULL, &bb, &e), 0);
    struct coop_backbone_info info = {0};
    ops->info(bb, &info);
    ck_assert_int_eq(info.embed_dim, 8);
    ck_assert_int_eq(info.token_width, 6);
    ck_assert_int_eq(info.image_size, 4);
    ck_assert_float_eq(info.logit_scale, 10.0f);
    ck_assert_float_eq(info.std[2], 0.25f);
    ck_assert_str_eq(info.arch, "old-sdk");
    ck_assert_uint_eq(strspn(info.checkpoint_sha256, "b"), 64);
    ck_assert_uint_eq(info.version, 0);
    ops->close(bb);
    coop_registry_free(r);
}
END_TEST

static int fetch_rows(void *ctx, int epoch, const int *idx, int n, float *out,
                      struct coop_err *e)
{
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * 8, (const float *)ctx + (size_t)idx[i] * 8, 8 * sizeof *out);
    return 0;
}

/* The 1.0 prompt table ends at check_classes' place: the loop must read
 * neither condition nor loss (ASan would see a read past the table). */
START_TEST(old_prompt_trains_through_the_loop)
{
    struct coop_registry *r = load(old_path, 0);
    struct coop_err e;
    ck_assert_int_eq(coop_registry_load_file(r, testkit_path, &e), 0);
    const struct coop_plugin *pp = coop_registry_find(r, COOP_PLUGIN_PROMPT, "old_sdk_prompt");
    const struct coop_plugin *bp = coop_registry_find(r, COOP_PLUGIN_BACKBONE, "toy");
    ck_assert_ptr_nonnull(pp);
    ck_assert_ptr_nonnull(bp);
    const struct coop_prompt_ops *pops = coop_plugin_prompt(pp, &e);
    ck_assert_ptr_nonnull(pops);
    ck_assert_uint_eq(pops->version, 1);
    ck_assert(!coop_prompt_conditional(pops));
    struct coop_backbone_ref bb = {coop_plugin_backbone(bp, &e), NULL};
    struct coop_params none = {NULL, 0};
    ck_assert_int_eq(bb.ops->open(NULL, "toy", NULL, &none, &bb.bb, &e), 0);
    struct coop_backbone_info info;
    bb.ops->info(bb.bb, &info);
    ck_assert_int_eq(info.embed_dim, 8);
    const char *names[] = {"red", "blue"};
    struct coop_prompt_args a = {NULL, &none, bb, names, 2, 1, NULL};
    struct coop_prompt *p = NULL;
    ck_assert_int_eq(pops->create(&a, &p, &e), 0);
    float x[4 * 8], before[8], logits[4 * 2];
    int y[4] = {0, 1, 0, 1};
    coop_hash_uniform(x, 4 * 8, 3, -1, 1);
    coop_l2norm_forward(x, NULL, x, 4, 8);
    memcpy(before, pops->param_data(p), sizeof before);
    struct coop_optim_config oc = {3, 2, 0, 0.5, 0.9, 0.0, 0.0, "constant", "none"};
    struct coop_train_args ta = {bb, pops, p, 2, y, 4, 8, info.logit_scale, oc, 1,
                                 fetch_rows, x, NULL, NULL, NULL};
    struct coop_train_curve c;
    ck_assert_msg(coop_train_prompt(&ta, &c, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(c.epochs, 3);
    ck_assert(memcmp(before, pops->param_data(p), sizeof before) != 0); /* it learned */
    coop_train_curve_free(&c);
    ck_assert_int_eq(coop_prompt_logits(bb, pops, p, 2, x, 4, info.logit_scale, logits, &e), 0);
    for (int i = 0; i < 8; i++)
        ck_assert(isfinite(logits[i]));
    pops->destroy(p);
    bb.ops->close(bb.bb);
    coop_registry_free(r);
}
END_TEST

/* A plugin built against this header says so in the structs it fills. */
START_TEST(current_plugin_fills_versions)
{
    struct coop_registry *r = load(testkit_path, 0);
    const struct coop_plugin *d = coop_registry_find(r, COOP_PLUGIN_BACKBONE, "toy");
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->abi, COOP_PLUGIN_ABI);
    const struct coop_backbone_ops *bops = d->ops;
    struct coop_backbone *bb = NULL;
    struct coop_err e;
    struct coop_params none = {NULL, 0};
    ck_assert_int_eq(bops->open(NULL, "toy", NULL, &none, &bb, &e), 0);
    struct coop_backbone_info info = {0};
    bops->info(bb, &info);
    ck_assert_uint_eq(info.version, COOP_BACKBONE_INFO_VERSION);
    bops->close(bb);
    d = coop_registry_find(r, COOP_PLUGIN_DATASET, "toy_colors");
    ck_assert_ptr_nonnull(d);
    const struct coop_dataset_ops *dops = d->ops;
    struct coop_dataset *ds = NULL;
    ck_assert_int_eq(dops->open(NULL, NULL, &none, &ds, &e), 0);
    struct coop_item it = {0};
    ck_assert_int_eq(dops->get_item(ds, COOP_SPLIT_TRAIN, 0, &it, &e), 0);
    ck_assert_uint_eq(it.version, COOP_ITEM_VERSION);
    dops->close(ds);
    coop_registry_free(r);
}
END_TEST

static void expect_refused(const struct coop_registry *r, const char *name, const char *what)
{
    char why[1024];
    ck_assert_ptr_null(coop_registry_find(r, 0, name));
    ck_assert_uint_eq(coop_registry_rejected(r, name, why, sizeof why), 1);
    char *want = coop_asprintf("%s: %s", bad_path, what);
    ck_assert_msg(strstr(why, want), "expected '%s' in '%s'", want, why);
    free(want);
}

START_TEST(refused_descriptors_name_file_and_versions)
{
    struct coop_registry *r = load(bad_path, COOP_E_ABI);
    ck_assert_uint_eq(coop_registry_count(r), 0);
    unsigned M = COOP_PLUGIN_ABI_MAJOR, m = COOP_PLUGIN_ABI_MINOR;
    char *s = coop_asprintf("descriptor 0 ('bad_sdk_next_major') was built against plugin ABI "
                            "%u.0, this coop has ABI %u.%u: rebuild the plugin", M + 1, M, m);
    expect_refused(r, "bad_sdk_next_major", s);
    free(s);
    s = coop_asprintf("descriptor 1 ('bad_sdk_next_minor') was built against plugin ABI %u.%u, "
                      "newer than this coop's %u.%u: it needs a coop of ABI %u.%u or later",
                      M, m + 1, M, m, M, m + 1);
    expect_refused(r, "bad_sdk_next_minor", s);
    free(s);
    expect_refused(r, "bad_sdk_table0", "plugin 'bad_sdk_table0' has dataset ops table version "
                                        "0, older than the 1 this coop needs");
    expect_refused(r, "bad_sdk_no_get_item", "plugin 'bad_sdk_no_get_item': its dataset ops "
                                             "table leaves the required member get_item NULL");
    coop_registry_free(r);
}
END_TEST

static int check_ok(const struct coop_prompt_args *a, struct coop_err *e) { return 0; }

START_TEST(ops_has_reads_the_table_version)
{
    struct coop_prompt_ops v1 = {.version = 1, .check_classes = check_ok};
    struct coop_prompt_ops v2 = {.version = 2, .check_classes = check_ok};
    struct coop_prompt_ops v2_null = {.version = 2};
    ck_assert(!COOP_OPS_HAS(&v1, check_classes, 2)); /* the member is past a v1 table's end */
    ck_assert(COOP_OPS_HAS(&v2, check_classes, 2));
    ck_assert(!COOP_OPS_HAS(&v2_null, check_classes, 2));
}
END_TEST

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s OLD_SDK_MODULE BAD_SDK_MODULE TESTKIT_MODULE\n", argv[0]);
        return 2;
    }
    old_path = argv[1], bad_path = argv[2], testkit_path = argv[3];
    Suite *s = suite_create("plugin-abi");
    TCase *tc = tcase_create("versions");
    tcase_add_test(tc, old_plugin_loads_and_its_items_read_right);
    tcase_add_test(tc, old_plugin_backbone_info_reads_right);
    tcase_add_test(tc, current_plugin_fills_versions);
    tcase_add_test(tc, old_prompt_trains_through_the_loop);
    tcase_add_test(tc, refused_descriptors_name_file_and_versions);
    tcase_add_test(tc, ops_has_reads_the_table_version);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
