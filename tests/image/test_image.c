/* test_image.c: core/image unit tests: the fast resampler against a naive
 * reference and a float ideal, decode errors (truncated, random, empty,
 * wrong content) naming the file, a mutation fuzz loop, RandomResizedCrop
 * parameters, normalisation and the PNG writer. Golden Pillow comparisons
 * are in image_golden.c. */
#include "image_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

/* ---- naive reference: Pillow's algorithm written per output pixel ------- */
static double cubic(double x)
{
    x = fabs(x);
    return x < 1 ? (1.5 * x - 2.5) * x * x + 1 : x < 2 ? ((-0.5 * x + 2.5) * x - 4) * x + 2 : 0;
}

/* Fixed-point taps of output index o (in, out sizes; box [b0, b1)). */
static int naive_taps(int32_t *k, int *first, int n_in, double b0, double b1, int n_out, int o)
{
    double scale = (b1 - b0) / n_out, fs = scale < 1 ? 1 : scale, sup = 2 * fs;
    double c = b0 + (o + 0.5) * scale, sum = 0, w[1024];
    int lo = (int)(c - sup + 0.5), hi = (int)(c + sup + 0.5);
    lo = lo < 0 ? 0 : lo;
    hi = hi > n_in ? n_in : hi;
    for (int i = lo; i < hi; i++)
        sum += w[i - lo] = cubic((i - c + 0.5) / fs);
    for (int i = lo; i < hi; i++) {
        double v = (sum != 0 ? w[i - lo] / sum : w[i - lo]) * (1 << 22);
        k[i - lo] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
    }
    *first = lo;
    return hi - lo;
}

static uint8_t fix_clip(int64_t s)
{
    s >>= 22;
    return (uint8_t)(s < 0 ? 0 : s > 255 ? 255 : s);
}

static void naive_resize(uint8_t *out, int ow, int oh, const uint8_t *in, int iw, int ih, int ch)
{
    uint8_t *tmp = malloc((size_t)ih * ow * ch);
    int32_t k[1024];
    int first;
    for (int x = 0; x < ow; x++) {
        int n = naive_taps(k, &first, iw, 0, iw, ow, x);
        for (int y = 0; y < ih; y++)
            for (int c = 0; c < ch; c++) {
                int64_t s = 1 << 21;
                for (int i = 0; i < n; i++)
                    s += (int64_t)in[((size_t)y * iw + first + i) * ch + c] * k[i];
                tmp[((size_t)y * ow + x) * ch + c] = ow == iw ? in[((size_t)y * iw + x) * ch + c]
                                                              : fix_clip(s);
            }
    }
    for (int y = 0; y < oh; y++) {
        int n = naive_taps(k, &first, ih, 0, ih, oh, y);
        for (int x = 0; x < ow * ch; x++) {
            int64_t s = 1 << 21;
            for (int i = 0; i < n; i++)
                s += (int64_t)tmp[(size_t)(first + i) * ow * ch + x] * k[i];
            out[(size_t)y * ow * ch + x] = oh == ih ? tmp[(size_t)y * ow * ch + x] : fix_clip(s);
        }
    }
    free(tmp);
}

static void random_bytes(uint8_t *p, size_t n, uint64_t seed)
{
    struct coop_rng r;
    coop_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)coop_rng_u64(&r);
}

