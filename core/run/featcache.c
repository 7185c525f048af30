/* featcache.c: append-only feature cache files (see coop/featcache.h).
 * Layout: "COOPFEAT" | u32 version | u32 dim | u64 n_items | 32-byte key hash,
 * then records: u64 index | dim float32, little-endian host order. */
#include "coop/featcache.h"
#include "coop/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FC_MAGIC "COOPFEAT"
#define FC_VERSION 1u
#define FC_HEADER (8 + 4 + 4 + 8 + 32)

struct coop_featcache {
    char *path;
    FILE *f;
    int dim;
    size_t n_items, count;
    int64_t *slot;  /* [n_items] -> row in data, -1 if absent */
    float *data;    /* [cap, dim] */
    size_t cap;
};

static int reserve(struct coop_featcache *c, size_t rows)
{
    if (rows <= c->cap)
        return 0;
    size_t nc = c->cap ? c->cap * 2 : 64;
    while (nc < rows)
        nc *= 2;
    float *nd = realloc(c->data, nc * (size_t)c->dim * sizeof(float));
    if (!nd)
        return -1;
    c->data = nd;
    c->cap = nc;
    return 0;
}

static int load_records(struct coop_featcache *c, struct coop_err *e)
{
    size_t rec = 8 + (size_t)c->dim * sizeof(float);
    float *row = malloc((size_t)c->dim * sizeof(float));
    long good = FC_HEADER;
    uint64_t idx;
    if (!row)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    while (fread(&idx, 8, 1, c->f) == 1 && fread(row, sizeof(float), (size_t)c->dim, c->f) ==
                                               (size_t)c->dim) {
        if (idx >= c->n_items) {
            free(row);
            return coop_fail(e, COOP_E_FORMAT, "%s: record at byte %ld has index %llu >= %zu",
                             c->path, good, (unsigned long long)idx, c->n_items);
        }
        if (c->slot[idx] < 0) {
            if (reserve(c, c->count + 1)) {
                free(row);
                return coop_fail(e, COOP_E_NOMEM, "out of memory");
            }
            c->slot[idx] = (int64_t)c->count++;
        }
        memcpy(c->data + (size_t)c->slot[idx] * c->dim, row, (size_t)c->dim * sizeof(float));
        good += (long)rec;
    }
    free(row);
    /* drop a torn tail record left by a killed writer before appending */
    if (fflush(c->f) != 0 || ftruncate(fileno(c->f), good) != 0 || fseek(c->f, good, SEEK_SET))
        return coop_fail(e, COOP_E_IO, "%s: cannot truncate torn record: %s", c->path,
                         strerror(errno));
    return 0;
}

int coop_featcache_open(const char *dir, const char *key_text, size_t n_items, int dim,
                        struct coop_featcache **out, struct coop_err *e)
{
    uint8_t key[32];
    char hex[65];
    struct coop_sha256 s;
    coop_sha256_init(&s);
    coop_sha256_update(&s, key_text, strlen(key_text));
    coop_sha256_final(&s, key);
    coop_sha256_digest_hex(key, hex);
    hex[24] = '\0'; /* the file name: the digest's first 12 bytes */
    int rc = coop_mkdirs(dir, e);
    if (rc)
        return rc;
    struct coop_featcache *c = calloc(1, sizeof *c);
    if (!c)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    c->path = coop_asprintf("%s/%s.feat", dir, hex);
    c->dim = dim;
    c->n_items = n_items;
    c->slot = malloc((n_items ? n_items : 1) * sizeof *c->slot);
    if (!c->path || !c->slot) {
        coop_featcache_close(c);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_items; i++)
        c->slot[i] = -1;
    c->f = fopen(c->path, "r+b");
    if (!c->f) {
        c->f = fopen(c->path, "w+b");
        if (!c->f) {
            rc = coop_fail(e, COOP_E_IO, "%s: cannot create feature cache: %s", c->path,
                           strerror(errno));
            coop_featcache_close(c);
            return rc;
        }
        uint32_t v = FC_VERSION, d = (uint32_t)dim;
        uint64_t n = n_items;
        if (fwrite(FC_MAGIC, 1, 8, c->f) != 8 || fwrite(&v, 4, 1, c->f) != 1 ||
            fwrite(&d, 4, 1, c->f) != 1 || fwrite(&n, 8, 1, c->f) != 1 ||
            fwrite(key, 1, 32, c->f) != 32 || fflush(c->f) != 0) {
            rc = coop_fail(e, COOP_E_IO, "%s: cannot write header", c->path);
            coop_featcache_close(c);
            return rc;
        }
        *out = c;
        return 0;
    }
    char magic[8];
    uint32_t v = 0, d = 0;
    uint64_t n = 0;
    uint8_t k2[32];
    if (fread(magic, 1, 8, c->f) != 8 || memcmp(magic, FC_MAGIC, 8) != 0 ||
        fread(&v, 4, 1, c->f) != 1 || fread(&d, 4, 1, c->f) != 1 || fread(&n, 8, 1, c->f) != 1 ||
        fread(k2, 1, 32, c->f) != 32)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: not a coop feature cache (bad header); delete it",
                       c->path);
    else if (v != FC_VERSION || d != (uint32_t)dim || n != n_items || memcmp(k2, key, 32) != 0)
        rc = coop_fail(e, COOP_E_FORMAT,
                       "%s: header does not match this key (version %u, dim %u, items %llu); "
                       "delete the file",
                       c->path, v, d, (unsigned long long)n);
    else
        rc = load_records(c, e);
    if (rc) {
        coop_featcache_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

bool coop_featcache_has(const struct coop_featcache *c, size_t i)
{
    return i < c->n_items && c->slot[i] >= 0;
}

const float *coop_featcache_get(const struct coop_featcache *c, size_t i)
{
    return coop_featcache_has(c, i) ? c->data + (size_t)c->slot[i] * c->dim : NULL;
}

int coop_featcache_put(struct coop_featcache *c, size_t i, const float *f, struct coop_err *e)
{
    if (i >= c->n_items)
        return coop_fail(e, COOP_E_INVAL, "%s: index %zu out of range", c->path, i);
    if (c->slot[i] < 0) {
        if (reserve(c, c->count + 1))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        c->slot[i] = (int64_t)c->count++;
    }
    memcpy(c->data + (size_t)c->slot[i] * c->dim, f, (size_t)c->dim * sizeof(float));
    uint64_t idx = i;
    if (fwrite(&idx, 8, 1, c->f) != 1 ||
        fwrite(f, sizeof(float), (size_t)c->dim, c->f) != (size_t)c->dim || fflush(c->f) != 0)
        return coop_fail(e, COOP_E_IO, "%s: write failed: %s", c->path, strerror(errno));
    return 0;
}

size_t coop_featcache_count(const struct coop_featcache *c) { return c->count; }
const char *coop_featcache_path(const struct coop_featcache *c) { return c->path; }

void coop_featcache_close(struct coop_featcache *c)
{
    if (!c)
        return;
    if (c->f)
        fclose(c->f);
    free(c->path);
    free(c->slot);
    free(c->data);
    free(c);
}
