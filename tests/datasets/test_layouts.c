/* test_layouts.c: the coop_layouts plugin on miniature copies of every
 * published layout (ImageNet + its four targets, the ten split_zhou datasets,
 * FGVCAircraft), written from C: class names, labels, split sizes, ids,
 * templates, target mappings, the few-shot sampler on a real layout, and every
 * error case with an assertion on its message. Built twice: dlopen of the
 * module (default) and with the plugin sources compiled in (LAYOUTS_STATIC). */
#include "dstest.h"
#include "../common/check_run.h"

#ifdef LAYOUTS_STATIC
const struct coop_plugin *coop_plugin_enum(uint32_t index);
#endif

static coop_plugin_enum_fn plugin_fn(void)
{
#ifdef LAYOUTS_STATIC
    return coop_plugin_enum;
#else
    return dstest_dlopen("coop_layouts");
#endif
}

static const struct coop_dataset_ops *ops_of(const char *name)
{
    const struct coop_dataset_ops *ops = dstest_find(plugin_fn(), name);
    ck_assert_msg(ops != NULL, "no dataset %s", name);
    return ops;
}

/* ---- miniature layouts ------------------------------------------------- */
static const char *const wnids[3] = {"n01440764", "n01443537", "n01484850"};
static const char *const inames[3] = {"tench", "goldfish", "great white shark"};

static void make_imagenet(void)
{
    dstest_text("imagenet/classnames.txt",
                "n01440764 tench\nn01443537 goldfish\r\nn01484850 great white shark\n");
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 5 + k; i++) /* 5, 6, 7 train images */
            dstest_image(dstest_path("imagenet/images/train/%s/%s_%d.JPEG", wnids[k], wnids[k],
                                     i) + strlen(dstest_root) + 1);
        for (int i = 0; i < 2; i++)
            dstest_image(dstest_path("imagenet/images/val/%s/ILSVRC_val_%d%d.JPEG", wnids[k], k,
                                     i) + strlen(dstest_root) + 1);
    }
}

static void make_targets(void)
{
    char rel[256];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i <= k; i++) { /* v2: 1, 2, 3 images */
            snprintf(rel, sizeof rel,
                     "imagenetv2/imagenetv2-matched-frequency-format-val/%d/img%d.jpeg", k, i);
            dstest_image(rel);
            snprintf(rel, sizeof rel, "imagenet-sketch/images/%s/sketch_%d.JPEG", wnids[k], i);
            dstest_image(rel);
        }
    /* -A: classes 2 and 0 (subset); -R: class 1 only */
    for (int i = 0; i < 3; i++) {
        snprintf(rel, sizeof rel, "imagenet-adversarial/imagenet-a/%s/a_%d.jpg", wnids[2], i);
        dstest_image(rel);
        snprintf(rel, sizeof rel, "imagenet-rendition/imagenet-r/%s/art_%d.jpg", wnids[1], i);
        dstest_image(rel);
    }
    dstest_image("imagenet-adversarial/imagenet-a/n01440764/a_x.jpg");
    dstest_text("imagenet-adversarial/README.txt", "not a class folder\n");
    /* listings skip files among class folders and hidden entries among images */
    dstest_text("imagenet-adversarial/imagenet-a/README.txt", "not a class folder\n");
    dstest_text("imagenet-rendition/imagenet-r/n01443537/.DS_Store", "x");
    dstest_mkdir("imagenet-rendition/imagenet-r/n01443537/.thumbs");
}

struct zhou_case {
    const char *name, *folder, *images, *split_file, *template_text;
};
static const struct zhou_case zhou[10] = {
    {"caltech101", "caltech-101", "101_ObjectCategories", "split_zhou_Caltech101.json",
     "a photo of a {}."},
    {"oxford_pets", "oxford_pets", "images", "split_zhou_OxfordPets.json",
     "a photo of a {}, a type of pet."},
    {"stanford_cars", "stanford_cars", "", "split_zhou_StanfordCars.json", "a photo of a {}."},
    {"oxford_flowers", "oxford_flowers", "jpg", "split_zhou_OxfordFlowers.json",
     "a photo of a {}, a type of flower."},
    {"food101", "food-101", "images", "split_zhou_Food101.json",
     "a photo of {}, a type of food."},
    {"sun397", "sun397", "SUN397", "split_zhou_SUN397.json", "a photo of a {}."},
    {"dtd", "dtd", "images", "split_zhou_DescribableTextures.json", "{} texture."},
    {"eurosat", "eurosat", "2750", "split_zhou_EuroSAT.json",
     "a centered satellite photo of {}."},
    {"ucf101", "ucf101", "UCF-101-midframes", "split_zhou_UCF101.json",
     "a photo of a person doing {}."},
    {NULL, NULL, NULL, NULL, NULL}, /* end */
};