START_TEST(resize_matches_naive_reference)
{
    struct coop_rng r;
    coop_rng_seed(&r, 11);
    int cases = under_valgrind() ? 6 : 40;
    for (int t = 0; t < cases; t++) {
        int iw = 1 + (int)coop_rng_below(&r, 90), ih = 1 + (int)coop_rng_below(&r, 90);
        int ow = 1 + (int)coop_rng_below(&r, 90), oh = 1 + (int)coop_rng_below(&r, 90);
        int ch = 1 + (int)coop_rng_below(&r, 4);
        uint8_t *in = malloc((size_t)iw * ih * ch), *a = malloc((size_t)ow * oh * ch),
                *b = malloc((size_t)ow * oh * ch);
        random_bytes(in, (size_t)iw * ih * ch, (uint64_t)t);
        struct coop_err e;
        ck_assert_int_eq(coop_image_resize_bicubic(a, ow, oh, in, iw, ih, ch, NULL, &e), 0);
        naive_resize(b, ow, oh, in, iw, ih, ch);
        ck_assert_msg(memcmp(a, b, (size_t)ow * oh * ch) == 0, "%dx%dx%d -> %dx%d differs", iw, ih,
                      ch, ow, oh);
        free(in);
        free(a);
        free(b);
    }
}
END_TEST

/* A smooth image resized by the fixed-point path stays within 2 levels of the
 * ideal (double precision, no intermediate rounding) separable filter. */
START_TEST(resize_close_to_float_ideal)
{
    int iw = 97, ih = 61, ow = 40, oh = 150;
    uint8_t in[97 * 61], out[40 * 150];
    for (int y = 0; y < ih; y++)
        for (int x = 0; x < iw; x++)
            in[y * iw + x] = (uint8_t)(127.5 + 120 * sin(x * 0.07) * cos(y * 0.05));
    struct coop_err e;
    ck_assert_int_eq(coop_image_resize_bicubic(out, ow, oh, in, iw, ih, 1, NULL, &e), 0);
    int maxd = 0;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            double sx = (double)iw / ow, fx = sx < 1 ? 1 : sx, cx = (x + 0.5) * sx;
            double sy = (double)ih / oh, fy = sy < 1 ? 1 : sy, cy = (y + 0.5) * sy;
            double acc = 0, wsum = 0;
            for (int j = 0; j < ih; j++)
                for (int i = 0; i < iw; i++) {
                    double w = cubic((i + 0.5 - cx) / fx) * cubic((j + 0.5 - cy) / fy);
                    acc += w * in[j * iw + i];
                    wsum += w;
                }
            double v = acc / wsum;
            v = v < 0 ? 0 : v > 255 ? 255 : v;
            int d = abs((int)lround(v) - out[y * ow + x]);
            maxd = d > maxd ? d : maxd;
        }
    ck_assert_int_le(maxd, 2);
}
END_TEST

START_TEST(resize_identity_and_constant)
{
    uint8_t in[30 * 20 * 3], out[57 * 11 * 3];
    random_bytes(in, sizeof in, 3);
    uint8_t same[sizeof in];
    struct coop_err e;
    ck_assert_int_eq(coop_image_resize_bicubic(same, 30, 20, in, 30, 20, 3, NULL, &e), 0);
    ck_assert_mem_eq(same, in, sizeof in);
    memset(in, 200, sizeof in);
    ck_assert_int_eq(coop_image_resize_bicubic(out, 57, 11, in, 30, 20, 3, NULL, &e), 0);
    for (size_t i = 0; i < sizeof out; i++)
        ck_assert_int_eq(out[i], 200);
    float bad[4] = {0, 0, 31, 20};
    ck_assert_int_eq(coop_image_resize_bicubic(out, 5, 5, in, 30, 20, 3, bad, &e), COOP_E_INVAL);
}
END_TEST

START_TEST(resize_dims_follow_torchvision)
{
    int ow, oh;
    coop_image_resize_dims(&ow, &oh, 500, 375, 224);
    ck_assert_int_eq(ow, 298); /* int(224 * 500 / 375) = int(298.67) */
    ck_assert_int_eq(oh, 224);
    coop_image_resize_dims(&ow, &oh, 7, 1000, 224);
    ck_assert_int_eq(ow, 224);
    ck_assert_int_eq(oh, 32000);
    coop_image_resize_dims(&ow, &oh, 300, 300, 224);
    ck_assert_int_eq(ow, 224);
    ck_assert_int_eq(oh, 224);
}
END_TEST

