/* featcache.c: append-only feature cache files (see coop/featcache.h).
 * Layout: "COOPFEAT" | u32 version | u32 dim | u64 n_items | 32-byte key hash,
 * then records: u64 index | dim float32 | u64 FNV-1a of the index and floats,
 * little-endian host order. A file only ever appears under its name with a
 * whole header (written under a temporary name, then linked or renamed);
 * records are appended whole, one write() each, under a whole-file fcntl
 * write lock that opening holds too while it reads and repairs: processes
 * sharing a cache (on one host or over NFS, whose clients honour fcntl
 * locks) never interleave inside a record, and a reader never takes a
 * record being written for a torn tail and cuts it off. Never prints: what
 * was repaired is reported through coop_featcache_warning. */
#include "coop/featcache.h"
#include "coop/util.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FC_MAGIC "COOPFEAT"
#define FC_VERSION 2u
#define FC_HEADER (8 + 4 + 4 + 8 + 32)

struct coop_featcache {
    char *path;
    int fd;
    int dim;
    size_t n_items, count;
    int64_t *slot;  /* [n_items] -> row in data, -1 if absent */
    float *data;    /* [cap, dim] */
    size_t cap;
    uint8_t *rec;   /* one record's bytes */
    size_t rec_len;
    char *warning;  /* what opening repaired, or NULL */
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

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void header_bytes(uint8_t *h, int dim, size_t n_items, const uint8_t *key)
{
    uint32_t v = FC_VERSION, d = (uint32_t)dim;
    uint64_t n = n_items;
    memcpy(h, FC_MAGIC, 8);
    memcpy(h + 8, &v, 4);
    memcpy(h + 12, &d, 4);
    memcpy(h + 16, &n, 8);
    memcpy(h + 24, key, 32);
}

/* Removes this cache file's temporaries that a process of this host left
 * behind when it was killed between writing and linking one (".BASE.tmp-
 * HOST-PID" whose PID no longer runs). Temporaries of other hosts, or of a
 * process that is still alive, are left alone. */
static void remove_stale_tmp(const char *dir, const char *base, const char *host)
{
    char *prefix = coop_asprintf(".%s.tmp-%s-", base, host);
    DIR *d = prefix ? opendir(dir) : NULL;
    size_t pl = prefix ? strlen(prefix) : 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, prefix, pl) != 0)
            continue;
        char *end;
        long pid = strtol(de->d_name + pl, &end, 10);
        if (*end || pid <= 0 || (pid_t)pid == getpid() ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char *p = coop_asprintf("%s/%s", dir, de->d_name);
        if (p)
            unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    free(prefix);
}

/* Puts a file holding only the header under c->path: written and synced
 * under a hidden temporary name first, so the name never shows a torn
 * header. replace = 0 links it (an existing file wins: *lost = 1), else it
 * is renamed over whatever is there. */
static int create_file(struct coop_featcache *c, const char *dir, const uint8_t *key,
                       int replace, int *lost, struct coop_err *e)
{
    char host[256];
    coop_host_name(host, sizeof host);
    const char *base = strrchr(c->path, '/') + 1;
    remove_stale_tmp(dir, base, host);
    char *tmp = coop_asprintf("%s/.%s.tmp-%s-%ld", dir, base, host, (long)getpid());
    if (!tmp)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    uint8_t h[FC_HEADER];
    header_bytes(h, c->dim, c->n_items, key);
    int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || coop_write_all(fd, h, sizeof h) || fsync(fd)) {
        rc = coop_fail(e, COOP_E_IO, "%s: cannot create feature cache: %s", c->path,
                       strerror(errno));
    }
    if (fd >= 0 && close(fd) && !rc)
        rc = coop_fail(e, COOP_E_IO, "%s: cannot create feature cache: %s", c->path,
                       strerror(errno));
    *lost = 0;
    if (!rc && !replace && link(tmp, c->path) != 0) {
        if (errno == EEXIST)
            *lost = 1; /* another process created it first: use that one */
        else
            replace = 1; /* a file system without hard links */
    }
    if (!rc && replace && rename(tmp, c->path) != 0)
        rc = coop_fail(e, COOP_E_IO, "%s: cannot create feature cache: %s", c->path,
                       strerror(errno));
    unlink(tmp);
    free(tmp);
    return rc;
}