static const char *const znames[3] = {"face", "leopard", "water_lilly"};
/* Entries per split and class: train 4, val 2, test 3. */
static const int zcount[3] = {4, 2, 3};

static void image_rel(char *out, size_t n, const struct zhou_case *z, const char *rel)
{
    if (z->images[0])
        snprintf(out, n, "%s/%s/%s", z->folder, z->images, rel);
    else
        snprintf(out, n, "%s/%s", z->folder, rel);
}

/* Writes the split file (with an optional override of one entry) and the images. */
static void make_zhou(const struct zhou_case *z, bool images)
{
    static const char *const keys[3] = {"train", "val", "test"};
    char *json = malloc(1 << 16), rel[512], img[600];
    size_t n = 0;
    n += (size_t)sprintf(json + n, "{\n");
    for (int s = 0; s < 3; s++) {
        n += (size_t)sprintf(json + n, "  \"%s\": [\n", keys[s]);
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < zcount[s]; i++) {
                snprintf(rel, sizeof rel, "%s/%s_%d.jpg", znames[k], keys[s], i);
                n += (size_t)sprintf(json + n, "    [\"%s\", %d, \"%s\"]%s\n", rel, k, znames[k],
                                     k == 2 && i == zcount[s] - 1 ? "" : ",");
                image_rel(img, sizeof img, z, rel);
                if (images)
                    dstest_image(img);
            }
        n += (size_t)sprintf(json + n, "  ]%s\n", s < 2 ? "," : "");
    }
    n += (size_t)sprintf(json + n, "}\n");
    snprintf(rel, sizeof rel, "%s/%s", z->folder, z->split_file);
    dstest_write(rel, json, n);
    free(json);
}

static void make_aircraft(void)
{
    dstest_text("fgvc_aircraft/variants.txt", "707-320\nA300B4\nCessna 172\n");
    dstest_text("fgvc_aircraft/images_variant_train.txt",
                "1025794 707-320\n1340192 707-320\n0056978 A300B4\n0062000 Cessna 172\n");
    dstest_text("fgvc_aircraft/images_variant_val.txt", "0070000 A300B4\n");
    dstest_text("fgvc_aircraft/images_variant_test.txt", "1111111 Cessna 172\n2222222 707-320\n");
    const char *ids[] = {"1025794", "1340192", "0056978", "0062000", "0070000", "1111111",
                         "2222222"};
    char rel[128];
    for (int i = 0; i < 7; i++) {
        snprintf(rel, sizeof rel, "fgvc_aircraft/images/%s.jpg", ids[i]);
        dstest_image(rel);
    }
}

static void make_all(void)
{
    dstest_mkroot();
    make_imagenet();
    make_targets();
    for (int i = 0; zhou[i].folder; i++)
        make_zhou(&zhou[i], true);
    make_aircraft();
}

static void teardown(void)
{
    dstest_cleanup();
}

static void item(struct coop_dataset_ref d, enum coop_split s, size_t i, struct coop_item *it)
{
    struct coop_err e;
    ck_assert_msg(d.ops->get_item(d.ds, s, i, it, &e) == 0, "%s", e.msg);
    ck_assert_msg(coop_file_exists(it->path), "%s", it->path);
}

