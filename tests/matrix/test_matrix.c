/* test_matrix.c: the YAML experiment matrix: expansion (product, zip,
 * exclude, non-training methods), defaults, auto epochs, id stability, every
 * error with its file:line:column and suggestion, and hostile input (alias
 * bombs, deep nesting, huge files, binary garbage, mutated YAML). Plugins are
 * faked by the resolver below; nothing is dlopened. */
#include "coop/matrix.h"
#include "coop/util.h"
#include "../../core/matrix/ytree.h"
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

/* ---- fake plugins ----------------------------------------------------------- */
static const char *const positions[] = {"end", "middle", "front", NULL};
static const struct coop_param_spec coop_spec[] = {
    {"n_ctx", COOP_PARAM_INT, "16", 1, 77, NULL, "context length"},
    {"position", COOP_PARAM_CHOICE, "end", 0, 0, positions, "class token position"},
    {"csc", COOP_PARAM_BOOL, "false", 0, 0, NULL, "class-specific context"},
    {"init", COOP_PARAM_STRING, "", 0, 0, NULL, "init words"},
    {"init_std", COOP_PARAM_FLOAT, "0.02", 0, 1, NULL, "init std"},
    COOP_PARAM_END};
static const struct coop_param_spec lp_spec[] = {
    {"max_iter", COOP_PARAM_INT, "1000", 1, 100000, NULL, NULL}, COOP_PARAM_END};
static const struct coop_param_spec world_spec[] = {
    {"n_classes", COOP_PARAM_INT, "10", 2, 1000, NULL, NULL},
    {"style", COOP_PARAM_STRING, NULL, 0, 0, NULL, "required"}, COOP_PARAM_END};
/* defaults written non-canonically by a plugin, and one that is invalid */
static const struct coop_param_spec cocoop_spec[] = {
    {"n_ctx", COOP_PARAM_INT, "04", 1, 77, NULL, NULL},
    {"ratio", COOP_PARAM_FLOAT, "0.50", 0, 1, NULL, NULL}, COOP_PARAM_END};
static const struct coop_param_spec broken_spec[] = {
    {"k", COOP_PARAM_INT, "many", 1, 10, NULL, NULL}, COOP_PARAM_END};
static const char *const precisions[] = {"fp32", "fp16", NULL};
static const struct coop_param_spec clip_spec[] = {
    {"precision", COOP_PARAM_CHOICE, "fp32", 0, 0, precisions, NULL}, COOP_PARAM_END};

struct fake {
    const char *name;
    enum coop_plugin_kind kind;
    const struct coop_param_spec *spec;
    bool trains;
    const struct coop_kv *recipe;
};
static const struct coop_kv recipe_kv[] = {{"epochs", "10"}, {"batch_size", "1"},
                                           {"warmup_lr", "1.0e-5"}, {NULL, NULL}};
static const struct coop_kv bad_recipe_kv[] = {{"batch_sise", "1"}, {NULL, NULL}};
static const struct coop_kv bad_value_kv[] = {{"batch_size", "0"}, {NULL, NULL}};
static const struct fake fakes[] = {
    {"clip", COOP_PLUGIN_BACKBONE, clip_spec, false, NULL},
    {"coop", COOP_PLUGIN_PROMPT, coop_spec, true, NULL},
    {"zeroshot", COOP_PLUGIN_BASELINE, NULL, false, NULL},
    {"cocoop", COOP_PLUGIN_PROMPT, cocoop_spec, true, NULL},
    {"broken", COOP_PLUGIN_BASELINE, broken_spec, false, NULL},
    {"linear_probe", COOP_PLUGIN_BASELINE, lp_spec, true, NULL},
    {"oxford_pets", COOP_PLUGIN_DATASET, NULL, false, NULL},
    {"caltech101", COOP_PLUGIN_DATASET, NULL, false, NULL},
    {"imagenet", COOP_PLUGIN_DATASET, NULL, false, NULL},
    {"imagenetv2", COOP_PLUGIN_DATASET, NULL, false, NULL},
    {"imagenet_sketch", COOP_PLUGIN_DATASET, NULL, false, NULL},
    {"imagenet_a", COOP_PLUGIN_DATASET, NULL, false, NULL},
    {"imagenet_r", COOP_PLUGIN_DATASET, NULL, false, NULL},
    {"world", COOP_PLUGIN_DATASET, world_spec, false, NULL},
    {"recipe", COOP_PLUGIN_PROMPT, NULL, true, recipe_kv},
    {"bad_recipe", COOP_PLUGIN_PROMPT, NULL, true, bad_recipe_kv},
    {"bad_value", COOP_PLUGIN_PROMPT, NULL, true, bad_value_kv},
};
#define N_FAKES (sizeof fakes / sizeof *fakes)

static int fake_lookup(void *ctx, enum coop_plugin_kind hint, const char *name,
                       struct coop_matrix_plugin_info *out)
{
    (void)ctx;
    for (size_t i = 0; i < N_FAKES; i++)
        if (strcmp(fakes[i].name, name) == 0 &&
            (hint == 0 ? fakes[i].kind >= COOP_PLUGIN_PROMPT : fakes[i].kind == hint)) {
            out->kind = fakes[i].kind;
            out->params = fakes[i].spec;
            out->trains = fakes[i].trains;
            out->train_defaults = fakes[i].recipe;
            return 0;
        }
    return COOP_E_NOTFOUND;
}

static size_t fake_names(void *ctx, enum coop_plugin_kind kind, const char **out, size_t max)
{
    (void)ctx;
    size_t n = 0;
    for (size_t i = 0; i < N_FAKES; i++)
        if (fakes[i].kind == kind) {
            if (n < max)
                out[n] = fakes[i].name;
            n++;
        }
    return n;
}

static const struct coop_matrix_resolver resolver = {NULL, fake_lookup, fake_names, NULL};

/* ---- a scratch folder with a checkpoint, a vocab and a data root ------------ */
static char tmpdir[256], yaml_name[300];

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void setup(void)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "matrix"), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/models", tmpdir);
    ck_assert_int_eq(coop_mkdirs(p, NULL), 0);
    snprintf(p, sizeof p, "%s/models/x.safetensors", tmpdir);
    write_file(p, "x", 1);
    snprintf(p, sizeof p, "%s/models/bpe.txt.gz", tmpdir);
    write_file(p, "x", 1);
    snprintf(p, sizeof p, "%s/data", tmpdir);
    ck_assert_int_eq(coop_mkdirs(p, NULL), 0);
    snprintf(p, sizeof p, "%s/plugins", tmpdir);
    ck_assert_int_eq(coop_mkdirs(p, NULL), 0);
    snprintf(yaml_name, sizeof yaml_name, "%s/exp.yaml", tmpdir);
}

static void teardown(void)
{
    ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
}

#define BACKBONE "backbone: {plugin: clip, checkpoint: models/x.safetensors}\n"

