/* test_safetensors.c: the safetensors reader/writer and its JSON parser:
 * round trips through the writer, half-precision conversions against a
 * brute-force oracle, and every malformed-file case, each checking that the
 * message names the tensor or byte offset. */
#include "coop/json.h"
#include "coop/safetensors.h"
#include "coop/util.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

static char tmpdir[256];
static char path[4200];

static void setup(void)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "safetensors"), 0);
    snprintf(path, sizeof path, "%s/t.safetensors", tmpdir);
}

static void teardown(void)
{
    ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
}

/* A file by hand: 8-byte length (hlen_override if >= 0), header, data. */
static void write_raw(const char *header, const void *data, size_t dlen, long long hlen_override)
{
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    uint64_t n = hlen_override >= 0 ? (uint64_t)hlen_override : strlen(header);
    for (int i = 0; i < 8; i++)
        fputc((int)((n >> (8 * i)) & 0xFF), f);
    fwrite(header, 1, strlen(header), f);
    if (dlen)
        fwrite(data, 1, dlen, f);
    fclose(f);
}

static void expect_open_error(int code, const char *needle)
{
    struct coop_safetensors *st = NULL;
    struct coop_err e = {{0}};
    int rc = coop_safetensors_open(&st, path, &e);
    ck_assert_msg(rc == code, "rc %d (%s), wanted %d", rc, e.msg, code);
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", e.msg, needle);
    ck_assert_msg(strstr(e.msg, path) != NULL, "message \"%s\" lacks the path", e.msg);
}

START_TEST(write_read_round_trip)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[1] = {-0.5f}, c[1] = {0};
    const char *names[] = {"layer.weight", "scale", "empty"};
    int ndims[] = {2, 0, 2};
    int64_t sa[] = {2, 3}, sb[] = {0}, sc[] = {0, 4};
    const int64_t *shapes[] = {sa, sb, sc};
    const float *data[] = {a, b, c};
    const char *meta[] = {"format", "pt", "note", "quote\" and \\ back", NULL};
    struct coop_err e;
    ck_assert_msg(coop_safetensors_write(path, 3, names, ndims, shapes, data, meta, &e) == 0, "%s",
                  e.msg);
    struct coop_safetensors *st;
    ck_assert_msg(coop_safetensors_open(&st, path, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(coop_safetensors_count(st), 3);
    ck_assert_str_eq(coop_safetensors_at(st, 0)->name, "empty"); /* name order */
    ck_assert_ptr_null(coop_safetensors_at(st, 3));
    ck_assert_str_eq(coop_safetensors_meta(st, "note"), "quote\" and \\ back");
    ck_assert_ptr_null(coop_safetensors_meta(st, "absent"));
    const struct coop_st_tensor *t = coop_safetensors_find(st, "layer.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, COOP_ST_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_uint_eq(coop_st_numel(t), 6);
    float out[6];
    ck_assert_int_eq(coop_safetensors_read_f32(st, "layer.weight", sa, 2, out, &e), 0);
    ck_assert(memcmp(out, a, sizeof a) == 0);
    ck_assert_int_eq(coop_safetensors_read_f32(st, "scale", NULL, 0, out, &e), 0);
    ck_assert(out[0] == -0.5f);
    int64_t wrong[] = {3, 2};
    ck_assert_int_eq(coop_safetensors_read_f32(st, "layer.weight", wrong, 2, out, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "'layer.weight': wrong shape: expected [3, 2], got [2, 3]"));
    ck_assert_int_eq(coop_safetensors_read_f32(st, "nope", NULL, 0, out, &e), COOP_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "tensor 'nope' not found"));
    coop_safetensors_close(st);
    /* the header is padded with spaces to 8 bytes */
    FILE *f = fopen(path, "rb");
    unsigned char len8[8];
    ck_assert(fread(len8, 1, 8, f) == 8);
    fclose(f);
    ck_assert_uint_eq(len8[0] % 8, 0);
    ck_assert_int_eq(coop_safetensors_write(path, 2, (const char *[]){"x", "x"}, ndims, shapes,
                                            data, NULL, &e),
                     COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "'x' given twice"));
}
END_TEST

/* All 65536 halves: f16 -> f32 -> f16 is the identity (NaNs stay NaN), and
 * every midpoint between neighbours rounds to the even one. */
