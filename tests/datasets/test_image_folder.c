/* test_image_folder.c: the image_folder plugin on a tiny tree written here
 * (PNGs from coop_image_write_png, a JPEG fixture copied in): classes from
 * the train split's folders ('_' as a space), labels, ids, the val split
 * optional, other files ignored, the classnames file and the template and
 * split options; every error names its path. */
#include "dstest.h"
#include "coop/image.h"
#include "../common/check_run.h"

static const struct coop_dataset_ops *ops(void)
{
    const struct coop_dataset_ops *o = dstest_find(dstest_dlopen("image_folder"),
                                                   "image_folder");
    ck_assert_ptr_nonnull(o);
    return o;
}

/* A 4x3 RGB PNG whose pixels encode v, through the project's PNG writer. */
static void png(const char *rel, int v)
{
    uint8_t pix[4 * 3 * 3];
    for (int i = 0; i < 36; i++)
        pix[i] = (uint8_t)(v * 40 + i);
    dstest_text(rel, ""); /* folders */
    struct coop_err e;
    ck_assert_msg(coop_image_write_png(dstest_path("%s", rel), pix, 4, 3, 3, &e) == 0, "%s",
                  e.msg);
}

static void jpeg(const char *rel)
{
    const char *src = getenv("COOP_SOURCE_ROOT");
    ck_assert_ptr_nonnull(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/image/rgb_q75_422.jpg", src);
    char *data;
    size_t len;
    struct coop_err e;
    ck_assert_msg(coop_read_file(path, 1 << 20, &data, &len, &e) == 0, "%s", e.msg);
    dstest_write(rel, data, len);
    free(data);
}

static void make_tree(void)
{
    dstest_mkroot();
    png("birds/train/cat/a.png", 0);
    png("birds/train/cat/b.png", 1);
    jpeg("birds/train/dog/c.JPG");
    png("birds/train/hot_air_balloon/d.png", 2);
    dstest_text("birds/train/dog/notes.txt", "not an image");
    dstest_text("birds/train/README", "ignored: a file next to the class folders");
    png("birds/test/dog/e.png", 3);
    jpeg("birds/test/cat/f.jpeg");
}

static struct coop_params params(struct coop_kv *kv, size_t n)
{
    return (struct coop_params){kv, n};
}

static void teardown(void)
{
    dstest_cleanup();
}

START_TEST(reads_the_tree)
{
    make_tree();
    struct coop_kv kv[] = {{"root", "birds"}};
    struct coop_params p = params(kv, 1);
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_msg(dstest_open(ops(), dstest_root, &p, &d, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(d.ops->num_classes(d.ds), 3);
    ck_assert_str_eq(d.ops->class_name(d.ds, 0), "cat");
    ck_assert_str_eq(d.ops->class_name(d.ds, 1), "dog");
    ck_assert_str_eq(d.ops->class_name(d.ds, 2), "hot air balloon");
    ck_assert_ptr_null(d.ops->class_name(d.ds, 3));
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TRAIN), 4);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_VAL), 0);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TEST), 2);
    static const char *const ids[] = {"train/cat/a.png", "train/cat/b.png", "train/dog/c.JPG",
                                      "train/hot_air_balloon/d.png"};
    static const int labels[] = {0, 0, 1, 2};
    for (size_t i = 0; i < 4; i++) {
        struct coop_item it;
        ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_TRAIN, i, &it, &e), 0);
        ck_assert_str_eq(it.id, ids[i]);
        ck_assert_int_eq(it.label, labels[i]);
        struct coop_image img;
        ck_assert_msg(coop_image_load(&img, it.path, &e) == 0, "%s", e.msg); /* a real image */
        coop_image_free(&img);
    }
    struct coop_item it;
    ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_TEST, 0, &it, &e), 0);
    ck_assert_str_eq(it.id, "test/cat/f.jpeg");
    ck_assert_int_eq(it.label, 0);
    ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_TEST, 2, &it, &e), COOP_E_INVAL);
    ck_assert_str_eq(d.ops->default_template(d.ds), "a photo of a {}.");
    d.ops->close(d.ds);
}
END_TEST