static struct coop_matrix *load_ok(const char *text)
{
    struct coop_matrix *m = NULL;
    struct coop_err e = {{0}};
    int rc = coop_matrix_load_string(text, strlen(text), yaml_name, &resolver, &m, &e);
    ck_assert_msg(rc == 0, "load failed: %s", e.msg);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Loads text expecting failure; asserts "<file>:line:col: " and each needle. */
static void expect_error(const char *text, size_t len, int line, int col, ...)
{
    struct coop_matrix *m = NULL;
    struct coop_err e = {{0}};
    int rc = coop_matrix_load_string(text, len, yaml_name, &resolver, &m, &e);
    ck_assert_msg(rc < 0, "expected an error for:\n%s", text);
    ck_assert_ptr_null(m);
    char where[400];
    if (col > 0)
        snprintf(where, sizeof where, "%s:%d:%d: ", yaml_name, line, col);
    else /* column not pinned (libyaml's own syntax errors) */
        snprintf(where, sizeof where, "%s:%d:", yaml_name, line);
    ck_assert_msg(strncmp(e.msg, where, strlen(where)) == 0, "message '%s' should start with '%s'",
                  e.msg, where);
    va_list ap;
    va_start(ap, col);
    for (const char *needle; (needle = va_arg(ap, const char *));)
        ck_assert_msg(strstr(e.msg, needle), "message '%s' lacks '%s'", e.msg, needle);
    va_end(ap);
}
#define EXPECT_ERROR(text, line, col, ...) \
    expect_error(text, strlen(text), line, col, __VA_ARGS__, (const char *)NULL)

static size_t count_method(const struct coop_matrix *m, const char *method)
{
    size_t n = 0;
    for (size_t i = 0; i < coop_matrix_count(m); i++)
        n += strcmp(coop_matrix_trial(m, i)->method, method) == 0;
    return n;
}

static const struct coop_trial *find_trial(const struct coop_matrix *m, const char *summary)
{
    for (size_t i = 0; i < coop_matrix_count(m); i++)
        if (strcmp(coop_matrix_trial(m, i)->axes_summary, summary) == 0)
            return coop_matrix_trial(m, i);
    return NULL;
}

/* ---- expansion ------------------------------------------------------------- */
START_TEST(product_counts)
{
    struct coop_matrix *m = load_ok("experiment: fewshot\n" BACKBONE
                                    "datasets: [oxford_pets, caltech101]\n"
                                    "methods:\n"
                                    "  - name: coop\n"
                                    "    n_ctx: [16, 4]\n"
                                    "    position: [end, middle]\n"
                                    "    csc: [false, true]\n"
                                    "  - zeroshot\n"
                                    "  - name: linear_probe\n"
                                    "shots: [1, 2, 4, 8, 16]\n"
                                    "seeds: [1, 2, 3]\n");
    /* coop 2 datasets x 8 variants x 5 shots x 3 seeds; linear probe 2 x 15;
     * zero-shot once per dataset */
    ck_assert_uint_eq(coop_matrix_count(m), 240 + 30 + 2);
    ck_assert_uint_eq(count_method(m, "coop"), 240);
    ck_assert_uint_eq(count_method(m, "zeroshot"), 2);
    ck_assert_str_eq(coop_matrix_experiment(m), "fewshot");
    const struct coop_trial *z = find_trial(m, "dataset=caltech101 method=zeroshot");
    ck_assert_ptr_nonnull(z);
    ck_assert(!z->trains);
    ck_assert_int_eq(z->shots, 0);
    ck_assert_int_eq(z->seed, 0);
    ck_assert_int_eq(z->train.epochs, 0);
    ck_assert_int_eq(z->method_kind, COOP_PLUGIN_BASELINE);
    ck_assert_ptr_null(strstr(z->config_yaml, "shots"));
    const struct coop_trial *t =
        find_trial(m, "dataset=oxford_pets method=coop n_ctx=4 position=middle csc=true "
                      "shots=8 seed=2");
    ck_assert_ptr_nonnull(t);
    ck_assert(t->trains);
    ck_assert_int_eq(t->method_kind, COOP_PLUGIN_PROMPT);
    ck_assert_int_eq(t->shots, 8);
    ck_assert_int_eq(t->seed, 2);
    ck_assert_str_eq(coop_params_str(&t->method_params, "position", ""), "middle");
    ck_assert_int_eq(coop_params_int(&t->method_params, "n_ctx", 0), 4);
    ck_assert(coop_params_bool(&t->method_params, "csc", false));
    ck_assert_str_eq(t->results_dir, "results");
    ck_assert_str_eq(t->method_label, "coop");
    ck_assert_str_eq(t->dataset_label, "oxford_pets");
    ck_assert_str_eq(t->backbone_label, "x");
    size_t na;
    const char *const *axes = coop_matrix_axes(m, &na);
    ck_assert_uint_eq(na, 7); /* dataset method n_ctx position csc shots seed */
    ck_assert_str_eq(axes[0], "dataset");
    ck_assert_str_eq(axes[na - 1], "seed");
    /* every id unique, 16 hex digits, and the hash of config_yaml */
    for (size_t i = 0; i < coop_matrix_count(m); i++) {
        const struct coop_trial *a = coop_matrix_trial(m, i);
        char hex[65];
        coop_sha256_hex(a->config_yaml, strlen(a->config_yaml), hex);
        ck_assert_int_eq(strncmp(hex, a->id, 16), 0);
        ck_assert_uint_eq(strlen(a->id), 16);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(a->id, coop_matrix_trial(m, j)->id);
    }
    ck_assert_ptr_null(coop_matrix_trial(m, coop_matrix_count(m)));
    coop_matrix_free(m);
}
END_TEST

START_TEST(zip_axes)
{
    struct coop_matrix *m = load_ok(BACKBONE "datasets: [oxford_pets, caltech101]\n"
                                    "methods: [{name: coop, n_ctx: [16, 8, 4], "
                                    "position: [end, middle, front], zip: [n_ctx, position]}]\n"
                                    "shots: [1, 2, 4]\nseeds: [1, 2, 3]\n"
                                    "zip: [[shots, seeds]]\n");
    ck_assert_uint_eq(coop_matrix_count(m), 2 * 3 * 3);
    ck_assert_ptr_nonnull(find_trial(m, "dataset=oxford_pets method=coop n_ctx=8 "
                                        "position=middle shots=2 seed=2"));
    ck_assert_ptr_null(find_trial(m, "dataset=oxford_pets method=coop n_ctx=8 "
                                     "position=end shots=2 seed=2"));
    ck_assert_ptr_null(find_trial(m, "dataset=oxford_pets method=coop n_ctx=8 "
                                     "position=middle shots=2 seed=1"));
    coop_matrix_free(m);
    /* zipping datasets with shots: a zero-shot method still gets one trial per dataset */
    m = load_ok(BACKBONE "datasets: [oxford_pets, caltech101]\nmethods: [zeroshot, coop]\n"
                         "shots: [1, 16]\nzip: [datasets, shots]\n");
    ck_assert_uint_eq(coop_matrix_count(m), 4);
    ck_assert_ptr_nonnull(find_trial(m, "dataset=caltech101 method=coop shots=16"));
    ck_assert_ptr_nonnull(find_trial(m, "dataset=caltech101 method=zeroshot"));
    ck_assert_ptr_null(find_trial(m, "dataset=caltech101 method=coop shots=1"));
    coop_matrix_free(m);
}
END_TEST

START_TEST(exclude_rules)
{
    struct coop_matrix *m = load_ok(BACKBONE "datasets: [oxford_pets, imagenet]\n"
                                    "methods:\n  - name: coop\n    position: [end, middle]\n"
                                    "    csc: [false, true]\n  - zeroshot\n"
                                    "shots: [1, 16]\nseeds: 1\n"
                                    "exclude:\n"
                                    "  - {method: coop, csc: true, position: middle}\n"
                                    "  - {dataset: imagenet, shots: [1]}\n"
                                    "  - {method: zeroshot, dataset: oxford_pets}\n"
                                    "  - {seed: 1, method: zeroshot}\n"
                                    "  - {n_ctx: 4, train.epochs: auto}\n");
    /* coop: pets 3 variants x 2 shots + imagenet 3 variants x 1 shot; zero-shot:
     * imagenet only (the seed rule does not match a non-training trial) */
    ck_assert_uint_eq(coop_matrix_count(m), 6 + 3 + 1);
    ck_assert_ptr_null(find_trial(m, "dataset=oxford_pets method=coop position=middle csc=true "
                                     "shots=16"));
    ck_assert_ptr_nonnull(find_trial(m, "dataset=oxford_pets method=coop position=end "
                                        "csc=true shots=16"));
    ck_assert_ptr_nonnull(find_trial(m, "dataset=imagenet method=zeroshot"));
    coop_matrix_free(m);
    m = load_ok(BACKBONE "datasets: [oxford_pets]\n"
                         "methods: [coop]\nshots: [1, 2]\ntrain: {lr: [0.002, 0.01]}\n"
                "exclude: [{train.lr: 1.0e-2, shots: 2}]\n");
    ck_assert_uint_eq(coop_matrix_count(m), 3);
    ck_assert_ptr_null(find_trial(m, "dataset=oxford_pets method=coop train.lr=0.01 shots=2"));
    ck_assert_ptr_nonnull(find_trial(m, "dataset=oxford_pets method=coop train.lr=0.01 shots=1"));
    coop_matrix_free(m);
}
END_TEST

START_TEST(method_train_overrides)
{
    struct coop_matrix *m = load_ok(BACKBONE "datasets: [oxford_pets]\n"
                                    "methods: [coop, {name: linear_probe, train: {lr: 0.1, "
                                    "epochs: 3}}]\nshots: 4\ntrain: {lr: [0.002, 0.01]}\n");
    ck_assert_uint_eq(coop_matrix_count(m), 3); /* the probe is not multiplied by lr */
    const struct coop_trial *t = find_trial(m, "dataset=oxford_pets method=linear_probe");
    ck_assert_ptr_nonnull(t);
    ck_assert_double_eq(t->train.lr, 0.1);
    ck_assert_int_eq(t->train.epochs, 3);
    t = find_trial(m, "dataset=oxford_pets method=coop train.lr=0.01");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->train.epochs, 100);
    coop_matrix_free(m);
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, train: {lr: [1, 2]}}]\n"
                 "shots: 1\n", 3, 36, "single values");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, train: {lrr: 1}}]\n"
                 "shots: 1\n", 3, 32, "unknown key 'lrr'", "did you mean 'lr'");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, trian: {lr: 1}}]\n"
                 "shots: 1\n", 3, 24, "unknown key 'trian'", "did you mean 'train'");
}
END_TEST

/* A plugin's recipe replaces the protocol's defaults for its method only;
 * the file's top-level train: and the method's own train: win over it. */