/* ---- well-formed layouts ------------------------------------------------ */
START_TEST(all_fifteen_descriptors)
{
    const char *names[] = {"imagenet", "caltech101", "oxford_pets", "stanford_cars",
                           "oxford_flowers", "food101", "fgvc_aircraft", "sun397", "dtd",
                           "eurosat", "ucf101", "imagenetv2", "imagenet_sketch", "imagenet_a",
                           "imagenet_r"};
    coop_plugin_enum_fn fn = plugin_fn();
    for (size_t i = 0; i < 15; i++) {
        const struct coop_plugin *p = fn((uint32_t)i);
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(p->name, names[i]);
        ck_assert_int_eq(p->kind, COOP_PLUGIN_DATASET);
    }
    ck_assert_ptr_null(fn(15));
#ifndef LAYOUTS_STATIC
    /* the module exports coop_plugin_enum only */
    char path[1024];
    snprintf(path, sizeof path, "%s/plugins/datasets/coop_layouts/coop-coop_layouts.so",
             getenv("COOP_BUILD_ROOT"));
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_null(dlsym(h, "lay_add"));
    ck_assert_ptr_null(dlsym(h, "lay_load_zhou"));
    ck_assert_ptr_nonnull(dlsym(h, COOP_PLUGIN_ENUM_SYMBOL));
    /* kept mapped (no dlclose), as the loader does */
#endif
}
END_TEST

START_TEST(imagenet_folders)
{
    make_all();
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_msg(dstest_open(ops_of("imagenet"), dstest_root, NULL, &d, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(d.ops->num_classes(d.ds), 3);
    for (int k = 0; k < 3; k++)
        ck_assert_str_eq(d.ops->class_name(d.ds, k), inames[k]);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TRAIN), 18);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_VAL), 0);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TEST), 6);
    struct coop_item it;
    item(d, COOP_SPLIT_TRAIN, 0, &it);
    ck_assert_int_eq(it.label, 0);
    ck_assert_str_eq(it.id, "train/n01440764/n01440764_0.JPEG");
    item(d, COOP_SPLIT_TRAIN, 17, &it);
    ck_assert_int_eq(it.label, 2);
    ck_assert_str_eq(it.id, "train/n01484850/n01484850_6.JPEG");
    item(d, COOP_SPLIT_TEST, 3, &it);
    ck_assert_int_eq(it.label, 1);
    ck_assert_str_eq(it.id, "val/n01443537/ILSVRC_val_11.JPEG");
    ck_assert_str_eq(d.ops->default_template(d.ds), "a photo of a {}.");
    ck_assert(d.ops->source_class == NULL);
    ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_TEST, 6, &it, &e), COOP_E_INVAL);
    d.ops->close(d.ds);
}
END_TEST

START_TEST(imagenet_targets)
{
    make_all();
    struct { const char *name; int C; size_t n; int src[3]; const char *first; } t[4] = {
        {"imagenetv2", 3, 6, {0, 1, 2}, "0/img0.jpeg"},
        {"imagenet_sketch", 3, 6, {0, 1, 2}, "n01440764/sketch_0.JPEG"},
        {"imagenet_a", 2, 4, {0, 2, -1}, "n01440764/a_x.jpg"},
        {"imagenet_r", 1, 3, {1, -1, -1}, "n01443537/art_0.jpg"}};
    for (int i = 0; i < 4; i++) {
        struct coop_dataset_ref d;
        struct coop_err e;
        ck_assert_msg(dstest_open(ops_of(t[i].name), dstest_root, NULL, &d, &e) == 0, "%s",
                      e.msg);
        ck_assert_int_eq(d.ops->num_classes(d.ds), t[i].C);
        ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TRAIN), 0);
        ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_VAL), 0);
        ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TEST), t[i].n);
        ck_assert(d.ops->source_class != NULL);
        for (int k = 0; k < t[i].C; k++) {
            ck_assert_int_eq(d.ops->source_class(d.ds, k), t[i].src[k]);
            ck_assert_str_eq(d.ops->class_name(d.ds, k), inames[t[i].src[k]]);
        }
        ck_assert_int_eq(d.ops->source_class(d.ds, t[i].C), -1);
        struct coop_item it;
        item(d, COOP_SPLIT_TEST, 0, &it);
        ck_assert_str_eq(it.id, t[i].first);
        ck_assert_int_eq(it.label, 0);
        item(d, COOP_SPLIT_TEST, t[i].n - 1, &it);
        ck_assert_int_eq(it.label, t[i].C - 1);
        d.ops->close(d.ds);
    }
}
END_TEST