/* ---- decode errors ----------------------------------------------------- */
static char tmpdir[256];

static const char *tmp_file(const char *name, const void *data, size_t n)
{
    static char path[512];
    if (!tmpdir[0])
        ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "image"), 0);
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n)
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

/* Removes the scratch folder and its files; the next tmp_file makes a new one. */
static void cleanup_tmp(void)
{
    if (tmpdir[0])
        ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
    tmpdir[0] = 0;
}

/* Loading path must fail, name the file and (if cause) contain cause. */
static void expect_load_error_cause(const char *path, const char *what, const char *cause)
{
    struct coop_image img;
    struct coop_err e = {{0}};
    int rc = coop_image_load(&img, path, &e);
    ck_assert_msg(rc < 0, "%s: loaded without error", what);
    ck_assert_msg(strstr(e.msg, path) != NULL, "%s: message does not name the file: %s", what,
                  e.msg);
    if (cause)
        ck_assert_msg(strstr(e.msg, cause) != NULL, "%s: expected \"%s\" in: %s", what, cause,
                      e.msg);
    ck_assert_ptr_null(img.data);
    ck_assert_ptr_null(img.data16);
}

static void expect_load_error(const char *path, const char *what)
{
    expect_load_error_cause(path, what, NULL);
}

static uint8_t *read_fixture(const char *name, size_t *n)
{
    char *buf;
    struct coop_err e;
    ck_assert_msg(coop_read_file(fixture_path(name), 1 << 24, &buf, n, &e) == 0, "%s", e.msg);
    return (uint8_t *)buf;
}

START_TEST(decode_errors_name_the_file)
{
    size_t n;
    uint8_t *jpg = read_fixture("rgb_q90.jpg", &n);
    /* libjpeg only warns about a premature end (and pads with grey): must be an error */
    expect_load_error_cause(tmp_file("trunc.jpg", jpg, n / 2), "truncated JPEG",
                            "Premature end of JPEG file");
    expect_load_error_cause(tmp_file("trunc_eoi.jpg", jpg, n - 2), "JPEG without EOI",
                            "Premature end of JPEG file");
    expect_load_error(tmp_file("trunc_header.jpg", jpg, 40), "JPEG cut in its header");
    free(jpg);
    uint8_t *png = read_fixture("rgb8.png", &n);
    expect_load_error_cause(tmp_file("trunc.png", png, n / 2), "truncated PNG", "truncated");
    expect_load_error(tmp_file("trunc_end.png", png, n - 5), "PNG missing IEND");
    png[n / 2] ^= 0x55; /* corrupt IDAT: CRC mismatch */
    expect_load_error(tmp_file("crc.png", png, n), "PNG with a bad CRC");
    free(png);
    uint8_t junk[4096];
    random_bytes(junk, sizeof junk, 99);
    expect_load_error(tmp_file("random.bin", junk, sizeof junk), "random bytes");
    expect_load_error(tmp_file("empty.png", "", 0), "empty file");
    const char *txt = "this is not an image\n";
    expect_load_error(tmp_file("text.jpg", txt, strlen(txt)), "text named .jpg");
    expect_load_error("/nonexistent/coop/missing.jpg", "missing file");
    /* JPEG signature followed by garbage */
    junk[0] = 0xFF, junk[1] = 0xD8, junk[2] = 0xFF;
    expect_load_error(tmp_file("sig.jpg", junk, sizeof junk), "JPEG signature + junk");
    cleanup_tmp();
}
END_TEST

