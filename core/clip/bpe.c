/* core/clip/bpe.c: CLIP's byte-level BPE (simple_tokenizer.py) in C:
 * vocabulary and merge ranks from CLIP's gzip'd merges file or Hugging Face
 * vocab.json + merges.txt, the pre-tokenising regex written out by hand,
 * lowest-rank-first merging, a per-token cache, SOS/EOT wrapping and decode.
 * Text clean-up lives in clean.c. Never prints; errors name file and line. */
#include "bpe.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include "coop/json.h"
#include "unicode.h"
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- hashing ------------------------------------------------------------------ */
uint64_t coop_bpe_hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static size_t pow2_above(size_t n)
{
    size_t c = 16;
    while (c < 2 * n)
        c *= 2;
    return c;
}

int32_t coop_bpe_vocab_lookup(const struct coop_tokenizer *t, const char *s, size_t len)
{
    size_t m = t->vcap - 1;
    for (size_t i = coop_bpe_hash_str(s, len) & m;; i = (i + 1) & m) {
        int32_t id = t->vmap[i];
        if (id < 0)
            return -1;
        if (strncmp(t->tok[id], s, len) == 0 && t->tok[id][len] == '\0')
            return id;
    }
}

/* Later duplicates win, as in Python's dict(zip(vocab, range(...))). */
static void vocab_insert(struct coop_tokenizer *t, int32_t id)
{
    size_t m = t->vcap - 1, len = strlen(t->tok[id]);
    for (size_t i = coop_bpe_hash_str(t->tok[id], len) & m;; i = (i + 1) & m) {
        if (t->vmap[i] < 0 || strcmp(t->tok[t->vmap[i]], t->tok[id]) == 0) {
            t->vmap[i] = id;
            return;
        }
    }
}

static size_t pair_slot(const struct coop_tokenizer *t, uint64_t key)
{
    size_t m = t->pcap - 1;
    size_t i = (size_t)(coop_mix64(key) & m);
    while (t->pkey[i] != 0 && t->pkey[i] != key)
        i = (i + 1) & m;
    return i;
}

int coop_bpe_pair_rank(const struct coop_tokenizer *t, int32_t a, int32_t b, int32_t *merged)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t i = pair_slot(t, key);
    if (t->pkey[i] == 0)
        return INT_MAX;
    *merged = t->pmerged[i];
    return t->prank[i];
}

/* ---- construction ------------------------------------------------------------- */
/* bytes_to_unicode(): printable bytes map to themselves, the rest to 256+k in
 * byte order. order[] receives the dict's insertion order (vocab order). */
void coop_bpe_bytes_to_unicode(uint32_t cp[256], int order[256])
{
    int k = 0, extra = 0;
    bool seen[256] = {false};
    for (int b = 0; b < 256; b++)
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) {
            cp[b] = (uint32_t)b;
            seen[b] = true;
            order[k++] = b;
        }
    for (int b = 0; b < 256; b++)
        if (!seen[b]) {
            cp[b] = (uint32_t)(256 + extra++);
            order[k++] = b;
        }
}

static struct coop_tokenizer *tok_new(int n)
{
    struct coop_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->tok = calloc((size_t)n + 1, sizeof *t->tok);
    t->n = n;
    t->vcap = pow2_above((size_t)n);
    t->vmap = malloc(t->vcap * sizeof *t->vmap);
    pthread_mutex_init(&t->lock, NULL);
    if (!t->tok || !t->vmap) {
        coop_tokenizer_free(t);
        return NULL;
    }
    memset(t->vmap, 0xFF, t->vcap * sizeof *t->vmap);
    return t;
}