START_TEST(targets_read_classnames_from_their_folder)
{
    /* CoOp's instructions copy classnames.txt into the target's folder. */
    dstest_mkroot();
    make_targets();
    dstest_text("imagenet-rendition/classnames.txt",
                "n01440764 tench\nn01443537 goldfish\nn01484850 great white shark\n");
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_msg(dstest_open(ops_of("imagenet_r"), dstest_root, NULL, &d, &e) == 0, "%s",
                  e.msg);
    ck_assert_str_eq(d.ops->class_name(d.ds, 0), "goldfish");
    d.ops->close(d.ds);
    ck_assert_int_eq(dstest_open(ops_of("imagenet_a"), dstest_root, NULL, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "imagenet_a", "imagenet/classnames.txt",
                   "imagenet-adversarial/classnames.txt", NULL);
}
END_TEST

START_TEST(zhou_datasets)
{
    make_all();
    for (int i = 0; zhou[i].folder; i++) {
        struct coop_dataset_ref d;
        struct coop_err e;
        ck_assert_msg(dstest_open(ops_of(zhou[i].name), dstest_root, NULL, &d, &e) == 0, "%s",
                      e.msg);
        ck_assert_int_eq(d.ops->num_classes(d.ds), 3);
        for (int k = 0; k < 3; k++)
            ck_assert_str_eq(d.ops->class_name(d.ds, k), znames[k]);
        ck_assert_ptr_null(d.ops->class_name(d.ds, 3));
        for (int s = 0; s < 3; s++)
            ck_assert_uint_eq(d.ops->split_size(d.ds, (enum coop_split)s), 3u * (unsigned)zcount[s]);
        struct coop_item it;
        item(d, COOP_SPLIT_VAL, 3, &it);
        ck_assert_int_eq(it.label, 1);
        ck_assert_str_eq(it.id, "leopard/val_1.jpg");
        item(d, COOP_SPLIT_TEST, 8, &it);
        ck_assert_int_eq(it.label, 2);
        ck_assert_str_eq(it.id, "water_lilly/test_2.jpg");
        ck_assert_str_eq(d.ops->default_template(d.ds), zhou[i].template_text);
        ck_assert(d.ops->source_class == NULL);
        d.ops->close(d.ds);
    }
}
END_TEST

START_TEST(aircraft_lists)
{
    make_all();
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_msg(dstest_open(ops_of("fgvc_aircraft"), dstest_root, NULL, &d, &e) == 0, "%s",
                  e.msg);
    ck_assert_int_eq(d.ops->num_classes(d.ds), 3);
    ck_assert_str_eq(d.ops->class_name(d.ds, 2), "Cessna 172");
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TRAIN), 4);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_VAL), 1);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TEST), 2);
    struct coop_item it;
    item(d, COOP_SPLIT_TRAIN, 3, &it);
    ck_assert_int_eq(it.label, 2);
    ck_assert_str_eq(it.id, "0062000.jpg");
    item(d, COOP_SPLIT_TEST, 1, &it);
    ck_assert_int_eq(it.label, 0);
    ck_assert_str_eq(d.ops->default_template(d.ds), "a photo of a {}, a type of aircraft.");
    d.ops->close(d.ds);
}
END_TEST

