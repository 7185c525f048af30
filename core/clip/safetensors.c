/* core/clip/safetensors.c: safetensors reader (mmap, validated header,
 * float conversion) and F32 writer. The reader trusts nothing in the file:
 * every offset is checked against the data buffer before any byte of a
 * tensor is touched. Library code: returns status codes, never prints. */
#include "coop/safetensors.h"
#include "coop/util.h"
#include "coop/json.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */

struct coop_safetensors {
    char *path;
    const uint8_t *map;
    size_t size;
    size_t data_off;               /* 8 + N */
    struct coop_st_tensor *t;      /* sorted by name */
    size_t n;
    char **meta;                   /* key, value pairs */
    size_t n_meta;
    struct coop_json *json;        /* owns the tensor names */
};

static const struct {
    const char *name;
    enum coop_st_dtype d;
    size_t size;
} dtypes[] = {
    {"BOOL", COOP_ST_BOOL, 1}, {"U8", COOP_ST_U8, 1},   {"I8", COOP_ST_I8, 1},
    {"I16", COOP_ST_I16, 2},   {"U16", COOP_ST_U16, 2}, {"F16", COOP_ST_F16, 2},
    {"BF16", COOP_ST_BF16, 2}, {"I32", COOP_ST_I32, 4}, {"U32", COOP_ST_U32, 4},
    {"F32", COOP_ST_F32, 4},   {"I64", COOP_ST_I64, 8}, {"U64", COOP_ST_U64, 8},
    {"F64", COOP_ST_F64, 8},
};

const char *coop_st_dtype_name(enum coop_st_dtype d)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].d == d)
            return dtypes[i].name;
    return "?";
}

size_t coop_st_numel(const struct coop_st_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

/* ---- half precision ------------------------------------------------------ */
float coop_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
    float f;
    if (exp == 0)
        f = ldexpf((float)man, -24);
    else if (exp == 31)
        f = man ? NAN : INFINITY;
    else
        f = ldexpf((float)(man | 0x400), (int)exp - 25);
    return sign ? -f : f;
}

float coop_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t coop_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFF) > 0x7F800000)
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7FFF + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

uint16_t coop_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7FFFFFFF;
    if (a > 0x7F800000)
        return sign | 0x7E00;
    if (a >= 0x477FF000) /* rounds to >= 65520: infinity */
        return sign | 0x7C00;
    if (a < 0x38800000) { /* subnormal or zero in f16: value / 2^-24, rounded */
        float v;
        memcpy(&v, &a, 4);
        return sign | (uint16_t)lrintf(v * 16777216.0f);
    }
    uint32_t r = a + 0x0FFF + ((a >> 13) & 1); /* round to nearest even at bit 13 */
    return sign | (uint16_t)((r - 0x38000000) >> 13);
}

/* ---- reader -------------------------------------------------------------- */
static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const struct coop_st_tensor *)a)->name,
                  ((const struct coop_st_tensor *)b)->name);
}

