/* prompt.c: a trial's learned context made readable (coop-prompt): each
 * context vector's nearest rows of the backbone's token embedding table by
 * cosine similarity and L2 distance, tokens shown as text; and the context
 * exported as a small prompt file that coop-eval evaluates. Trains and
 * evaluates nothing. */
#include "coop/prompt.h"
#include "coop/results.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include "run_internal.h"
#include "stored.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DEFAULT_TOP_K = 5, TOKEN_TEXT_MAX = 96 };

/* ---- tokens as text ------------------------------------------------------ */
/* GPT-2's bytes_to_unicode, inverted: the byte a code point stands for, or -1. */
static int unicode_to_byte(unsigned cp)
{
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255))
        return (int)cp;
    if (cp < 256 || cp >= 256 + 68)
        return -1;
    /* the other bytes (0-32, 127-160, 173), in order, map to 256, 257, ... */
    unsigned n = cp - 256;
    return n <= 32 ? (int)n : n <= 66 ? (int)(n - 33 + 127) : 173;
}

/* One UTF-8 code point of s (valid by construction in a vocabulary); its length. */
static int utf8_next(const unsigned char *s, unsigned *cp)
{
    int len = s[0] < 0x80          ? 1
              : (s[0] >> 5) == 6   ? 2
              : (s[0] >> 4) == 14  ? 3
              : (s[0] >> 3) == 30  ? 4
                                   : 0;
    if (!len)
        return 0;
    *cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = *cp << 6 | (s[i] & 0x3f);
    }
    return len;
}

/* Length of a valid, printable UTF-8 sequence at b[0..n), else 0. */
static int printable_utf8(const unsigned char *b, size_t n)
{
    unsigned cp;
    if (b[0] < 0x80)
        return b[0] > 0x20 && b[0] != 0x7f && b[0] != '\\';
    int len = utf8_next(b, &cp);
    if (!len || (size_t)len > n || cp < 0xa0 || (cp >= 0xd800 && cp < 0xe000) || cp > 0x10ffff)
        return 0;
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    return cp >= min[len] ? len : 0;
}

size_t coop_prompt_token_text(const char *raw, char *out, size_t len)
{
    size_t rl = strlen(raw), need = 0;
    if (rl >= 4 && !strncmp(raw, "<|", 2) && !strcmp(raw + rl - 2, "|>")) /* <|endoftext|> */
        return (size_t)snprintf(out, len, "%s", raw);
    bool word_end = rl >= 4 && strcmp(raw + rl - 4, "</w>") == 0;
    unsigned char bytes[256];
    size_t nb = 0;
    for (size_t i = 0; i < rl - (word_end ? 4 : 0) && nb < sizeof bytes;) {
        unsigned cp;
        int l = utf8_next((const unsigned char *)raw + i, &cp);
        int b = l ? unicode_to_byte(cp) : -1;
        bytes[nb++] = b >= 0 ? (unsigned char)b : (unsigned char)raw[i]; /* not BPE: as is */
        i += l ? (size_t)l : 1;
    }
    char tmp[8];
    for (size_t i = 0; i < nb;) {
        int l = printable_utf8(bytes + i, nb - i);
        const char *piece = tmp;
        size_t pl;
        if (l) {
            piece = (const char *)bytes + i;
            pl = (size_t)l;
        } else {
            pl = (size_t)snprintf(tmp, sizeof tmp, bytes[i] == '\\' ? "\\\\" : "\\x%02x",
                                  bytes[i]);
            l = 1;
        }
        if (need + pl < len)
            memcpy(out + need, piece, pl);
        need += pl;
        i += (size_t)l;
    }
    if (!word_end) {
        if (need + 1 < len)
            out[need] = '-';
        need++;
    }
    if (len)
        out[need < len ? need : len - 1] = '\0';
    return need;
}

/* ---- nearest tokens ------------------------------------------------------ */
struct table {
    float *emb;    /* [V, D] token embeddings */
    double *norm;  /* [V] their L2 norms */
    int V, D;
};