START_TEST(fewshot_on_a_layout)
{
    make_all();
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_msg(dstest_open(ops_of("caltech101"), dstest_root, NULL, &d, &e) == 0, "%s", e.msg);
    struct coop_fewshot_opts o = {"caltech101", 2, 1, -1, dstest_path("cache"), NULL, false};
    struct coop_fewshot a, b;
    ck_assert_msg(coop_fewshot_sample(&a, d, &o, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(a.train.n, 6);
    ck_assert_uint_eq(a.val.n, 6); /* min(2, 4) per class, 2 exist */
    ck_assert(!a.from_cache);
    ck_assert(coop_file_exists(dstest_path("cache/fewshot/caltech101_shots2_seed1.json")));
    ck_assert_msg(coop_fewshot_sample(&b, d, &o, NULL, &e) == 0, "%s", e.msg);
    ck_assert(b.from_cache);
    for (size_t i = 0; i < a.train.n; i++) {
        ck_assert_str_eq(a.train.id[i], b.train.id[i]);
        ck_assert_int_eq(a.train.label[i], (int)(i / 2));
    }
    coop_fewshot_free(&a);
    coop_fewshot_free(&b);
    d.ops->close(d.ds);
    /* ImageNet: no val split, hence no val sample */
    ck_assert_msg(dstest_open(ops_of("imagenet"), dstest_root, NULL, &d, &e) == 0, "%s", e.msg);
    struct coop_fewshot_opts oi = {"imagenet", 16, 1, -1, NULL, NULL, false};
    ck_assert_msg(coop_fewshot_sample(&a, d, &oi, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(a.train.n, 18); /* fewer than 16 per class: all of them */
    ck_assert_uint_eq(a.val.n, 0);
    coop_fewshot_free(&a);
    d.ops->close(d.ds);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */
START_TEST(error_missing_folder)
{
    dstest_mkroot();
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_int_eq(dstest_open(ops_of("caltech101"), dstest_root, NULL, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "caltech101", "caltech-101", "expected layout",
                   "101_ObjectCategories", "split_zhou_Caltech101.json", dstest_root, NULL);
    dstest_mkdir("caltech-101/101_ObjectCategories");
    ck_assert_int_eq(dstest_open(ops_of("caltech101"), dstest_root, NULL, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "caltech-101/split_zhou_Caltech101.json", "expected layout", NULL);
    ck_assert_int_eq(dstest_open(ops_of("imagenet"), dstest_root, NULL, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "imagenet", "images/{train,val}/<wnid>/", "classnames.txt", NULL);
    ck_assert_int_eq(dstest_open(ops_of("fgvc_aircraft"), dstest_root, NULL, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "fgvc_aircraft", "variants.txt", NULL);
    ck_assert_int_eq(dstest_open(ops_of("imagenet_r"), dstest_root, NULL, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "imagenet-rendition/imagenet-r", NULL);
    ck_assert_int_eq(dstest_open(ops_of("dtd"), NULL, NULL, &d, &e), COOP_E_INVAL);
    dstest_msg_has(&e, "data_root", NULL);
    /* every descriptor names its published folder on an empty data root */
    const char *folders[15] = {"imagenet", "caltech-101", "oxford_pets", "stanford_cars",
                               "oxford_flowers", "food-101", "fgvc_aircraft", "sun397", "dtd",
                               "eurosat", "ucf101", "imagenetv2", "imagenet-sketch",
                               "imagenet-adversarial", "imagenet-rendition"};
    dstest_cleanup();
    dstest_mkroot();
    for (uint32_t i = 0; i < 15; i++) {
        const struct coop_plugin *p = plugin_fn()(i);
        ck_assert_int_eq(dstest_open(p->ops, dstest_root, NULL, &d, &e), COOP_E_NOTFOUND);
        dstest_msg_has(&e, p->name, "not found", "expected layout", folders[i], NULL);
    }
}
END_TEST

START_TEST(error_missing_image)
{
    make_all();
    ck_assert_int_eq(remove(dstest_path("oxford_pets/images/leopard/test_1.jpg")), 0);
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_int_eq(dstest_open(ops_of("oxford_pets"), dstest_root, NULL, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "leopard/test_1.jpg", "split_zhou_OxfordPets.json:", "test entry 4",
                   "does not exist", NULL);
    /* split_file: another split file, relative to the dataset folder */
    dstest_text("oxford_pets/my_split.json",
                "{\"train\": [[\"face/train_0.jpg\", 0, \"face\"]], \"val\": [],"
                " \"test\": [[\"leopard/test_0.jpg\", 1, \"leopard\"]]}");
    struct coop_kv kvs[] = {{"split_file", "my_split.json"}};
    struct coop_params ps = {kvs, 1};
    ck_assert_msg(dstest_open(ops_of("oxford_pets"), dstest_root, &ps, &d, &e) == 0, "%s",
                  e.msg);
    ck_assert_int_eq(d.ops->num_classes(d.ds), 2);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TRAIN), 1);
    d.ops->close(d.ds);
    kvs[0].value = dstest_path("oxford_pets/nope.json");
    ck_assert_int_eq(dstest_open(ops_of("oxford_pets"), dstest_root, &ps, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "oxford_pets/nope.json", NULL);
    /* check_files: false skips the check */
    struct coop_kv kv[] = {{"check_files", "false"}};
    struct coop_params p = {kv, 1};
    ck_assert_msg(dstest_open(ops_of("oxford_pets"), dstest_root, &p, &d, &e) == 0, "%s", e.msg);
    d.ops->close(d.ds);
    ck_assert_int_eq(remove(dstest_path("fgvc_aircraft/images/0070000.jpg")), 0);
    ck_assert_int_eq(dstest_open(ops_of("fgvc_aircraft"), dstest_root, NULL, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "images_variant_val.txt:1", "0070000.jpg", NULL);
}
END_TEST

START_TEST(error_malformed_json)
{
    make_all();
    dstest_text("dtd/split_zhou_DescribableTextures.json",
                "{\n  \"train\": [\n    [\"a/b.jpg\", 0, \"banded\"]\n    [\"x\"]\n  ]\n}\n");
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_int_eq(dstest_open(ops_of("dtd"), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "split_zhou_DescribableTextures.json:4:5:", "expected ',' or ']'", NULL);
    dstest_text("dtd/split_zhou_DescribableTextures.json",
                "{\"train\": [[\"a.jpg\", 0, \"x\"]],\n \"val\": [],\n \"test\": [[\"b.jpg\", "
                "-1, \"x\"]]}");
    ck_assert_int_eq(dstest_open(ops_of("dtd"), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "json:3:11:", "test entry 0", "label", NULL);
    dstest_text("dtd/split_zhou_DescribableTextures.json", "{\"train\": [], \"test\": []}");
    ck_assert_int_eq(dstest_open(ops_of("dtd"), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "missing array \"val\"", NULL);
}
END_TEST

START_TEST(error_label_classname_mismatch)
{
    make_all();
    dstest_text("eurosat/split_zhou_EuroSAT.json",
                "{\"train\": [[\"f/1.jpg\", 0, \"Forest\"],\n"
                "            [\"r/1.jpg\", 1, \"River\"]],\n"
                " \"val\": [],\n"
                " \"test\": [[\"f/2.jpg\", 1, \"Forest\"]]}\n");
    struct coop_kv kv[] = {{"check_files", "false"}};
    struct coop_params p = {kv, 1};
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_int_eq(dstest_open(ops_of("eurosat"), dstest_root, &p, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "split_zhou_EuroSAT.json:4:", "test entry 0", "f/2.jpg",
                   "label 1 has class name 'Forest'", "'River'", "train entry 1", NULL);
    dstest_text("eurosat/split_zhou_EuroSAT.json",
                "{\"train\": [[\"f/1.jpg\", 0, \"Forest\"], [\"r/1.jpg\", 2, \"River\"]],"
                " \"val\": [], \"test\": []}");
    ck_assert_int_eq(dstest_open(ops_of("eurosat"), dstest_root, &p, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "split_zhou_EuroSAT.json", "no entry has label 1", NULL);
}
END_TEST

START_TEST(error_imagenet_folders)
{
    make_all();
    dstest_mkdir("imagenet/images/train/n09999999");
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_int_eq(dstest_open(ops_of("imagenet"), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "images/train/n09999999", "not a class of classnames.txt", NULL);
    ck_assert_int_eq(remove(dstest_path("imagenet/images/train/n09999999")), 0);
    dstest_text("imagenet/classnames.txt", "n01440764 tench\nn01443537 goldfish\n"
                                           "n01484850 great white shark\nn01491361 tiger shark\n");
    ck_assert_int_eq(dstest_open(ops_of("imagenet"), dstest_root, NULL, &d, &e),
                     COOP_E_NOTFOUND);
    dstest_msg_has(&e, "class folder", "images/train/n01491361 missing", NULL);
    dstest_text("imagenet/classnames.txt", "n01440764 tench\nn01443537\n");
    ck_assert_int_eq(dstest_open(ops_of("imagenet"), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "imagenet/classnames.txt:2:", "<wnid> <class name>", NULL);
    dstest_text("imagenet/classnames.txt", "n01440764 tench\n");
    ck_assert_int_eq(dstest_open(ops_of("imagenet_a"), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "imagenet-a/n01484850", "not a wnid of classnames.txt", NULL);
}
END_TEST

START_TEST(error_aircraft_lists)
{
    make_all();
    dstest_text("fgvc_aircraft/images_variant_test.txt", "1111111 Cessna 172\n2222222 B-52\n");
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_int_eq(dstest_open(ops_of("fgvc_aircraft"), dstest_root, NULL, &d, &e),
                     COOP_E_FORMAT);
    dstest_msg_has(&e, "images_variant_test.txt:2", "'B-52'", "not in variants.txt", NULL);
    dstest_text("fgvc_aircraft/images_variant_test.txt", "1111111\n");
    ck_assert_int_eq(dstest_open(ops_of("fgvc_aircraft"), dstest_root, NULL, &d, &e),
                     COOP_E_FORMAT);
    dstest_msg_has(&e, "images_variant_test.txt:1", "<image id> <variant>", NULL);
}
END_TEST

/* A split or list file cannot reach outside the dataset's folder: '..' and
 * absolute paths are refused with the entry's line, even where the file
 * they name exists and with check_files: false. */
START_TEST(error_paths_leave_the_folder)
{
    make_all();
    dstest_image("secret.jpg"); /* <data_root>/secret.jpg = oxford_pets/images/../../secret.jpg */
    struct coop_dataset_ref d;
    struct coop_err e;
    struct coop_kv kvs[] = {{"split_file", "my_split.json"}, {"check_files", "true"}};
    struct coop_params ps = {kvs, 2};
    dstest_text("oxford_pets/my_split.json",
                "{\"train\": [[\"face/train_0.jpg\", 0, \"face\"]], \"val\": [],\n"
                " \"test\": [[\"leopard/test_0.jpg\", 1, \"leopard\"],\n"
                "           [\"leopard/../../../secret.jpg\", 1, \"leopard\"]]}");
    ck_assert_int_eq(dstest_open(ops_of("oxford_pets"), dstest_root, &ps, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "my_split.json:3:12: test entry 1", "'leopard/../../../secret.jpg'",
                   "climbs out with '..'", "oxford_pets/images", NULL);
    char json[4096];
    snprintf(json, sizeof json,
             "{\"train\": [[\"%s\", 0, \"face\"]], \"val\": [], \"test\": []}",
             dstest_path("secret.jpg"));
    dstest_text("oxford_pets/my_split.json", json);
    kvs[1].value = "false";
    ck_assert_int_eq(dstest_open(ops_of("oxford_pets"), dstest_root, &ps, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "my_split.json:1:", "train entry 0", "is an absolute path", NULL);
    /* FGVCAircraft's image ids become images/<id>.jpg */
    dstest_text("fgvc_aircraft/images_variant_test.txt",
                "1111111 Cessna 172\n../../secret 707-320\n");
    ck_assert_int_eq(dstest_open(ops_of("fgvc_aircraft"), dstest_root, NULL, &d, &e),
                     COOP_E_FORMAT);
    dstest_msg_has(&e, "images_variant_test.txt:2", "'../../secret'", "climbs out", NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create(
#ifdef LAYOUTS_STATIC
        "layouts_static"
#else
        "layouts"
#endif
    );
    TCase *tc = tcase_create("layouts");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, all_fifteen_descriptors);
    tcase_add_test(tc, imagenet_folders);
    tcase_add_test(tc, imagenet_targets);
    tcase_add_test(tc, targets_read_classnames_from_their_folder);
    tcase_add_test(tc, zhou_datasets);
    tcase_add_test(tc, aircraft_lists);
    tcase_add_test(tc, fewshot_on_a_layout);
    TCase *te = tcase_create("errors");
    tcase_add_checked_fixture(te, NULL, teardown);
    tcase_add_test(te, error_missing_folder);
    tcase_add_test(te, error_missing_image);
    tcase_add_test(te, error_malformed_json);
    tcase_add_test(te, error_label_classname_mismatch);
    tcase_add_test(te, error_imagenet_folders);
    tcase_add_test(te, error_aircraft_lists);
    tcase_add_test(te, error_paths_leave_the_folder);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, te);
    return coop_check_run(s);
}