static int cmp_tensor_begin(const void *a, const void *b)
{
    const struct coop_st_tensor *x = *(const struct coop_st_tensor *const *)a;
    const struct coop_st_tensor *y = *(const struct coop_st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int parse_meta(struct coop_safetensors *st, const struct coop_json *m,
                      struct coop_err *e)
{
    if (m->type != COOP_JSON_OBJECT)
        return coop_fail(e, COOP_E_FORMAT, "%s: __metadata__ is not an object", st->path);
    st->meta = calloc(2 * m->len + 1, sizeof *st->meta);
    if (!st->meta)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", st->path);
    for (size_t i = 0; i < m->len; i++) {
        if (m->items[i].type != COOP_JSON_STRING)
            return coop_fail(e, COOP_E_FORMAT, "%s: __metadata__ value '%s' is not a string",
                             st->path, m->keys[i]);
        st->meta[2 * i] = m->keys[i];
        st->meta[2 * i + 1] = m->items[i].str;
    }
    st->n_meta = m->len;
    return 0;
}

static int parse_entry(struct coop_safetensors *st, const char *name, const struct coop_json *v,
                       struct coop_st_tensor *t, struct coop_err *e)
{
    if (v->type != COOP_JSON_OBJECT)
        return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': entry is not an object", st->path,
                         name);
    const struct coop_json *dt = coop_json_get(v, "dtype"), *sh = coop_json_get(v, "shape"),
                           *off = coop_json_get(v, "data_offsets");
    if (!dt || dt->type != COOP_JSON_STRING)
        return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': missing or invalid dtype",
                         st->path, name);
    size_t k = 0, nd = sizeof dtypes / sizeof dtypes[0];
    while (k < nd && strcmp(dtypes[k].name, dt->str) != 0)
        k++;
    if (k == nd)
        return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': unknown dtype '%s'", st->path,
                         name, dt->str);
    t->name = name;
    t->dtype = dtypes[k].d;
    if (!sh || sh->type != COOP_JSON_ARRAY || sh->len > COOP_ST_MAX_DIMS)
        return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': missing or invalid shape",
                         st->path, name);
    t->ndim = (int)sh->len;
    uint64_t bytes = dtypes[k].size;
    for (size_t i = 0; i < sh->len; i++) {
        const struct coop_json *d = &sh->items[i];
        long long dim;
        if (!d->integral || !coop_json_int(d, 0, 1LL << 40, &dim))
            return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': invalid dimension %zu",
                             st->path, name, i);
        t->shape[i] = dim;
        if (dim && bytes > UINT64_MAX / (uint64_t)dim)
            return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': shape too large", st->path,
                             name);
        bytes *= (uint64_t)dim;
    }
    if (!off || off->type != COOP_JSON_ARRAY || off->len != 2)
        return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': missing or invalid data_offsets",
                         st->path, name);
    long long be[2];
    for (int i = 0; i < 2; i++)
        if (!off->items[i].integral || !coop_json_int(&off->items[i], 0, 1LL << 53, &be[i]))
            return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': invalid data_offsets",
                             st->path, name);
    t->begin = (uint64_t)be[0];
    t->end = (uint64_t)be[1];
    uint64_t data_len = st->size - st->data_off;
    if (t->begin > t->end || t->end > data_len)
        return coop_fail(e, COOP_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] outside the data buffer "
                         "of %llu bytes (file offset %llu)",
                         st->path, name, (unsigned long long)t->begin,
                         (unsigned long long)t->end, (unsigned long long)data_len,
                         (unsigned long long)(st->data_off + t->end));
    if (t->end - t->begin != bytes)
        return coop_fail(e, COOP_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but "
                         "shape x %s needs %llu",
                         st->path, name, (unsigned long long)t->begin,
                         (unsigned long long)t->end, (unsigned long long)(t->end - t->begin),
                         dtypes[k].name, (unsigned long long)bytes);
    t->data = st->map + st->data_off + t->begin;
    return 0;
}

/* Tensors must tile the data buffer exactly: sorted by offset, each starts
 * where the previous ended, the last ends at the end of the file. */
static int check_layout(struct coop_safetensors *st, struct coop_err *e)
{
    /* a name listed twice never gets here: the JSON parser refuses duplicate keys */
    struct coop_st_tensor **by = malloc((st->n + 1) * sizeof *by);
    if (!by)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", st->path);
    for (size_t i = 0; i < st->n; i++)
        by[i] = &st->t[i];
    qsort(by, st->n, sizeof *by, cmp_tensor_begin);
    uint64_t at = 0;
    int rc = 0;
    for (size_t i = 0; i < st->n && !rc; i++) {
        if (by[i]->begin < at)
            rc = coop_fail(e, COOP_E_FORMAT,
                           "%s: tensor '%s' overlaps the previous tensor at data offset %llu",
                           st->path, by[i]->name, (unsigned long long)by[i]->begin);
        else if (by[i]->begin > at)
            rc = coop_fail(e, COOP_E_FORMAT,
                           "%s: hole in the data buffer at data offset %llu before tensor '%s'",
                           st->path, (unsigned long long)at, by[i]->name);
        at = by[i]->end;
    }
    free(by);
    if (!rc && at != st->size - st->data_off)
        rc = coop_fail(e, COOP_E_FORMAT,
                       "%s: data buffer has %llu bytes but the tensors cover %llu (file offset "
                       "%llu)",
                       st->path, (unsigned long long)(st->size - st->data_off),
                       (unsigned long long)at, (unsigned long long)(st->data_off + at));
    return rc;
}

