/* core/clip/clean.c: the text clean-up CLIP's simple_tokenizer applies before
 * BPE: a documented subset of ftfy.fix_text (latin ligatures, character
 * width, curly quotes), html.unescape twice, strip, \s+ -> ' ', strip,
 * str.lower() (with Final_Sigma). Works on code points; every table comes
 * from Python (unicode_tables.c), so results match CPython on the corpus. */
#include "clean.h"
#include "coop/tokenizer.h"
#include "unicode.h"
#include <stdlib.h>
#include <string.h>

/* A growable code point buffer. */
struct cpbuf {
    uint32_t *p;
    size_t n, cap;
};

static int cp_push(struct cpbuf *b, uint32_t c)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 64;
        uint32_t *np = realloc(b->p, nc * sizeof *np);
        if (!np)
            return -1;
        b->p = np;
        b->cap = nc;
    }
    b->p[b->n++] = c;
    return 0;
}

static int cp_push_utf8(struct cpbuf *b, const char *s)
{
    uint32_t *cps;
    size_t n;
    if (coop_utf8_decode(s, strlen(s), &cps, &n))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = cp_push(b, cps[i]);
    free(cps);
    return rc;
}

/* ---- ftfy subset ---------------------------------------------------------- */
static const struct coop_uc_map ligatures[] = {
    {0x132, "IJ"}, {0x133, "ij"}, {0x149, "\xCA\xBCn"}, {0x1C4, "D\xC5\xBD"},
    {0x1C5, "D\xC5\xBE"}, {0x1C6, "d\xC5\xBE"}, {0x1C7, "LJ"}, {0x1C8, "Lj"}, {0x1C9, "lj"},
    {0x1CA, "NJ"}, {0x1CB, "Nj"}, {0x1CC, "nj"}, {0x1F1, "DZ"}, {0x1F2, "Dz"}, {0x1F3, "dz"},
    {0xFB00, "ff"}, {0xFB01, "fi"}, {0xFB02, "fl"}, {0xFB03, "ffi"}, {0xFB04, "ffl"},
    {0xFB05, "\xC5\xBFt"}, {0xFB06, "st"},
};

static int ftfy_subset(struct cpbuf *o, const uint32_t *s, size_t n)
{
    struct cpbuf t = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) { /* fix_latin_ligatures */
        const char *rep = NULL;
        for (size_t k = 0; k < sizeof ligatures / sizeof ligatures[0]; k++)
            if (ligatures[k].cp == s[i])
                rep = ligatures[k].utf8;
        rc = rep ? cp_push_utf8(&t, rep) : cp_push(&t, s[i]);
    }
    for (size_t i = 0; i < t.n && !rc; i++) { /* fix_character_width, uncurl_quotes */
        uint32_t c = t.p[i];
        const char *w = coop_uc_width_fix(c);
        if (w) {
            rc = cp_push_utf8(o, w);
            continue;
        }
        if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B))
            c = '\'';
        else if (c >= 0x201C && c <= 0x201F)
            c = '"';
        rc = cp_push(o, c);
    }
    free(t.p);
    return rc;
}

/* ---- html.unescape ---------------------------------------------------------- */
static int cmp_entity(const void *k, const void *v)
{
    return strcmp(k, ((const struct coop_html_entity *)v)->name);
}

static const char *entity(const uint32_t *name, size_t len)
{
    char buf[40];
    if (len >= sizeof buf)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (name[i] >= 0x80)
            return NULL;
        buf[i] = (char)name[i];
    }
    buf[len] = '\0';
    const struct coop_html_entity *e = bsearch(buf, coop_html_entities, coop_html_entities_n,
                                               sizeof *e, cmp_entity);
    return e ? e->value : NULL;
}

static int is_digit(uint32_t c, bool hex)
{
    return (c >= '0' && c <= '9') || (hex && ((c | 32) >= 'a' && (c | 32) <= 'f'));
}

static int charref_value(struct cpbuf *o, uint32_t num)
{
    for (size_t k = 0; k < coop_html_invalid_charrefs_n; k++)
        if (coop_html_invalid_charrefs[k].num == num)
            return cp_push(o, coop_html_invalid_charrefs[k].cp);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
        return cp_push(o, 0xFFFD);
    if (coop_uc_in(coop_uc_html_invalid_codepoints, coop_uc_html_invalid_codepoints_n, num))
        return 0;
    return cp_push(o, num);
}

/* &#123; &#x7b; (';' optional): *j is past the match, 1 if it matched. */
static int numeric_ref(struct cpbuf *o, const uint32_t *s, size_t n, size_t *j, int *rc)
{
    size_t i = *j + 2;
    bool hex = false;
    if (i < n && (s[i] == 'x' || s[i] == 'X')) {
        hex = true;
        i++;
    }
    if (i >= n || !is_digit(s[i], hex))
        return 0;
    uint32_t num = 0;
    for (; i < n && is_digit(s[i], hex); i++) {
        uint32_t d = s[i] <= '9' ? s[i] - '0' : (s[i] | 32) - 'a' + 10;
        num = num > 0x110000 ? num : num * (hex ? 16 : 10) + d; /* saturates above 0x10FFFF */
    }
    if (i < n && s[i] == ';')
        i++;
    *j = i;
    *rc = charref_value(o, num);
    return 1;
}

