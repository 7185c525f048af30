/* bpe_learn.c: learns a byte-level BPE vocabulary in CLIP's format from a
 * text corpus. Words are cleaned and split exactly as the tokenizer does
 * (clip/clean.h, coop_bpe_next_word), their UTF-8 bytes mapped through
 * bytes_to_unicode with "</w>" on the last symbol; each merge joins the most
 * frequent adjacent pair over the weighted word counts. The merges file is
 * the one coop_tokenizer_load_clip reads. */
#include "clip/bpe.h"
#include "clip/clean.h"
#include "clip/unicode.h"
#include "coop/pretrain.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct word {
    char *key;        /* UTF-8 pre-token */
    int *s, n;        /* current symbols */
    long count;
};

struct coop_bpe_learner {
    struct word *w;
    size_t nw, cw;
    size_t *wmap, wcap;        /* open addressing: word index + 1, 0 empty */
    char **sym;                /* symbol id -> string */
    size_t nsym, csym;
    char **merges;             /* "a b" lines */
    size_t nm;
    int byte_sym[256];         /* byte -> symbol id (not final) */
};

static int push_sym(struct coop_bpe_learner *l, char *s)
{
    if (!s)
        return -1;
    if (l->nsym == l->csym) {
        size_t c = l->csym ? 2 * l->csym : 1024;
        char **p = realloc(l->sym, c * sizeof *p);
        if (!p) {
            free(s);
            return -1;
        }
        l->sym = p;
        l->csym = c;
    }
    l->sym[l->nsym++] = s;
    return (int)l->nsym - 1;
}

int coop_bpe_learner_new(struct coop_bpe_learner **out, struct coop_err *e)
{
    struct coop_bpe_learner *l = calloc(1, sizeof *l);
    *out = NULL;
    if (!l)
        return coop_fail(e, COOP_E_NOMEM, "bpe learner: out of memory");
    uint32_t cp[256];
    int order[256];
    coop_bpe_bytes_to_unicode(cp, order);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 256; i++) {
            char s[16];
            size_t n = coop_utf8_put(s, cp[order[i]]);
            memcpy(s + n, pass ? "</w>" : "", pass ? 5 : 1);
            if (push_sym(l, coop_strdup(s)) < 0) {
                coop_bpe_learner_free(l);
                return coop_fail(e, COOP_E_NOMEM, "bpe learner: out of memory");
            }
            if (!pass)
                l->byte_sym[order[i]] = i;
        }
    *out = l;
    return 0;
}

void coop_bpe_learner_free(struct coop_bpe_learner *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nw; i++) {
        free(l->w[i].key);
        free(l->w[i].s);
    }
    for (size_t i = 0; i < l->nsym; i++)
        free(l->sym[i]);
    for (size_t i = 0; i < l->nm; i++)
        free(l->merges[i]);
    free(l->w);
    free(l->wmap);
    free(l->sym);
    free(l->merges);
    free(l);
}

static int rehash(struct coop_bpe_learner *l)
{
    size_t cap = l->wcap ? 2 * l->wcap : 1024;
    size_t *m = calloc(cap, sizeof *m);
    if (!m)
        return -1;
    for (size_t i = 0; i < l->nw; i++) {
        size_t h = coop_bpe_hash_str(l->w[i].key, strlen(l->w[i].key)) & (cap - 1);
        while (m[h])
            h = (h + 1) & (cap - 1);
        m[h] = i + 1;
    }
    free(l->wmap);
    l->wmap = m;
    l->wcap = cap;
    return 0;
}