START_TEST(plugin_recipe_is_the_method_default)
{
    struct coop_matrix *m = load_ok(BACKBONE "datasets: [oxford_pets]\n"
                                    "methods: [coop, recipe, {name: recipe, label: r2, "
                                    "train: {batch_size: 4}}]\nshots: 16\n"
                                    "train: {lr: 0.01}\n");
    ck_assert_uint_eq(coop_matrix_count(m), 3);
    const struct coop_trial *t = find_trial(m, "dataset=oxford_pets method=recipe");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->train.epochs, 10);
    ck_assert_int_eq(t->train.batch_size, 1);
    ck_assert_double_eq(t->train.warmup_lr, 1e-5);
    ck_assert_double_eq(t->train.lr, 0.01); /* the file's value */
    t = find_trial(m, "dataset=oxford_pets method=r2");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->train.batch_size, 4);
    ck_assert_int_eq(t->train.epochs, 10);
    t = find_trial(m, "dataset=oxford_pets method=coop");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->train.epochs, 200);
    ck_assert_int_eq(t->train.batch_size, 32);
    coop_matrix_free(m);
    m = load_ok(BACKBONE "datasets: [oxford_pets]\nmethods: [recipe]\nshots: 16\n"
                "train: {epochs: auto, batch_size: [2, 8]}\n");
    ck_assert_uint_eq(coop_matrix_count(m), 2);
    t = find_trial(m, "dataset=oxford_pets method=recipe train.batch_size=8");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->train.epochs, 200);
    coop_matrix_free(m);
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [bad_recipe]\nshots: 1\n", 3, 11,
                 "plugin 'bad_recipe' declares a training recipe with an unknown key",
                 "batch_sise");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [bad_value]\nshots: 1\n", 3, 11,
                 "plugin 'bad_value' recipe train.batch_size");
}
END_TEST

START_TEST(labels_and_merging)
{
    struct coop_matrix *m = load_ok(
        "backbone:\n  - {plugin: clip, checkpoint: models/x.safetensors}\n"
        "  - {plugin: clip, checkpoint: models/x.safetensors, label: half, "
        "options: {precision: fp16}}\n"
        "datasets: [oxford_pets]\n"
        "methods:\n  - coop\n  - {name: coop, label: coop_init, init: a photo of a}\n"
        "  - {name: coop, label: same_as_first, n_ctx: 16}\n"
        "shots: 2\nexclude: [{backbone: half, method: coop_init}]\n");
    /* 2 backbones x 2 distinct coop configurations, minus one excluded; the third entry
     * resolves to the first one's trials and is merged */
    ck_assert_uint_eq(coop_matrix_count(m), 3);
    const struct coop_trial *t = find_trial(m, "backbone=x dataset=oxford_pets method=coop_init");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->method_label, "coop_init");
    ck_assert_str_eq(t->method, "coop");
    ck_assert_ptr_null(find_trial(m, "backbone=half dataset=oxford_pets method=coop_init"));
    t = find_trial(m, "backbone=half dataset=oxford_pets method=coop");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(coop_params_str(&t->backbone_params, "precision", ""), "fp16");
    ck_assert_ptr_null(find_trial(m, "backbone=x dataset=oxford_pets method=same_as_first"));
    size_t na;
    const char *const *axes = coop_matrix_axes(m, &na);
    ck_assert_uint_eq(na, 2);
    ck_assert_str_eq(axes[0], "backbone");
    ck_assert_str_eq(axes[1], "method");
    coop_matrix_free(m);
}
END_TEST

START_TEST(defaults_filled)
{
    struct coop_matrix *m = load_ok(BACKBONE "datasets: [oxford_pets]\nmethods: [coop]\n"
                                    "shots: 16\n");
    ck_assert_uint_eq(coop_matrix_count(m), 1);
    const struct coop_trial *t = coop_matrix_trial(m, 0);
    ck_assert_uint_eq(t->method_params.n, 5);
    /* sorted by key, canonical text */
    ck_assert_str_eq(t->method_params.kv[0].key, "csc");
    ck_assert_str_eq(t->method_params.kv[0].value, "false");
    ck_assert_str_eq(coop_params_str(&t->method_params, "n_ctx", ""), "16");
    ck_assert_str_eq(coop_params_str(&t->method_params, "position", ""), "end");
    ck_assert_str_eq(coop_params_str(&t->method_params, "init", "?"), "");
    ck_assert_str_eq(coop_params_str(&t->method_params, "init_std", ""), "0.02");
    ck_assert_str_eq(coop_params_str(&t->backbone_params, "precision", ""), "fp32");
    ck_assert_int_eq(t->seed, 1); /* seeds default to [1] */
    ck_assert_int_eq(t->train.epochs, 200);
    ck_assert_int_eq(t->train.batch_size, 32);
    ck_assert_double_eq(t->train.lr, 0.002);
    ck_assert_double_eq(t->train.momentum, 0.9);
    ck_assert_double_eq(t->train.weight_decay, 5e-4);
    ck_assert_double_eq(t->train.warmup_lr, 1e-5);
    ck_assert_int_eq(t->train.warmup_epochs, 1);
    ck_assert_str_eq(t->train.schedule, "cosine");
    ck_assert_str_eq(t->train.warmup_type, "constant");
    ck_assert_str_eq(t->train.optimizer, "sgd");
    ck_assert_str_eq(t->augment.mode, "views");
    ck_assert_int_eq(t->augment.views, 1);
    ck_assert_double_eq(t->augment.crop_scale, 0.08);
    ck_assert_str_eq(coop_matrix_experiment(m), "exp"); /* the file's stem */
    ck_assert_ptr_null(t->data_root);
    ck_assert_ptr_null(t->vocab);
    ck_assert_uint_eq(t->n_targets, 0);
    char want[600];
    snprintf(want, sizeof want, "%s/models/x.safetensors", tmpdir);
    ck_assert_str_eq(t->checkpoint, want);
    coop_matrix_free(m);
    /* a plugin's defaults are canonicalised like written values */
    m = load_ok(BACKBONE "datasets: [oxford_pets]\nmethods: [cocoop]\nshots: 1\n");
    t = coop_matrix_trial(m, 0);
    ck_assert_str_eq(coop_params_str(&t->method_params, "n_ctx", ""), "4");
    ck_assert_str_eq(coop_params_str(&t->method_params, "ratio", ""), "0.5");
    coop_matrix_free(m);
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [broken]\n", 3, 11,
                 "plugin 'broken': default of k: expected an integer");
    /* written values: +4 and 2.0e-2 canonicalise, True is a bool */
    m = load_ok(BACKBONE "datasets: [oxford_pets]\n"
                         "methods: [{name: coop, n_ctx: +4, csc: True, init_std: 2.0e-2, "
                         "init: 'a photo of a'}]\nshots: 1\n");
    t = coop_matrix_trial(m, 0);
    ck_assert_str_eq(coop_params_str(&t->method_params, "n_ctx", ""), "4");
    ck_assert_str_eq(coop_params_str(&t->method_params, "csc", ""), "true");
    ck_assert_str_eq(coop_params_str(&t->method_params, "init_std", ""), "0.02");
    ck_assert_str_eq(coop_params_str(&t->method_params, "init", ""), "a photo of a");
    ck_assert_ptr_nonnull(strstr(t->config_yaml, "    init: \"a photo of a\"\n"));
    coop_matrix_free(m);
}
END_TEST

START_TEST(auto_epochs)
{
    ck_assert_int_eq(coop_train_epochs_auto(1), 50);
    ck_assert_int_eq(coop_train_epochs_auto(2), 100);
    ck_assert_int_eq(coop_train_epochs_auto(4), 100);
    ck_assert_int_eq(coop_train_epochs_auto(8), 200);
    ck_assert_int_eq(coop_train_epochs_auto(16), 200);
    ck_assert_int_eq(coop_train_epochs_auto(0), 0);
    struct coop_matrix *m = load_ok(BACKBONE "datasets:\n  - oxford_pets\n"
                                    "  - {name: imagenet, epochs: 50}\n"
                                    "methods: [coop]\nshots: [1, 2, 4, 8, 16]\n"
                                    "train: {epochs: auto}\n");
    ck_assert_uint_eq(coop_matrix_count(m), 10);
    static const int want[] = {50, 100, 100, 200, 200};
    static const int shots[] = {1, 2, 4, 8, 16};
    for (size_t i = 0; i < coop_matrix_count(m); i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        int k = 0;
        while (shots[k] != t->shots)
            k++;
        ck_assert_int_eq(t->train.epochs, strcmp(t->dataset, "imagenet") == 0 ? 50 : want[k]);
    }
    coop_matrix_free(m);
    /* an explicit number wins over both; auto and numbers may be swept */
    m = load_ok(BACKBONE "datasets: [{name: imagenet, epochs: 50}]\nmethods: [coop]\n"
                         "shots: [1, 16]\ntrain: {epochs: [auto, 7]}\n");
    ck_assert_uint_eq(coop_matrix_count(m), 4);
    ck_assert_int_eq(find_trial(m, "dataset=imagenet method=coop train.epochs=7 shots=16")
                         ->train.epochs, 7);
    ck_assert_int_eq(find_trial(m, "dataset=imagenet method=coop train.epochs=auto shots=16")
                         ->train.epochs, 50);
    coop_matrix_free(m);
    /* epochs per shot count; the same resolved count gives the same id as a number */
    m = load_ok(BACKBONE "datasets: [{name: imagenet, epochs: {1: 50, 2: 25, 16: 5}}]\n"
                         "methods: [coop]\nshots: [1, 2, 16]\n");
    ck_assert_uint_eq(coop_matrix_count(m), 3);
    ck_assert_int_eq(find_trial(m, "dataset=imagenet method=coop shots=1")->train.epochs, 50);
    ck_assert_int_eq(find_trial(m, "dataset=imagenet method=coop shots=2")->train.epochs, 25);
    ck_assert_int_eq(find_trial(m, "dataset=imagenet method=coop shots=16")->train.epochs, 5);
    struct coop_matrix *m5 = load_ok(BACKBONE "datasets: [{name: imagenet, epochs: 5}]\n"
                                              "methods: [coop]\nshots: 16\n");
    ck_assert_str_eq(coop_matrix_trial(m5, 0)->id, find_trial(m, "dataset=imagenet method=coop shots=16")->id);
    coop_matrix_free(m5);
    coop_matrix_free(m);
    /* a shot count it does not cover, a repeated or bad key, a bad count: errors where written */
    EXPECT_ERROR(BACKBONE "datasets: [{name: imagenet, epochs: {1: 50, 16: 5}}]\n"
                        "methods: [coop]\nshots: [1, 4, 16]\n",
               2, 37, "dataset 'imagenet': epochs gives no count for 4 shots");
    EXPECT_ERROR(BACKBONE "datasets: [{name: imagenet, epochs: {1: 50, 1: 5}}]\n"
                        "methods: [coop]\nshots: 1\n",
               2, 45, "1 shots given twice");
    EXPECT_ERROR(BACKBONE "datasets: [{name: imagenet, epochs: {one: 50}}]\n"
                        "methods: [coop]\nshots: 1\n",
               2, 38, "dataset: epochs: shots");
    EXPECT_ERROR(BACKBONE "datasets: [{name: imagenet, epochs: {1: 0}}]\n"
                        "methods: [coop]\nshots: 1\n",
               2, 41, "dataset: epochs");
    EXPECT_ERROR(BACKBONE "datasets: [{name: imagenet, epochs: {}}]\nmethods: [coop]\nshots: 1\n",
               2, 37, "empty mapping");
}
END_TEST

