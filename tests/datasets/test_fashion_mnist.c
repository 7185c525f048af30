/* test_fashion_mnist.c: the fashion_mnist plugin on miniature IDX gzip files
 * written here (splits, labels, pixels replicated to RGB, val_size) and every
 * format error (magic numbers, sizes, truncation, labels); then on Debian's
 * real files when installed (skipped with a message otherwise, and under
 * valgrind, where decompressing 30 MB would take minutes). */
#include "dstest.h"
#include <zlib.h>
#include "../common/check_run.h"

static const struct coop_dataset_ops *fm_ops(void)
{
    const struct coop_dataset_ops *ops = dstest_find(dstest_dlopen("fashion_mnist"),
                                                     "fashion_mnist");
    ck_assert_ptr_nonnull(ops);
    return ops;
}

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* Writes an IDX gzip file: header words, then body bytes. */
static void write_idx(const char *name, const uint32_t *hdr, int nh, const uint8_t *body,
                      size_t n)
{
    gzFile g = gzopen(dstest_path("fm/%s", name), "wb");
    ck_assert_ptr_nonnull(g);
    for (int i = 0; i < nh; i++) {
        uint8_t b[4];
        put32(b, hdr[i]);
        gzwrite(g, b, 4);
    }
    if (n)
        gzwrite(g, body, (unsigned)n);
    gzclose(g);
}

/* Pixel value of image i, pixel p in the miniature files. */
static uint8_t px(size_t i, int p)
{
    return (uint8_t)(i * 7 + (size_t)p);
}

/* n images with labels i % 10, under <root>/fm/<stem>-... */
static void write_part(const char *stem, uint32_t n)
{
    uint8_t *img = malloc(n * 784), *lab = malloc(n);
    for (size_t i = 0; i < n; i++) {
        for (int p = 0; p < 784; p++)
            img[i * 784 + (size_t)p] = px(i, p);
        lab[i] = (uint8_t)(i % 10);
    }
    char name[128];
    uint32_t hi[4] = {0x803, n, 28, 28}, hl[2] = {0x801, n};
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", stem);
    write_idx(name, hi, 4, img, n * 784);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", stem);
    write_idx(name, hl, 2, lab, n);
    free(img);
    free(lab);
}

static void make_mini(void)
{
    dstest_mkroot();
    dstest_mkdir("fm");
    write_part("train", 25);
    write_part("t10k", 12);
}

static void teardown(void)
{
    dstest_cleanup();
}

static int open_mini(struct coop_dataset_ref *d, const char *val, struct coop_err *e)
{
    struct coop_kv kv[] = {{"dir", dstest_path("fm")}, {"val_size", val}};
    struct coop_params p = {kv, 2};
    return dstest_open(fm_ops(), NULL, &p, d, e);
}

START_TEST(mini_files)
{
    make_mini();
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_msg(open_mini(&d, "5", &e) == 0, "%s", e.msg);
    ck_assert_int_eq(d.ops->num_classes(d.ds), 10);
    ck_assert_str_eq(d.ops->class_name(d.ds, 0), "T-shirt or top");
    ck_assert_str_eq(d.ops->class_name(d.ds, 9), "ankle boot");
    ck_assert_ptr_null(d.ops->class_name(d.ds, 10));
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TRAIN), 20);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_VAL), 5);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TEST), 12);
    struct coop_item it;
    ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_VAL, 2, &it, &e), 0);
    ck_assert_ptr_null(it.path);
    ck_assert_str_eq(it.id, "train/00022");
    ck_assert_int_eq(it.label, 2);
    ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_TEST, 11, &it, &e), 0);
    ck_assert_str_eq(it.id, "test/00011");
    ck_assert_int_eq(it.label, 1);
    uint8_t *rgb;
    int w, h;
    ck_assert_int_eq(d.ops->read_pixels(d.ds, COOP_SPLIT_VAL, 2, &rgb, &w, &h, &e), 0);
    ck_assert(w == 28 && h == 28);
    for (int p = 0; p < 784; p++) {
        ck_assert_uint_eq(rgb[3 * p], px(22, p));
        ck_assert_uint_eq(rgb[3 * p + 1], px(22, p));
        ck_assert_uint_eq(rgb[3 * p + 2], px(22, p));
    }
    d.ops->free_pixels(d.ds, rgb);
    ck_assert_int_eq(d.ops->read_pixels(d.ds, COOP_SPLIT_TEST, 3, &rgb, &w, &h, &e), 0);
    ck_assert_uint_eq(rgb[3 * 100], px(3, 100));
    d.ops->free_pixels(d.ds, rgb);
    ck_assert_int_eq(d.ops->read_pixels(d.ds, COOP_SPLIT_TEST, 12, &rgb, &w, &h, &e),
                     COOP_E_INVAL);
    ck_assert_str_eq(d.ops->default_template(d.ds), "a photo of a {}.");
    d.ops->close(d.ds);
    ck_assert_int_eq(open_mini(&d, "25", &e), COOP_E_INVAL);
    dstest_msg_has(&e, "val_size 25", NULL);
}
END_TEST

