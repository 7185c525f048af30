/* test_export.c: the synthetic dataset plugin through the ABI (dlopen, its
 * descriptors, items, pixels equal to libcoop's renderer, target maps) and
 * coop-export-dataset's on-disk layout (the split JSON parses, every PNG
 * exists with the right size, labels and class names agree with meta.json). */
#include "coop/plugin.h"
#include "coop/image.h"
#include "coop/util.h"
#include "coop/world.h"
#include <check.h>
#include <ctype.h>
#include <dlfcn.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

/* ---- a minimal JSON reader (objects, arrays, strings, integers) ----------- */
enum jtype { J_NULL, J_NUM, J_STR, J_ARR, J_OBJ };
struct jval {
    enum jtype t;
    double num;
    char *str;             /* J_STR; key of an object member */
    struct jval *items;    /* J_ARR / J_OBJ members */
    size_t n;
    char *key;
};

static void jfree(struct jval *v)
{
    for (size_t i = 0; i < v->n; i++)
        jfree(&v->items[i]);
    free(v->items);
    free(v->str);
    free(v->key);
}

static void skip_ws(const char **p)
{
    while (isspace((unsigned char)**p))
        (*p)++;
}

static int jparse(const char **p, struct jval *v);

static int jstring(const char **p, char **out)
{
    if (**p != '"')
        return -1;
    (*p)++;
    size_t cap = 64, n = 0;
    char *s = malloc(cap);
    while (**p && **p != '"') {
        char c = *(*p)++;
        if (c == '\\') {
            c = *(*p)++;
            if (c == 'u') { /* \u00XX only (what the exporter writes) */
                c = (char)strtol((char[]){(*p)[2], (*p)[3], 0}, NULL, 16);
                *p += 4;
            }
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = c;
    }
    if (**p != '"') {
        free(s);
        return -1;
    }
    (*p)++;
    s[n] = '\0';
    *out = s;
    return 0;
}

static int jlist(const char **p, struct jval *v, char close, int keyed)
{
    (*p)++;
    skip_ws(p);
    if (**p == close) {
        (*p)++;
        return 0;
    }
    for (;;) {
        v->items = realloc(v->items, (v->n + 1) * sizeof *v->items);
        struct jval *it = &v->items[v->n++];
        memset(it, 0, sizeof *it);
        skip_ws(p);
        char *key = NULL;
        if (keyed) {
            if (jstring(p, &key))
                return -1;
            skip_ws(p);
            if (*(*p)++ != ':') {
                free(key);
                return -1;
            }
        }
        int rc = jparse(p, it); /* clears *it, so the key is set after */
        it->key = key;
        if (rc)
            return -1;
        skip_ws(p);
        char c = *(*p)++;
        if (c == close)
            return 0;
        if (c != ',')
            return -1;
    }
}

static int jparse(const char **p, struct jval *v)
{
    skip_ws(p);
    memset(v, 0, sizeof *v);
    if (**p == '{') {
        v->t = J_OBJ;
        return jlist(p, v, '}', 1);
    }
    if (**p == '[') {
        v->t = J_ARR;
        return jlist(p, v, ']', 0);
    }
    if (**p == '"') {
        v->t = J_STR;
        return jstring(p, &v->str);
    }
    if (strncmp(*p, "null", 4) == 0) {
        *p += 4;
        return 0;
    }
    char *end;
    v->t = J_NUM;
    v->num = strtod(*p, &end);
    if (end == *p)
        return -1;
    *p = end;
    return 0;
}

static const struct jval *jget(const struct jval *o, const char *key)
{
    for (size_t i = 0; o->t == J_OBJ && i < o->n; i++)
        if (strcmp(o->items[i].key, key) == 0)
            return &o->items[i];
    return NULL;
}

static void read_json(const char *path, struct jval *v)
{
    char *text;
    size_t len;
    struct coop_err e;
    ck_assert_msg(coop_read_file(path, 1 << 26, &text, &len, &e) == 0, "%s", e.msg);
    const char *p = text;
    ck_assert_msg(jparse(&p, v) == 0, "%s does not parse near offset %ld", path, (long)(p - text));
    skip_ws(&p);
    ck_assert_msg(*p == '\0', "%s: trailing text", path);
    free(text);
}

/* ---- plugin ------------------------------------------------------------------- */

static void *open_module(coop_plugin_enum_fn *fn)
{
    const char *root = getenv("COOP_BUILD_ROOT");
    ck_assert_ptr_nonnull(root);
    char path[1024];
    snprintf(path, sizeof path, "%s/plugins/datasets/synthetic/coop-synthetic.so", root);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    union { void *p; coop_plugin_enum_fn f; } sym;
    sym.p = dlsym(h, COOP_PLUGIN_ENUM_SYMBOL);
    ck_assert_ptr_nonnull(sym.p);
    *fn = sym.f;
    return h;
}

static const struct coop_kv small_kv[] = {
    {"seed", "3"}, {"image_size", "24"}, {"supersample", "2"},
    {"train_per_class", "2"}, {"val_per_class", "1"}, {"test_per_class", "2"}};

START_TEST(plugin_descriptors_items_and_pixels)
{
    coop_plugin_enum_fn fn;
    void *h = open_module(&fn);
    struct coop_params params = {small_kv, 6};
    struct coop_host host = {COOP_HOST_VERSION, NULL, NULL, NULL};
    struct coop_err e;
    uint32_t n = 0;
    for (const struct coop_plugin *d; (d = fn(n)); n++) {
        ck_assert_uint_eq(d->abi, COOP_PLUGIN_ABI);
        ck_assert_int_eq(d->kind, COOP_PLUGIN_DATASET);
        const struct coop_dataset_ops *ops = d->ops;
        const struct coop_world_task *t = coop_world_task_find(d->name);
        ck_assert_msg(t != NULL, "%s", d->name);
        ck_assert_ptr_nonnull(d->summary);
        struct coop_dataset *ds;
        ck_assert_msg(ops->open(&host, NULL, &params, &ds, &e) == 0, "%s", e.msg);
        int K = ops->num_classes(ds);
        ck_assert_int_eq(K, coop_world_task_num_classes(t));
        ck_assert_ptr_nonnull(strstr(ops->default_template(ds), "{}"));
        ck_assert_int_eq(ops->source_class != NULL, coop_world_task_source(t) != NULL);
        for (int k = 0; k < K; k++) {
            char buf[64];
            ck_assert_str_eq(ops->class_name(ds, k), coop_world_task_class_name(t, k, buf, 64));
            if (ops->source_class)
                ck_assert_int_eq(ops->source_class(ds, k), coop_world_task_source_class(t, k));
        }
        ck_assert_ptr_null(ops->class_name(ds, K));
        struct coop_world_config cfg;
        coop_world_config_default(&cfg);
        cfg.seed = 3;
        cfg.image_size = 24;
        cfg.supersample = 2;
        cfg.per_class[0] = 2;
        cfg.per_class[1] = 1;
        cfg.per_class[2] = 2;
        for (int s = 0; s < 3; s++) {
            ck_assert_uint_eq(ops->split_size(ds, (enum coop_split)s), (size_t)K * cfg.per_class[s]);
            for (size_t i = 0; i < (size_t)K * cfg.per_class[s]; i += (size_t)K / 2 + 1) {
                struct coop_item it;
                ck_assert_int_eq(ops->get_item(ds, (enum coop_split)s, i, &it, &e), 0);
                ck_assert_ptr_null(it.path);
                char want[96];
                snprintf(want, sizeof want, "%s/%s/%06zu", d->name,
                         s == 0 ? "train" : s == 1 ? "val" : "test", i);
                ck_assert_str_eq(it.id, want);
                uint8_t *rgb, ref[24 * 24 * 3];
                int w, hh, label;
                ck_assert_int_eq(ops->read_pixels(ds, (enum coop_split)s, i, &rgb, &w, &hh, &e), 0);
                ck_assert_int_eq(w, 24);
                ck_assert_int_eq(hh, 24);
                struct coop_world_scene scene;
                ck_assert_int_eq(coop_world_task_item(t, &cfg, s, i, &scene, &label, &e), 0);
                ck_assert_int_eq(label, it.label);
                coop_world_render(ref, &scene, 24, 2, &e);
                ck_assert_mem_eq(rgb, ref, sizeof ref);
                ops->free_pixels(ds, rgb);
            }
            struct coop_item it;
            ck_assert_int_eq(ops->get_item(ds, (enum coop_split)s, ops->split_size(ds, s), &it, &e),
                             COOP_E_INVAL);
        }
        ops->close(ds);
    }
    ck_assert_uint_eq(n, 12);
    /* out-of-range parameters are refused with the key in the message */
    const struct coop_dataset_ops *ops = fn(0)->ops;
    struct coop_kv bad[] = {{"image_size", "4"}};
    struct coop_params bp = {bad, 1};
    struct coop_dataset *ds = NULL;
    ck_assert_int_eq(ops->open(&host, NULL, &bp, &ds, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "image_size"));
    ck_assert_ptr_null(ds);
    struct coop_kv bad_bias[] = {{"collection_bias", "1.5"}};
    struct coop_params bb = {bad_bias, 1};
    ck_assert_int_eq(ops->open(&host, NULL, &bb, &ds, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "collection_bias"));
    ck_assert_ptr_null(ds);
    /* no dlclose: libraries the module pulls in (OpenBLAS, HDF5) allocate in
     * their constructors and would show as leaks once unmapped (as the
     * project's loader, keep modules mapped until exit) */
    (void)h;
}
END_TEST

/* test_split = dev: the test split holds the world's dev split (same size,
 * its own stream, ids under dev/), train and val are unchanged; another
 * value is refused with the key named. */
START_TEST(dev_split_replaces_test)
{
    coop_plugin_enum_fn fn;
    (void)open_module(&fn);
    const struct coop_dataset_ops *ops = fn(0)->ops; /* world-shapes */
    struct coop_host host = {COOP_HOST_VERSION, NULL, NULL, NULL};
    struct coop_err e;
    struct coop_kv dev_kv[7];
    memcpy(dev_kv, small_kv, sizeof small_kv);
    dev_kv[6] = (struct coop_kv){"test_split", "dev"};
    struct coop_params pt = {small_kv, 6}, pd = {dev_kv, 7};
    struct coop_dataset *a, *b;
    ck_assert_msg(ops->open(&host, NULL, &pt, &a, &e) == 0, "%s", e.msg);
    ck_assert_msg(ops->open(&host, NULL, &pd, &b, &e) == 0, "%s", e.msg);
    const struct coop_world_task *t = coop_world_task_find(fn(0)->name);
    struct coop_world_config cfg;
    coop_world_config_default(&cfg);
    cfg.per_class[2] = 2;
    ck_assert_uint_eq(coop_world_task_split_size(t, &cfg, COOP_WORLD_SPLIT_DEV),
                      coop_world_task_split_size(t, &cfg, 2));
    for (int s = 0; s < 3; s++) {
        size_t n = ops->split_size(a, (enum coop_split)s);
        ck_assert_uint_eq(ops->split_size(b, (enum coop_split)s), n);
        int differ = 0;
        for (size_t i = 0; i < n; i++) {
            struct coop_item ia, ib;
            ck_assert_int_eq(ops->get_item(a, (enum coop_split)s, i, &ia, &e), 0);
            ck_assert_int_eq(ops->get_item(b, (enum coop_split)s, i, &ib, &e), 0);
            ck_assert_int_eq(ia.label, ib.label);
            if (s == 2)
                ck_assert_ptr_nonnull(strstr(ib.id, "/dev/"));
            else
                ck_assert_str_eq(ia.id, ib.id);
            uint8_t *ra, *rb;
            int w, h;
            ck_assert_int_eq(ops->read_pixels(a, (enum coop_split)s, i, &ra, &w, &h, &e), 0);
            ck_assert_int_eq(ops->read_pixels(b, (enum coop_split)s, i, &rb, &w, &h, &e), 0);
            differ += memcmp(ra, rb, (size_t)w * h * 3) != 0;
            ops->free_pixels(a, ra);
            ops->free_pixels(b, rb);
        }
        if (s == 2)
            ck_assert_int_eq(differ, (int)n); /* every dev image is a new one */
        else
            ck_assert_int_eq(differ, 0);
    }
    ops->close(a);
    ops->close(b);
    dev_kv[6].value = "train";
    struct coop_dataset *c = NULL;
    ck_assert_int_eq(ops->open(&host, NULL, &pd, &c, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "test_split"));
    ck_assert_ptr_null(c);
}
END_TEST

/* ---- export tool ----------------------------------------------------------- */

static void png_size(const char *path, int *w, int *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_file(&img, path), "%s: %s", path, img.message);
    *w = (int)img.width;
    *h = (int)img.height;
    ck_assert_int_eq(PNG_IMAGE_SAMPLE_CHANNELS(img.format), 3);
    png_image_free(&img);
}