/* ---- ids -------------------------------------------------------------------- */
static bool has_trial(const struct coop_matrix *m, const struct coop_trial *t)
{
    for (size_t i = 0; i < coop_matrix_count(m); i++) {
        const struct coop_trial *o = coop_matrix_trial(m, i);
        if (strcmp(o->id, t->id) == 0)
            return strcmp(o->config_yaml, t->config_yaml) == 0;
    }
    return false;
}

START_TEST(ids_stable_when_axes_grow)
{
    struct coop_matrix *a = load_ok("experiment: one\n" BACKBONE "datasets: [oxford_pets]\n"
                                    "methods: [{name: coop, n_ctx: 16}, zeroshot]\n"
                                    "shots: [1, 2]\nseeds: [1]\n");
    struct coop_matrix *b = load_ok("experiment: two\nresults_dir: elsewhere\n" BACKBONE
                                    "datasets: [caltech101, oxford_pets]\n"
                                    "methods: [linear_probe, {name: coop, n_ctx: [4, 16]}, "
                                    "zeroshot]\n"
                                    "shots: [4, 2, 1]\nseeds: [3, 1, 2]\n"
                                    "train: {lr: [0.01, 0.002]}\n"
                                    "exclude: [{dataset: caltech101, shots: 4}]\n");
    ck_assert_uint_eq(coop_matrix_count(a), 3);
    ck_assert_uint_gt(coop_matrix_count(b), 3 * coop_matrix_count(a));
    for (size_t i = 0; i < coop_matrix_count(a); i++)
        ck_assert_msg(has_trial(b, coop_matrix_trial(a, i)), "trial %s lost its id",
                      coop_matrix_trial(a, i)->axes_summary);
    coop_matrix_free(a);
    coop_matrix_free(b);
}
END_TEST

START_TEST(ids_differ_when_any_value_differs)
{
    char p[512];
    snprintf(p, sizeof p, "%s/models/y.safetensors", tmpdir);
    write_file(p, "y", 1);
#define D "datasets: [oxford_pets]\n"
#define M "methods: [coop]\n"
#define S "shots: 4\n"
    static const char *const docs[] = {
        BACKBONE D M S,
        BACKBONE D "methods: [{name: coop, n_ctx: 8}]\n" S,
        BACKBONE D "methods: [{name: coop, position: middle}]\n" S,
        BACKBONE D "methods: [{name: coop, csc: true}]\n" S,
        BACKBONE D "methods: [{name: coop, init: a photo of a}]\n" S,
        BACKBONE D "methods: [{name: coop, init_std: 0.01}]\n" S,
        BACKBONE D M "shots: 2\n",
        BACKBONE D M S "seeds: 2\n",
        BACKBONE D M S "train: {lr: 0.003}\n",
        BACKBONE D M S "train: {batch_size: 16}\n",
        BACKBONE D M S "train: {epochs: 10}\n",
        BACKBONE D M S "train: {warmup_epochs: 0}\n",
        BACKBONE D M S "train: {warmup_lr: 1.0e-6}\n",
        BACKBONE D M S "train: {schedule: constant}\n",
        BACKBONE D M S "train: {momentum: 0.8}\n",
        BACKBONE D M S "train: {weight_decay: 0}\n",
        BACKBONE D M S "train: {warmup_type: linear}\n",
        BACKBONE D M S "train: {schedule: linear}\n",
        BACKBONE D M S "augment: {views: 4}\n",
        BACKBONE D M S "augment: {mode: online}\n",
        BACKBONE D M S "augment: {crop_scale: 0.5}\n",
        BACKBONE "datasets: [caltech101]\n" M S,
        BACKBONE "datasets: [{name: oxford_pets, targets: [imagenetv2]}]\n" M S,
        BACKBONE "datasets: [{name: world, options: {style: a}}]\n" M S,
        BACKBONE "datasets: [{name: world, options: {style: b}}]\n" M S,
        BACKBONE "datasets: [{name: world, options: {style: a, n_classes: 3}}]\n" M S,
        "backbone: {plugin: clip, checkpoint: models/y.safetensors}\n" D M S,
        "backbone: {plugin: clip, checkpoint: models/x.safetensors, vocab: models/bpe.txt.gz}\n"
        D M S,
        "backbone: {plugin: clip, checkpoint: models/x.safetensors, options: {precision: fp16}}\n"
        D M S,
        BACKBONE D "methods: [linear_probe]\n" S,
        BACKBONE D "methods: [zeroshot]\n",
    };
#undef D
#undef M
#undef S
    size_t n = sizeof docs / sizeof *docs;
    char ids[64][17];
    for (size_t i = 0; i < n; i++) {
        struct coop_matrix *m = load_ok(docs[i]);
        ck_assert_uint_eq(coop_matrix_count(m), 1);
        memcpy(ids[i], coop_matrix_trial(m, 0)->id, 17);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(ids[i], ids[j]) != 0, "docs %zu and %zu share id %s", j, i,
                          ids[i]);
        coop_matrix_free(m);
    }
    /* equivalent spellings give the same id */
    struct coop_matrix *a = load_ok(BACKBONE "datasets: [oxford_pets]\nmethods: [coop]\n"
                                    "shots: 4\n");
    struct coop_matrix *b = load_ok(BACKBONE "datasets: [oxford_pets]\n"
                                    "methods: [{name: coop, n_ctx: 16, csc: False, "
                                    "init_std: 2e-2}]\nshots: [4]\nseeds: [1]\n"
                                    "train: {epochs: 100, lr: 2.0e-3}\n"
                                    "augment: {crop_scale: 0.080}\n");
    ck_assert_str_eq(coop_matrix_trial(a, 0)->id, coop_matrix_trial(b, 0)->id);
    /* crop_scale came later: at its default it stays out of the config text, so the
     * ids recorded before it existed still match; another value is written */
    ck_assert_ptr_null(strstr(coop_matrix_trial(a, 0)->config_yaml, "crop_scale"));
    /* so did the backbone option precision: at its default (written or not) the id is the
     * one recorded before it existed, another value is written */
    struct coop_matrix *c = load_ok("backbone: {plugin: clip, checkpoint: models/x.safetensors, "
                                    "options: {precision: fp32}}\n"
                                    "datasets: [oxford_pets]\nmethods: [coop]\nshots: 4\n");
    ck_assert_str_eq(coop_matrix_trial(a, 0)->id, coop_matrix_trial(c, 0)->id);
    ck_assert_ptr_null(strstr(coop_matrix_trial(a, 0)->config_yaml, "precision"));
    ck_assert_ptr_nonnull(strstr(coop_matrix_trial(a, 0)->config_yaml, "options: {}"));
    coop_matrix_free(c);
    c = load_ok("backbone: {plugin: clip, checkpoint: models/x.safetensors, "
                "options: {precision: fp16}}\n"
                "datasets: [oxford_pets]\nmethods: [coop]\nshots: 4\n");
    ck_assert_ptr_nonnull(strstr(coop_matrix_trial(c, 0)->config_yaml, "precision: \"fp16\""));
    coop_matrix_free(c);
    coop_matrix_free(a);
    coop_matrix_free(b);
}
END_TEST

