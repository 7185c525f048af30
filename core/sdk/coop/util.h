/* coop/util.h: small deterministic helpers every subsystem may use: the
 * project's random number generators, SHA-256, string and file helpers.
 * The RNG definitions are part of the reproducibility contract: golden fixture
 * generators in tests/ reimplement coop_hash_uniform bit for bit. */
#ifndef COOP_UTIL_H
#define COOP_UTIL_H

#include "coop/common.h"
#include <stdbool.h>
#include <stdio.h>

/* ---- random numbers ---------------------------------------------------- */
/* splitmix64 finaliser: z = x; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
 * z = (z ^ (z >> 27)) * 0x94D049BB133111EB; return z ^ (z >> 31). */
COOP_API uint64_t coop_mix64(uint64_t x);

/* Counter-based uniform fill, reproducible in numpy:
 *   x_i = seed + (i + 1) * 0x9E3779B97F4A7C15   (mod 2^64)
 *   u_i = (coop_mix64(x_i) >> 40) * 2^-24      (in [0, 1))
 *   dst[i] = (float)(lo + (hi - lo) * u_i)     (computed in double)      */
COOP_API void coop_hash_uniform(float *dst, size_t n, uint64_t seed, double lo, double hi);

/* Sequential generator (xoshiro256**), seeded through splitmix64. */
struct coop_rng {
    uint64_t s[4];
};
COOP_API void coop_rng_seed(struct coop_rng *r, uint64_t seed);
COOP_API uint64_t coop_rng_u64(struct coop_rng *r);
COOP_API double coop_rng_uniform(struct coop_rng *r);        /* [0, 1), 53 bits */
COOP_API uint64_t coop_rng_below(struct coop_rng *r, uint64_t n); /* unbiased [0, n) */
COOP_API double coop_rng_normal(struct coop_rng *r);         /* N(0, 1), Box-Muller */
/* Fisher-Yates shuffle of n ints. */
COOP_API void coop_rng_shuffle_int(struct coop_rng *r, int *v, size_t n);
/* Derive an independent stream seed from a base seed and a label. */
COOP_API uint64_t coop_seed_derive(uint64_t base, const char *label);

/* ---- SHA-256 ------------------------------------------------------------ */
struct coop_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
};
COOP_API void coop_sha256_init(struct coop_sha256 *s);
COOP_API void coop_sha256_update(struct coop_sha256 *s, const void *data, size_t n);
COOP_API void coop_sha256_final(struct coop_sha256 *s, uint8_t out[32]);
/* A digest from coop_sha256_final as 64 hex characters + NUL. */
COOP_API void coop_sha256_digest_hex(const uint8_t d[32], char out[65]);
/* Hex digest (64 chars + NUL) of a buffer / of a whole file. */
COOP_API void coop_sha256_hex(const void *data, size_t n, char out[65]);
COOP_API int coop_sha256_file(const char *path, char out[65], struct coop_err *e);

/* ---- strings and files -------------------------------------------------- */
COOP_API char *coop_strdup(const char *s);                 /* NULL-safe strdup */
COOP_API bool coop_str_ends_with(const char *s, const char *suffix); /* case-sensitive */
COOP_API char *coop_asprintf(const char *fmt, ...) COOP_PRINTF(1, 2); /* malloc'd */
/* Levenshtein distance (for "did you mean" suggestions). */
COOP_API size_t coop_edit_distance(const char *a, const char *b);
/* Closest candidate within distance max(2, strlen(word)/3), or NULL. */
COOP_API const char *coop_suggest(const char *word, const char *const *cands, size_t n);
/* Reads a whole file (NUL-terminated; *len excludes the NUL). Refuses files
 * larger than max_bytes with COOP_E_NOMEM. */
COOP_API int coop_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                            struct coop_err *e);
/* mkdir -p */
COOP_API int coop_mkdirs(const char *path, struct coop_err *e);
COOP_API bool coop_file_exists(const char *path);
COOP_API bool coop_dir_exists(const char *path);
/* write(2) all of buf[0..n), retrying on EINTR and short writes: 0, or -1 with
 * errno set (ENOSPC on a full disk). */
COOP_API int coop_write_all(int fd, const void *buf, size_t n);
/* This host's name for temporary file names ("<name>.tmp-<host>-<pid>"):
 * gethostname, "localhost" if that fails, with '/' and '-' made '_' so the pid
 * is what follows the last '-'. */
COOP_API void coop_host_name(char *out, size_t len);
/* The parent of process pid as /proc/<pid>/stat gives it, or -1 when the
 * process does not exist or /proc cannot tell. */
COOP_API long coop_proc_parent(long pid);
/* The version every program prints for --version after its own name:
 * "0.1.0 (git <revision>)", the revision being the commit the library was built
 * from (coop_revision.h; "-dirty" for uncommitted changes). Static storage. */
COOP_API const char *coop_version_string(void);
/* COOP_VERBOSE set to anything but "" or "0": executables print their
 * verbose lines (e.g. which BLAS core runs) on stderr. */
COOP_API bool coop_verbose(void);
/* Monotonic seconds. */
COOP_API double coop_now(void);

/* ---- helpers for dataset plugins (core/data/listing.c) -------------------- */
/* Entry names of a directory (no "." / ".." / hidden names), sorted with
 * strcmp. want: 'd' directories only, 'f' regular files only, 0 both. Uses
 * the d_type of readdir and calls stat only where the file system does not
 * report it. *names is one allocation (array + strings): free(*names). */
COOP_API int coop_dir_list(const char *path, char want, char ***names, size_t *n,
                           struct coop_err *e);
/* Why a relative path read from a dataset's own file (a split or list file)
 * would leave the folder it is relative to: "is an absolute path" or "climbs
 * out with '..'"; NULL when it stays inside. The text alone is judged (no file
 * system access), so a symbolic link the user put inside data_root still
 * works. Plugins refuse such entries with the file and line. */
COOP_API const char *coop_relpath_escapes(const char *rel);

/* Aligned float buffers (64-byte alignment, zeroed). Free with coop_free. */
COOP_API float *coop_alloc_floats(size_t n);
COOP_API void *coop_alloc(size_t bytes);
COOP_API void coop_free(void *p);

#endif