/* After tok[] is filled: vocabulary map, byte tables, specials. */
static int tok_index(struct coop_tokenizer *t, const char *src, struct coop_err *e)
{
    for (int i = 0; i < t->n; i++) {
        if (!t->tok[i])
            return coop_fail(e, COOP_E_FORMAT, "%s: no vocabulary entry for id %d", src, i);
        vocab_insert(t, i);
    }
    uint32_t cp[256];
    int order[256];
    coop_bpe_bytes_to_unicode(cp, order);
    memset(t->cp_byte, 0xFF, sizeof t->cp_byte);
    for (int b = 0; b < 256; b++) {
        char s[16];
        size_t l = coop_utf8_put(s, cp[b]);
        t->cp_byte[cp[b]] = (int16_t)b;
        t->byte_id[b] = coop_bpe_vocab_lookup(t, s, l);
        memcpy(s + l, "</w>", 5);
        t->byte_end_id[b] = coop_bpe_vocab_lookup(t, s, l + 4);
        if (t->byte_id[b] < 0 || t->byte_end_id[b] < 0)
            return coop_fail(e, COOP_E_FORMAT, "%s: byte 0x%02X has no vocabulary entry", src, b);
    }
    t->sot = coop_bpe_vocab_lookup(t, "<|startoftext|>", 15);
    t->eot = coop_bpe_vocab_lookup(t, "<|endoftext|>", 13);
    if (t->sot < 0 || t->eot < 0)
        return coop_fail(e, COOP_E_FORMAT, "%s: <|startoftext|> or <|endoftext|> missing", src);
    return 0;
}

/* A vocabulary is text: a control byte other than tab, CR or LF means a
 * binary file was given (gzread passes a file that is not gzip through), and
 * its bytes must not reach the terminal through an error message. */
static int check_text(const char *path, const char *b, size_t n, bool gzipped,
                      struct coop_err *e)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return coop_fail(e, COOP_E_FORMAT,
                             "%s: not a BPE vocabulary: binary data (byte 0x%02X at offset %zu%s)",
                             path, c, i,
                             gzipped ? " of the decompressed text" : "; the file is not gzip'd");
    }
    return 0;
}

/* A merge line for an error message: control bytes as \xNN, at most 60 bytes. */
static const char *shown(const char *s, char *buf, size_t len)
{
    size_t k = 0;
    for (; *s && k + 5 < len && k < 60; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            k += (size_t)snprintf(buf + k, len - k, "\\x%02X", c);
        else
            buf[k++] = (char)c;
    }
    snprintf(buf + k, len - k, "%s", *s ? "..." : "");
    return buf;
}

/* merges[r] = "a b": rank r; a, b and ab must be vocabulary entries. */
static int tok_merges(struct coop_tokenizer *t, char **merges, size_t nm, const char *src,
                      size_t line0, struct coop_err *e)
{
    t->pcap = pow2_above(nm);
    t->pkey = calloc(t->pcap, sizeof *t->pkey);
    t->prank = malloc(t->pcap * sizeof *t->prank);
    t->pmerged = malloc(t->pcap * sizeof *t->pmerged);
    if (!t->pkey || !t->prank || !t->pmerged)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", src);
    char buf[512], show[128];
    for (size_t r = 0; r < nm; r++) {
        const char *sp = strchr(merges[r], ' ');
        size_t la = sp ? (size_t)(sp - merges[r]) : 0, lb = sp ? strlen(sp + 1) : 0;
        if (!sp || !la || !lb || strchr(sp + 1, ' ') || la + lb >= sizeof buf)
            return coop_fail(e, COOP_E_FORMAT, "%s:%zu: merge '%s' is not two symbols", src,
                             line0 + r, shown(merges[r], show, sizeof show));
        memcpy(buf, merges[r], la);
        memcpy(buf + la, sp + 1, lb + 1);
        int32_t a = coop_bpe_vocab_lookup(t, merges[r], la), b = coop_bpe_vocab_lookup(t, sp + 1, lb),
                m = coop_bpe_vocab_lookup(t, buf, la + lb);
        if (a < 0 || b < 0 || m < 0)
            return coop_fail(e, COOP_E_FORMAT, "%s:%zu: merge '%s' uses a symbol missing from "
                             "the vocabulary", src, line0 + r, shown(merges[r], show, sizeof show));
        uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
        size_t i = pair_slot(t, key);
        t->pkey[i] = key;
        t->prank[i] = (int32_t)r;
        t->pmerged[i] = m;
    }
    return 0;
}

/* Splits buf in place into lines (trailing '\r' kept out); returns count. */
static size_t split_lines(char *buf, size_t len, char ***lines)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    char **l = malloc(n * sizeof *l);
    if (!l)
        return 0;
    size_t k = 0;
    l[k++] = buf;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n') {
            buf[i] = '\0';
            if (i > 0 && buf[i - 1] == '\r')
                buf[i - 1] = '\0';
            l[k++] = buf + i + 1;
        }
    *lines = l;
    return k;
}