/* Adds count to the word u[0..len). */
static int add_word(struct coop_bpe_learner *l, const char *u, size_t len, long count)
{
    if (2 * (l->nw + 1) > l->wcap && rehash(l))
        return -1;
    size_t h = coop_bpe_hash_str(u, len) & (l->wcap - 1);
    for (; l->wmap[h]; h = (h + 1) & (l->wcap - 1)) {
        struct word *w = &l->w[l->wmap[h] - 1];
        if (strlen(w->key) == len && memcmp(w->key, u, len) == 0) {
            w->count += count;
            return 0;
        }
    }
    if (l->nw == l->cw) {
        size_t c = l->cw ? 2 * l->cw : 256;
        struct word *p = realloc(l->w, c * sizeof *p);
        if (!p)
            return -1;
        l->w = p;
        l->cw = c;
    }
    struct word *w = &l->w[l->nw];
    w->key = malloc(len + 1);
    w->s = malloc((len ? len : 1) * sizeof *w->s);
    if (!w->key || !w->s) {
        free(w->key);
        free(w->s);
        return -1;
    }
    memcpy(w->key, u, len);
    w->key[len] = '\0';
    for (size_t i = 0; i < len; i++)
        w->s[i] = l->byte_sym[(unsigned char)u[i]] + (i + 1 == len ? 256 : 0);
    w->n = (int)len;
    w->count = count;
    l->wmap[h] = ++l->nw;
    return 0;
}

int coop_bpe_learner_add(struct coop_bpe_learner *l, const char *text, long count,
                         struct coop_err *e)
{
    uint32_t *s;
    size_t ns;
    if (coop_text_clean(text, &s, &ns))
        return coop_fail(e, COOP_E_NOMEM, "bpe learner: out of memory");
    char *u = malloc(4 * ns + 1);
    int rc = u ? 0 : coop_fail(e, COOP_E_NOMEM, "bpe learner: out of memory");
    size_t i = 0, ul;
    while (rc == 0 && (ul = coop_bpe_next_word(s, ns, &i, u)) > 0)
        if (add_word(l, u, ul, count))
            rc = coop_fail(e, COOP_E_NOMEM, "bpe learner: out of memory");
    free(u);
    free(s);
    return rc;
}

/* ---- learning ------------------------------------------------------------- */
struct pairs {
    uint64_t *key;   /* (a << 32 | b) + 1, 0 empty */
    long *cnt;
    size_t cap;
};

static void pairs_add(struct pairs *p, uint64_t k, long c)
{
    size_t h = coop_mix64(k) & (p->cap - 1);
    while (p->key[h] && p->key[h] != k)
        h = (h + 1) & (p->cap - 1);
    p->key[h] = k;
    p->cnt[h] += c;
}

static bool is_symbol(const struct coop_bpe_learner *l, const char *a, const char *b)
{
    size_t la = strlen(a);
    for (size_t i = 0; i < l->nsym; i++)
        if (strncmp(l->sym[i], a, la) == 0 && strcmp(l->sym[i] + la, b) == 0)
            return true;
    return false;
}

/* Is the pair (a1, b1) ranked before (a2, b2) at equal counts? Compares the
 * "a b" lines. */
static bool line_less(const struct coop_bpe_learner *l, int a1, int b1, int a2, int b2)
{
    int c = strcmp(l->sym[a1], l->sym[a2]);
    return c < 0 || (c == 0 && strcmp(l->sym[b1], l->sym[b2]) < 0);
}

static void apply_merge(struct coop_bpe_learner *l, int a, int b, int ab)
{
    for (size_t i = 0; i < l->nw; i++) {
        struct word *w = &l->w[i];
        int o = 0;
        for (int j = 0; j < w->n; j++) {
            if (j + 1 < w->n && w->s[j] == a && w->s[j + 1] == b) {
                w->s[o++] = ab;
                j++;
            } else {
                w->s[o++] = w->s[j];
            }
        }
        w->n = o;
    }
}