/* Takes (F_WRLCK) or drops (F_UNLCK) the whole-file lock, waiting for it. */
static int lock_file(struct coop_featcache *c, short type, struct coop_err *e)
{
    struct flock l;
    memset(&l, 0, sizeof l);
    l.l_type = type;
    l.l_whence = SEEK_SET;
    while (fcntl(c->fd, F_SETLKW, &l) != 0)
        if (errno != EINTR)
            return coop_fail(e, COOP_E_IO, "%s: cannot %s the feature cache: %s", c->path,
                             type == F_UNLCK ? "unlock" : "lock", strerror(errno));
    return 0;
}

/* A record that does not check out ends the file's good part. */
static bool record_ok(const struct coop_featcache *c, uint64_t *idx)
{
    size_t body = c->rec_len - 8;
    uint64_t check;
    memcpy(idx, c->rec, 8);
    memcpy(&check, c->rec + body, 8);
    return check == fnv1a(c->rec, body) && *idx < c->n_items;
}

static int load_records(struct coop_featcache *c, off_t size, struct coop_err *e)
{
    off_t off = FC_HEADER;
    uint64_t idx;
    while (off + (off_t)c->rec_len <= size &&
           pread(c->fd, c->rec, c->rec_len, off) == (ssize_t)c->rec_len && record_ok(c, &idx)) {
        if (c->slot[idx] < 0) {
            if (reserve(c, c->count + 1))
                return coop_fail(e, COOP_E_NOMEM, "out of memory");
            c->slot[idx] = (int64_t)c->count++;
        }
        memcpy(c->data + (size_t)c->slot[idx] * c->dim, c->rec + 8,
               (size_t)c->dim * sizeof(float));
        off += (off_t)c->rec_len;
    }
    if (off == size)
        return 0;
    /* a killed or starved writer's torn record, or a tail that does not
     * check out: drop it (and anything after it) before appending */
    if (ftruncate(c->fd, off) != 0)
        return coop_fail(e, COOP_E_IO, "%s: cannot cut off a torn record: %s", c->path,
                         strerror(errno));
    c->warning = coop_asprintf("%s: dropped %lld bytes after the last whole record "
                               "(a torn or damaged tail; kept %zu features)",
                               c->path, (long long)(size - off), c->count);
    return 0;
}

/* Checks the header of the open file. Returns 1 for a torn or foreign file
 * (to be rebuilt), 0 when it is this key's, else an error. */
static int check_header(struct coop_featcache *c, const uint8_t *key, off_t size,
                        struct coop_err *e)
{
    uint8_t h[FC_HEADER], want[FC_HEADER];
    if (size < FC_HEADER || pread(c->fd, h, FC_HEADER, 0) != FC_HEADER ||
        memcmp(h, FC_MAGIC, 8) != 0)
        return 1;
    header_bytes(want, c->dim, c->n_items, key);
    if (memcmp(h, want, FC_HEADER) == 0)
        return 0;
    /* A whole header of another key under this key's digest cannot come from
     * a crash or a full disk, so it is not silently replaced. */
    uint32_t v, d;
    uint64_t n;
    memcpy(&v, h + 8, 4);
    memcpy(&d, h + 12, 4);
    memcpy(&n, h + 16, 8);
    return coop_fail(e, COOP_E_FORMAT,
                     "%s: header does not match this key (version %u, dim %u, items %llu; "
                     "want %u, %d, %zu); delete the file",
                     c->path, v, d, (unsigned long long)n, FC_VERSION, c->dim, c->n_items);
}

/* Under the lock: reads the records of a file with this key's header. */
static int load_locked(struct coop_featcache *c, const uint8_t *key, struct coop_err *e)
{
    struct stat st;
    int rc = lock_file(c, F_WRLCK, e);
    if (rc)
        return rc;
    if (fstat(c->fd, &st) != 0)
        rc = coop_fail(e, COOP_E_IO, "%s: %s", c->path, strerror(errno));
    if (!rc && (rc = check_header(c, key, st.st_size, e)) == 0)
        rc = load_records(c, st.st_size, e);
    struct coop_err ue;
    int urc = lock_file(c, F_UNLCK, rc ? &ue : e);
    return rc ? rc : urc;
}