static int read_gz(const char *path, char **out, size_t *len, struct coop_err *e)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return coop_fail(e, COOP_E_IO, "%s: cannot open", path);
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap + 1);
    int r = 0;
    while (b && (r = gzread(f, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap) {
            char *nb = cap < (256u << 20) ? realloc(b, 2 * cap + 1) : NULL;
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    int zerr = Z_OK;
    char zmsg[128];
    snprintf(zmsg, sizeof zmsg, "%s", gzerror(f, &zerr));
    bool bad = r < 0 || !gzeof(f) || zerr != Z_OK, gzipped = !gzdirect(f);
    gzclose(f);
    int rc = 0;
    if (!b)
        rc = coop_fail(e, COOP_E_NOMEM, "%s: too large or out of memory", path);
    else if (bad && zerr == Z_BUF_ERROR) /* zlib: "unexpected end of file" */
        rc = coop_fail(e, COOP_E_FORMAT,
                       "%s: truncated gzip stream: the file ends after %zu bytes of text "
                       "(was it cut short while copying?)", path, n);
    else if (bad)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: corrupt gzip stream (%s)", path,
                       zerr != Z_OK ? zmsg : "read error");
    else
        rc = check_text(path, b, n, gzipped, e);
    if (rc) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

int coop_tokenizer_load_clip(struct coop_tokenizer **out, const char *path, struct coop_err *e)
{
    char *buf = NULL, **lines = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = read_gz(path, &buf, &len, e);
    if (rc)
        return rc;
    size_t nl = split_lines(buf, len, &lines);
    size_t nm = nl > 1 ? nl - 1 : 0;
    if (nm > CLIP_N_MERGES)
        nm = CLIP_N_MERGES;
    while (nm > 0 && lines[nm][0] == '\0') /* a short file's trailing newline */
        nm--;
    struct coop_tokenizer *t = nl && nm ? tok_new(512 + (int)nm + 2) : NULL;
    if (!t)
        rc = coop_fail(e, nl && nm ? COOP_E_NOMEM : COOP_E_FORMAT, "%s: %s", path,
                       nl && nm ? "out of memory" : "no merges found");
    uint32_t cp[256];
    int order[256], k = 0;
    coop_bpe_bytes_to_unicode(cp, order);
    for (int pass = 0; rc == 0 && pass < 2; pass++)
        for (int i = 0; i < 256; i++) {
            char s[16];
            size_t l = coop_utf8_put(s, cp[order[i]]);
            memcpy(s + l, pass ? "</w>" : "", pass ? 5 : 1);
            t->tok[k++] = coop_strdup(s);
        }
    for (size_t r = 0; rc == 0 && r < nm; r++) {
        char *sp = strchr(lines[r + 1], ' ');
        t->tok[k] = sp ? coop_asprintf("%.*s%s", (int)(sp - lines[r + 1]), lines[r + 1], sp + 1)
                       : coop_strdup(lines[r + 1]);
        k++;
    }
    if (rc == 0) {
        t->tok[k++] = coop_strdup("<|startoftext|>");
        t->tok[k++] = coop_strdup("<|endoftext|>");
        for (int i = 0; i < k && rc == 0; i++)
            if (!t->tok[i])
                rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", path);
    }
    rc = rc ? rc : tok_index(t, path, e);
    rc = rc ? rc : tok_merges(t, lines + 1, nm, path, 2, e);
    free(lines);
    free(buf);
    if (rc) {
        coop_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int coop_tokenizer_load_hf(struct coop_tokenizer **out, const char *vocab_json,
                           const char *merges_txt, struct coop_err *e)
{
    char *vtext = NULL, *mtext = NULL, **lines = NULL;
    size_t vlen, mlen, nl = 0;
    struct coop_json *j = NULL;
    struct coop_tokenizer *t = NULL;
    *out = NULL;
    int rc = coop_read_file(vocab_json, 64u << 20, &vtext, &vlen, e);
    rc = rc ? rc : coop_read_file(merges_txt, 64u << 20, &mtext, &mlen, e);
    rc = rc ? rc : check_text(merges_txt, mtext, mlen, false, e);
    if (rc == 0)
        rc = coop_json_parse(&j, vtext, vlen, vocab_json, e);
    if (rc == 0 && j->type != COOP_JSON_OBJECT)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: not a JSON object", vocab_json);
    if (rc == 0 && !(t = tok_new((int)j->len)))
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", vocab_json);
    for (size_t i = 0; rc == 0 && i < j->len; i++) {
        const struct coop_json *v = &j->items[i];
        long long id;
        if (!v->integral || !coop_json_int(v, 0, (long long)j->len - 1, &id) || t->tok[id])
            rc = coop_fail(e, COOP_E_FORMAT, "%s: entry '%s' has a bad or repeated id",
                           vocab_json, j->keys[i]);
        else if (!(t->tok[id] = coop_strdup(j->keys[i])))
            rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", vocab_json);
    }
    rc = rc ? rc : tok_index(t, vocab_json, e);
    if (rc == 0) {
        nl = split_lines(mtext, mlen, &lines);
        size_t first = nl && lines[0][0] == '#' ? 1 : 0, nm = nl - first;
        while (nm > 0 && lines[first + nm - 1][0] == '\0')
            nm--;
        if (nm > CLIP_N_MERGES) /* transformers' CLIPTokenizer reads no further either */
            nm = CLIP_N_MERGES;
        rc = tok_merges(t, lines + first, nm, merges_txt, first + 1, e);
    }
    free(lines);
    free(vtext);
    free(mtext);
    coop_json_free(j);
    if (rc) {
        coop_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int coop_tokenizer_load(struct coop_tokenizer **out, const char *path, struct coop_err *e)
{
    if (coop_dir_exists(path)) {
        char *gz = coop_asprintf("%s/bpe_simple_vocab_16e6.txt.gz", path);
        char *vj = coop_asprintf("%s/vocab.json", path);
        int rc;
        if (gz && coop_file_exists(gz))
            rc = coop_tokenizer_load(out, gz, e);
        else if (vj && coop_file_exists(vj))
            rc = coop_tokenizer_load(out, vj, e);
        else
            rc = coop_fail(e, COOP_E_NOTFOUND,
                           "%s: neither bpe_simple_vocab_16e6.txt.gz nor vocab.json there", path);
        free(gz);
        free(vj);
        return rc;
    }
    if (coop_str_ends_with(path, ".json")) {
        const char *slash = strrchr(path, '/');
        char *m = slash ? coop_asprintf("%.*s/merges.txt", (int)(slash - path), path)
                        : coop_strdup("merges.txt");
        int rc = m ? coop_tokenizer_load_hf(out, path, m, e)
                   : coop_fail(e, COOP_E_NOMEM, "out of memory");
        free(m);
        return rc;
    }
    return coop_tokenizer_load_clip(out, path, e);
}

int coop_tokenizer_find_near(struct coop_tokenizer **out, const char *checkpoint,
                             struct coop_err *e)
{
    const char *slash = strrchr(checkpoint, '/');
    char *dir = slash ? coop_asprintf("%.*s", (int)(slash - checkpoint), checkpoint)
                      : coop_strdup(".");
    if (!dir)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    int rc = coop_tokenizer_load(out, dir[0] ? dir : "/", e);
    if (rc == COOP_E_NOTFOUND)
        coop_fail_prefix(e, rc, "no vocabulary next to %s (pass one explicitly)", checkpoint);
    free(dir);
    return rc;
}

void coop_tokenizer_free(struct coop_tokenizer *t)
{
    if (!t)
        return;
    for (int i = 0; t->tok && i < t->n; i++)
        free(t->tok[i]);
    for (size_t i = 0; i < t->ccap; i++)
        if (t->cache[i].key) {
            free(t->cache[i].key);
            free(t->cache[i].ids);
        }
    free(t->cache);
    pthread_mutex_destroy(&t->lock);
    free(t->tok);
    free(t->vmap);
    free(t->pkey);
    free(t->prank);
    free(t->pmerged);
    free(t);
}

int coop_tokenizer_vocab_size(const struct coop_tokenizer *t) { return t->n; }
int32_t coop_tokenizer_sot(const struct coop_tokenizer *t) { return t->sot; }
int32_t coop_tokenizer_eot(const struct coop_tokenizer *t) { return t->eot; }

const char *coop_tokenizer_token(const struct coop_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n ? t->tok[id] : NULL;
}