static int parse_header(struct coop_safetensors *st, struct coop_err *e)
{
    const struct coop_json *h = st->json;
    if (h->type != COOP_JSON_OBJECT)
        return coop_fail(e, COOP_E_FORMAT, "%s: header is not a JSON object", st->path);
    st->t = calloc(h->len + 1, sizeof *st->t);
    if (!st->t)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", st->path);
    for (size_t i = 0; i < h->len; i++) {
        int rc;
        if (strcmp(h->keys[i], "__metadata__") == 0) {
            rc = parse_meta(st, &h->items[i], e);
        } else {
            rc = parse_entry(st, h->keys[i], &h->items[i], &st->t[st->n], e);
            st->n += rc == 0;
        }
        if (rc)
            return rc;
    }
    qsort(st->t, st->n, sizeof *st->t, cmp_tensor_name);
    return check_layout(st, e);
}

static int map_file(struct coop_safetensors *st, struct coop_err *e)
{
    int fd = open(st->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return coop_fail(e, COOP_E_IO, "%s: cannot open: %s", st->path, strerror(errno));
    struct stat sb = {0};
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return coop_fail(e, COOP_E_IO, "%s: %s", st->path,
                         S_ISDIR(sb.st_mode) ? "is a folder, not a safetensors file"
                                             : "not a regular file");
    }
    st->size = (size_t)sb.st_size;
    if (st->size < 8) {
        close(fd);
        return coop_fail(e, COOP_E_FORMAT,
                         "%s: truncated: %zu bytes, the 8-byte header length is missing",
                         st->path, st->size);
    }
    void *m = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return coop_fail(e, COOP_E_IO, "%s: mmap failed: %s", st->path, strerror(errno));
    st->map = m;
    return 0;
}

int coop_safetensors_open(struct coop_safetensors **out, const char *path, struct coop_err *e)
{
    *out = NULL;
    struct coop_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", path);
    }
    int rc = map_file(st, e);
    if (rc == 0) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--)
            n = (n << 8) | st->map[i];
        if (n > ST_MAX_HEADER || n > st->size - 8)
            rc = coop_fail(e, COOP_E_FORMAT,
                           "%s: header length %llu at byte offset 0 exceeds the file (%zu bytes)",
                           path, (unsigned long long)n, st->size);
        else if (n < 2)
            rc = coop_fail(e, COOP_E_FORMAT, "%s: header length %llu is too small", path,
                           (unsigned long long)n);
        st->data_off = 8 + (size_t)n;
        if (rc == 0)
            rc = coop_json_parse_bytes(&st->json, (const char *)st->map + 8, (size_t)n, 8, path,
                                       e);
        if (rc == 0)
            rc = parse_header(st, e);
    }
    if (rc) {
        coop_safetensors_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void coop_safetensors_close(struct coop_safetensors *st)
{
    if (!st)
        return;
    if (st->map)
        munmap((void *)st->map, st->size);
    coop_json_free(st->json);
    free(st->t);
    free(st->meta);
    free(st->path);
    free(st);
}

size_t coop_safetensors_count(const struct coop_safetensors *st) { return st->n; }
const char *coop_safetensors_path(const struct coop_safetensors *st) { return st->path; }

const struct coop_st_tensor *coop_safetensors_at(const struct coop_safetensors *st, size_t i)
{
    return i < st->n ? &st->t[i] : NULL;
}

const struct coop_st_tensor *coop_safetensors_find(const struct coop_safetensors *st,
                                                   const char *name)
{
    struct coop_st_tensor key = {.name = name};
    return bsearch(&key, st->t, st->n, sizeof key, cmp_tensor_name);
}

const char *coop_safetensors_meta(const struct coop_safetensors *st, const char *key)
{
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i], key) == 0)
            return st->meta[2 * i + 1];
    return NULL;
}

static void shape_str(char *buf, size_t len, const int64_t *s, int nd)
{
    size_t w = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < nd && w < len; i++)
        w += (size_t)snprintf(buf + w, len - w, i ? ", %lld" : "%lld", (long long)s[i]);
    if (w < len)
        snprintf(buf + w, len - w, "]");
}

int coop_st_tensor_to_f32(const struct coop_safetensors *st, const struct coop_st_tensor *t,
                          float *dst, struct coop_err *e)
{
    size_t n = coop_st_numel(t);
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case COOP_ST_F32:
        memcpy(dst, p, n * 4); /* little-endian host assumed (x86-64, aarch64) */
        return 0;
    case COOP_ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    case COOP_ST_F16:
    case COOP_ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            dst[i] = t->dtype == COOP_ST_F16 ? coop_f16_to_f32(h) : coop_bf16_to_f32(h);
        }
        return 0;
    default:
        return coop_fail(e, COOP_E_UNSUPPORTED, "%s: tensor '%s': dtype %s is not a float type",
                         st->path, t->name, coop_st_dtype_name(t->dtype));
    }
}

