/* test_example_csv.c: the example_csv plugin (the docs' example, and the
 * template tools/new-dataset.sh copies) on a miniature folder written here:
 * class names, splits, labels, ids, the template option, and its errors. */
#include "dstest.h"
#include "../common/check_run.h"

#ifndef PLUGIN_MODULE
#define PLUGIN_MODULE "example_csv"
#endif

static const struct coop_dataset_ops *ops(void)
{
    const struct coop_dataset_ops *o = dstest_find(dstest_dlopen(PLUGIN_MODULE), PLUGIN_MODULE);
    ck_assert_ptr_nonnull(o);
    return o;
}

static void make_mini(void)
{
    dstest_mkroot();
    dstest_text("example_csv/classnames.txt", "cat\ndog\nhot air balloon\n");
    dstest_text("example_csv/train.csv", "# path,label\nimg/cat1.png,0\nimg/dog1.png,1\r\n"
                                         "img/b1.png,2\n\nimg/cat2.png,0\n");
    dstest_text("example_csv/test.csv", "img/t1.png,2\nimg/t2.png,1\n");
    const char *imgs[] = {"cat1", "dog1", "b1", "cat2", "t1", "t2", "v1"};
    for (int i = 0; i < 7; i++)
        dstest_image(dstest_path("example_csv/img/%s.png", imgs[i]) + strlen(dstest_root) + 1);
}

static void teardown(void)
{
    dstest_cleanup();
}

START_TEST(reads_the_lists)
{
    make_mini();
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_msg(dstest_open(ops(), dstest_root, NULL, &d, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(d.ops->num_classes(d.ds), 3);
    ck_assert_str_eq(d.ops->class_name(d.ds, 2), "hot air balloon");
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TRAIN), 4);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_VAL), 0); /* val.csv is optional */
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TEST), 2);
    struct coop_item it;
    ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_TRAIN, 3, &it, &e), 0);
    ck_assert_int_eq(it.label, 0);
    ck_assert_str_eq(it.id, "img/cat2.png");
    ck_assert(coop_file_exists(it.path));
    ck_assert_str_eq(d.ops->default_template(d.ds), "a photo of a {}.");
    ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_TEST, 2, &it, &e), COOP_E_INVAL);
    d.ops->close(d.ds);
    dstest_text("example_csv/val.csv", "img/v1.png,1\n");
    struct coop_kv kv[] = {{"template", "a blurry photo of a {}."}};
    struct coop_params p = {kv, 1};
    ck_assert_msg(dstest_open(ops(), dstest_root, &p, &d, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_VAL), 1);
    ck_assert_str_eq(d.ops->default_template(d.ds), "a blurry photo of a {}.");
    d.ops->close(d.ds);
}
END_TEST

START_TEST(errors)
{
    make_mini();
    struct coop_dataset_ref d;
    struct coop_err e;
    struct coop_kv kv[] = {{"dir", "elsewhere"}};
    struct coop_params p = {kv, 1};
    ck_assert_int_eq(dstest_open(ops(), dstest_root, &p, &d, &e), COOP_E_NOTFOUND);
    dstest_msg_has(&e, "folder not found", "elsewhere", NULL);
    dstest_text("example_csv/test.csv", "img/t1.png,2\nimg/missing.png,1\n");
    ck_assert_int_eq(dstest_open(ops(), dstest_root, NULL, &d, &e), COOP_E_NOTFOUND);
    dstest_msg_has(&e, "test.csv:2", "missing.png", "does not exist", NULL);
    dstest_text("example_csv/test.csv", "img/t1.png,3\n");
    ck_assert_int_eq(dstest_open(ops(), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "test.csv:1", "label 3 outside 0..2", NULL);
    dstest_text("example_csv/test.csv", "img/t1.png;2\n");
    ck_assert_int_eq(dstest_open(ops(), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "test.csv:1", "relative/path,label", NULL);
    dstest_image("outside.png"); /* exists, but outside the dataset's folder */
    dstest_text("example_csv/test.csv", "img/t1.png,2\n../outside.png,1\n");
    ck_assert_int_eq(dstest_open(ops(), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "test.csv:2", "'../outside.png'", "climbs out with '..'", NULL);
    char line[2100];
    snprintf(line, sizeof line, "%s,1\n", dstest_path("outside.png"));
    dstest_text("example_csv/test.csv", line);
    ck_assert_int_eq(dstest_open(ops(), dstest_root, NULL, &d, &e), COOP_E_FORMAT);
    dstest_msg_has(&e, "test.csv:1", "is an absolute path", NULL);
    remove(dstest_path("example_csv/test.csv"));
    ck_assert_int_eq(dstest_open(ops(), dstest_root, NULL, &d, &e), COOP_E_NOTFOUND);
    dstest_msg_has(&e, "test.csv", "expected layout", NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create(PLUGIN_MODULE);
    TCase *tc = tcase_create(PLUGIN_MODULE);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, reads_the_lists);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
