/* image_golden.c: golden tests against Pillow 9.4 / torchvision arithmetic
 * (fixtures from tests/fixtures/gen_image.py): the eval transform on
 * synthetic images of every mode, resized crops, box resizes, and the decode
 * of small PNG / JPEG files (native pixels, convert("RGB"), eval output). */
#include "image_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int under_valgrind(void)
{
    const char *v = getenv("COOP_VALGRIND");
    return v && v[0] == '1';
}

const char *fixture_path(const char *name)
{
    static char buf[4096];
    const char *root = getenv("COOP_SOURCE_ROOT");
    snprintf(buf, sizeof buf, "%s/tests/fixtures/image/%s", root ? root : ".", name);
    return buf;
}

void sha_hex(const void *data, size_t n, char out[65])
{
    coop_sha256_hex(data, n, out);
}

static uint8_t synth_value(const struct synth_params *p, int x, int y, int c, uint32_t *r_out)
{
    uint64_t i = ((uint64_t)y * p->w + x) * 4 + c;
    uint32_t r = (uint32_t)(coop_mix64(p->seed + (i + 1) * 0x9E3779B97F4A7C15ULL) >> 40);
    int t = (int)(((int64_t)x * p->kx + (int64_t)y * p->ky + c * p->kc + (int64_t)(p->seed % 97)) %
                  510);
    int tri = t < 255 ? t : 509 - t;
    int v = tri + (int)(r % (uint32_t)(2 * p->amp + 1)) - p->amp;
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    if (p->bs > 0 && ((x / p->bs + y / p->bs) & 1))
        v = 255 - v;
    if (r_out)
        *r_out = r;
    return (uint8_t)v;
}

static int mode_from_name(const char *s, enum coop_image_mode *m)
{
    for (int i = 0; i <= COOP_IMG_1; i++)
        if (strcmp(s, coop_image_mode_name((enum coop_image_mode)i)) == 0) {
            *m = (enum coop_image_mode)i;
            return 0;
        }
    return -1;
}

int synth_image(struct coop_image *img, const char *mode_name, const struct synth_params *p)
{
    enum coop_image_mode m;
    struct coop_err e;
    if (mode_from_name(mode_name, &m) || coop_image_alloc(img, m, p->w, p->h, &e))
        return -1;
    static const int la[2] = {0, 3};
    for (int y = 0; y < p->h; y++)
        for (int x = 0; x < p->w; x++) {
            size_t px = (size_t)y * p->w + x;
            if (m == COOP_IMG_I16) {
                uint32_t r1;
                synth_value(p, x, y, 1, &r1);
                img->data16[px] = (uint16_t)(synth_value(p, x, y, 0, NULL) + r1 % 97);
            } else if (m == COOP_IMG_1) {
                img->data[px] = synth_value(p, x, y, 0, NULL) >= 128 ? 255 : 0;
            } else {
                for (int c = 0; c < img->channels; c++)
                    img->data[px * img->channels + c] =
                        synth_value(p, x, y, m == COOP_IMG_LA ? la[c] : c, NULL);
            }
        }
    if (m == COOP_IMG_P) {
        for (int k = 0; k < 768; k++)
            img->palette[k] = (uint8_t)((k * 37 + p->seed * 11) % 256);
        img->palette_size = 256;
    }
    return 0;
}

static FILE *open_fixture(const char *name)
{
    FILE *f = fopen(fixture_path(name), "r");
    ck_assert_msg(f != NULL, "missing fixture %s", fixture_path(name));
    return f;
}

/* Pixel-level comparison against a stored expected PNG (debug aid). */
static void compare_full(const uint8_t *got, int k)
{
    char name[64];
    snprintf(name, sizeof name, "full_eval_%d.png", k);
    struct coop_image exp;
    struct coop_err e;
    ck_assert_msg(coop_image_load(&exp, fixture_path(name), &e) == 0, "%s", e.msg);
    ck_assert_int_eq(exp.mode, COOP_IMG_RGB);
    int maxd = 0, nd = 0;
    for (int i = 0; i < 224 * 224 * 3; i++) {
        int d = abs(got[i] - exp.data[i]);
        maxd = d > maxd ? d : maxd;
        nd += d != 0;
    }
    coop_image_free(&exp);
    ck_assert_msg(nd == 0, "%s: %d values differ, max diff %d", name, nd, maxd);
}