START_TEST(options_and_classnames)
{
    make_tree();
    png("birds/holdout/dog/g.png", 4);
    png("birds/dev/cat/h.png", 5);
    dstest_text("birds/names.txt", "# folder  name\nhot_air_balloon  hot-air balloon\r\n\n"
                                   "dog\tdomestic dog\n");
    struct coop_kv kv[] = {{"classnames", "names.txt"}, {"root", dstest_path("birds")},
                           {"template", "a blurry photo of a {}."}, {"test", "holdout"},
                           {"val", "dev"}};
    struct coop_params p = params(kv, 5);
    struct coop_dataset_ref d;
    struct coop_err e;
    /* an absolute root needs no data_root */
    ck_assert_msg(dstest_open(ops(), NULL, &p, &d, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(d.ops->class_name(d.ds, 0), "cat");
    ck_assert_str_eq(d.ops->class_name(d.ds, 1), "domestic dog");
    ck_assert_str_eq(d.ops->class_name(d.ds, 2), "hot-air balloon");
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_VAL), 1);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TEST), 1);
    ck_assert_str_eq(d.ops->default_template(d.ds), "a blurry photo of a {}.");
    d.ops->close(d.ds);
}
END_TEST

/* Opens birds/ with kv expecting code and each fragment in the message. */
static void expect_error(struct coop_kv *kv, size_t n, int code, ...)
{
    struct coop_params p = params(kv, n);
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_int_eq(dstest_open(ops(), dstest_root, &p, &d, &e), code);
    va_list ap;
    va_start(ap, code);
    for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;)
        ck_assert_msg(strstr(e.msg, frag) != NULL, "message \"%s\" lacks \"%s\"", e.msg, frag);
    va_end(ap);
}

START_TEST(errors_name_the_path)
{
    make_tree();
    struct coop_kv kv[2] = {{"root", "birds"}, {"test", "nowhere"}};
    expect_error(kv, 0, COOP_E_INVAL, "option 'root' is required", NULL);
    kv[0].value = "elsewhere";
    expect_error(kv, 1, COOP_E_NOTFOUND, "folder ", "/elsewhere not found", NULL);
    kv[0].value = "birds";
    expect_error(kv, 2, COOP_E_NOTFOUND, "test split folder ", "/birds/nowhere not found",
                 "expected <root>/nowhere/<class>/", NULL);
    dstest_mkdir("birds/train/empty_class");
    expect_error(kv, 1, COOP_E_FORMAT, "class folder ", "/birds/train/empty_class holds no",
                 NULL);
    remove(dstest_path("birds/train/empty_class"));
    png("birds/test/zebra/z.png", 6);
    expect_error(kv, 1, COOP_E_FORMAT, "/birds/test/zebra is not a class of the train split",
                 NULL);
    remove(dstest_path("birds/test/zebra/z.png"));
    remove(dstest_path("birds/test/zebra"));
    kv[1] = (struct coop_kv){"classnames", "names.txt"};
    expect_error(kv, 2, COOP_E_NOTFOUND, "classnames file ", "/birds/names.txt not found", NULL);
    dstest_text("birds/names.txt", "cat kitty\nzebra striped horse\n");
    expect_error(kv, 2, COOP_E_FORMAT, "/birds/names.txt:2: 'zebra' is not a class folder", NULL);
    dstest_text("birds/names.txt", "cat\n");
    expect_error(kv, 2, COOP_E_FORMAT, "/birds/names.txt:1: expected 'FOLDER class name'", NULL);
    dstest_mkdir("birds/val");
    expect_error(kv, 1, COOP_E_FORMAT, "split folder ", "/birds/val holds no class folders", NULL);
    struct coop_params p = params(kv, 1);
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_int_eq(dstest_open(ops(), NULL, &p, &d, &e), COOP_E_INVAL);
    dstest_msg_has(&e, "root 'birds' is relative but data_root is not set", NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image_folder");
    TCase *tc = tcase_create("image_folder");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, reads_the_tree);
    tcase_add_test(tc, options_and_classnames);
    tcase_add_test(tc, errors_name_the_path);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
