/* test_json.c: the strict JSON reader (values, escapes, UTF-8, numbers,
 * limits) and its line:column error messages; the string escaper. */
#include "coop/json.h"
#include "coop/util.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

static struct coop_json *parse_ok(const char *text)
{
    struct coop_json *v = NULL;
    struct coop_err e;
    int rc = coop_json_parse(&v, text, strlen(text), "t.json", &e);
    ck_assert_msg(rc == 0, "parse failed: %s", e.msg);
    return v;
}

static void parse_bad(const char *text, const char *want)
{
    struct coop_json *v = NULL;
    struct coop_err e;
    int rc = coop_json_parse(&v, text, strlen(text), "t.json", &e);
    ck_assert_int_eq(rc, COOP_E_FORMAT);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(e.msg, want) != NULL, "\"%s\" lacks \"%s\"", e.msg, want);
}

START_TEST(values)
{
    struct coop_json *v = parse_ok(" {\"a\": [1, -2.5e2, 0.125, true, false, null],\n"
                                   "  \"b\": {\"c\": \"d\"}, \"\": []} ");
    ck_assert_int_eq(v->type, COOP_JSON_OBJECT);
    ck_assert_uint_eq(v->len, 3);
    const struct coop_json *a = coop_json_get(v, "a");
    ck_assert_int_eq(a->type, COOP_JSON_ARRAY);
    ck_assert_uint_eq(a->len, 6);
    long long i;
    ck_assert(coop_json_int(&a->items[0], 0, 10, &i) && i == 1);
    ck_assert(!coop_json_int(&a->items[0], 2, 10, &i));
    ck_assert(a->items[1].number == -250.0);
    ck_assert(!coop_json_int(&a->items[2], -10, 10, &i)); /* 0.125 is not an integer */
    ck_assert(a->items[3].type == COOP_JSON_BOOL && a->items[3].boolean);
    ck_assert(a->items[4].type == COOP_JSON_BOOL && !a->items[4].boolean);
    ck_assert_int_eq(a->items[5].type, COOP_JSON_NULL);
    ck_assert_str_eq(coop_json_get(coop_json_get(v, "b"), "c")->str, "d");
    ck_assert_uint_eq(coop_json_get(v, "")->len, 0);
    ck_assert_ptr_null(coop_json_get(v, "zz"));
    ck_assert_ptr_null(coop_json_get(a, "a"));
    ck_assert_int_eq(coop_json_get(v, "b")->line, 2);
    ck_assert_int_eq(coop_json_get(v, "b")->col, 8);
    coop_json_free(v);
    v = parse_ok("42");
    ck_assert(v->type == COOP_JSON_NUMBER && v->number == 42.0);
    coop_json_free(v);
}
END_TEST

START_TEST(strings_and_utf8)
{
    struct coop_json *v =
        parse_ok("[\"q\\\"b\\\\s\\/n\\n\\t\\r\\b\\f\", \"\\u00e9\\u4e2d\", \"\\ud83d\\ude00\","
                 " \"caf\xc3\xa9 \xe4\xb8\xad\", \"a\\u0000b\"]");
    ck_assert_str_eq(v->items[0].str, "q\"b\\s/n\n\t\r\b\f");
    ck_assert_str_eq(v->items[1].str, "\xc3\xa9\xe4\xb8\xad");
    ck_assert_str_eq(v->items[2].str, "\xf0\x9f\x98\x80");
    ck_assert_str_eq(v->items[3].str, "caf\xc3\xa9 \xe4\xb8\xad");
    ck_assert_uint_eq(v->items[4].len, 3);
    ck_assert(memcmp(v->items[4].str, "a\0b", 3) == 0);
    coop_json_free(v);
}
END_TEST

