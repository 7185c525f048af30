/* coop/featcache.h: on-disk cache of frozen image-encoder features, one file
 * per (checkpoint, preprocessing, dataset, split, view) key. The encoder is
 * frozen, so a feature is computed once per image and view and reused by
 * every trial and run. Files are append-only records (index, E floats) after
 * a header holding the SHA-256 of the full key text, so a changed checkpoint
 * or preprocessing maps to another file (invalidation by construction), a
 * kill mid-append loses at most the torn last record, and sparse use of a
 * huge split (16 shots of ImageNet) stays small. Not thread-safe. */
#ifndef COOP_FEATCACHE_H
#define COOP_FEATCACHE_H

#include "coop/common.h"
#include <stdbool.h>

struct coop_featcache;

/* Opens (creating dir and file as needed) the cache for key_text, holding up
 * to n_items features of dim floats. A file whose header does not match
 * (another key hashed to the same name, another dim, a corrupt header) is
 * an error naming the file. */
COOP_API int coop_featcache_open(const char *dir, const char *key_text, size_t n_items, int dim,
                                 struct coop_featcache **out, struct coop_err *e);
COOP_API bool coop_featcache_has(const struct coop_featcache *c, size_t i);
/* Features of item i (NULL if absent); valid until the next put or close. */
COOP_API const float *coop_featcache_get(const struct coop_featcache *c, size_t i);
/* Stores and appends to the file (flushed when this returns). */
COOP_API int coop_featcache_put(struct coop_featcache *c, size_t i, const float *f,
                                struct coop_err *e);
COOP_API size_t coop_featcache_count(const struct coop_featcache *c);
COOP_API const char *coop_featcache_path(const struct coop_featcache *c);
COOP_API void coop_featcache_close(struct coop_featcache *c);

#endif