struct hit {
    int32_t id;
    double cos, l2;
};

/* The k rows of t nearest to vec [D], best first (cosine: highest; l2: lowest). */
static void nearest(const struct table *t, const float *vec, int k, bool by_l2, struct hit *out)
{
    double vn = 0;
    for (int j = 0; j < t->D; j++)
        vn += (double)vec[j] * vec[j];
    vn = sqrt(vn);
    int have = 0;
    for (int v = 0; v < t->V; v++) {
        const float *row = t->emb + (size_t)v * t->D;
        double dot = 0, d2 = 0;
        for (int j = 0; j < t->D; j++) {
            double a = row[j], b = vec[j];
            dot += a * b;
            d2 += (a - b) * (a - b);
        }
        struct hit h = {v, t->norm[v] > 0 && vn > 0 ? dot / (t->norm[v] * vn) : 0, sqrt(d2)};
        double score = by_l2 ? -h.l2 : h.cos;
        if (have == k && score <= (by_l2 ? -out[k - 1].l2 : out[k - 1].cos))
            continue;
        int p = have < k ? have++ : k - 1;
        while (p > 0 && score > (by_l2 ? -out[p - 1].l2 : out[p - 1].cos)) {
            out[p] = out[p - 1];
            p--;
        }
        out[p] = h;
    }
}

static int load_table(struct rt *rt, struct table *t, struct coop_err *e)
{
    t->V = rt->info.vocab_size;
    t->D = rt->info.token_width;
    int32_t *ids = malloc((size_t)t->V * sizeof *ids);
    t->emb = malloc((size_t)t->V * (size_t)t->D * sizeof *t->emb);
    t->norm = malloc((size_t)t->V * sizeof *t->norm);
    int rc = ids && t->emb && t->norm ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (int v = 0; rc == 0 && v < t->V; v++)
        ids[v] = v;
    if (rc == 0)
        rc = rt->bb.ops->token_embed(rt->bb.bb, ids, t->V, t->emb, e);
    for (int v = 0; rc == 0 && v < t->V; v++) {
        double s = 0;
        for (int j = 0; j < t->D; j++)
            s += (double)t->emb[(size_t)v * t->D + j] * t->emb[(size_t)v * t->D + j];
        t->norm[v] = sqrt(s);
    }
    free(ids);
    return rc;
}

/* Token v as text: from the BPE vocabulary when the trial's vocabulary
 * loads, else the backbone's own decoding (no word-end mark). */
static void token_text(struct rt *rt, const struct coop_tokenizer *tok, int32_t v, char *buf,
                       size_t len)
{
    const char *raw = tok ? coop_tokenizer_token(tok, v) : NULL;
    if (raw) {
        coop_prompt_token_text(raw, buf, len);
        return;
    }
    if (!rt->bb.ops->decode_token || rt->bb.ops->decode_token(rt->bb.bb, v, buf, len) != 0)
        snprintf(buf, len, "#%d", (int)v);
}

static void print_row(struct rt *rt, const struct coop_tokenizer *tok, const struct table *t,
                      const float *vec, const struct coop_prompt_request *q, const char *label,
                      FILE *out)
{
    int k = q->top_k > 0 ? q->top_k : DEFAULT_TOP_K;
    if (k > t->V)
        k = t->V;
    struct hit hits[64];
    if (k > 64)
        k = 64;
    nearest(t, vec, k, q->by_l2, hits);
    fprintf(out, "  %s:", label);
    for (int i = 0; i < k; i++) {
        char text[TOKEN_TEXT_MAX];
        token_text(rt, tok, hits[i].id, text, sizeof text);
        fprintf(out, "%s %s (cos %.3f, L2 %.3f)", i ? "," : "", text, hits[i].cos, hits[i].l2);
    }
    fputc('\n', out);
}