START_TEST(base2new_protocol_is_a_dataset_key)
{
    const char *plain = BACKBONE "datasets: [oxford_pets]\nmethods: [coop, zeroshot]\nshots: 16\n";
    const char *all = BACKBONE "datasets: [{name: oxford_pets, protocol: all}]\n"
                               "methods: [coop, zeroshot]\nshots: 16\n";
    const char *b2n = BACKBONE "datasets: [{name: oxford_pets, protocol: base2new}]\n"
                               "methods: [coop, zeroshot]\nshots: 16\n";
    struct coop_matrix *a = load_ok(plain), *b = load_ok(all), *c = load_ok(b2n);
    ck_assert_uint_eq(coop_matrix_count(c), 2);
    for (size_t i = 0; i < 2; i++) {
        const struct coop_trial *ta = coop_matrix_trial(a, i), *tb = coop_matrix_trial(b, i),
                                *tc = coop_matrix_trial(c, i);
        /* the default keeps the config text, so ids recorded before the key existed */
        ck_assert_str_eq(ta->config_yaml, tb->config_yaml);
        ck_assert_str_eq(ta->id, tb->id);
        ck_assert(!ta->base2new && !tb->base2new && tc->base2new);
        ck_assert_ptr_null(strstr(ta->config_yaml, "protocol"));
        ck_assert_ptr_nonnull(strstr(tc->config_yaml, "  protocol: \"base2new\"\n"));
        ck_assert_str_ne(ta->id, tc->id);
        ck_assert_ptr_null(strstr(ta->axes_summary, "protocol"));
        ck_assert_ptr_nonnull(strstr(tc->axes_summary, "dataset=oxford_pets protocol=base2new "));
    }
    coop_matrix_free(a);
    coop_matrix_free(b);
    coop_matrix_free(c);
#define B2N_REST "\nmethods: [coop]\nshots: 4\n"
    EXPECT_ERROR(BACKBONE "datasets: [{name: oxford_pets, protocol: base2novel}]" B2N_REST, 2, 42,
                 "protocol: 'base2novel' is not one of all, base2new");
    EXPECT_ERROR(BACKBONE "datasets: [{name: imagenet, targets: [imagenetv2], protocol: base2new}]"
                 B2N_REST, 2, 62, "protocol base2new", "takes no targets");
    EXPECT_ERROR(BACKBONE "datasets: [{name: oxford_pets, protocol: [base2new]}]" B2N_REST, 2, 42,
                 "protocol");
#undef B2N_REST
}
END_TEST

START_TEST(config_yaml_round_trips)
{
    struct coop_matrix *m = load_ok(BACKBONE "datasets: [{name: imagenet, targets: [imagenetv2, "
                                    "imagenet_a]}]\n"
                                    "methods: [{name: coop, init: \"say \\\"hi\\\"\\tnow\"}]\n"
                                    "shots: 16\n");
    const struct coop_trial *t = coop_matrix_trial(m, 0);
    ck_assert_uint_eq(t->n_targets, 2);
    ck_assert_str_eq(t->targets[1], "imagenet_a");
    struct ydoc d;
    struct coop_err e;
    ck_assert_msg(coop_ydoc_parse(&d, t->config_yaml, strlen(t->config_yaml), "cfg", &e) == 0, "%s",
                  e.msg);
    const struct ynode *params = coop_ymap_get(coop_ymap_get(d.root, "method"), "params");
    ck_assert_str_eq(coop_ymap_get(params, "init")->str, "say \"hi\"\tnow");
    ck_assert_str_eq(coop_ymap_get(params, "n_ctx")->str, "16");
    ck_assert_str_eq(coop_ymap_get(coop_ymap_get(d.root, "train"), "epochs")->str, "200");
    ck_assert_uint_eq(coop_ymap_get(coop_ymap_get(d.root, "dataset"), "targets")->n, 2);
    ck_assert_str_eq(coop_ymap_get(coop_ymap_get(d.root, "backbone"), "checkpoint")->str,
                     "models/x.safetensors");
    coop_ydoc_free(&d);
    coop_matrix_free(m);
}
END_TEST

START_TEST(load_file_and_peek_paths)
{
    char p[600], want[700];
    const char *text = "plugin_path: [plugins]\ndata_root: data\nresults_dir: out\n" BACKBONE
                       "datasets: [oxford_pets]\nmethods: [zeroshot]\n";
    write_file(yaml_name, text, strlen(text));
    char *real = realpath(tmpdir, NULL);
    ck_assert_ptr_nonnull(real);
    char **paths;
    size_t n;
    struct coop_err e;
    ck_assert_int_eq(coop_matrix_peek_plugin_paths(yaml_name, &paths, &n, &e), 0);
    ck_assert_uint_eq(n, 1);
    snprintf(want, sizeof want, "%s/plugins", real);
    ck_assert_str_eq(paths[0], want);
    coop_matrix_free_paths(paths, n);
    struct coop_matrix *m;
    ck_assert_msg(coop_matrix_load(yaml_name, &resolver, &m, &e) == 0, "%s", e.msg);
    size_t np;
    const char *const *pp = coop_matrix_plugin_paths(m, &np);
    ck_assert_uint_eq(np, 1);
    ck_assert_str_eq(pp[0], want);
    const struct coop_trial *t = coop_matrix_trial(m, 0);
    snprintf(want, sizeof want, "%s/data", real);
    ck_assert_str_eq(t->data_root, want);
    snprintf(want, sizeof want, "%s/models/x.safetensors", real);
    ck_assert_str_eq(t->checkpoint, want);
    ck_assert_str_eq(t->results_dir, "out");
    ck_assert_str_eq(t->experiment, "exp");
    coop_matrix_free(m);
    /* a missing plugin folder is reported by the pre-pass too */
    text = "plugin_path: [plugins, nope]\n";
    write_file(yaml_name, text, strlen(text));
    ck_assert_int_ne(coop_matrix_peek_plugin_paths(yaml_name, &paths, &n, &e), 0);
    snprintf(p, sizeof p, "%s:1:24: plugin_path: folder", yaml_name);
    ck_assert_msg(strstr(e.msg, p), "%s", e.msg);
    ck_assert_ptr_null(paths);
    /* a missing file */
    snprintf(p, sizeof p, "%s/none.yaml", tmpdir);
    ck_assert_int_eq(coop_matrix_load(p, &resolver, &m, &e), COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "none.yaml:1:1"));
    free(real);
}
END_TEST

/* ---- errors: each names file:line:column ------------------------------------ */
#define DM "datasets: [oxford_pets]\nmethods: [coop]\n"

START_TEST(error_unknown_keys)
{
    EXPECT_ERROR(BACKBONE "dataset: [oxford_pets]\n", 2, 1, "unknown key 'dataset'",
                 "did you mean 'datasets'");
    EXPECT_ERROR(BACKBONE DM "shots: 1\ntrain:\n  lr: 0.002\n  momentun: 0.9\n", 7, 3,
                 "train: unknown key 'momentun'", "did you mean 'momentum'");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, n_cxt: 4}]\n", 3, 24,
                 "unknown key 'n_cxt'", "did you mean 'n_ctx'");
    EXPECT_ERROR(BACKBONE "datasets: [{name: world, options: {n_clases: 5, style: x}}]\n"
                 "methods: [zeroshot]\n", 2, 36, "did you mean 'n_classes'");
    /* the valid keys are listed, with or without a suggestion */
    EXPECT_ERROR(BACKBONE "datasets: [{name: world, options: {colour: 5, style: x}}]\n"
                 "methods: [zeroshot]\n", 2, 36,
                 "dataset 'world': unknown key 'colour'; valid keys: n_classes, style");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, n_cxt: 4}]\n", 3, 24,
                 "(did you mean 'n_ctx'?); valid keys: n_ctx, position, csc, init, init_std");
    EXPECT_ERROR(BACKBONE DM "shots: 1\ntrain:\n  lr: 0.002\n  momentun: 0.9\n", 7, 3,
                 "(did you mean 'momentum'?); valid keys: ", "lr", "epochs");
    EXPECT_ERROR("backbone: {plugin: clip, checkpoint: models/x.safetensors, chekpoint: y}\n",
                 1, 60, "did you mean 'checkpoint'");
    EXPECT_ERROR(BACKBONE DM "shots: 1\naugment: {mdoe: online}\n", 5, 11,
                 "did you mean 'mode'");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nexclude: [{methd: coop}]\n", 5, 12,
                 "exclude: unknown key 'methd'", "did you mean 'method'");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nexclude: [{method: [coop, zeroshot]}]\n", 5, 27,
                 "exclude: method 'zeroshot' is not in this file");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nexclude: [{dataset: oxford_pet}]\n", 5, 21,
                 "did you mean 'oxford_pets'");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nexclude: [{position: midle}]\n", 5, 22,
                 "exclude: position", "did you mean 'middle'");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nexclude: [{csc: yes}]\n", 5, 17,
                 "expected true or false");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nexclude: [{shots: [1, 1.5]}]\n", 5, 23,
                 "exclude: shots: expected an integer");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nexclude: [{train.schedule: cosin}]\n", 5, 28,
                 "did you mean 'cosine'");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, zip: []}]\n", 3, 29,
                 "zip: expected a list of parameter names");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nzip: [[shots, seedz]]\n", 5, 15,
                 "zip: unknown axis 'seedz'", "did you mean 'seed");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nshots: 2\n", 5, 1, "duplicate key 'shots'");
}
END_TEST