int coop_safetensors_read_f32(const struct coop_safetensors *st, const char *name,
                              const int64_t *shape, int ndim, float *dst, struct coop_err *e)
{
    const struct coop_st_tensor *t = coop_safetensors_find(st, name);
    if (!t)
        return coop_fail(e, COOP_E_NOTFOUND, "%s: tensor '%s' not found", st->path, name);
    if (shape) {
        bool ok = t->ndim == ndim;
        for (int i = 0; ok && i < ndim; i++)
            ok = t->shape[i] == shape[i];
        if (!ok) {
            char a[160], b[160];
            shape_str(a, sizeof a, shape, ndim);
            shape_str(b, sizeof b, t->shape, t->ndim);
            return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': wrong shape: expected %s, got %s",
                             st->path, name, a, b);
        }
    }
    return coop_st_tensor_to_f32(st, t, dst, e);
}

/* ---- writer ---------------------------------------------------------------- */
static int put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    return fputc('"', f) == EOF;
}

static int write_header(FILE *f, size_t n, const char *const *names, const int *ndims,
                        const int64_t *const *shapes, const char *const *metadata)
{
    uint64_t off = 0;
    fputc('{', f);
    if (metadata && metadata[0]) {
        fputs("\"__metadata__\":{", f);
        for (size_t i = 0; metadata[i] && metadata[i + 1]; i += 2) {
            if (i)
                fputc(',', f);
            put_json_string(f, metadata[i]);
            fputc(':', f);
            put_json_string(f, metadata[i + 1]);
        }
        fputs(n ? "}," : "}", f);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t numel = 1;
        if (i)
            fputc(',', f);
        put_json_string(f, names[i]);
        fputs(":{\"dtype\":\"F32\",\"shape\":[", f);
        for (int d = 0; d < ndims[i]; d++) {
            fprintf(f, d ? ",%lld" : "%lld", (long long)shapes[i][d]);
            numel *= (uint64_t)shapes[i][d];
        }
        fprintf(f, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                (unsigned long long)(off + 4 * numel));
        off += 4 * numel;
    }
    fputc('}', f);
    return ferror(f);
}

int coop_safetensors_write(const char *path, size_t n, const char *const *names,
                           const int *ndims, const int64_t *const *shapes,
                           const float *const *data, const char *const *metadata,
                           struct coop_err *e)
{
    for (size_t i = 0; i < n; i++) {
        if (ndims[i] < 0 || ndims[i] > COOP_ST_MAX_DIMS)
            return coop_fail(e, COOP_E_INVAL, "%s: tensor '%s': bad rank %d", path, names[i],
                             ndims[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return coop_fail(e, COOP_E_INVAL, "%s: tensor '%s' given twice", path, names[i]);
    }
    char *hdr = NULL;
    size_t hlen = 0;
    FILE *mf = open_memstream(&hdr, &hlen);
    if (!mf)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", path);
    int bad = write_header(mf, n, names, ndims, shapes, metadata);
    fclose(mf);
    if (bad || !hdr) {
        free(hdr);
        return coop_fail(e, COOP_E_NOMEM, "%s: cannot build the header", path);
    }
    size_t padded = (hlen + 7) & ~(size_t)7; /* spaces keep the data 8-byte aligned */
    char *tmp = coop_asprintf("%s.tmp%ld", path, (long)getpid());
    FILE *f = tmp ? fopen(tmp, "wb") : NULL;
    if (!f) {
        free(hdr);
        int rc = coop_fail(e, COOP_E_IO, "%s: cannot create: %s", tmp ? tmp : path,
                           strerror(errno));
        free(tmp);
        return rc;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hlen, f) == hlen;
    for (size_t i = hlen; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    for (size_t i = 0; ok && i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < ndims[i]; d++)
            numel *= (size_t)shapes[i][d];
        ok = fwrite(data[i], sizeof(float), numel, f) == numel;
    }
    ok = (fclose(f) == 0) && ok;
    free(hdr);
    if (!ok || rename(tmp, path) != 0) {
        int rc = coop_fail(e, COOP_E_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    return 0;
}