START_TEST(half_conversions)
{
    ck_assert(coop_f16_to_f32(0x3C00) == 1.0f);
    ck_assert(coop_f16_to_f32(0xC000) == -2.0f);
    ck_assert(coop_f16_to_f32(0x7BFF) == 65504.0f);
    ck_assert(coop_f16_to_f32(0x0001) == ldexpf(1, -24));
    ck_assert(isinf(coop_f16_to_f32(0x7C00)));
    ck_assert(isnan(coop_f16_to_f32(0x7E00)));
    ck_assert(coop_bf16_to_f32(0x3F80) == 1.0f);
    ck_assert(coop_bf16_to_f32(0xC040) == -3.0f);
    for (uint32_t h = 0; h < 65536; h++) {
        float f = coop_f16_to_f32((uint16_t)h);
        if (isnan(f))
            ck_assert(isnan(coop_f16_to_f32(coop_f32_to_f16(f))));
        else
            ck_assert_uint_eq(coop_f32_to_f16(f), h);
        float g = coop_bf16_to_f32((uint16_t)h);
        if (!isnan(g))
            ck_assert_uint_eq(coop_f32_to_bf16(g), h);
    }
    for (uint32_t h = 0; h < 0x7BFF; h++) { /* positive finite neighbours */
        float a = coop_f16_to_f32((uint16_t)h), b = coop_f16_to_f32((uint16_t)(h + 1));
        float mid = (a + b) / 2; /* exact in f32 */
        ck_assert_uint_eq(coop_f32_to_f16(mid), (h & 1) ? h + 1 : h);
        ck_assert_uint_eq(coop_f32_to_f16(nextafterf(mid, 0)), h);
        ck_assert_uint_eq(coop_f32_to_f16(nextafterf(mid, INFINITY)), h + 1);
    }
    ck_assert_uint_eq(coop_f32_to_f16(65520.0f), 0x7C00);
    ck_assert_uint_eq(coop_f32_to_f16(65519.0f), 0x7BFF);
    ck_assert_uint_eq(coop_f32_to_f16(-1e9f), 0xFC00);
}
END_TEST

START_TEST(reads_f16_bf16_f64_and_skips_ints)
{
    uint16_t h[3] = {0x3C00, 0xC000, 0x3800};  /* 1, -2, 0.5 */
    uint16_t bf[2] = {0x3F80, 0xC040};          /* 1, -3 */
    double d[1] = {0.25};
    int64_t ids[2] = {0, 1};
    unsigned char buf[6 + 4 + 8 + 16];
    memcpy(buf, h, 6);
    memcpy(buf + 6, bf, 4);
    memcpy(buf + 10, d, 8);
    memcpy(buf + 18, ids, 16);
    write_raw("{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[6,10]},"
              "\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[10,18]},"
              "\"position_ids\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[18,34]}}   ",
              buf, sizeof buf, -1);
    struct coop_safetensors *st;
    struct coop_err e;
    ck_assert_msg(coop_safetensors_open(&st, path, &e) == 0, "%s", e.msg);
    float o[3];
    ck_assert_int_eq(coop_safetensors_read_f32(st, "h", (int64_t[]){3}, 1, o, &e), 0);
    ck_assert(o[0] == 1.0f && o[1] == -2.0f && o[2] == 0.5f);
    ck_assert_int_eq(coop_safetensors_read_f32(st, "b", (int64_t[]){1, 2}, 2, o, &e), 0);
    ck_assert(o[0] == 1.0f && o[1] == -3.0f);
    ck_assert_int_eq(coop_safetensors_read_f32(st, "d", NULL, 0, o, &e), 0);
    ck_assert(o[0] == 0.25f);
    ck_assert_int_eq(coop_safetensors_read_f32(st, "position_ids", NULL, 0, o, &e),
                     COOP_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "'position_ids': dtype I64"));
    coop_safetensors_close(st);
}
END_TEST

static const char good_hdr[] =
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
static const float good_data[3] = {1, 2, 3};