START_TEST(error_types_and_ranges)
{
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, n_ctx: abc}]\n", 3,
                 31, "coop: n_ctx: expected an integer, got 'abc'");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, n_ctx: \"4\"}]\n", 3,
                 31, "expected an integer");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, n_ctx: 100}]\n", 3,
                 31, "100 is out of range [1, 77]");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, n_ctx: [4, 0]}]\n",
                 3, 35, "out of range");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, csc: maybe}]\n", 3,
                 29, "expected true or false");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, position: ends}]\n",
                 3, 34, "'ends' is not one of: end, middle, front", "did you mean 'end'");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, n_ctx: [[4]]}]\n", 3,
                 32, "list items must be scalars");
    EXPECT_ERROR(BACKBONE DM "shots: {a: 1}\n", 4, 8, "expected a value or a list");
    EXPECT_ERROR(BACKBONE DM "shots: 0\n", 4, 8, "out of range");
    /* integer ranges print as integers, however large */
    EXPECT_ERROR(BACKBONE DM "seeds: [1, 3000000000]\n", 4, 12,
                 "seeds: 3000000000 is out of range [0, 2147483647]");
    EXPECT_ERROR(BACKBONE DM "shots: [1, 2, 1]\n", 4, 15, "duplicate value '1'");
    EXPECT_ERROR(BACKBONE DM "shots: 1\ntrain: {lr: fast}\n", 5, 13, "train.lr: expected a number");
    EXPECT_ERROR(BACKBONE DM "shots: 1\ntrain: {lr: .inf}\n", 5, 13, "expected a number");
    EXPECT_ERROR(BACKBONE DM "shots: 1\ntrain: {epochs: 0}\n", 5, 17, "out of range");
    EXPECT_ERROR(BACKBONE DM "shots: 1\naugment: {crop_scale: 0}\n", 5, 23,
                 "augment.crop_scale: 0 is out of range");
    EXPECT_ERROR(BACKBONE DM "shots: 1\ntrain: {schedule: cosin}\n", 5, 19,
                 "did you mean 'cosine'");
    EXPECT_ERROR(BACKBONE DM "shots: 1\ntrain: [1]\n", 5, 8, "train: expected a mapping");
    EXPECT_ERROR(BACKBONE "datasets: [{name: imagenet, epochs: many}]\nmethods: [coop]\n", 2, 37,
                 "expected an integer");
    EXPECT_ERROR("experiment: ../x\n" BACKBONE DM, 1, 13, "must be a folder name");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [coop]\n", 1, 1,
                 "shots: required when a method trains");
    EXPECT_ERROR(BACKBONE "datasets: [{name: world}]\nmethods: [zeroshot]\n", 2, 12,
                 "required parameter 'style' is missing");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, init: }]\n", 3, 30,
                 "init: needs a value");
    EXPECT_ERROR("- a\n- b\n", 1, 1, "top level: expected a mapping");
    EXPECT_ERROR("", 1, 1, "empty experiment file");
    EXPECT_ERROR("datasets: [oxford_pets]\nmethods: [zeroshot]\n", 1, 1, "'backbone' is required");
}
END_TEST

START_TEST(error_empty_axes_and_zip)
{
    EXPECT_ERROR(BACKBONE "datasets: []\nmethods: [coop]\n", 2, 11, "datasets: empty list");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: []\n", 3, 10, "methods: empty list");
    EXPECT_ERROR(BACKBONE DM "shots: []\n", 4, 8, "shots: empty list");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: coop, n_ctx: []}]\n", 3, 31,
                 "empty list");
    EXPECT_ERROR(BACKBONE DM "shots: [1, 2]\nseeds: [1, 2, 3]\nzip: [[shots, seeds]]\n", 6, 15,
                 "'seeds' has 3 values but 'shots' has 2");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\n"
                 "methods: [{name: coop, n_ctx: [1, 2], csc: [true, false], "
                 "zip: [n_ctx, position]}]\n", 3, 72, "'position' has 1 values");
    EXPECT_ERROR(BACKBONE DM "shots: 1\nexclude: [{method: coop}]\n", 1, 1,
                 "every combination is excluded");
}
END_TEST

START_TEST(error_plugins_and_files)
{
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pet]\nmethods: [coop]\n", 2, 12,
                 "unknown dataset plugin 'oxford_pet'", "did you mean 'oxford_pets'");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [coopp]\n", 3, 11,
                 "unknown method plugin 'coopp'", "did you mean 'coop'");
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets]\nmethods: [{name: zero_shot}]\n", 3, 18,
                 "did you mean 'zeroshot'");
    EXPECT_ERROR(BACKBONE "datasets: [{name: imagenet, targets: [imagenetv3]}]\n"
                 "methods: [zeroshot]\n", 2, 39, "did you mean 'imagenetv2'");
    EXPECT_ERROR(BACKBONE "datasets: [coop]\nmethods: [zeroshot]\n", 2, 12,
                 "unknown dataset plugin 'coop'");
    EXPECT_ERROR("backbone: {plugin: clap, checkpoint: models/x.safetensors}\n", 1, 20,
                 "unknown backbone plugin 'clap'", "did you mean 'clip'");
    EXPECT_ERROR("backbone: {plugin: clip, checkpoint: models/nope.safetensors}\n" DM, 1, 38,
                 "checkpoint: file", "nope.safetensors' does not exist");
    EXPECT_ERROR("backbone: {plugin: clip, checkpoint: models}\n" DM, 1, 38,
                 "backbone: checkpoint: '", "/models' is a folder, not a file");
    EXPECT_ERROR("backbone: {plugin: clip, checkpoint: models/x.safetensors, vocab: v.gz}\n" DM,
                 1, 67, "vocab: file");
    EXPECT_ERROR("data_root: nowhere\n" BACKBONE DM, 1, 12, "data_root: folder",
                 "nowhere' does not exist");
    EXPECT_ERROR("backbone: {checkpoint: models/x.safetensors}\n" DM, 1, 11,
                 "'plugin' is required");
}
END_TEST

START_TEST(error_malformed_yaml)
{
    EXPECT_ERROR(BACKBONE "datasets: [oxford_pets\nmethods: [coop]\n", 3, 8, "YAML syntax error",
                 "while parsing a flow sequence (opened at 2:11)");
    EXPECT_ERROR(BACKBONE "datasets: oxford_pets\n  methods: [coop]\n", 3, 0, "YAML syntax error");
    EXPECT_ERROR("key: \"unterminated\n", 2, 0, "YAML syntax error");
    EXPECT_ERROR(BACKBONE "datasets: &d [oxford_pets]\nmethods: *d\n", 3, 10, "aliases");
    EXPECT_ERROR(BACKBONE DM "---\nshots: 1\n", 4, 1, "more than one YAML document");
    EXPECT_ERROR(BACKBONE "? [a, b]\n: 1\n", 2, 3, "mapping keys must be plain scalars");
    static const char nul[] = "experiment: a\0b\n";
    expect_error(nul, sizeof nul - 1, 1, 0, "YAML syntax error", (const char *)NULL);
}
END_TEST

/* ---- hostile input ------------------------------------------------------------ */
static bool under_valgrind(void)
{
    const char *v = getenv("COOP_VALGRIND");
    return v && v[0] == '1';
}

START_TEST(hostile_alias_bomb)
{
    static const char bomb[] =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    EXPECT_ERROR(bomb, 2, 8, "aliases");
}
END_TEST

START_TEST(hostile_deep_nesting)
{
    size_t n = 100000;
    char *s = malloc(n + 1);
    memset(s, '[', n);
    s[n] = '\0';
    expect_error(s, n, 1, 65, "nesting deeper than 64 levels", (const char *)NULL);
    for (size_t i = 0; i < n; i += 2) /* {a: {a: ... block-free flow maps */
        s[i] = '{', s[i + 1] = 'a';
    expect_error(s, n, 1, 0, "", (const char *)NULL);
    free(s);
    /* deep block nesting through indentation */
    size_t depth = 200, len = 0;
    char *b = malloc(depth * (depth + 4) + 16);
    for (size_t d = 0; d < depth; d++) {
        memset(b + len, ' ', d);
        len += d;
        memcpy(b + len, "k:\n", 3);
        len += 3;
    }
    b[len] = '\0';
    expect_error(b, len, 65, 65, "nesting deeper", (const char *)NULL);
    free(b);
}
END_TEST

START_TEST(hostile_huge_inputs)
{
    size_t n = 10u << 20;
    char *s = malloc(n + 1);
    memset(s, ' ', n);
    memcpy(s, "experiment: x\n#", 15);
    s[n] = '\0';
    expect_error(s, n, 1, 1, "larger than the limit", (const char *)NULL);
    write_file(yaml_name, s, n);
    free(s);
    struct coop_matrix *m = NULL;
    struct coop_err e;
    ck_assert_int_eq(coop_matrix_load(yaml_name, &resolver, &m, &e), COOP_E_NOMEM);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(e.msg, ":1:1"));
    ck_assert_ptr_nonnull(strstr(e.msg, "limit"));
    char **paths;
    size_t np;
    ck_assert_int_eq(coop_matrix_peek_plugin_paths(yaml_name, &paths, &np, &e), COOP_E_NOMEM);
    /* within the byte limit but too many nodes */
    size_t items = 300000;
    char *w = malloc(items * 2 + 16);
    size_t len = (size_t)sprintf(w, "shots: [");
    for (size_t i = 0; i < items; i++)
        w[len++] = '1', w[len++] = ',';
    w[len++] = ']';
    w[len] = '\0';
    expect_error(w, len, 1, 0, "too many YAML nodes", (const char *)NULL);
    free(w);
    /* a product beyond the trial limit is refused before it is built */
    char *big = malloc(32768);
    len = (size_t)sprintf(big, BACKBONE DM "shots: [");
    for (int i = 1; i <= 1000; i++)
        len += (size_t)sprintf(big + len, "%d,", i);
    len += (size_t)sprintf(big + len, "]\nseeds: [");
    for (int i = 0; i <= 1000; i++)
        len += (size_t)sprintf(big + len, "%d,", i);
    sprintf(big + len, "]\n");
    EXPECT_ERROR(big, 1, 1, "more than 1000000 combinations");
    free(big);
}
END_TEST

