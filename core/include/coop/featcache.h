/* coop/featcache.h: on-disk cache of frozen image-encoder features, one file
 * per (checkpoint, preprocessing, dataset, split, view) key. The encoder is
 * frozen, so a feature is computed once per image and view and reused by
 * every trial and run. Files are append-only records (index, E floats, a
 * checksum) after a header holding the SHA-256 of the full key text, so a
 * changed checkpoint or preprocessing maps to another file (invalidation by
 * construction), and sparse use of a huge split (16 shots of ImageNet) stays
 * small. A file appears under its name only with a whole header; a kill or
 * a full disk mid-append loses at most the torn last record. Not
 * thread-safe. */
#ifndef COOP_FEATCACHE_H
#define COOP_FEATCACHE_H

#include "coop/common.h"
#include <stdbool.h>

struct coop_featcache;

/* Opens (creating dir and file as needed) the cache for key_text, holding up
 * to n_items features of dim floats. What a crash or a full disk can leave
 * is repaired and reported by coop_featcache_warning: a file shorter than
 * its header or without the magic is replaced by an empty cache; a torn or
 * damaged tail (a record whose checksum or index is wrong) is cut off,
 * keeping the records before it. A whole header of another key, version,
 * dim or item count under this key's name cannot come from a crash and is
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
/* What opening repaired (one line naming the file), or NULL; owned by c. */
COOP_API const char *coop_featcache_warning(const struct coop_featcache *c);
COOP_API void coop_featcache_close(struct coop_featcache *c);

#endif