/* Reads an RGB8 PNG into a malloc'd buffer. */
static uint8_t *png_read_rgb(const char *path, int *w, int *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_file(&img, path), "%s: %s", path, img.message);
    img.format = PNG_FORMAT_RGB;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    ck_assert(png_image_finish_read(&img, NULL, buf, 0, NULL));
    *w = (int)img.width;
    *h = (int)img.height;
    return buf;
}

static int run_tool(const char *args, const char *log)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "\"%s/core/cli/coop-export-dataset/coop-export-dataset\" %s >\"%s\" 2>&1",
             getenv("COOP_BUILD_ROOT"), args, log);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(export_writes_valid_layout)
{
    char dir[512], args[2048], path[1200], log[700];
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "world-export"), 0);
    snprintf(log, sizeof log, "%s/log.txt", dir);
    snprintf(args, sizeof args,
             "world-shapes-a \"%s/out\" --set image_size=24 --set train_per_class=2 "
             "--set val_per_class=1 --set test_per_class=3 --contact-sheet \"%s/sheet.png\" "
             "--sheet-n 10 --fewshot 1 --seed 2", dir, dir);
    ck_assert_int_eq(run_tool(args, log), 0);

    struct jval meta, split;
    snprintf(path, sizeof path, "%s/out/meta.json", dir);
    read_json(path, &meta);
    const struct jval *names = jget(&meta, "classnames"), *src = jget(&meta, "source_class");
    ck_assert_ptr_nonnull(names);
    ck_assert_ptr_nonnull(src);
    ck_assert_uint_eq(names->n, 6);
    ck_assert_uint_eq(src->n, 6);
    ck_assert_str_eq(jget(&meta, "template")->str, "a photo of a {}.");
    const struct coop_world_task *t = coop_world_task_find("world-shapes-a");
    for (size_t k = 0; k < 6; k++)
        ck_assert_int_eq((int)src->items[k].num, coop_world_task_source_class(t, (int)k));

    snprintf(path, sizeof path, "%s/out/split_zhou_world-shapes-a.json", dir);
    read_json(path, &split);
    const char *splits[3] = {"train", "val", "test"};
    const int per[3] = {2, 1, 3};
    for (int s = 0; s < 3; s++) {
        const struct jval *a = jget(&split, splits[s]);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(a->t, J_ARR);
        ck_assert_uint_eq(a->n, (size_t)(6 * per[s]));
        int count[6] = {0};
        for (size_t i = 0; i < a->n; i++) {
            const struct jval *row = &a->items[i];
            ck_assert_uint_eq(row->n, 3);
            ck_assert_int_eq(row->items[0].t, J_STR);
            int label = (int)row->items[1].num;
            ck_assert_int_ge(label, 0);
            ck_assert_int_lt(label, 6);
            count[label]++;
            ck_assert_str_eq(row->items[2].str, names->items[label].str);
            snprintf(path, sizeof path, "%s/out/images/%s", dir, row->items[0].str);
            ck_assert_msg(access(path, R_OK) == 0, "missing %s", path);
            int w, h;
            png_size(path, &w, &h);
            ck_assert_int_eq(w, 24);
            ck_assert_int_eq(h, 24);
        }
        for (int k = 0; k < 6; k++)
            ck_assert_int_eq(count[k], per[s]);
        /* the PNG holds exactly the rendered pixels */
        struct coop_world_config cfg;
        struct coop_world_scene scene;
        struct coop_err e;
        int label, w, h;
        coop_world_config_default(&cfg);
        cfg.image_size = 24;
        cfg.per_class[0] = 2;
        cfg.per_class[1] = 1;
        cfg.per_class[2] = 3;
        size_t last = a->n - 1;
        ck_assert_int_eq(coop_world_task_item(t, &cfg, s, last, &scene, &label, &e), 0);
        uint8_t ref[24 * 24 * 3];
        coop_world_render(ref, &scene, 24, cfg.supersample, &e);
        snprintf(path, sizeof path, "%s/out/images/%s", dir, a->items[last].items[0].str);
        uint8_t *png = png_read_rgb(path, &w, &h);
        ck_assert_mem_eq(png, ref, sizeof ref);
        free(png);
    }
    /* the few-shot sample: 1 train and min(1, 4) val item per class, among the exported images */
    struct jval fs;
    snprintf(path, sizeof path, "%s/out/fewshot/shots1_seed2.json", dir);
    read_json(path, &fs);
    for (int s = 0; s < 2; s++) {
        const struct jval *a = jget(&fs, splits[s]);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(a->n, 6);
        for (size_t i = 0; i < a->n; i++) {
            ck_assert_int_eq((int)a->items[i].items[1].num, (int)i); /* by class, in order */
            ck_assert_ptr_nonnull(strstr(a->items[i].items[0].str, splits[s]));
            snprintf(path, sizeof path, "%s/out/images/%s", dir, a->items[i].items[0].str);
            ck_assert_msg(access(path, R_OK) == 0, "missing %s", path);
        }
    }
    jfree(&fs);
    int w, h;
    snprintf(path, sizeof path, "%s/sheet.png", dir);
    png_size(path, &w, &h);
    ck_assert_int_eq(w, 8 * 26 + 2);
    ck_assert_int_eq(h, 2 * 26 + 2);
    jfree(&meta);
    jfree(&split);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