/* Mutated valid files must decode or fail cleanly (run under ASan / valgrind). */
START_TEST(decode_fuzz_mutations)
{
    static const char *const files[] = {"rgb_q90.jpg", "rgb_progressive.jpg", "cmyk.jpg",
                                        "rgb8.png", "pal4.png", "gray16.png", "rgb8_interlaced.png"};
    struct coop_rng r;
    coop_rng_seed(&r, 2026);
    int iters = under_valgrind() ? 15 : 300, ok = 0, failed = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t n;
        uint8_t *orig = read_fixture(files[f], &n), *buf = malloc(n);
        for (int it = 0; it < iters; it++) {
            memcpy(buf, orig, n);
            int muts = 1 + (int)coop_rng_below(&r, 8);
            for (int m = 0; m < muts; m++)
                buf[coop_rng_below(&r, n)] = (uint8_t)coop_rng_u64(&r);
            size_t len = coop_rng_below(&r, 4) == 0 ? coop_rng_below(&r, n) + 1 : n;
            struct coop_image img;
            struct coop_err e;
            int rc = coop_image_load_memory(&img, buf, len, "fuzz", &e);
            if (rc == 0) {
                static uint8_t out[32 * 32 * 3];
                ck_assert_int_eq(coop_image_clip_eval_rgb8(out, &img, 32, &e), 0);
                ok++;
            } else {
                ck_assert_ptr_nonnull(strstr(e.msg, "fuzz"));
                failed++;
            }
            coop_image_free(&img);
        }
        free(orig);
        free(buf);
    }
    ck_assert_int_gt(failed, 0);
    ck_assert_int_eq(ok + failed, iters * (int)(sizeof files / sizeof files[0]));
}
END_TEST

/* ---- augmentation -------------------------------------------------------- */
START_TEST(rrc_params_deterministic_and_in_range)
{
    struct coop_rng a, b;
    coop_rng_seed(&a, 5);
    coop_rng_seed(&b, 5);
    double area_frac = 0;
    int n = 4000;
    for (int i = 0; i < n; i++) {
        struct coop_crop_box x, y;
        coop_image_rrc_params(&x, 500, 375, 0.08, 1.0, 0.75, 4.0 / 3.0, &a);
        coop_image_rrc_params(&y, 500, 375, 0.08, 1.0, 0.75, 4.0 / 3.0, &b);
        ck_assert_mem_eq(&x, &y, sizeof x);
        ck_assert(x.w > 0 && x.h > 0 && x.left >= 0 && x.top >= 0);
        ck_assert(x.left + x.w <= 500 && x.top + x.h <= 375);
        double frac = (double)x.w * x.h / (500.0 * 375.0);
        ck_assert_double_ge(frac, 0.075); /* 0.08 up to rounding of w and h */
        ck_assert_double_le(frac, 1.0);
        double ratio = (double)x.w / x.h;
        if (frac < 0.5) /* away from the borders the rounding is small */
            ck_assert(ratio > 0.72 && ratio < 1.39);
        area_frac += frac;
    }
    /* mean of U(0.08, 1) is 0.54; rejections of large crops pull it below */
    ck_assert_double_gt(area_frac / n, 0.35);
    ck_assert_double_lt(area_frac / n, 0.56);
}
END_TEST

START_TEST(rrc_fallback_is_torchvision_center_crop)
{
    struct coop_rng r;
    coop_rng_seed(&r, 1);
    struct coop_crop_box b;
    /* scale 1 cannot fit a 3:4..4:3 box in a 1000x10 image: 10 misses, fallback */
    coop_image_rrc_params(&b, 1000, 10, 1.0, 1.0, 0.75, 4.0 / 3.0, &r);
    ck_assert_int_eq(b.h, 10);
    ck_assert_int_eq(b.w, 13); /* round(10 * 4/3) */
    ck_assert_int_eq(b.top, 0);
    ck_assert_int_eq(b.left, (1000 - 13) / 2);
    coop_image_rrc_params(&b, 10, 1000, 1.0, 1.0, 0.75, 4.0 / 3.0, &r);
    ck_assert_int_eq(b.w, 10);
    ck_assert_int_eq(b.h, 13); /* round(10 / 0.75) */
    ck_assert_int_eq(b.top, (1000 - 13) / 2);
}
END_TEST