/* Most frequent admissible pair into *a, *b (count returned, 0 if none). */
static long best_pair(struct coop_bpe_learner *l, struct pairs *p, int *a, int *b)
{
    size_t total = 0;
    for (size_t i = 0; i < l->nw; i++)
        total += (size_t)l->w[i].n;
    size_t cap = 64;
    while (cap < 2 * total + 2)
        cap *= 2;
    if (cap > p->cap) {
        free(p->key);
        free(p->cnt);
        p->key = malloc(cap * sizeof *p->key);
        p->cnt = malloc(cap * sizeof *p->cnt);
        p->cap = p->key && p->cnt ? cap : 0;
        if (!p->cap)
            return -1;
    }
    memset(p->key, 0, p->cap * sizeof *p->key);
    memset(p->cnt, 0, p->cap * sizeof *p->cnt);
    for (size_t i = 0; i < l->nw; i++)
        for (int j = 0; j + 1 < l->w[i].n; j++)
            pairs_add(p, ((uint64_t)l->w[i].s[j] << 32 | (uint64_t)l->w[i].s[j + 1]) + 1,
                      l->w[i].count);
    long best = 0;
    for (size_t h = 0; h < p->cap; h++) {
        if (!p->key[h] || p->cnt[h] < best)
            continue;
        int pa = (int)((p->key[h] - 1) >> 32), pb = (int)((p->key[h] - 1) & 0xFFFFFFFFu);
        if (p->cnt[h] == best && !line_less(l, pa, pb, *a, *b))
            continue;
        /* a merge whose result is already a symbol would duplicate a vocab entry */
        if (is_symbol(l, l->sym[pa], l->sym[pb]))
            continue;
        best = p->cnt[h];
        *a = pa;
        *b = pb;
    }
    return best;
}

int coop_bpe_learner_learn(struct coop_bpe_learner *l, int max_merges, long min_count,
                           struct coop_err *e)
{
    struct pairs p = {0};
    int rc = 0;
    if (min_count < 1)
        min_count = 1;
    char **nm = realloc(l->merges, (l->nm + (size_t)(max_merges > 0 ? max_merges : 0) + 1) *
                                       sizeof *nm);
    if (!nm)
        return coop_fail(e, COOP_E_NOMEM, "bpe learner: out of memory");
    l->merges = nm;
    for (int it = 0; it < max_merges; it++) {
        int a = 0, b = 0;
        long c = best_pair(l, &p, &a, &b);
        if (c < 0) {
            rc = coop_fail(e, COOP_E_NOMEM, "bpe learner: out of memory");
            break;
        }
        if (c < min_count)
            break;
        char *line = coop_asprintf("%s %s", l->sym[a], l->sym[b]);
        int ab = push_sym(l, coop_asprintf("%s%s", l->sym[a], l->sym[b]));
        if (!line || ab < 0) {
            free(line);
            rc = coop_fail(e, COOP_E_NOMEM, "bpe learner: out of memory");
            break;
        }
        l->merges[l->nm++] = line;
        apply_merge(l, a, b, ab);
    }
    free(p.key);
    free(p.cnt);
    return rc;
}

size_t coop_bpe_learner_num_merges(const struct coop_bpe_learner *l) { return l->nm; }

const char *coop_bpe_learner_merge(const struct coop_bpe_learner *l, size_t r)
{
    return r < l->nm ? l->merges[r] : NULL;
}

int coop_bpe_learner_write(const struct coop_bpe_learner *l, const char *gz_path,
                           const char *header, struct coop_err *e)
{
    if (l->nm == 0)
        return coop_fail(e, COOP_E_INVAL, "%s: no merges learned (corpus too small?)", gz_path);
    char *tmp = coop_asprintf("%s.tmp", gz_path);
    gzFile f = tmp ? gzopen(tmp, "wb9") : NULL;
    if (!f) {
        free(tmp);
        return coop_fail(e, COOP_E_IO, "%s: cannot open for writing", gz_path);
    }
    /* No newline after the last merge: CLIP's reader splits on '\n' and would take
     * the empty string after it for one more merge (one more token than the
     * embedding table has) when the file is shorter than its 48,894-merge slice. */
    int ok = gzputs(f, header ? header : "#version: 0.2") > 0;
    for (size_t i = 0; ok && i < l->nm; i++)
        ok = gzprintf(f, "\n%s", l->merges[i]) > 0;
    ok = gzclose(f) == Z_OK && ok;
    ok = ok && rename(tmp, gz_path) == 0;
    if (!ok)
        remove(tmp);
    free(tmp);
    return ok ? 0 : coop_fail(e, COOP_E_IO, "%s: write failed", gz_path);
}