START_TEST(hostile_binary_garbage)
{
    struct coop_rng r;
    coop_rng_seed(&r, 1234);
    int rounds = under_valgrind() ? 50 : 500;
    unsigned char buf[4096];
    for (int k = 0; k < rounds; k++) {
        size_t n = 1 + (size_t)coop_rng_below(&r, sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)coop_rng_below(&r, 256);
        struct coop_matrix *m = NULL;
        struct coop_err e = {{0}};
        int rc = coop_matrix_load_string((const char *)buf, n, yaml_name, &resolver, &m, &e);
        ck_assert_int_lt(rc, 0); /* random bytes never make a valid experiment */
        ck_assert_ptr_null(m);
        ck_assert_int_eq(strncmp(e.msg, yaml_name, strlen(yaml_name)), 0);
    }
}
END_TEST

/* Mutated versions of a valid file never crash, leak or read out of bounds
 * (run under ASan and valgrind); successful loads are walked completely. */
START_TEST(fuzz_mutations)
{
    static const char base[] =
        "experiment: fuzz\n" BACKBONE
        "datasets:\n  - oxford_pets\n  - {name: imagenet, targets: [imagenetv2], epochs: 50}\n"
        "methods:\n  - name: coop\n    n_ctx: [16, 4]\n    position: [end, middle]\n"
        "    csc: [false, true]\n    zip: [[n_ctx, csc]]\n  - zeroshot\n"
        "shots: [1, 2, 4]\nseeds: [1, 2, 3]\n"
        "train: {epochs: auto, lr: 0.002, schedule: cosine}\naugment: {mode: views, views: 2}\n"
        "zip: [[shots, seeds]]\nexclude:\n  - {method: coop, csc: true, position: middle}\n";
    static const char *const dict[] = {
        "[]", "{}", "~", "\"\"", "-1", "1e999", "&a ", "*a", "\n- ", ": ", "[[", "]]", "0x10",
        "true", "null", ".nan", "auto", "\nzip: []\n", "\nzip: [[]]\n", "\nexclude: [{}]\n",
        "\ntrain: {}\n", "\ntrain:\n", "\nexclude: [{method: [coop]}]\n", "n_ctx: []",
        "\nshots: []\n", "\nmethods: []\n", "zip: [n_ctx]", "zip: [[n_ctx, csc], []]",
        "\nzip: [shots, seeds, shots]\n", "\ntrain: {epochs: [auto, auto]}\n", "!!str ",
        "'", "|\n", ">-\n", "? ", "%YAML 1.1\n---\n", "\n...\n", "\t", "\xef\xbb\xbf", "\\"};
    static const char sig[] = "[]{}:,-&*!|>'\"#\n @%?\t\\0123456789abcxyz";
    struct coop_rng r;
    /* COOP_FUZZ_SEED / COOP_FUZZ_ROUNDS allow longer campaigns by hand */
    const char *fs = getenv("COOP_FUZZ_SEED"), *fr = getenv("COOP_FUZZ_ROUNDS");
    coop_rng_seed(&r, fs ? strtoull(fs, NULL, 10) : 99);
    int rounds = fr ? atoi(fr) : under_valgrind() ? 200 : 6000, ok = 0;
    char buf[4 * sizeof base];
    for (int k = 0; k < rounds; k++) {
        size_t n = sizeof base - 1;
        memcpy(buf, base, n);
        int edits = 1 + (int)coop_rng_below(&r, 4);
        for (int j = 0; j < edits; j++) {
            size_t at = (size_t)coop_rng_below(&r, n);
            switch (coop_rng_below(&r, 6)) {
            case 0:
                buf[at] = sig[coop_rng_below(&r, sizeof sig - 1)];
                break;
            case 1:
                buf[at] = (char)coop_rng_below(&r, 256);
                break;
            case 2: { /* delete a span */
                size_t len = 1 + (size_t)coop_rng_below(&r, 8);
                if (at + len > n)
                    len = n - at;
                memmove(buf + at, buf + at + len, n - at - len);
                n -= len;
                break;
            }
            case 4:
            case 5: { /* insert a YAML-shaped token */
                const char *tok = dict[coop_rng_below(&r, sizeof dict / sizeof *dict)];
                size_t len = strlen(tok);
                if (n + len < sizeof buf) {
                    memmove(buf + at + len, buf + at, n - at);
                    memcpy(buf + at, tok, len);
                    n += len;
                }
                break;
            }
            default: { /* duplicate a span */
                size_t len = 1 + (size_t)coop_rng_below(&r, 16);
                if (at + len > n)
                    len = n - at;
                if (n + len < sizeof buf) {
                    memmove(buf + at + len, buf + at, n - at);
                    n += len;
                }
                break;
            }
            }
            if (n == 0)
                break;
        }
        struct coop_matrix *m = NULL;
        struct coop_err e = {{0}};
        int rc = coop_matrix_load_string(buf, n, yaml_name, &resolver, &m, &e);
        if (rc) {
            ck_assert_ptr_null(m);
            ck_assert_int_eq(strncmp(e.msg, yaml_name, strlen(yaml_name)), 0);
            continue;
        }
        ok++;
        ck_assert_uint_gt(coop_matrix_count(m), 0);
        for (size_t i = 0; i < coop_matrix_count(m); i++) {
            const struct coop_trial *t = coop_matrix_trial(m, i);
            ck_assert_uint_eq(strlen(t->id), 16);
            ck_assert_uint_gt(strlen(t->config_yaml) + strlen(t->axes_summary), 0);
            for (size_t p = 0; p < t->method_params.n; p++)
                ck_assert_ptr_nonnull(t->method_params.kv[p].value);
        }
        coop_matrix_free(m);
    }
    ck_assert_int_gt(ok, 0); /* some mutations stay valid (comments, spaces) */
}
END_TEST

/* ---- overrides, --print-config, every error at once ------------------------ */
static struct coop_matrix *load_opts(const char *text, const char *const *ov, size_t n,
                                     bool keep, struct coop_err *e)
{
    struct coop_matrix_options o = {.overrides = ov, .n_overrides = n, .keep_yaml = keep};
    struct coop_matrix *m = NULL;
    coop_matrix_load_string_opts(text, strlen(text), yaml_name, &resolver, &o, &m, e);
    return m;
}

/* same trials, same order, same ids and configs */
static void assert_same_trials(const struct coop_matrix *a, const struct coop_matrix *b)
{
    ck_assert_uint_eq(coop_matrix_count(a), coop_matrix_count(b));
    for (size_t i = 0; i < coop_matrix_count(a); i++) {
        ck_assert_str_eq(coop_matrix_trial(a, i)->id, coop_matrix_trial(b, i)->id);
        ck_assert_str_eq(coop_matrix_trial(a, i)->config_yaml,
                         coop_matrix_trial(b, i)->config_yaml);
        ck_assert_str_eq(coop_matrix_trial(a, i)->axes_summary,
                         coop_matrix_trial(b, i)->axes_summary);
    }
}

#define OV_BASE BACKBONE                                                                  \
    "datasets:\n  - oxford_pets\n  - name: world\n    options: {style: flat}\n"            \
    "methods:\n  - coop\n  - name: linear_probe\n    max_iter: 10\n  - zeroshot\n"         \
    "shots: [1, 2, 4]\nseeds: [1, 2]\nexclude:\n  - {method: linear_probe, shots: 4}\n"

START_TEST(overrides_match_edited_yaml)
{
    static const char *const ov[] = {"shots=[1,2]", "seeds=3", "methods.coop.n_ctx=[4, 8]",
                                     "methods.1.max_iter=20", "train.lr=0.01",
                                     "datasets.world.options.n_classes=5", "~exclude",
                                     "methods.zeroshot.label=zs"};
    struct coop_err e = {{0}};
    struct coop_matrix *a = load_opts(OV_BASE, ov, 8, false, &e);
    ck_assert_msg(a, "%s", e.msg);
    struct coop_matrix *b = load_ok(BACKBONE
                                    "datasets:\n  - oxford_pets\n  - name: world\n"
                                    "    options: {style: flat, n_classes: 5}\n"
                                    "methods:\n  - {name: coop, n_ctx: [4, 8]}\n"
                                    "  - name: linear_probe\n    max_iter: 20\n"
                                    "  - {name: zeroshot, label: zs}\n"
                                    "shots: [1, 2]\nseeds: 3\ntrain: {lr: 0.01}\n");
    ck_assert_uint_eq(coop_matrix_count(a), 2 * (2 * 2 + 2 + 1));
    assert_same_trials(a, b);
    ck_assert_str_eq(coop_matrix_trial(a, 0)->method_label, "coop");
    ck_assert_str_eq(coop_matrix_trial(a, coop_matrix_count(a) - 1)->method_label, "zs");
    coop_matrix_free(a);
    coop_matrix_free(b);
}
END_TEST