START_TEST(train_transform_seeded_and_flip)
{
    struct synth_params p = {42, 120, 90, 3, 5, 60, 20, 0};
    struct coop_image img;
    ck_assert_int_eq(synth_image(&img, "RGB", &p), 0);
    static uint8_t a[64 * 64 * 3], b[64 * 64 * 3], c[64 * 64 * 3];
    struct coop_rng r1, r2;
    struct coop_err e;
    coop_rng_seed(&r1, 9);
    coop_rng_seed(&r2, 9);
    int differ = 0;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(coop_image_clip_train_rgb8(a, &img, 64, 0.08, &r1, &e), 0);
        ck_assert_int_eq(coop_image_clip_train_rgb8(b, &img, 64, 0.08, &r2, &e), 0);
        ck_assert_mem_eq(a, b, sizeof a);
        if (i > 0)
            differ += memcmp(a, c, sizeof a) != 0;
        memcpy(c, a, sizeof a);
    }
    ck_assert_int_gt(differ, 0);
    /* scale_lo 1 on a 20:9 image: no draw fits, so always the centred 4:3 fallback box
     * (torchvision's rule), mirrored or not */
    struct synth_params pw = {42, 200, 90, 3, 5, 60, 20, 0};
    struct coop_image wide;
    ck_assert_int_eq(synth_image(&wide, "RGB", &pw), 0);
    struct coop_crop_box fallback = {0, 40, 90, 120};
    ck_assert_int_eq(coop_image_resized_crop_rgb8(b, &wide, &fallback, 64, 0, &e), 0);
    ck_assert_int_eq(coop_image_resized_crop_rgb8(c, &wide, &fallback, 64, 1, &e), 0);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(coop_image_clip_train_rgb8(a, &wide, 64, 1.0, &r1, &e), 0);
        ck_assert(memcmp(a, b, sizeof a) == 0 || memcmp(a, c, sizeof a) == 0);
    }
    coop_image_free(&wide);
    struct coop_crop_box box = {10, 20, 50, 70};
    ck_assert_int_eq(coop_image_resized_crop_rgb8(a, &img, &box, 64, 0, &e), 0);
    ck_assert_int_eq(coop_image_resized_crop_rgb8(b, &img, &box, 64, 1, &e), 0);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            ck_assert_mem_eq(a + (y * 64 + x) * 3, b + (y * 64 + 63 - x) * 3, 3);
    struct coop_crop_box outside = {0, 100, 50, 30};
    ck_assert_int_eq(coop_image_resized_crop_rgb8(a, &img, &outside, 64, 0, &e), COOP_E_INVAL);
    coop_image_free(&img);
}
END_TEST

/* Every mode through both transforms on degenerate sizes: no failure, no
 * out-of-bounds access (the sanitizer builds check the latter). */
START_TEST(transforms_on_tiny_and_thin_images)
{
    static const char *const modes[] = {"L", "LA", "P", "RGB", "RGBA", "I", "CMYK", "1"};
    static const int sizes[][2] = {{1, 1}, {1, 7}, {300, 2}, {3, 3}};
    static uint8_t out[48 * 48 * 3];
    struct coop_rng r;
    coop_rng_seed(&r, 3);
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            struct synth_params p = {m * 10 + s + 1, sizes[s][0], sizes[s][1], 3, 5, 60, 20, 0};
            struct coop_image img;
            struct coop_err e;
            ck_assert_int_eq(synth_image(&img, modes[m], &p), 0);
            ck_assert_msg(coop_image_clip_eval_rgb8(out, &img, 48, &e) == 0, "%s", e.msg);
            for (int i = 0; i < 4; i++)
                ck_assert_msg(coop_image_clip_train_rgb8(out, &img, 48, 0.08, &r, &e) == 0, "%s", e.msg);
            coop_image_free(&img);
        }
}
END_TEST