START_TEST(truncated_files)
{
    write_raw("", NULL, 0, -1);
    FILE *f = fopen(path, "wb"); /* 5 bytes: no length */
    fwrite("abcde", 1, 5, f);
    fclose(f);
    expect_open_error(COOP_E_FORMAT, "8-byte header length is missing");
    write_raw(good_hdr, good_data, 8, -1); /* data cut: tensor b ends past the file */
    expect_open_error(COOP_E_FORMAT, "tensor 'b': data_offsets [8, 12] outside the data buffer");
    write_raw(good_hdr, good_data, 12, (long long)strlen(good_hdr) + 100);
    expect_open_error(COOP_E_FORMAT, "header length");
    expect_open_error(COOP_E_FORMAT, "at byte offset 0 exceeds the file");
    write_raw(good_hdr, good_data, 12, 1LL << 40);
    expect_open_error(COOP_E_FORMAT, "header length 1099511627776");
    write_raw(good_hdr, good_data, 12, -1); /* the good one opens */
    struct coop_safetensors *st;
    struct coop_err e;
    ck_assert_msg(coop_safetensors_open(&st, path, &e) == 0, "%s", e.msg);
    coop_safetensors_close(st);
    ck_assert_int_eq(coop_safetensors_open(&st, "/nonexistent.safetensors", &e), COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent.safetensors"));
    ck_assert_int_eq(coop_safetensors_open(&st, tmpdir, &e), COOP_E_IO); /* a folder */
    ck_assert_msg(strstr(e.msg, tmpdir) && strstr(e.msg, ": is a folder, not a safetensors file"),
                  "%s", e.msg);
}
END_TEST

START_TEST(corrupt_headers)
{
    /* byte offsets are file offsets: 8 + position in the JSON */
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "trailing comma at byte offset 62");
    write_raw("{\"a\":{\"dtype\":\"F32\" \"shape\":[2]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "expected ',' or '}' at byte offset 28");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "JSON: expected ',' or '}' at byte offset 61");
    write_raw("[1, 2]", NULL, 0, -1);
    expect_open_error(COOP_E_FORMAT, "header is not a JSON object");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "leading zero in number at byte offset 37");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "trailing characters");
    write_raw("{\"a\x01\":{}}", NULL, 0, -1);
    expect_open_error(COOP_E_FORMAT, "control character in string (escape it) at byte offset 11");
    write_raw("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'a': missing or invalid dtype");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'a': invalid dimension 0");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'a': invalid dimension 0");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'a': missing or invalid data_offsets");
    write_raw("{\"__metadata__\":{\"k\":1}}", NULL, 0, -1);
    expect_open_error(COOP_E_FORMAT, "__metadata__ value 'k' is not a string");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
              good_data, 12, -1);
    expect_open_error(COOP_E_FORMAT, "JSON: duplicate key at byte offset 62");
    char deep[COOP_JSON_MAX_DEPTH + 64];
    memset(deep, '[', COOP_JSON_MAX_DEPTH + 32);
    deep[COOP_JSON_MAX_DEPTH + 32] = '\0';
    write_raw(deep, NULL, 0, -1);
    expect_open_error(COOP_E_FORMAT, "nesting deeper than the limit");
}
END_TEST

START_TEST(bad_offsets_and_dtypes)
{
    write_raw("{\"a\":{\"dtype\":\"F8_E4M3X\",\"shape\":[2],\"data_offsets\":[0,2]}}", good_data, 2, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'a': unknown dtype 'F8_E4M3X'");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,400]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'w': data_offsets [0, 400] outside the data buffer of 8 bytes");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'w': data_offsets [8, 0]");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'w': data_offsets [0, 8] hold 8 bytes but shape x F32 needs 12");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'b' overlaps the previous tensor at data offset 4");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", good_data, 12, -1);
    expect_open_error(COOP_E_FORMAT, "hole in the data buffer at data offset 4 before tensor 'b'");
    write_raw(good_hdr, good_data, 12, -1); /* trailing bytes after the last tensor */
    FILE *f = fopen(path, "ab");
    fputs("junk", f);
    fclose(f);
    expect_open_error(COOP_E_FORMAT, "data buffer has 16 bytes but the tensors cover 12");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
              "\"data_offsets\":[0,8]}}", good_data, 8, -1);
    expect_open_error(COOP_E_FORMAT, "tensor 'a'");
}
END_TEST

