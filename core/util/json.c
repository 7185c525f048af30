/* json.c: strict recursive-descent JSON parser with line:column errors, depth
 * limit and UTF-8 validation; plus a string escaper for writers. No printing,
 * no global state. */
#include "coop/json.h"
#include "coop/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct jp {
    const char *s;
    size_t n, pos;
    int line;
    size_t line_start;
    const char *name;
    struct coop_err *e;
    size_t base; /* byte offset of text[0] in its file (coop_json_parse_bytes) */
    bool bytes;  /* errors name byte offsets instead of line:column */
};

static int jp_col(const struct jp *p, size_t pos)
{
    return (int)(pos - p->line_start) + 1;
}

static int jp_fail(struct jp *p, size_t pos, const char *what)
{
    if (p->bytes)
        return coop_fail(p->e, COOP_E_FORMAT, "%s: JSON: %s at byte offset %zu", p->name, what,
                         p->base + pos);
    return coop_fail(p->e, COOP_E_FORMAT, "%s:%d:%d: %s", p->name ? p->name : "<json>",
                     p->line, jp_col(p, pos), what);
}

static void jp_ws(struct jp *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c == '\n') {
            p->line++;
            p->line_start = p->pos + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            break;
        }
        p->pos++;
    }
}

static int jp_value(struct jp *p, struct coop_json *v, int depth);

/* Appends one UTF-8 encoded code point. */
static size_t utf8_put(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of a valid UTF-8 sequence starting at s[0] (n bytes left), or 0. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Decodes one \u escape (p->pos just past the 'u'), with surrogate pairs. */
static int jp_unicode(struct jp *p, unsigned *cp)
{
    size_t at = p->pos - 2;
    if (p->pos + 4 > p->n || hex4(p->s + p->pos, cp))
        return jp_fail(p, at, "invalid \\u escape");
    p->pos += 4;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return jp_fail(p, at, "unpaired low surrogate in \\u escape");
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        unsigned lo;
        if (p->pos + 6 > p->n || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
            hex4(p->s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return jp_fail(p, at, "unpaired high surrogate in \\u escape");
        p->pos += 6;
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    return 0;
}

static int jp_escape(struct jp *p, char *d, size_t *k)
{
    char c = p->s[p->pos++];
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *f = c ? strchr(from, c) : NULL;
    if (f) {
        d[(*k)++] = to[f - from];
        return 0;
    }
    if (c != 'u')
        return jp_fail(p, p->pos - 2, "invalid escape in string");
    unsigned cp = 0; /* set by jp_unicode on success; 0 quiets gcc 12 */
    int rc = jp_unicode(p, &cp);
    if (rc)
        return rc;
    *k += utf8_put(d + *k, cp);
    return 0;
}

/* p->pos at the opening quote. The decoded string is never longer than the
 * source text, so one allocation of the raw span suffices. */
static int jp_string(struct jp *p, char **out, size_t *outlen)
{
    size_t start = p->pos++;
    size_t end = p->pos;
    while (end < p->n && p->s[end] != '"')
        end += (p->s[end] == '\\') ? 2 : 1;
    if (end >= p->n)
        return jp_fail(p, start, "unterminated string");
    char *d = malloc(end - start + 1);
    if (!d)
        return coop_fail(p->e, COOP_E_NOMEM, "%s: out of memory", p->name);
    size_t k = 0;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->s[p->pos];
        int rc = 0;
        if (c == '\\') {
            p->pos++;
            rc = jp_escape(p, d, &k);
        } else if (c < 0x20) {
            rc = jp_fail(p, p->pos, "control character in string (escape it)");
        } else {
            size_t l = utf8_valid((const unsigned char *)p->s + p->pos, end - p->pos);
            if (!l)
                rc = jp_fail(p, p->pos, "invalid UTF-8 in string");
            memcpy(d + k, p->s + p->pos, l);
            k += l;
            p->pos += l;
        }
        if (rc) {
            free(d);
            return rc;
        }
    }
    p->pos = end + 1;
    d[k] = '\0';
    *out = d;
    *outlen = k;
    return 0;
}

static int jp_number(struct jp *p, struct coop_json *v)
{
    size_t i = p->pos, start = p->pos;
    const char *s = p->s;
#define DIG(j) ((j) < p->n && s[j] >= '0' && s[j] <= '9')
    if (i < p->n && s[i] == '-')
        i++;
    if (!DIG(i))
        return jp_fail(p, start, "invalid number");
    if (s[i] == '0') {
        i++;
        if (DIG(i))
            return jp_fail(p, start, "leading zero in number");
    } else
        while (DIG(i))
            i++;
    if (i < p->n && s[i] == '.') {
        i++;
        if (!DIG(i))
            return jp_fail(p, start, "invalid number (digit expected after '.')");
        while (DIG(i))
            i++;
    }
    if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!DIG(i))
            return jp_fail(p, start, "invalid number (digit expected in exponent)");
        while (DIG(i))
            i++;
    }
#undef DIG
    char buf[64];
    if (i - start >= sizeof buf)
        return jp_fail(p, start, "number too long");
    memcpy(buf, s + start, i - start);
    buf[i - start] = '\0';
    v->type = COOP_JSON_NUMBER;
    v->number = strtod(buf, NULL);
    v->integral = strpbrk(buf, ".eE") == NULL;
    p->pos = i;
    return 0;
}