static int open_existing(struct coop_featcache *c, const char *dir, const uint8_t *key,
                         struct coop_err *e)
{
    struct stat st;
    if (fstat(c->fd, &st) != 0)
        return coop_fail(e, COOP_E_IO, "%s: %s", c->path, strerror(errno));
    int rc = load_locked(c, key, e);
    if (rc != 1)
        return rc;
    int lost;
    if ((rc = create_file(c, dir, key, 1, &lost, e)))
        return rc;
    close(c->fd);
    c->fd = open(c->path, O_RDWR | O_APPEND);
    if (c->fd < 0)
        return coop_fail(e, COOP_E_IO, "%s: %s", c->path, strerror(errno));
    c->warning = coop_asprintf("%s: not a whole feature cache (%lld bytes, torn or bad "
                               "header); discarded and rebuilt",
                               c->path, (long long)st.st_size);
    return 0;
}

static int open_file(struct coop_featcache *c, const char *dir, const uint8_t *key,
                     struct coop_err *e)
{
    c->fd = open(c->path, O_RDWR | O_APPEND);
    if (c->fd < 0 && errno == ENOENT) {
        int lost, rc = create_file(c, dir, key, 0, &lost, e);
        if (rc)
            return rc;
        c->fd = open(c->path, O_RDWR | O_APPEND);
        if (c->fd >= 0 && !lost)
            return 0;
    }
    if (c->fd < 0)
        return coop_fail(e, COOP_E_IO, "%s: cannot open feature cache: %s", c->path,
                         strerror(errno));
    return open_existing(c, dir, key, e);
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
    c->fd = -1;
    c->path = coop_asprintf("%s/%s.feat", dir, hex);
    c->dim = dim;
    c->n_items = n_items;
    c->rec_len = 8 + (size_t)dim * sizeof(float) + 8;
    c->slot = malloc((n_items ? n_items : 1) * sizeof *c->slot);
    c->rec = malloc(c->rec_len);
    if (!c->path || !c->slot || !c->rec) {
        coop_featcache_close(c);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_items; i++)
        c->slot[i] = -1;
    if ((rc = open_file(c, dir, key, e))) {
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

/* Appends c->rec under the lock; a failed write is cut off where the file
 * ended, so no torn record stays behind. */
static int append_locked(struct coop_featcache *c, struct coop_err *e)
{
    struct stat st;
    int rc = lock_file(c, F_WRLCK, e);
    if (rc)
        return rc;
    if (fstat(c->fd, &st) != 0) {
        rc = coop_fail(e, COOP_E_IO, "%s: %s", c->path, strerror(errno));
    } else if (coop_write_all(c->fd, c->rec, c->rec_len)) {
        int err = errno;
        int cut = ftruncate(c->fd, st.st_size) == 0;
        rc = coop_fail(e, COOP_E_IO, "%s: write failed: %s%s", c->path, strerror(err),
                       cut ? "" : " (the torn record is dropped at the next open)");
    }
    struct coop_err ue;
    int urc = lock_file(c, F_UNLCK, rc ? &ue : e);
    return rc ? rc : urc;
}

int coop_featcache_put(struct coop_featcache *c, size_t i, const float *f, struct coop_err *e)
{
    if (i >= c->n_items)
        return coop_fail(e, COOP_E_INVAL, "%s: index %zu out of range", c->path, i);
    uint64_t idx = i, check;
    size_t body = c->rec_len - 8;
    memcpy(c->rec, &idx, 8);
    memcpy(c->rec + 8, f, (size_t)c->dim * sizeof(float));
    check = fnv1a(c->rec, body);
    memcpy(c->rec + body, &check, 8);
    int rc = append_locked(c, e);
    if (rc)
        return rc;
    if (c->slot[i] < 0) {
        if (reserve(c, c->count + 1))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        c->slot[i] = (int64_t)c->count++;
    }
    memcpy(c->data + (size_t)c->slot[i] * c->dim, f, (size_t)c->dim * sizeof(float));
    return 0;
}

size_t coop_featcache_count(const struct coop_featcache *c) { return c->count; }
const char *coop_featcache_path(const struct coop_featcache *c) { return c->path; }
const char *coop_featcache_warning(const struct coop_featcache *c) { return c->warning; }

void coop_featcache_close(struct coop_featcache *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->path);
    free(c->slot);
    free(c->data);
    free(c->rec);
    free(c->warning);
    free(c);
}