static void run_synth_line(const char *line, int *checked)
{
    char kind[32], mode[8], hexp[65], hgot[65];
    struct synth_params p;
    int top, left, ch, cw, flip;
    unsigned long long seed;
    if (line[0] == '#' || line[0] == '\n')
        return;
    if (strncmp(line, "box ", 4) == 0) {
        int ow, oh;
        float b[4];
        ck_assert_int_eq(sscanf(line, "box %7s %llu %d %d %d %d %f %f %f %f %64s", mode, &seed,
                                &p.w, &p.h, &ow, &oh, &b[0], &b[1], &b[2], &b[3], hexp), 11);
        p.seed = seed, p.kx = 3, p.ky = 5, p.kc = 60, p.amp = 30, p.bs = 0;
        struct coop_image img;
        struct coop_err e;
        ck_assert_int_eq(synth_image(&img, mode, &p), 0);
        uint8_t *out = malloc((size_t)ow * oh * 3);
        ck_assert_int_eq(coop_image_resize_bicubic(out, ow, oh, img.data, p.w, p.h, 3, b, &e), 0);
        sha_hex(out, (size_t)ow * oh * 3, hgot);
        ck_assert_msg(strcmp(hgot, hexp) == 0, "box resize mismatch: %s", line);
        free(out);
        coop_image_free(&img);
        (*checked)++;
        return;
    }
    ck_assert_int_eq(sscanf(line, "%31s %7s %llu %d %d %d %d %d %d %d %d %d %d %d %d %64s", kind,
                            mode, &seed, &p.w, &p.h, &p.kx, &p.ky, &p.kc, &p.amp, &p.bs, &top,
                            &left, &ch, &cw, &flip, hexp),
                     16);
    p.seed = seed;
    int ow, oh;
    coop_image_resize_dims(&ow, &oh, p.w, p.h, 224);
    if (under_valgrind() && (size_t)ow * oh > 120000)
        return; /* keep the valgrind run short: large cases run in the plain suite */
    struct coop_image img;
    struct coop_err e;
    ck_assert_int_eq(synth_image(&img, mode, &p), 0);
    static uint8_t out[224 * 224 * 3];
    if (strcmp(kind, "crop") == 0) {
        struct coop_crop_box b = {top, left, ch, cw};
        ck_assert_msg(coop_image_resized_crop_rgb8(out, &img, &b, 224, flip, &e) == 0, "%s",
                      e.msg);
    } else {
        ck_assert_msg(coop_image_clip_eval_rgb8(out, &img, 224, &e) == 0, "%s", e.msg);
    }
    sha_hex(out, sizeof out, hgot);
    if (strncmp(kind, "evalfull", 8) == 0)
        compare_full(out, atoi(kind + 8));
    ck_assert_msg(strcmp(hgot, hexp) == 0, "Pillow mismatch: %s", line);
    coop_image_free(&img);
    (*checked)++;
}

START_TEST(golden_synthetic_pipeline)
{
    FILE *f = open_fixture("synth.txt");
    char line[512];
    int checked = 0;
    while (fgets(line, sizeof line, f))
        run_synth_line(line, &checked);
    fclose(f);
    ck_assert_int_ge(checked, under_valgrind() ? 20 : 70);
}
END_TEST

static void check_decode_line(const char *line)
{
    char name[128], mode[8], hn[65], hr[65], he[65], got[65];
    int w, h;
    ck_assert_int_eq(sscanf(line, "%127s %7s %d %d %64s %64s %64s", name, mode, &w, &h, hn, hr, he),
                     7);
    struct coop_image img;
    struct coop_err e;
    ck_assert_msg(coop_image_load(&img, fixture_path(name), &e) == 0, "%s", e.msg);
    ck_assert_msg(strcmp(coop_image_mode_name(img.mode), mode) == 0, "%s: mode %s, Pillow %s",
                  name, coop_image_mode_name(img.mode), mode);
    ck_assert_int_eq(img.w, w);
    ck_assert_int_eq(img.h, h);
    size_t n = (size_t)w * h;
    if (img.data16) {
        uint8_t *le = malloc(2 * n); /* little-endian uint16, as the generator hashes them */
        for (size_t i = 0; i < n; i++) {
            le[2 * i] = (uint8_t)(img.data16[i] & 0xFF);
            le[2 * i + 1] = (uint8_t)(img.data16[i] >> 8);
        }
        sha_hex(le, 2 * n, got);
        free(le);
    } else {
        sha_hex(img.data, n * img.channels, got);
    }
    ck_assert_msg(strcmp(got, hn) == 0, "%s: decoded pixels differ from Pillow's", name);
    uint8_t *rgb = malloc(n * 3);
    coop_image_to_rgb8(rgb, &img);
    sha_hex(rgb, n * 3, got);
    ck_assert_msg(strcmp(got, hr) == 0, "%s: convert(RGB) differs from Pillow's", name);
    free(rgb);
    static uint8_t out[224 * 224 * 3];
    ck_assert_int_eq(coop_image_clip_eval_rgb8(out, &img, 224, &e), 0);
    sha_hex(out, sizeof out, got);
    ck_assert_msg(strcmp(got, he) == 0, "%s: eval transform differs from Pillow's", name);
    coop_image_free(&img);
}

START_TEST(golden_decode_files)
{
    FILE *f = open_fixture("decode.txt");
    char line[512];
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        check_decode_line(line);
        checked++;
    }
    fclose(f);
    ck_assert_int_ge(checked, 24);
}
END_TEST

TCase *golden_tcase(void)
{
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, golden_synthetic_pipeline);
    tcase_add_test(tc, golden_decode_files);
    return tc;
}
