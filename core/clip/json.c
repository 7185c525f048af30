/* core/clip/json.c: strict recursive-descent JSON parser (RFC 8259) used for
 * safetensors headers and vocab.json. Never reads past n bytes; every error
 * names the byte offset. Depth is limited to keep hostile input from
 * exhausting the stack. */
#include "json.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

struct jp {
    const char *p;
    size_t n, pos, base;
    struct coop_err *e;
};

static int jfail(struct jp *j, const char *what)
{
    return coop_fail(j->e, COOP_E_FORMAT, "JSON: %s at byte offset %zu", what, j->base + j->pos);
}

static void skip_ws(struct jp *j)
{
    while (j->pos < j->n) {
        char c = j->p[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

static void free_value(struct coop_json *v)
{
    if (v->type == COOP_JSON_STRING)
        free(v->s);
    if (v->type == COOP_JSON_ARRAY || v->type == COOP_JSON_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            free_value(&v->items[i]);
            if (v->keys)
                free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
}

void coop_json_free(struct coop_json *j)
{
    if (!j)
        return;
    free_value(j);
    free(j);
}

static int hex4(struct jp *j, unsigned *out)
{
    if (j->n - j->pos < 4)
        return jfail(j, "truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = j->p[j->pos + k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return jfail(j, "bad hex digit in \\u escape");
    }
    j->pos += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int parse_escape(struct jp *j, char *o, size_t *w)
{
    char c = j->p[j->pos++];
    const char *map = "\"\"\\\\//b\bf\fn\nr\rt\t";
    for (const char *m = map; *m; m += 2)
        if (c == m[0]) {
            o[(*w)++] = m[1];
            return 0;
        }
    if (c != 'u')
        return jfail(j, "invalid escape in string");
    unsigned cp;
    if (hex4(j, &cp))
        return COOP_E_FORMAT;
    if (cp >= 0xD800 && cp < 0xDC00) {
        unsigned lo;
        if (j->n - j->pos < 2 || j->p[j->pos] != '\\' || j->p[j->pos + 1] != 'u')
            return jfail(j, "unpaired surrogate in string");
        j->pos += 2;
        if (hex4(j, &lo))
            return COOP_E_FORMAT;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return jfail(j, "unpaired surrogate in string");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return jfail(j, "unpaired surrogate in string");
    }
    *w += put_utf8(o + *w, cp);
    return 0;
}

/* Decoded string is never longer than its escaped form. */
static int parse_string(struct jp *j, char **out, size_t *len)
{
    size_t start = ++j->pos, end = start;
    while (end < j->n && j->p[end] != '"') {
        if (j->p[end] == '\\')
            end++;
        end++;
    }
    if (end >= j->n)
        return jfail(j, "unterminated string");
    char *o = malloc(end - start + 1);
    if (!o)
        return coop_fail(j->e, COOP_E_NOMEM, "JSON: out of memory");
    size_t w = 0;
    while (j->pos < end) {
        unsigned char c = (unsigned char)j->p[j->pos];
        if (c < 0x20) {
            free(o);
            return jfail(j, "control character in string");
        }
        if (c == '\\') {
            j->pos++;
            if (parse_escape(j, o, &w)) {
                free(o);
                return COOP_E_FORMAT;
            }
        } else {
            o[w++] = (char)c;
            j->pos++;
        }
    }
    if (j->pos != end) { /* an escape consumed the closing quote's position */
        free(o);
        return jfail(j, "unterminated string");
    }
    j->pos = end + 1;
    o[w] = '\0';
    *out = o;
    *len = w;
    return 0;
}

static int parse_number(struct jp *j, struct coop_json *v)
{
    size_t s = j->pos;
    bool integral = true;
    if (j->pos < j->n && j->p[j->pos] == '-')
        j->pos++;
    if (j->pos >= j->n || j->p[j->pos] < '0' || j->p[j->pos] > '9')
        return jfail(j, "invalid number");
    if (j->p[j->pos] == '0' && j->pos + 1 < j->n && j->p[j->pos + 1] >= '0' &&
        j->p[j->pos + 1] <= '9')
        return jfail(j, "leading zero in number");
    while (j->pos < j->n && j->p[j->pos] >= '0' && j->p[j->pos] <= '9')
        j->pos++;
    if (j->pos < j->n && j->p[j->pos] == '.') {
        integral = false;
        j->pos++;
        if (j->pos >= j->n || j->p[j->pos] < '0' || j->p[j->pos] > '9')
            return jfail(j, "invalid number");
        while (j->pos < j->n && j->p[j->pos] >= '0' && j->p[j->pos] <= '9')
            j->pos++;
    }
    if (j->pos < j->n && (j->p[j->pos] == 'e' || j->p[j->pos] == 'E')) {
        integral = false;
        j->pos++;
        if (j->pos < j->n && (j->p[j->pos] == '+' || j->p[j->pos] == '-'))
            j->pos++;
        if (j->pos >= j->n || j->p[j->pos] < '0' || j->p[j->pos] > '9')
            return jfail(j, "invalid number");
        while (j->pos < j->n && j->p[j->pos] >= '0' && j->p[j->pos] <= '9')
            j->pos++;
    }
    char buf[64];
    size_t len = j->pos - s;
    if (len >= sizeof buf)
        return coop_fail(j->e, COOP_E_FORMAT, "JSON: number too long at byte offset %zu",
                         j->base + s);
    memcpy(buf, j->p + s, len);
    buf[len] = '\0';
    v->type = COOP_JSON_NUMBER;
    v->d = strtod(buf, NULL);
    if (integral) {
        errno = 0;
        long long x = strtoll(buf, NULL, 10);
        v->is_int = errno == 0;
        v->i = (int64_t)x;
    }
    return 0;
}

static int parse_value(struct jp *j, struct coop_json *v, int depth);

static int grow(struct jp *j, struct coop_json *v, size_t *cap, bool keys)
{
    if (v->len < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    struct coop_json *ni = realloc(v->items, nc * sizeof *ni);
    if (!ni)
        return coop_fail(j->e, COOP_E_NOMEM, "JSON: out of memory");
    v->items = ni;
    if (keys) {
        char **nk = realloc(v->keys, nc * sizeof *nk);
        if (!nk)
            return coop_fail(j->e, COOP_E_NOMEM, "JSON: out of memory");
        v->keys = nk;
    }
    *cap = nc;
    return 0;
}

/* Arrays and objects share one loop; objects read "key": before each value. */
static int parse_container(struct jp *j, struct coop_json *v, int depth, bool obj)
{
    char close = obj ? '}' : ']';
    size_t cap = 0;
    v->type = obj ? COOP_JSON_OBJECT : COOP_JSON_ARRAY;
    j->pos++;
    skip_ws(j);
    if (j->pos < j->n && j->p[j->pos] == close) {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (grow(j, v, &cap, obj))
            return COOP_E_NOMEM;
        char *key = NULL;
        if (obj) {
            size_t kl;
            skip_ws(j);
            if (j->pos >= j->n || j->p[j->pos] != '"')
                return jfail(j, "expected a string key");
            if (parse_string(j, &key, &kl))
                return COOP_E_FORMAT;
            skip_ws(j);
            if (j->pos >= j->n || j->p[j->pos] != ':') {
                free(key);
                return jfail(j, "expected ':'");
            }
            j->pos++;
            v->keys[v->len] = key;
        }
        memset(&v->items[v->len], 0, sizeof v->items[0]);
        v->len++;
        if (parse_value(j, &v->items[v->len - 1], depth + 1))
            return COOP_E_FORMAT;
        skip_ws(j);
        if (j->pos < j->n && j->p[j->pos] == ',') {
            j->pos++;
            skip_ws(j);
            if (j->pos < j->n && j->p[j->pos] == close)
                return jfail(j, "trailing comma");
            continue;
        }
        if (j->pos < j->n && j->p[j->pos] == close) {
            j->pos++;
            return 0;
        }
        return jfail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_lit(struct jp *j, const char *lit)
{
    size_t l = strlen(lit);
    if (j->n - j->pos < l || memcmp(j->p + j->pos, lit, l) != 0)
        return jfail(j, "invalid literal");
    j->pos += l;
    return 0;
}

static int parse_value(struct jp *j, struct coop_json *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return jfail(j, "nesting too deep");
    skip_ws(j);
    if (j->pos >= j->n)
        return jfail(j, "unexpected end of input");
    v->offset = j->base + j->pos;
    char c = j->p[j->pos];
    switch (c) {
    case '{': return parse_container(j, v, depth, true);
    case '[': return parse_container(j, v, depth, false);
    case '"': v->type = COOP_JSON_STRING; return parse_string(j, &v->s, &v->len);
    case 't': v->type = COOP_JSON_BOOL; v->b = true; return parse_lit(j, "true");
    case 'f': v->type = COOP_JSON_BOOL; return parse_lit(j, "false");
    case 'n': v->type = COOP_JSON_NULL; return parse_lit(j, "null");
    default: return parse_number(j, v);
    }
}

int coop_json_parse(struct coop_json **out, const char *text, size_t n, size_t base,
                    struct coop_err *e)
{
    struct jp j = {text, n, 0, base, e};
    struct coop_json *v = calloc(1, sizeof *v);
    *out = NULL;
    if (!v)
        return coop_fail(e, COOP_E_NOMEM, "JSON: out of memory");
    int rc = parse_value(&j, v, 0);
    if (rc == 0) {
        skip_ws(&j);
        if (j.pos != n)
            rc = jfail(&j, "trailing characters after the value");
    }
    if (rc) {
        coop_json_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

const struct coop_json *coop_json_get(const struct coop_json *obj, const char *key)
{
    if (!obj || obj->type != COOP_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}