/* Loads OV_BASE with one override expecting an error holding each needle. */
static void expect_override_error(const char *ov, ...)
{
    struct coop_err e = {{0}};
    struct coop_matrix *m = load_opts(OV_BASE, &ov, 1, false, &e);
    ck_assert_msg(!m, "override '%s' should fail", ov);
    va_list ap;
    va_start(ap, ov);
    for (const char *needle; (needle = va_arg(ap, const char *));)
        ck_assert_msg(strstr(e.msg, needle), "message '%s' lacks '%s'", e.msg, needle);
    va_end(ap);
}
#define EXPECT_OV_ERROR(ov, ...) expect_override_error(ov, __VA_ARGS__, (const char *)NULL)

START_TEST(override_errors_name_the_override)
{
    EXPECT_OV_ERROR("methods.coop.n_ctx=x",
                    "override 1 'methods.coop.n_ctx=x': coop: n_ctx: expected an integer, got 'x'");
    EXPECT_OV_ERROR("methods.coop.n_ctx=99", "override 1 'methods.coop.n_ctx=99': ",
                    "out of range [1, 77]");
    EXPECT_OV_ERROR("train.lrr=1", "override 1 'train.lrr=1': train: unknown key 'lrr'",
                    "did you mean 'lr'");
    EXPECT_OV_ERROR("shots=[]", "override 1 'shots=[]': shots: empty list");
    EXPECT_OV_ERROR("methods.nope.x=1", "override 1 'methods.nope.x=1': no entry of the list "
                                        "is named or labelled 'nope'");
    EXPECT_OV_ERROR("methods.7=coop", "list index 7 is past the end");
    EXPECT_OV_ERROR("methods.linear_probe.max_iter.x=1", "cannot set 'x' inside a single value");
    EXPECT_OV_ERROR("shots", "expected KEY=VALUE");
    EXPECT_OV_ERROR("~train.lr", "there is no key 'train' on the way");
    EXPECT_OV_ERROR("a..b=1", "an empty key in the path");
    EXPECT_OV_ERROR("plugin_path=x", "give --plugin-path instead");
    EXPECT_OV_ERROR("shots=[1", "override 1 'shots=[1'", "YAML syntax error");
    EXPECT_OV_ERROR("backbone.checkpoint=models/none.safetensors",
                    "override 1 'backbone.checkpoint=models/none.safetensors': backbone: "
                    "checkpoint: file '", "does not exist");
}
END_TEST

START_TEST(print_config_round_trips)
{
    static const char *const ov[] = {"methods.coop.init=\"a, b: c\"", "methods.coop.csc=[true]",
                                     "shots=16"};
    const char *text = "# comment\n" OV_BASE "description: 'x: y'\n";
    struct coop_err e = {{0}};
    struct coop_matrix *a = load_opts(text, ov, 3, true, &e);
    ck_assert_msg(a, "%s", e.msg);
    const char *y = coop_matrix_yaml(a);
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(strstr(y, "experiment: exp\n"), "%s", y); /* the name is written out */
    ck_assert_msg(strstr(y, "shots: 16\n"), "%s", y);
    struct coop_matrix *b = load_ok(y);
    assert_same_trials(a, b);
    /* what is printed prints the same again */
    struct coop_matrix *c = load_opts(y, NULL, 0, true, &e);
    ck_assert_msg(c, "%s", e.msg);
    ck_assert_str_eq(strchr(coop_matrix_yaml(c), '\n'), strchr(y, '\n'));
    ck_assert_ptr_null(coop_matrix_yaml(b));
    coop_matrix_free(a);
    coop_matrix_free(b);
    coop_matrix_free(c);
}
END_TEST

struct seen {
    char msg[16384]; /* every message, each followed by '|' */
};

static void count_error(void *ctx, const char *msg)
{
    struct seen *seen = ctx;
    size_t used = strlen(seen->msg);
    snprintf(seen->msg + used, sizeof seen->msg - used, "%s|", msg);
}

START_TEST(every_error_at_once)
{
    const char *text = BACKBONE "datasets: [oxford_pets, nosuch]\n"        /* 2:25 */
                                "methods:\n  - name: coop\n    n_ctx: 0\n" /* 5:12 */
                                "    csc: maybe\n"                         /* 6:10 */
                                "  - zeroshoot\n"                          /* 7:5 */
                                "shots: [1, x]\n"                          /* 8:12 */
                                "train: {lr: -1, sched: x}\n"              /* 9:13, 9:17 */
                                "bogus: 1\n";                              /* 10:1 */
    static const char *const where[] = {":10:1: top level: unknown key 'bogus'",
                                        ":2:25: unknown dataset plugin 'nosuch'",
                                        ":5:12: coop: n_ctx: 0 is out of range",
                                        ":6:10: coop: csc: expected true or false",
                                        ":7:5: unknown method plugin 'zeroshoot'",
                                        ":8:12: shots: expected an integer",
                                        ":9:17: train: unknown key 'sched'",
                                        ":9:13: train.lr: -1 is out of range"};
    static struct seen seen;
    struct coop_err e = {{0}};
    seen.msg[0] = '\0';
    struct coop_matrix_options o = {.on_error = count_error, .ctx = &seen};
    struct coop_matrix *m = NULL;
    int rc = coop_matrix_load_string_opts(text, strlen(text), yaml_name, &resolver, &o, &m, &e);
    ck_assert_int_eq(rc, COOP_E_INVAL);
    ck_assert_ptr_null(m);
    const char *at = seen.msg;
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        char want[300];
        snprintf(want, sizeof want, "%s%s", yaml_name, where[i]);
        ck_assert_msg(strncmp(at, want, strlen(want)) == 0, "error %zu: '%.120s' should start "
                      "with '%s'", i, at, want);
        at = strchr(at, '|') + 1;
    }
    ck_assert_str_eq(at, "");
    char want[400];
    snprintf(want, sizeof want, "%s: 8 errors", yaml_name);
    ck_assert_str_eq(e.msg, want);
    /* without a callback: the first error first, then the others, one a line */
    rc = coop_matrix_load_string(text, strlen(text), yaml_name, &resolver, &m, &e);
    ck_assert_int_eq(rc, COOP_E_INVAL);
    ck_assert_msg(strstr(e.msg, "top level: unknown key 'bogus'") == e.msg + strlen(yaml_name) + 7,
                  "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "\n") && strstr(e.msg, "zeroshoot"), "%s", e.msg);
}
END_TEST

START_TEST(errors_capped)
{
    char text[8192];
    int len = snprintf(text, sizeof text, BACKBONE "datasets: [oxford_pets]\nmethods:\n");
    for (int i = 0; i < 40; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, "  - nosuch%d\n", i);
    static struct seen seen;
    struct coop_err e = {{0}};
    seen.msg[0] = '\0';
    struct coop_matrix_options o = {.on_error = count_error, .ctx = &seen};
    struct coop_matrix *m = NULL;
    ck_assert_int_eq(coop_matrix_load_string_opts(text, (size_t)len, yaml_name, &resolver, &o,
                                                  &m, &e), COOP_E_NOTFOUND);
    size_t bars = 0;
    for (const char *p = seen.msg; (p = strchr(p, '|')); p++)
        bars++;
    ck_assert_uint_eq(bars, COOP_MATRIX_MAX_ERRORS);
    ck_assert_msg(strstr(e.msg, "20 errors (the most reported at once"), "%s", e.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("matrix");
    TCase *tc = tcase_create("matrix");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, product_counts);
    tcase_add_test(tc, zip_axes);
    tcase_add_test(tc, exclude_rules);
    tcase_add_test(tc, method_train_overrides);
    tcase_add_test(tc, plugin_recipe_is_the_method_default);
    tcase_add_test(tc, labels_and_merging);
    tcase_add_test(tc, defaults_filled);
    tcase_add_test(tc, auto_epochs);
    tcase_add_test(tc, ids_stable_when_axes_grow);
    tcase_add_test(tc, ids_differ_when_any_value_differs);
    tcase_add_test(tc, config_yaml_round_trips);
    tcase_add_test(tc, base2new_protocol_is_a_dataset_key);
    tcase_add_test(tc, load_file_and_peek_paths);
    tcase_add_test(tc, error_unknown_keys);
    tcase_add_test(tc, error_types_and_ranges);
    tcase_add_test(tc, error_empty_axes_and_zip);
    tcase_add_test(tc, error_plugins_and_files);
    tcase_add_test(tc, error_malformed_yaml);
    tcase_add_test(tc, hostile_alias_bomb);
    tcase_add_test(tc, hostile_deep_nesting);
    tcase_add_test(tc, hostile_huge_inputs);
    tcase_add_test(tc, hostile_binary_garbage);
    tcase_add_test(tc, fuzz_mutations);
    tcase_add_test(tc, overrides_match_edited_yaml);
    tcase_add_test(tc, override_errors_name_the_override);
    tcase_add_test(tc, print_config_round_trips);
    tcase_add_test(tc, every_error_at_once);
    tcase_add_test(tc, errors_capped);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