static void print_header(const struct stored *s, const struct table *t,
                         const struct coop_prompt_request *q, size_t M, bool csc,
                         bool decoded, FILE *out)
{
    fprintf(out, "%s: trial %s, %s", q->file, s->id, s->method);
    for (size_t i = 0; i < s->nm; i++)
        fprintf(out, "%s%s=%s", i ? " " : " (", s->mkeys[i], s->mvals[i]);
    fprintf(out, "%s, backbone %s %s\n", s->nm ? ")" : "", s->bb_plugin, s->checkpoint);
    fprintf(out, "learned context: %zu vectors of %d%s; the %d nearest of %d tokens by %s%s\n",
            M, t->D, csc ? " per class" : " (unified)",
            q->top_k > 0 ? q->top_k : DEFAULT_TOP_K, t->V,
            q->by_l2 ? "L2 distance" : "cosine similarity",
            decoded ? "; a trailing '-': the token does not end a word" : "");
}

/* The 0-based class q->cls names (a name or a 1-based index), -1 for all. */
static int chosen_class(const struct stored *s, const struct coop_prompt_request *q, bool csc,
                        int *out, struct coop_err *e)
{
    *out = -1;
    if (!q->cls)
        return 0;
    if (!csc)
        return coop_fail(e, COOP_E_INVAL, "%s: the context is unified (one for every class): "
                                          "there is no class to choose", q->file);
    char *end;
    long k = strtol(q->cls, &end, 10);
    for (size_t i = 0; i < s->nsrc && *out < 0; i++)
        if (!strcmp(s->src_names[i], q->cls) || (!*end && k == (long)i + 1))
            *out = (int)i;
    if (*out >= 0)
        return 0;
    const char *sug = coop_suggest(q->cls, (const char *const *)s->src_names, s->nsrc);
    return coop_fail(e, COOP_E_INVAL, "%s: no class '%s' among its %zu%s%s%s", q->file, q->cls,
                     s->nsrc, sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
}

static int show(struct rt *rt, const struct stored *s, const struct coop_prompt_request *q,
                FILE *out, struct coop_err *e)
{
    struct table t = {0};
    int rc = load_table(rt, &t, e);
    size_t D = (size_t)t.D, R = rc ? 0 : s->ctx_n / D;
    if (rc == 0 && s->ctx_rank != 2 && s->ctx_rank != 3)
        rc = coop_fail(e, COOP_E_INVAL, "%s: method '%s' stores no context of token vectors "
                                        "(params/ctx has rank %d, not [M, D] or [K, M, D]); "
                                        "coop-prompt reads CoOp-style contexts only",
                       q->file, s->method ? s->method : "?", s->ctx_rank);
    else if (rc == 0 && (D == 0 || s->ctx_n % D))
        rc = coop_fail(e, COOP_E_FORMAT, "params/ctx holds %zu values, not a multiple of the "
                                         "backbone's token width %zu", s->ctx_n, D);
    bool csc = s->ctx_rank == 3;
    size_t M = csc ? s->ctx_shape[1] : R;
    int only = -1;
    if (rc == 0)
        rc = chosen_class(s, q, csc, &only, e);
    struct coop_tokenizer *tok = NULL;
    struct coop_err te;
    if (rc == 0 && (s->vocab[0] ? coop_tokenizer_load(&tok, s->vocab, &te)
                                : coop_tokenizer_find_near(&tok, s->checkpoint, &te)) != 0)
        tok = NULL; /* a backbone without a BPE vocabulary: its own decoding */
    if (rc == 0)
        print_header(s, &t, q, M, csc, tok != NULL, out);
    for (size_t r = 0; rc == 0 && r < R; r++) {
        char label[TOKEN_TEXT_MAX + 32];
        size_t cls = M ? r / M : 0;
        if (only >= 0 && cls != (size_t)only)
            continue;
        if (csc && r % M == 0)
            fprintf(out, "class %zu '%s':\n", cls + 1, cls < s->nsrc ? s->src_names[cls] : "?");
        snprintf(label, sizeof label, "ctx %zu", r % M + 1);
        print_row(rt, tok, &t, s->ctx + r * D, q, label, out);
    }
    coop_tokenizer_free(tok);
    free(t.emb), free(t.norm);
    return rc;
}

int coop_prompt_show(const struct coop_prompt_request *q, const struct coop_registry *reg,
                     FILE *out, struct coop_err *e)
{
    struct stored s;
    int rc = coop_rt_stored_load(q->file, &s, e);
    struct coop_run_options o = {.out = NULL};
    struct rt rt;
    struct coop_trial t;
    coop_rt_init(&rt, reg, &o, "");
    if (rc == 0) {
        coop_rt_stored_trial(&s, &t);
        rc = coop_rt_backbone(&rt, &t, e);
    }
    if (rc == 0)
        rc = show(&rt, &s, q, out, e);
    coop_rt_free(&rt);
    coop_rt_stored_free(&s);
    return rc;
}

/* ---- export -------------------------------------------------------------- */
static int write_params(struct coop_results_writer *w, const char *group, char **keys,
                        char **vals, size_t n, struct coop_err *e)
{
    if (!n)
        return 0;
    char pk[64], pv[64];
    snprintf(pk, sizeof pk, "%s/param_keys", group);
    snprintf(pv, sizeof pv, "%s/param_values", group);
    int rc = coop_results_write_strings(w, pk, (const char *const *)keys, 1, &n, e);
    return rc ? rc : coop_results_write_strings(w, pv, (const char *const *)vals, 1, &n, e);
}

static int write_prompt_file(struct coop_results_writer *w, const struct stored *s,
                             const char *source, struct coop_err *e)
{
    const char *names[] = {"format", "source_results", "method_kind", "method_plugin",
                           "backbone_plugin", "checkpoint", "vocab", "source_trial_id"};
    const char *vals[] = {"coop-prompt", source, s->kind, s->method, s->bb_plugin,
                          s->checkpoint, s->vocab, s->id};
    int rc = coop_results_attr_int(w, "format_version", 1, e);
    for (int i = 0; rc == 0 && i < 8; i++)
        rc = coop_results_attr_str(w, names[i], vals[i], e);
    if (rc == 0)
        rc = coop_results_write_f32(w, "params/ctx", s->ctx, s->ctx_rank, s->ctx_shape, e);
    if (rc == 0)
        rc = coop_results_write_strings(w, "class_names", (const char *const *)s->src_names, 1,
                                        &s->nsrc, e);
    if (rc == 0)
        rc = write_params(w, "method", s->mkeys, s->mvals, s->nm, e);
    if (rc == 0)
        rc = write_params(w, "backbone", s->bkeys, s->bvals, s->nb, e);
    return rc;
}

int coop_prompt_export(const char *results_file, const char *out_path, struct coop_err *e)
{
    size_t n = strlen(out_path);
    if (n < 4 || strcmp(out_path + n - 3, ".h5") != 0)
        return coop_fail(e, COOP_E_INVAL, "%s: a prompt file's name ends in .h5", out_path);
    struct stored s;
    int rc = coop_rt_stored_load(results_file, &s, e);
    char *dir = coop_strdup(out_path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    const char *stem = slash ? slash + 1 : dir;
    if (rc == 0 && !dir)
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rc == 0) {
        dir[n - 3] = '\0';
        if (slash)
            *slash = '\0';
    }
    struct coop_results_writer *w = NULL;
    if (rc == 0)
        rc = coop_results_begin(slash ? (dir[0] ? dir : "/") : ".", stem, true, &w, e);
    if (rc == 0)
        rc = write_prompt_file(w, &s, results_file, e);
    if (rc == 0)
        rc = coop_results_commit(w, "completed", NULL, e);
    else
        coop_results_abort(w);
    free(dir);
    coop_rt_stored_free(&s);
    return rc;
}