START_TEST(export_reports_errors)
{
    char dir[512], args[2048], log[700], *text;
    size_t len;
    struct coop_err e;
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "world-export"), 0);
    snprintf(log, sizeof log, "%s/log.txt", dir);
    snprintf(args, sizeof args, "world-nothing \"%s/out\"", dir);
    ck_assert_int_ne(run_tool(args, log), 0);
    ck_assert_int_eq(coop_read_file(log, 1 << 20, &text, &len, &e), 0);
    ck_assert_ptr_nonnull(strstr(text, "world-nothing"));
    free(text);
    snprintf(args, sizeof args, "world-shapes \"%s/out\" --set image_sise=32", dir);
    ck_assert_int_ne(run_tool(args, log), 0);
    ck_assert_int_eq(coop_read_file(log, 1 << 20, &text, &len, &e), 0);
    ck_assert_ptr_nonnull(strstr(text, "did you mean 'image_size'"));
    free(text);
    snprintf(args, sizeof args, "world-shapes \"%s/out\" --set image_size=2", dir);
    ck_assert_int_ne(run_tool(args, log), 0);
    ck_assert_int_eq(coop_read_file(log, 1 << 20, &text, &len, &e), 0);
    ck_assert_msg(strstr(text, "image_size = '2' is not an integer in [8, 512]"), "%s", text);
    free(text);
    snprintf(args, sizeof args, "world-shapes \"%s/out\" --set seed=3000000000", dir);
    ck_assert_int_ne(run_tool(args, log), 0);
    ck_assert_int_eq(coop_read_file(log, 1 << 20, &text, &len, &e), 0);
    ck_assert_msg(strstr(text, "[0, 2147483647]"), "%s", text); /* not 2.14748e+09 */
    free(text);
    snprintf(args, sizeof args, "world-shapes \"%s/out\" --splits test --fewshot 2", dir);
    ck_assert_int_ne(run_tool(args, log), 0);
    snprintf(args, sizeof args, "--list");
    ck_assert_int_eq(run_tool(args, log), 0);
    ck_assert_int_eq(coop_read_file(log, 1 << 20, &text, &len, &e), 0);
    ck_assert_msg(strstr(text, "world-objects-sketch") != NULL, "--list printed %zu bytes, ending: %s", len, len > 400 ? text + len - 400 : text);
    free(text);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