START_TEST(data_root_folder)
{
    /* <data_root>/fashion-mnist is used when present */
    make_mini();
    ck_assert_int_eq(rename(dstest_path("fm"), dstest_path("fashion-mnist")), 0);
    struct coop_kv kv[] = {{"val_size", "3"}};
    struct coop_params p = {kv, 1};
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_msg(dstest_open(fm_ops(), dstest_root, &p, &d, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TRAIN), 22);
    d.ops->close(d.ds);
}
END_TEST

START_TEST(format_errors)
{
    make_mini();
    struct coop_dataset_ref d;
    struct coop_err e;
    uint8_t body[784 * 2] = {0};
    const char *img = "train-images-idx3-ubyte.gz", *lab = "train-labels-idx1-ubyte.gz";
    write_idx(lab, (uint32_t[]){0x801, 2}, 2, body, 2);
    write_idx(img, (uint32_t[]){0x801, 2, 28, 28}, 4, body, sizeof body);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_FORMAT);
    dstest_msg_has(&e, img, "bad IDX magic number 0x00000801", "expected 0x00000803", NULL);
    write_idx(img, (uint32_t[]){0x803, 2, 28, 27}, 4, body, sizeof body);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_FORMAT);
    dstest_msg_has(&e, img, "28x27", NULL);
    write_idx(img, (uint32_t[]){0x803, 2, 28, 28}, 4, body, 784 + 10);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_FORMAT);
    dstest_msg_has(&e, img, "truncated", NULL);
    write_idx(img, (uint32_t[]){0x803, 2}, 2, NULL, 0);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_FORMAT);
    dstest_msg_has(&e, img, "header", NULL);
    write_idx(img, (uint32_t[]){0x803, 1, 28, 28}, 4, body, sizeof body);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_FORMAT);
    dstest_msg_has(&e, lab, "2 labels", "1 images", NULL);
    write_idx(img, (uint32_t[]){0x803, 1, 28, 28}, 4, body, 784);
    write_idx(lab, (uint32_t[]){0x801, 1}, 2, body, 1);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_INVAL); /* val_size must leave a train */
    write_idx(img, (uint32_t[]){0x803, 2, 28, 28}, 4, body, sizeof body);
    write_idx(lab, (uint32_t[]){0x801, 2}, 2, (const uint8_t[]){3, 11}, 2);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_FORMAT);
    dstest_msg_has(&e, lab, "label 11 of item 1", NULL);
    write_idx(lab, (uint32_t[]){0x801, 2}, 2, (const uint8_t[]){3, 1, 7}, 3);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_FORMAT);
    dstest_msg_has(&e, lab, "longer than its header", NULL);
    write_idx(lab, (uint32_t[]){0x801, 0}, 2, NULL, 0);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_FORMAT);
    dstest_msg_has(&e, lab, "item count 0", NULL);
    ck_assert_int_eq(remove(dstest_path("fm/%s", lab)), 0);
    ck_assert_int_eq(open_mini(&d, "1", &e), COOP_E_IO);
    dstest_msg_has(&e, lab, "cannot open", "dataset-fashion-mnist", NULL);
    struct coop_kv kv[] = {{"dir", dstest_path("nowhere")}};
    struct coop_params p = {kv, 1};
    ck_assert_int_eq(dstest_open(fm_ops(), NULL, &p, &d, &e), COOP_E_NOTFOUND);
    dstest_msg_has(&e, "nowhere", "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz", NULL);
}
END_TEST

START_TEST(debian_files)
{
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char probe[256];
    snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", dir);
    if (getenv("COOP_VALGRIND") || !coop_file_exists(probe)) {
        printf("skipped: %s\n", getenv("COOP_VALGRIND") ? "reduced run under valgrind"
                                                          : "dataset-fashion-mnist not installed");
        return;
    }
    struct coop_dataset_ref d;
    struct coop_err e;
    ck_assert_msg(dstest_open(fm_ops(), NULL, NULL, &d, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TRAIN), 50000);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_VAL), 10000);
    ck_assert_uint_eq(d.ops->split_size(d.ds, COOP_SPLIT_TEST), 10000);
    struct coop_item it;
    ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_TRAIN, 0, &it, &e), 0);
    ck_assert_int_eq(it.label, 9); /* the first training image is an ankle boot */
    ck_assert_int_eq(d.ops->get_item(d.ds, COOP_SPLIT_TEST, 0, &it, &e), 0);
    ck_assert_int_eq(it.label, 9);
    int hist[10] = {0};
    size_t n = d.ops->split_size(d.ds, COOP_SPLIT_TEST);
    for (size_t i = 0; i < n; i++) {
        d.ops->get_item(d.ds, COOP_SPLIT_TEST, i, &it, &e);
        hist[it.label]++;
    }
    for (int k = 0; k < 10; k++)
        ck_assert_int_eq(hist[k], 1000); /* the test set is balanced */
    d.ops->close(d.ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fashion_mnist");
    TCase *tc = tcase_create("fashion_mnist");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, mini_files);
    tcase_add_test(tc, data_root_folder);
    tcase_add_test(tc, format_errors);
    tcase_add_test(tc, debian_files);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