START_TEST(json_parser)
{
    struct coop_json *j;
    struct coop_err e;
    const char *t = " {\"s\":\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\", \"n\":[-1.5e2, 0, 12345678901],"
                    " \"t\":true, \"f\":false, \"z\":null, \"o\":{}} ";
    ck_assert_msg(coop_json_parse_bytes(&j, t, strlen(t), 0, "t", &e) == 0, "%s", e.msg);
    ck_assert_str_eq(coop_json_get(j, "s")->str, "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
    const struct coop_json *n = coop_json_get(j, "n");
    ck_assert_uint_eq(n->len, 3);
    ck_assert(n->items[0].number == -150.0 && !n->items[0].integral);
    long long big;
    ck_assert(n->items[2].integral && coop_json_int(&n->items[2], 0, 1LL << 53, &big));
    ck_assert(big == 12345678901LL);
    ck_assert_uint_eq(n->items[2].offset, (size_t)(strstr(t, "12345678901") - t));
    ck_assert(coop_json_get(j, "t")->boolean && !coop_json_get(j, "f")->boolean);
    ck_assert_int_eq(coop_json_get(j, "z")->type, COOP_JSON_NULL);
    ck_assert_uint_eq(coop_json_get(j, "o")->len, 0);
    ck_assert_ptr_null(coop_json_get(j, "missing"));
    coop_json_free(j);
    const char *bad[] = {"", "{", "[1,]", "{\"a\"}", "\"\\ud800\"", "\"\\x\"", "tru", "1.", "-",
                         "[1 2]", "\"abc", "\"\\u12\"", "{\"a\":1,}", "01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(coop_json_parse_bytes(&j, bad[i], strlen(bad[i]), 0, "t", &e) == COOP_E_FORMAT,
                      "accepted '%s'", bad[i]);
        ck_assert_ptr_nonnull(strstr(e.msg, "byte offset"));
    }
    /* never reads past n: the same text cut short fails */
    ck_assert_int_eq(coop_json_parse_bytes(&j, "[1234]", 4, 0, "t", &e), COOP_E_FORMAT);
}
END_TEST

/* Mutated and truncated copies of a golden checkpoint: open either fails
 * with a message or succeeds and every tensor converts (under ASan /
 * valgrind this shows nothing outside the file is read). */
START_TEST(mutations_never_read_outside)
{
    char src[4096];
    snprintf(src, sizeof src, "%s/tests/clip/data/ckpt/vit_openai_bf16.safetensors",
             getenv("COOP_SOURCE_ROOT"));
    char *orig;
    size_t n;
    struct coop_err e;
    ck_assert_int_eq(coop_read_file(src, 1 << 24, &orig, &n, &e), 0);
    size_t hl = 8 + (size_t)(unsigned char)orig[0] + 256 * (size_t)(unsigned char)orig[1];
    struct coop_rng r;
    coop_rng_seed(&r, 4242);
    float *buf = malloc(n * 2 * sizeof(float));
    int opened = 0, rounds = getenv("COOP_VALGRIND") ? 60 : 600;
    for (int it = 0; it < rounds; it++) {
        char *m = malloc(n);
        memcpy(m, orig, n);
        size_t len = n;
        if (it % 3 == 0) {
            len = (size_t)coop_rng_below(&r, n); /* truncation */
        } else {
            for (int k = 0; k < 1 + it % 4; k++) { /* flip bytes, mostly in the header */
                size_t at = (size_t)coop_rng_below(&r, k ? n : hl);
                m[at] = (char)coop_rng_below(&r, 256);
            }
        }
        FILE *f = fopen(path, "wb");
        fwrite(m, 1, len, f);
        fclose(f);
        free(m);
        struct coop_safetensors *st;
        e.msg[0] = '\0';
        if (coop_safetensors_open(&st, path, &e) != 0) {
            ck_assert(e.msg[0] != '\0');
            continue;
        }
        opened++;
        for (size_t i = 0; i < coop_safetensors_count(st); i++) {
            const struct coop_st_tensor *t = coop_safetensors_at(st, i);
            ck_assert(t->end <= n);
            if (coop_st_numel(t) <= n * 2)
                coop_st_tensor_to_f32(st, t, buf, &e);
        }
        coop_safetensors_close(st);
    }
    ck_assert_int_gt(opened, 0); /* some flips land in tensor data and stay valid */
    free(buf);
    free(orig);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("io");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, write_read_round_trip);
    tcase_add_test(tc, half_conversions);
    tcase_add_test(tc, reads_f16_bf16_f64_and_skips_ints);
    tcase_add_test(tc, truncated_files);
    tcase_add_test(tc, corrupt_headers);
    tcase_add_test(tc, bad_offsets_and_dtypes);
    tcase_add_test(tc, json_parser);
    tcase_add_test(tc, mutations_never_read_outside);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