/* Items that are files are copied byte for byte under their ids. */
START_TEST(export_copies_file_items)
{
    char dir[512], args[2048], path[1200], log[700];
    struct coop_err e;
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "world-export"), 0);
    snprintf(log, sizeof log, "%s/log.txt", dir);
    const char *names[3] = {"a.png", "b.png", "c.png"};
    for (int i = 0; i < 3; i++) {
        uint8_t rgb[4 * 3 * 3];
        memset(rgb, 40 * (i + 1), sizeof rgb);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        /* the SDK's world wrapper and the image writer itself */
        ck_assert_int_eq(i ? coop_image_write_png(path, rgb, 4, 3, 3, &e)
                           : coop_png_write_rgb(path, rgb, 4, 3, &e),
                         0);
    }
    snprintf(args, sizeof args, "test-files \"%s/out\" --data-root \"%s\" --quiet", dir, dir);
    ck_assert_int_eq(run_tool(args, log), 0);
    struct jval split;
    snprintf(path, sizeof path, "%s/out/split_zhou_test-files.json", dir);
    read_json(path, &split);
    const struct jval *train = jget(&split, "train"), *val = jget(&split, "val"),
                      *test = jget(&split, "test");
    ck_assert_uint_eq(train->n, 2);
    ck_assert_uint_eq(val->n, 0);
    ck_assert_uint_eq(test->n, 1);
    ck_assert_str_eq(train->items[1].items[0].str, "dogs/b.png");
    ck_assert_str_eq(train->items[1].items[2].str, "dog");
    ck_assert_str_eq(test->items[0].items[0].str, "cats/c.png");
    const char *rel[3] = {"cats/a.png", "dogs/b.png", "cats/c.png"};
    for (int i = 0; i < 3; i++) {
        char src[65], dst[65];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        ck_assert_int_eq(coop_sha256_file(path, src, &e), 0);
        snprintf(path, sizeof path, "%s/out/images/%s", dir, rel[i]);
        ck_assert_int_eq(coop_sha256_file(path, dst, &e), 0);
        ck_assert_str_eq(src, dst);
    }
    jfree(&split);
    /* no data root: the plugin's error comes through with its name */
    snprintf(args, sizeof args, "test-files \"%s/out2\"", dir);
    ck_assert_int_ne(run_tool(args, log), 0);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("world-export");
    TCase *tc = tcase_create("export");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, plugin_descriptors_items_and_pixels);
    tcase_add_test(tc, dev_split_replaces_test);
    tcase_add_test(tc, export_writes_valid_layout);
    tcase_add_test(tc, export_reports_errors);
    tcase_add_test(tc, export_copies_file_items);
    suite_add_tcase(su, tc);
    return coop_check_run(su);
}