static int jp_grow(struct jp *p, struct coop_json **items, char ***keys, size_t n, size_t *cap)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    struct coop_json *ni = realloc(*items, nc * sizeof *ni);
    if (!ni)
        return coop_fail(p->e, COOP_E_NOMEM, "%s: out of memory", p->name);
    *items = ni;
    if (keys) {
        char **nk = realloc(*keys, nc * sizeof *nk);
        if (!nk)
            return coop_fail(p->e, COOP_E_NOMEM, "%s: out of memory", p->name);
        *keys = nk;
    }
    *cap = nc;
    return 0;
}

/* Shared loop of arrays and objects; p->pos just past the opening bracket. */
static int jp_container(struct jp *p, struct coop_json *v, int depth, bool obj)
{
    char close = obj ? '}' : ']';
    size_t cap = 0;
    v->type = obj ? COOP_JSON_OBJECT : COOP_JSON_ARRAY;
    jp_ws(p);
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        int rc = jp_grow(p, &v->items, obj ? &v->keys : NULL, v->len, &cap);
        if (rc)
            return rc;
        if (obj) {
            jp_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != '"')
                return jp_fail(p, p->pos, "expected a string key");
            size_t kat = p->pos, klen;
            char *key;
            if ((rc = jp_string(p, &key, &klen)))
                return rc;
            if (coop_json_get(v, key)) {
                free(key);
                return jp_fail(p, kat, "duplicate key");
            }
            v->keys[v->len] = key;
            jp_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') {
                v->items[v->len++] = (struct coop_json){0};
                return jp_fail(p, p->pos, "expected ':'");
            }
            p->pos++;
        }
        struct coop_json *item = &v->items[v->len++];
        *item = (struct coop_json){0};
        if ((rc = jp_value(p, item, depth + 1)))
            return rc;
        jp_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            jp_ws(p);
            if (p->pos < p->n && p->s[p->pos] == close)
                return jp_fail(p, p->pos, "trailing comma");
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == close) {
            p->pos++;
            return 0;
        }
        return jp_fail(p, p->pos, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int jp_literal(struct jp *p, const char *word)
{
    size_t l = strlen(word);
    if (p->pos + l > p->n || memcmp(p->s + p->pos, word, l) != 0)
        return jp_fail(p, p->pos, "invalid literal");
    p->pos += l;
    return 0;
}

static int jp_value(struct jp *p, struct coop_json *v, int depth)
{
    jp_ws(p);
    v->line = p->line;
    v->col = jp_col(p, p->pos);
    v->offset = p->base + p->pos;
    if (depth > COOP_JSON_MAX_DEPTH)
        return jp_fail(p, p->pos, "nesting deeper than the limit");
    if (p->pos >= p->n)
        return jp_fail(p, p->pos, "unexpected end of input");
    char c = p->s[p->pos];
    switch (c) {
    case '{':
    case '[':
        p->pos++;
        return jp_container(p, v, depth, c == '{');
    case '"':
        v->type = COOP_JSON_STRING;
        return jp_string(p, &v->str, &v->len);
    case 't':
    case 'f':
        v->type = COOP_JSON_BOOL;
        v->boolean = c == 't';
        return jp_literal(p, c == 't' ? "true" : "false");
    case 'n':
        v->type = COOP_JSON_NULL;
        return jp_literal(p, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return jp_number(p, v);
        return jp_fail(p, p->pos, "unexpected character");
    }
}

static void json_clear(struct coop_json *v)
{
    free(v->str);
    for (size_t i = 0; i < v->len && (v->type == COOP_JSON_ARRAY || v->type == COOP_JSON_OBJECT);
         i++) {
        json_clear(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

void coop_json_free(struct coop_json *v)
{
    if (v) {
        json_clear(v);
        free(v);
    }
}

static int parse(struct jp *p, struct coop_json **out)
{
    struct coop_json *v = calloc(1, sizeof *v);
    if (!v)
        return coop_fail(p->e, COOP_E_NOMEM, "%s: out of memory", p->name);
    if (p->n >= 3 && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0)
        p->pos = p->line_start = 3; /* tolerate a UTF-8 byte-order mark */
    int rc = jp_value(p, v, 1);
    if (rc == 0) {
        jp_ws(p);
        if (p->pos < p->n)
            rc = jp_fail(p, p->pos, "trailing characters after the value");
    }
    if (rc) {
        coop_json_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int coop_json_parse(struct coop_json **out, const char *text, size_t len, const char *name,
                    struct coop_err *e)
{
    struct jp p = {text, len, 0, 1, 0, name ? name : "<json>", e, 0, false};
    return parse(&p, out);
}

int coop_json_parse_bytes(struct coop_json **out, const char *text, size_t len, size_t base,
                          const char *name, struct coop_err *e)
{
    struct jp p = {text, len, 0, 1, 0, name ? name : "<json>", e, base, true};
    return parse(&p, out);
}

int coop_json_parse_file(struct coop_json **out, const char *path, size_t max_bytes,
                         struct coop_err *e)
{
    char *text;
    size_t len;
    int rc = coop_read_file(path, max_bytes, &text, &len, e);
    if (rc)
        return rc;
    rc = coop_json_parse(out, text, len, path, e);
    free(text);
    return rc;
}

const struct coop_json *coop_json_get(const struct coop_json *v, const char *key)
{
    if (!v || v->type != COOP_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->len; i++)
        if (v->keys[i] && strcmp(v->keys[i], key) == 0)
            return &v->items[i];
    return NULL;
}

bool coop_json_int(const struct coop_json *v, long long lo, long long hi, long long *out)
{
    if (!v || v->type != COOP_JSON_NUMBER || v->number < (double)lo || v->number > (double)hi)
        return false;
    long long i = (long long)v->number;
    if ((double)i != v->number)
        return false;
    *out = i;
    return true;
}

const char *coop_json_type_name(enum coop_json_type t)
{
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < 6 ? names[t] : "?";
}

int coop_json_write_string(FILE *f, const char *s)
{
    if (fputc('"', f) == EOF)
        return -1;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        int r;
        if (*c == '"' || *c == '\\')
            r = fprintf(f, "\\%c", *c);
        else if (*c < 0x20)
            r = fprintf(f, "\\u%04x", *c);
        else
            r = fputc(*c, f) == EOF ? -1 : 1;
        if (r < 0)
            return -1;
    }
    return fputc('"', f) == EOF ? -1 : 0;
}