START_TEST(normalize_is_torchvision_float)
{
    uint8_t rgb[2 * 2 * 3] = {0, 128, 255, 10, 20, 30, 255, 255, 255, 1, 2, 3};
    float out[12];
    coop_image_normalize(out, rgb, 2, coop_clip_mean, coop_clip_std);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++) {
            float expv = ((float)rgb[i * 3 + c] / 255.0f - coop_clip_mean[c]) / coop_clip_std[c];
            ck_assert(out[c * 4 + i] == expv);
        }
    ck_assert_float_eq_tol(out[0], -0.48145466f / 0.26862954f, 1e-6f);
}
END_TEST

/* The one-call eval pipeline (what coop-encode runs per file) is load ->
 * coop_image_clip_eval_rgb8 -> coop_image_normalize, to the bit. */
START_TEST(load_clip_eval_is_the_chain)
{
    enum { S = 40 };
    const char *names[] = {"full_eval_0.png", "cmyk.jpg", "ga16.png"};
    static float got[3 * S * S], want[3 * S * S];
    static uint8_t rgb[S * S * 3];
    struct coop_err e;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *path = fixture_path(names[i]);
        struct coop_image img;
        ck_assert_msg(coop_image_load(&img, path, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(coop_image_clip_eval_rgb8(rgb, &img, S, &e), 0);
        coop_image_normalize(want, rgb, S, coop_clip_mean, coop_clip_std);
        coop_image_free(&img);
        ck_assert_msg(coop_image_load_clip_eval(got, path, S, coop_clip_mean, coop_clip_std,
                                                &e) == 0, "%s", e.msg);
        ck_assert_mem_eq(got, want, sizeof got);
    }
    ck_assert_int_lt(coop_image_load_clip_eval(got, "/nonexistent/x.png", S, coop_clip_mean,
                                               coop_clip_std, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/x.png"));
}
END_TEST

START_TEST(png_write_roundtrip)
{
    uint8_t px[13 * 7 * 4];
    random_bytes(px, sizeof px, 17);
    struct coop_err e;
    for (int ch = 1; ch <= 4; ch++) {
        const char *path = tmp_file("rt.png", "", 0);
        ck_assert_int_eq(coop_image_write_png(path, px, 13, 7, ch, &e), 0);
        struct coop_image img;
        ck_assert_msg(coop_image_load(&img, path, &e) == 0, "%s", e.msg);
        static const enum coop_image_mode modes[5] = {0, COOP_IMG_L, COOP_IMG_LA, COOP_IMG_RGB,
                                                      COOP_IMG_RGBA};
        ck_assert_int_eq(img.mode, modes[ch]);
        ck_assert_mem_eq(img.data, px, (size_t)13 * 7 * ch);
        coop_image_free(&img);
    }
    ck_assert_int_eq(coop_image_write_png("/nonexistent/dir/x.png", px, 13, 7, 3, &e), COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/dir/x.png"));
    cleanup_tmp();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, resize_matches_naive_reference);
    tcase_add_test(tc, resize_close_to_float_ideal);
    tcase_add_test(tc, resize_identity_and_constant);
    tcase_add_test(tc, resize_dims_follow_torchvision);
    tcase_add_test(tc, decode_errors_name_the_file);
    tcase_add_test(tc, decode_fuzz_mutations);
    tcase_add_test(tc, rrc_params_deterministic_and_in_range);
    tcase_add_test(tc, rrc_fallback_is_torchvision_center_crop);
    tcase_add_test(tc, train_transform_seeded_and_flip);
    tcase_add_test(tc, transforms_on_tiny_and_thin_images);
    tcase_add_test(tc, normalize_is_torchvision_float);
    tcase_add_test(tc, load_clip_eval_is_the_chain);
    tcase_add_test(tc, png_write_roundtrip);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, golden_tcase());
    return coop_check_run(s);
}