START_TEST(errors_with_position)
{
    parse_bad("{\"a\": 1,\n \"b\" 2}", "t.json:2:6: expected ':'");
    parse_bad("[1, 2\n, 3\n 4]", "t.json:3:2: expected ',' or ']'");
    parse_bad("{\"a\": 1 \"b\": 2}", "t.json:1:9: expected ',' or '}'");
    parse_bad("[1,]", "t.json:1:4: trailing comma");
    parse_bad("{\"a\": 1,\n }", "t.json:2:2: trailing comma");
    parse_bad("[01]", "t.json:1:2: leading zero in number");
    parse_bad("{\"a\": 1, \"a\": 2}", "t.json:1:10: duplicate key");
    parse_bad("[1.]", "digit expected after '.'");
    parse_bad("[1e+]", "digit expected in exponent");
    parse_bad("[-]", "invalid number");
    parse_bad("[tru]", "t.json:1:2: invalid literal");
    parse_bad("\"abc", "unterminated string");
    parse_bad("[\"a\tb\"]", "control character");
    parse_bad("[\"\\x\"]", "invalid escape");
    parse_bad("[\"\\u12g4\"]", "invalid \\u escape");
    parse_bad("[\"\\ud800\"]", "unpaired high surrogate");
    parse_bad("[\"\\udc00\"]", "unpaired low surrogate");
    parse_bad("[\"\xc3\x28\"]", "invalid UTF-8");
    parse_bad("[\"\xed\xa0\x80\"]", "invalid UTF-8"); /* encoded surrogate */
    parse_bad("[\"\xc0\xaf\"]", "invalid UTF-8");     /* overlong */
    parse_bad("[1] x", "t.json:1:5: trailing characters");
    parse_bad("", "unexpected end of input");
    parse_bad("{\"a\": [1, 2", "expected ',' or ']'");
    parse_bad("{1: 2}", "expected a string key");
    parse_bad("\n\n   @", "t.json:3:4: unexpected character");
}
END_TEST

START_TEST(depth_limit)
{
    size_t n = COOP_JSON_MAX_DEPTH + 1;
    char *deep = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        deep[i] = '[';
        deep[2 * n - 1 - i] = ']';
    }
    deep[2 * n] = '\0';
    parse_bad(deep, "nesting deeper than the limit");
    deep[2 * n - 1] = '\0'; /* one level less is fine */
    struct coop_json *v = parse_ok(deep + 1);
    coop_json_free(v);
    free(deep);
}
END_TEST

START_TEST(file_and_writer)
{
    char path[] = "/tmp/coopjson.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputc('[', f);
    ck_assert_int_eq(coop_json_write_string(f, "a\"b\\c\n\x01 \xc3\xa9"), 0);
    fputc(']', f);
    fclose(f);
    struct coop_json *v;
    struct coop_err e;
    ck_assert_msg(coop_json_parse_file(&v, path, 1 << 20, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(v->items[0].str, "a\"b\\c\n\x01 \xc3\xa9");
    coop_json_free(v);
    ck_assert_int_eq(coop_json_parse_file(&v, path, 4, &e), COOP_E_NOMEM);
    remove(path);
    ck_assert_int_eq(coop_json_parse_file(&v, path, 1 << 20, &e), COOP_E_IO);
    ck_assert(strstr(e.msg, path) != NULL);
    ck_assert_str_eq(coop_json_type_name(COOP_JSON_ARRAY), "array");
}
END_TEST

/* Robustness: random byte edits of a valid document parse or fail cleanly
 * (run under ASan/valgrind this is a small fuzz pass); errors carry a position. */
START_TEST(random_mutations)
{
    const char *doc = "{\"train\": [[\"a/b c.jpg\", 0, \"face\"], [\"\\u00e9.jpg\", 12, \"x\"]],\n"
                      " \"val\": [], \"test\": [1.5e3, -0, true, null, {\"k\": \"v\\n\"}]}";
    size_t n = strlen(doc);
    char *buf = malloc(n + 1);
    const char alphabet[] = "{}[]\",:\\ 0123456789eE+-.tfnu\n\xc3\xa9\x01";
    struct coop_rng r;
    coop_rng_seed(&r, 99);
    int iters = getenv("COOP_VALGRIND") ? 300 : 3000, ok = 0;
    for (int it = 0; it < iters; it++) {
        memcpy(buf, doc, n + 1);
        int edits = 1 + (int)coop_rng_below(&r, 3);
        size_t len = n;
        for (int k = 0; k < edits; k++) {
            size_t at = (size_t)coop_rng_below(&r, len);
            if (coop_rng_below(&r, 4) == 0)
                len = at; /* truncate */
            else
                buf[at] = alphabet[coop_rng_below(&r, sizeof alphabet - 1)];
        }
        struct coop_json *v = NULL;
        struct coop_err e;
        int rc = coop_json_parse(&v, buf, len, "m.json", &e);
        if (rc == 0) {
            ok++;
            coop_json_free(v);
        } else {
            ck_assert_int_eq(rc, COOP_E_FORMAT);
            ck_assert_msg(strncmp(e.msg, "m.json:", 7) == 0, "%s", e.msg);
        }
    }
    ck_assert_int_gt(ok, 0);
    ck_assert_int_lt(ok, iters);
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, values);
    tcase_add_test(tc, strings_and_utf8);
    tcase_add_test(tc, errors_with_position);
    tcase_add_test(tc, depth_limit);
    tcase_add_test(tc, file_and_writer);
    tcase_add_test(tc, random_mutations);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