static int named_ref(struct cpbuf *o, const uint32_t *s, size_t n, size_t *j)
{
    size_t st = *j + 1, i = st;
    while (i < n && i - st < 32 && s[i] != '\t' && s[i] != '\n' && s[i] != '\f' && s[i] != ' ' &&
           s[i] != '<' && s[i] != '&' && s[i] != '#' && s[i] != ';')
        i++;
    if (i == st)
        return 1; /* no match: '&' copied by the caller */
    if (i < n && s[i] == ';')
        i++;
    *j = i;
    size_t len = i - st;
    const char *v = entity(s + st, len);
    if (v)
        return cp_push_utf8(o, v) ? -1 : 0;
    for (size_t x = len - 1; x > 1; x--) /* longest known prefix, as Python does */
        if ((v = entity(s + st, x)) != NULL) {
            int rc = cp_push_utf8(o, v);
            for (size_t k = st + x; k < i && !rc; k++)
                rc = cp_push(o, s[k]);
            return rc;
        }
    int rc = cp_push(o, '&');
    for (size_t k = st; k < i && !rc; k++)
        rc = cp_push(o, s[k]);
    return rc;
}

static int html_unescape(struct cpbuf *o, const uint32_t *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        if (s[i] != '&') {
            rc = cp_push(o, s[i++]);
            continue;
        }
        if (i + 1 < n && s[i + 1] == '#') {
            size_t j = i;
            if (numeric_ref(o, s, n, &j, &rc)) {
                i = j;
                continue;
            }
            rc = cp_push(o, s[i++]);
            continue;
        }
        size_t j = i;
        int r = named_ref(o, s, n, &j);
        if (r < 0)
            return -1;
        if (j == i) /* nothing matched after '&' */
            rc = cp_push(o, s[i++]);
        else
            i = j;
    }
    return rc;
}

/* ---- whitespace and case --------------------------------------------------------- */
static void strip(struct cpbuf *b)
{
    size_t a = 0, z = b->n;
    while (a < z && coop_uc_is_py_space(b->p[a]))
        a++;
    while (z > a && coop_uc_is_py_space(b->p[z - 1]))
        z--;
    memmove(b->p, b->p + a, (z - a) * sizeof *b->p);
    b->n = z - a;
}

static void collapse_ws(struct cpbuf *b)
{
    size_t w = 0;
    bool prev = false;
    for (size_t i = 0; i < b->n; i++) {
        bool sp = coop_uc_is_re_space(b->p[i]);
        if (!sp)
            b->p[w++] = b->p[i];
        else if (!prev)
            b->p[w++] = ' ';
        prev = sp;
    }
    b->n = w;
}

static bool final_sigma(const uint32_t *s, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && coop_uc_in(coop_uc_case_ignorable, coop_uc_case_ignorable_n, s[j - 1]))
        j--;
    if (j == 0 || !coop_uc_in(coop_uc_cased, coop_uc_cased_n, s[j - 1]))
        return false;
    j = i + 1;
    while (j < n && coop_uc_in(coop_uc_case_ignorable, coop_uc_case_ignorable_n, s[j]))
        j++;
    return j == n || !coop_uc_in(coop_uc_cased, coop_uc_cased_n, s[j]);
}

static int lower(struct cpbuf *o, const uint32_t *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (s[i] == 0x130) {
            rc = cp_push(o, 'i') || cp_push(o, 0x307);
        } else if (s[i] == 0x3A3) {
            rc = cp_push(o, final_sigma(s, n, i) ? 0x3C2 : 0x3C3);
        } else {
            rc = cp_push(o, coop_uc_lower1(s[i]));
        }
    }
    return rc;
}

int coop_text_clean(const char *text, uint32_t **out, size_t *n)
{
    uint32_t *in;
    size_t nin;
    struct cpbuf a = {0}, b = {0}, c = {0};
    *out = NULL;
    if (coop_utf8_decode(text, strlen(text), &in, &nin))
        return -1;
    int rc = ftfy_subset(&a, in, nin);
    rc = rc ? rc : html_unescape(&b, a.p, a.n);
    a.n = 0;
    rc = rc ? rc : html_unescape(&a, b.p, b.n);
    if (rc == 0) {
        strip(&a);
        collapse_ws(&a);
        strip(&a);
        rc = lower(&c, a.p, a.n);
    }
    free(in);
    free(a.p);
    free(b.p);
    if (rc) {
        free(c.p);
        return -1;
    }
    if (!c.p && !(c.p = malloc(sizeof *c.p)))
        return -1;
    *out = c.p;
    *n = c.n;
    return 0;
}

char *coop_tokenizer_normalize(const char *text)
{
    uint32_t *cps;
    size_t n;
    if (coop_text_clean(text, &cps, &n))
        return NULL;
    char *o = malloc(4 * n + 1);
    size_t w = 0;
    for (size_t i = 0; o && i < n; i++)
        w += coop_utf8_put(o + w, cps[i]);
    if (o)
        o[w] = '\0';
    free(cps);
    return o;
}
