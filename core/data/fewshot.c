/* fewshot.c: the seeded per-class few-shot sampler and its JSON cache (format
 * and derivation documented in coop/data.h). Library code: reports through
 * struct coop_err and the host's log, never prints. */
#include "coop/data.h"
#include "coop/json.h"
#include "coop/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FEWSHOT_CACHE_MAX_BYTES ((size_t)1 << 28)

static void split_free(struct coop_fewshot_split *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->id[i]);
    free(s->index);
    free(s->label);
    free(s->id);
    memset(s, 0, sizeof *s);
}

void coop_fewshot_free(struct coop_fewshot *fs)
{
    if (!fs)
        return;
    split_free(&fs->train);
    split_free(&fs->val);
    free(fs->dataset);
    free(fs->identity);
    free(fs->cache_path);
    memset(fs, 0, sizeof *fs);
}

static int split_alloc(struct coop_fewshot_split *s, size_t n, struct coop_err *e)
{
    s->n = 0;
    s->index = calloc(n ? n : 1, sizeof *s->index);
    s->label = calloc(n ? n : 1, sizeof *s->label);
    s->id = calloc(n ? n : 1, sizeof *s->id);
    if (!s->index || !s->label || !s->id)
        return coop_fail(e, COOP_E_NOMEM, "few-shot sample: out of memory");
    return 0;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Reads every label of a split (one get_item per item). */
static int split_labels(struct coop_dataset_ref d, enum coop_split sp, int C, int **labels,
                        size_t *n, struct coop_err *e)
{
    *n = d.ops->split_size(d.ds, sp);
    *labels = malloc((*n ? *n : 1) * sizeof **labels);
    if (!*labels)
        return coop_fail(e, COOP_E_NOMEM, "few-shot sample: out of memory");
    for (size_t i = 0; i < *n; i++) {
        struct coop_item it;
        int rc = d.ops->get_item(d.ds, sp, i, &it, e);
        if (rc)
            return rc;
        if (it.label < 0 || it.label >= C)
            return coop_fail(e, COOP_E_FORMAT, "item %zu (%s): label %d outside [0, %d)", i,
                             it.id ? it.id : "?", it.label, C);
        (*labels)[i] = it.label;
    }
    return 0;
}

/* Groups the indices by label (counting sort: ascending within each class):
 * class c owns by_class[start[c] .. start[c + 1]). */
static int bucket_by_label(const int *labels, size_t n, int C, size_t **by_class,
                           size_t **start, struct coop_err *e)
{
    *by_class = malloc((n ? n : 1) * sizeof **by_class);
    *start = calloc((size_t)C + 2, sizeof **start);
    if (!*by_class || !*start)
        return coop_fail(e, COOP_E_NOMEM, "few-shot sample: out of memory");
    size_t *st = *start;
    for (size_t i = 0; i < n; i++)
        st[labels[i] + 2]++;
    for (int c = 0; c < C; c++)
        st[c + 2] += st[c + 1];
    for (size_t i = 0; i < n; i++) /* st[c + 1] is class c's write cursor */
        (*by_class)[st[labels[i] + 1]++] = i;
    return 0;
}

/* Samples `quota` per class from split sp, continuing the stream r. */
static int sample_split(struct coop_fewshot_split *out, struct coop_dataset_ref d,
                        enum coop_split sp, int C, int quota, struct coop_rng *r,
                        struct coop_err *e)
{
    int *labels = NULL;
    size_t n = 0, *by_class = NULL, *start = NULL;
    int rc = split_labels(d, sp, C, &labels, &n, e);
    if (rc == 0)
        rc = split_alloc(out, n < (size_t)C * (size_t)quota ? n : (size_t)C * (size_t)quota, e);
    if (rc == 0)
        rc = bucket_by_label(labels, n, C, &by_class, &start, e);
    for (int c = 0; rc == 0 && c < C; c++) {
        size_t *cand = by_class + start[c], m = start[c + 1] - start[c];
        size_t q = m < (size_t)quota ? m : (size_t)quota;
        if (m > q) {
            for (size_t j = 0; j < q; j++) {
                size_t k = j + (size_t)coop_rng_below(r, m - j);
                size_t t = cand[j];
                cand[j] = cand[k];
                cand[k] = t;
            }
            qsort(cand, q, sizeof *cand, cmp_size);
        }
        for (size_t j = 0; rc == 0 && j < q; j++) {
            struct coop_item it;
            rc = d.ops->get_item(d.ds, sp, cand[j], &it, e);
            if (rc == 0 && !(out->id[out->n] = coop_strdup(it.id ? it.id : "")))
                rc = coop_fail(e, COOP_E_NOMEM, "few-shot sample: out of memory");
            if (rc == 0) {
                out->index[out->n] = cand[j];
                out->label[out->n] = c;
                out->n++;
            }
        }
    }
    free(labels);
    free(by_class);
    free(start);
    return rc;
}

static int val_quota(const struct coop_fewshot_opts *o)
{
    if (o->val_shots >= 0)
        return o->val_shots;
    return o->shots < 4 ? o->shots : 4;
}

/* Everything the sample depends on: the sampler's version, the request and
 * the caller's description of the data (o->source). */
char *coop_fewshot_identity(const struct coop_fewshot_opts *o)
{
    const char *src = o->source ? o->source : "";
    size_t n = strlen(src);
    return coop_asprintf("coop-fewshot sampler v%d\ndataset=%s\nshots=%d\nseed=%llu\n"
                         "val_shots=%d\n%s%s",
                         COOP_FEWSHOT_SAMPLER_VERSION, o->dataset, o->shots,
                         (unsigned long long)o->seed, val_quota(o), src,
                         n && src[n - 1] != '\n' ? "\n" : "");
}

char *coop_fewshot_cache_path(const struct coop_fewshot_opts *o)
{
    if (!o->cache_dir || !o->cache_dir[0])
        return NULL;
    if (!o->hash_in_name)
        return coop_asprintf("%s/fewshot/%s_shots%d_seed%llu.json", o->cache_dir, o->dataset,
                             o->shots, (unsigned long long)o->seed);
    char *id = coop_fewshot_identity(o), hex[65];
    if (!id)
        return NULL;
    coop_sha256_hex(id, strlen(id), hex);
    free(id);
    return coop_asprintf("%s/fewshot/%s_shots%d_seed%llu_%.16s.json", o->cache_dir, o->dataset,
                         o->shots, (unsigned long long)o->seed, hex);
}

static int check_opts(const struct coop_fewshot_opts *o, struct coop_err *e)
{
    if (!o->dataset || !o->dataset[0] || strchr(o->dataset, '/'))
        return coop_fail(e, COOP_E_INVAL, "few-shot sample: invalid dataset name '%s'",
                         o->dataset ? o->dataset : "");
    if (o->shots < 1)
        return coop_fail(e, COOP_E_INVAL, "few-shot sample: shots must be >= 1 (got %d)",
                         o->shots);
    if (o->val_shots < -1)
        return coop_fail(e, COOP_E_INVAL, "few-shot sample: val_shots must be >= -1 (got %d)",
                         o->val_shots);
    return 0;
}

static int fresh_sample(struct coop_fewshot *fs, struct coop_dataset_ref d,
                        const struct coop_fewshot_opts *o, struct coop_err *e)
{
    int C = d.ops->num_classes(d.ds);
    if (C <= 0)
        return coop_fail(e, COOP_E_INVAL, "few-shot sample: dataset '%s' has no classes",
                         o->dataset);
    char label[300];
    snprintf(label, sizeof label, "fewshot/%s/shots%d", o->dataset, o->shots);
    struct coop_rng r;
    coop_rng_seed(&r, coop_seed_derive(o->seed, label));
    int rc = sample_split(&fs->train, d, COOP_SPLIT_TRAIN, C, o->shots, &r, e);
    if (rc == 0)
        rc = sample_split(&fs->val, d, COOP_SPLIT_VAL, C, val_quota(o), &r, e);
    return rc;
}

static int write_split(FILE *f, const char *key, const struct coop_fewshot_split *s)
{
    fprintf(f, "  \"%s\": [", key);
    for (size_t i = 0; i < s->n; i++) {
        fprintf(f, "%s\n    [%zu, %d, ", i ? "," : "", s->index[i], s->label[i]);
        if (coop_json_write_string(f, s->id[i]))
            return -1;
        fputc(']', f);
    }
    fprintf(f, "%s]", s->n ? "\n  " : "");
    return ferror(f) ? -1 : 0;
}

/* The identity text as a JSON array of its lines (readable in the file). */
static void write_identity(FILE *f, const char *id)
{
    fputc('[', f);
    for (const char *p = id; *p;) {
        size_t len = strcspn(p, "\n");
        char *line = strndup(p, len);
        fputs(p == id ? "\n    " : ",\n    ", f);
        coop_json_write_string(f, line ? line : "");
        free(line);
        p += len + (p[len] == '\n');
    }
    fputs("\n  ]", f);
}

int coop_fewshot_write(const struct coop_fewshot *fs, const char *path, struct coop_err *e)
{
    char host[256]; /* hosts sharing a cache over NFS each write their own */
    coop_host_name(host, sizeof host);
    char *tmp = coop_asprintf("%s.tmp-%s-%ld", path, host, (long)getpid());
    if (!tmp)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int rc = coop_fail(e, COOP_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"dataset\": ",
            COOP_FEWSHOT_FORMAT, COOP_FEWSHOT_FORMAT_VERSION);
    coop_json_write_string(f, fs->dataset);
    fputs(",\n  \"identity\": ", f);
    write_identity(f, fs->identity ? fs->identity : "");
    fprintf(f, ",\n  \"shots\": %d,\n  \"seed\": \"%llu\",\n  \"val_shots\": %d,\n", fs->shots,
            (unsigned long long)fs->seed, fs->val_shots);
    int bad = write_split(f, "train", &fs->train);
    fputs(",\n", f);
    bad |= write_split(f, "val", &fs->val);
    fputs("\n}\n", f);
    bad |= ferror(f) != 0;
    bad |= fclose(f) != 0;
    int rc = 0;
    if (bad || rename(tmp, path) != 0) {
        rc = coop_fail(e, COOP_E_IO, "%s: cannot write the few-shot cache: %s", path,
                       strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* Checks one cached [index, label, "id"] entry against the dataset. */
static int read_entry(struct coop_fewshot_split *s, const struct coop_json *ent,
                      struct coop_dataset_ref d, enum coop_split sp, size_t nsplit,
                      const char *path, const char *key, struct coop_err *e)
{
    long long idx, lab;
    if (ent->type != COOP_JSON_ARRAY || ent->len != 3 ||
        !coop_json_int(&ent->items[0], 0, (long long)nsplit - 1, &idx) ||
        !coop_json_int(&ent->items[1], 0, 1 << 30, &lab) ||
        ent->items[2].type != COOP_JSON_STRING)
        return coop_fail(e, COOP_E_FORMAT,
                         "%s:%d:%d: %s entry must be [index < %zu, label, \"id\"] "
                         "(stale or corrupt cache: delete the file to re-sample)",
                         path, ent->line, ent->col, key, nsplit);
    struct coop_item it;
    int rc = d.ops->get_item(d.ds, sp, (size_t)idx, &it, e);
    if (rc)
        return rc;
    if (it.label != (int)lab || strcmp(it.id ? it.id : "", ent->items[2].str) != 0)
        return coop_fail(e, COOP_E_FORMAT,
                         "%s:%d:%d: %s entry (%lld, %lld, \"%s\") does not match the dataset's "
                         "item %lld (%d, \"%s\"): stale cache, delete the file to re-sample",
                         path, ent->line, ent->col, key, idx, lab, ent->items[2].str, idx,
                         it.label, it.id ? it.id : "");
    s->index[s->n] = (size_t)idx;
    s->label[s->n] = it.label;
    if (!(s->id[s->n] = coop_strdup(ent->items[2].str)))
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    s->n++;
    return 0;
}

static int read_split(struct coop_fewshot_split *s, const struct coop_json *root,
                      struct coop_dataset_ref d, enum coop_split sp, const char *path,
                      const char *key, struct coop_err *e)
{
    const struct coop_json *a = coop_json_get(root, key);
    if (!a || a->type != COOP_JSON_ARRAY)
        return coop_fail(e, COOP_E_FORMAT, "%s: missing array \"%s\"", path, key);
    int rc = split_alloc(s, a->len, e);
    size_t nsplit = d.ops->split_size(d.ds, sp);
    for (size_t i = 0; rc == 0 && i < a->len; i++)
        rc = read_entry(s, &a->items[i], d, sp, nsplit, path, key, e);
    return rc;
}

/* Whether a recorded identity (array of lines) is the text id. */
static bool identity_matches(const struct coop_json *a, const char *id)
{
    if (!a || a->type != COOP_JSON_ARRAY)
        return false;
    const char *p = id;
    for (size_t i = 0; i < a->len; i++) {
        if (a->items[i].type != COOP_JSON_STRING)
            return false;
        size_t len = strlen(a->items[i].str);
        if (strncmp(p, a->items[i].str, len) != 0 || p[len] != '\n')
            return false;
        p += len + 1;
    }
    return *p == '\0';
}

/* A file of another format version or identity was drawn for another
 * request (an old file, a hash collision, a copy): *stale says so, and the
 * sampler replaces it. Within one identity the header must match exactly. */
static int read_header(struct coop_fewshot *fs, const struct coop_json *root, const char *path,
                       const struct coop_fewshot_opts *o, const char *identity, bool *stale,
                       struct coop_err *e)
{
    const struct coop_json *fmt = coop_json_get(root, "format");
    const struct coop_json *ds = coop_json_get(root, "dataset");
    const struct coop_json *seed = coop_json_get(root, "seed");
    const struct coop_json *id = coop_json_get(root, "identity");
    long long ver, shots, vshots;
    if (!fmt || fmt->type != COOP_JSON_STRING || strcmp(fmt->str, COOP_FEWSHOT_FORMAT) != 0)
        return coop_fail(e, COOP_E_FORMAT, "%s: not a few-shot cache (\"format\" is not \"%s\")",
                         path, COOP_FEWSHOT_FORMAT);
    *stale = true;
    if (!coop_json_int(coop_json_get(root, "version"), 0, 1 << 30, &ver) ||
        ver != COOP_FEWSHOT_FORMAT_VERSION)
        return coop_fail(e, COOP_E_FORMAT, "%s: few-shot cache of another version (want %d)",
                         path, COOP_FEWSHOT_FORMAT_VERSION);
    if (!identity_matches(id, identity))
        return coop_fail(e, COOP_E_FORMAT,
                         "%s: few-shot cache drawn for another identity (dataset options, data, "
                         "plugin or sampler version)",
                         path);
    *stale = false;
    char seedtxt[32];
    snprintf(seedtxt, sizeof seedtxt, "%llu", (unsigned long long)o->seed);
    if (!ds || ds->type != COOP_JSON_STRING || strcmp(ds->str, o->dataset) != 0 ||
        !coop_json_int(coop_json_get(root, "shots"), 1, 1 << 30, &shots) ||
        shots != o->shots || !seed || seed->type != COOP_JSON_STRING ||
        strcmp(seed->str, seedtxt) != 0 ||
        !coop_json_int(coop_json_get(root, "val_shots"), 0, 1 << 30, &vshots) ||
        vshots != val_quota(o))
        return coop_fail(e, COOP_E_FORMAT,
                         "%s: header does not match dataset '%s', shots %d, seed %s, "
                         "val_shots %d: delete the file to re-sample",
                         path, o->dataset, o->shots, seedtxt, val_quota(o));
    fs->val_shots = (int)vshots;
    return 0;
}

/* Reads a cache file; *stale: it exists for another identity (see read_header). */
static int read_cache(struct coop_fewshot *out, const char *path, struct coop_dataset_ref d,
                      const struct coop_fewshot_opts *o, bool *stale, struct coop_err *e)
{
    struct coop_fewshot fs = {0};
    struct coop_json *root = NULL;
    *stale = false;
    int rc = check_opts(o, e);
    if (rc == 0 && !(fs.identity = coop_fewshot_identity(o)))
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = coop_json_parse_file(&root, path, FEWSHOT_CACHE_MAX_BYTES, e);
    if (rc == 0 && root->type != COOP_JSON_OBJECT)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: top level must be an object", path);
    if (rc == 0)
        rc = read_header(&fs, root, path, o, fs.identity, stale, e);
    if (rc == 0)
        rc = read_split(&fs.train, root, d, COOP_SPLIT_TRAIN, path, "train", e);
    if (rc == 0)
        rc = read_split(&fs.val, root, d, COOP_SPLIT_VAL, path, "val", e);
    coop_json_free(root);
    fs.dataset = coop_strdup(o->dataset);
    fs.cache_path = coop_strdup(path);
    fs.shots = o->shots;
    fs.seed = o->seed;
    fs.from_cache = true;
    if (rc == 0 && (!fs.dataset || !fs.cache_path))
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rc) {
        coop_fewshot_free(&fs);
        return rc;
    }
    *out = fs;
    return 0;
}

int coop_fewshot_read(struct coop_fewshot *out, const char *path, struct coop_dataset_ref d,
                      const struct coop_fewshot_opts *o, struct coop_err *e)
{
    bool stale;
    return read_cache(out, path, d, o, &stale, e);
}

static void host_log(const struct coop_host *h, enum coop_log_level lv, const char *msg)
{
    if (h && h->log)
        h->log(h->ctx, lv, msg);
}

/* Reads the cache file when it exists for this identity: *done says whether
 * *out was filled. A file of another identity is reported and left to be
 * replaced. */
static int try_cache(struct coop_fewshot *out, const char *path, struct coop_dataset_ref d,
                     const struct coop_fewshot_opts *o, const struct coop_host *host,
                     bool *done, struct coop_err *e)
{
    *done = false;
    if (!path || !coop_file_exists(path))
        return 0;
    bool stale;
    int rc = read_cache(out, path, d, o, &stale, e);
    char msg[1200];
    if (rc && stale) {
        snprintf(msg, sizeof msg, "%s; not used, re-sampled", e->msg);
        host_log(host, COOP_LOG_WARN, msg);
        return 0;
    }
    if (rc == 0) {
        *done = true;
        snprintf(msg, sizeof msg, "few-shot sample read from %s", path);
        host_log(host, COOP_LOG_INFO, msg);
    }
    return rc;
}

int coop_fewshot_sample(struct coop_fewshot *out, struct coop_dataset_ref d,
                        const struct coop_fewshot_opts *o, const struct coop_host *host,
                        struct coop_err *e)
{
    int rc = check_opts(o, e);
    if (rc)
        return rc;
    char *path = coop_fewshot_cache_path(o);
    bool done = false;
    if (o->cache_dir && o->cache_dir[0] && !path)
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = try_cache(out, path, d, o, host, &done, e);
    if (rc || done) {
        free(path);
        return rc;
    }
    struct coop_fewshot fs = {0};
    fs.dataset = coop_strdup(o->dataset);
    fs.identity = coop_fewshot_identity(o);
    fs.shots = o->shots;
    fs.seed = o->seed;
    fs.val_shots = val_quota(o);
    rc = fs.dataset && fs.identity ? fresh_sample(&fs, d, o, e)
                                   : coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rc == 0 && path) {
        char *dir = coop_asprintf("%s/fewshot", o->cache_dir);
        rc = dir ? coop_mkdirs(dir, e) : coop_fail(e, COOP_E_NOMEM, "out of memory");
        free(dir);
        if (rc == 0)
            rc = coop_fewshot_write(&fs, path, e);
        if (rc == 0) {
            fs.cache_path = path;
            path = NULL;
            host_log(host, COOP_LOG_INFO, "few-shot sample drawn and cached");
        }
    }
    free(path);
    if (rc) {
        coop_fewshot_free(&fs);
        return rc;
    }
    *out = fs;
    return 0;
}
