/* coop/data.h: the few-shot sampler and its on-disk cache (host API). The
 * directory helpers dataset plugins share are in the SDK's coop/util.h.
 *
 * Few-shot protocol (CoOp): per class, K training items sampled without
 * replacement from the dataset's train split (all of them when a class has
 * fewer), then min(K, 4) per class from the val split from the same random
 * stream (none when the val split is empty, as for ImageNet, or when
 * val_shots == 0). The result depends only on (dataset name, K, seed):
 *   stream seed = coop_seed_derive(seed, "fewshot/<dataset>/shots<K>")
 *   for each split (train, then val), for each class c = 0..C-1 in order:
 *     candidates = the split's indices with label c, ascending;
 *     if more than the quota: partial Fisher-Yates (for j = 0..q-1:
 *       swap candidates[j] with candidates[j + coop_rng_below(rng, n - j)]),
 *       keep the first q and sort them ascending;
 *   the sample lists the chosen items by class, ascending index within class.
 * With a cache_dir, the sample is stored as
 *   <cache_dir>/fewshot/<dataset>_shots<K>_seed<S>.json
 * (or <dataset>_shots<K>_seed<S>_<h>.json with hash_in_name, h = the first 16
 * hex digits of the SHA-256 of the identity text, coop_fewshot_identity) and
 * read back (instead of re-sampled) whenever that file exists for the same
 * identity, so every method and every run sees the same shots. The file
 * records the full identity (sampler version, dataset, K, seed, val quota and
 * the caller's source text: plugin version, options, data root, listings). A
 * file of another format version or identity (an old file, a collision, a
 * copy) is never used: the sampler logs a warning naming it and replaces it
 * with a fresh sample. A corrupt file, or one of this identity that does not
 * match the dataset (an index out of range, an id or label that differs from
 * the dataset's item), is an error naming the file: the sampler never
 * silently replaces shots other runs may have used. */
#ifndef COOP_DATA_H
#define COOP_DATA_H

#include "coop/plugin.h"

#define COOP_FEWSHOT_FORMAT "coop-fewshot"
#define COOP_FEWSHOT_FORMAT_VERSION 2
/* Bumped whenever the derivation above changes: part of the identity. */
#define COOP_FEWSHOT_SAMPLER_VERSION 1

/* Chosen items of one split: index into the dataset's split, label, and the
 * item's stable id (owned by the sample). */
struct coop_fewshot_split {
    size_t n;
    size_t *index;
    int *label;
    char **id;
};

struct coop_fewshot {
    char *dataset;
    char *identity; /* coop_fewshot_identity of the request (recorded in the file) */
    int shots, val_shots; /* val_shots: the per-class quota actually used */
    uint64_t seed;
    struct coop_fewshot_split train, val;
    bool from_cache; /* true when read from the cache file */
    char *cache_path; /* the cache file used or written, or NULL */
};

struct coop_fewshot_opts {
    /* Name used for the seed derivation and the cache file name: the dataset's
     * plugin name. Variants of one dataset (other options, data root) are kept
     * apart by source and hash_in_name. */
    const char *dataset;
    int shots;           /* K >= 1 */
    uint64_t seed;
    int val_shots;       /* -1: min(K, 4) (the protocol); 0: no val sample */
    const char *cache_dir; /* NULL: no cache */
    /* Text naming everything else the listing and sample depend on (the
     * runner's: dataset plugin and version, options, data root, SHA-256 of
     * the train and val listings); part of the identity. NULL: none. */
    const char *source;
    /* Put the identity's hash in the file name: set when the dataset's
     * options make variants of one dataset name. */
    bool hash_in_name;
};

/* A dataset as the sampler sees it: the ops table and the open handle. */
struct coop_dataset_ref {
    const struct coop_dataset_ops *ops;
    struct coop_dataset *ds;
};

/* Samples (or reads from the cache) into *out; free with coop_fewshot_free.
 * host may be NULL; when given, one INFO line says where the shots came from.
 * Errors: COOP_E_INVAL (bad options), COOP_E_FORMAT (corrupt or mismatched
 * cache file: the message names it), COOP_E_IO, COOP_E_NOMEM, or whatever
 * the dataset's get_item returned. */
COOP_API int coop_fewshot_sample(struct coop_fewshot *out, struct coop_dataset_ref d,
                                 const struct coop_fewshot_opts *o,
                                 const struct coop_host *host, struct coop_err *e);
COOP_API void coop_fewshot_free(struct coop_fewshot *fs);
/* The cache path for these options (malloc'd), or NULL without a cache_dir. */
COOP_API char *coop_fewshot_cache_path(const struct coop_fewshot_opts *o);
/* The identity text of a request (malloc'd; NULL when out of memory). */
COOP_API char *coop_fewshot_identity(const struct coop_fewshot_opts *o);
/* Writes / reads one sample in the cache format (used by coop_fewshot_sample;
 * public for tools and tests). Reading checks the recorded identity and the
 * header against o (COOP_E_FORMAT naming the file when they differ) and each
 * item against the dataset. Writing goes through a temporary file + rename. */
COOP_API int coop_fewshot_write(const struct coop_fewshot *fs, const char *path,
                                struct coop_err *e);
COOP_API int coop_fewshot_read(struct coop_fewshot *out, const char *path,
                               struct coop_dataset_ref d, const struct coop_fewshot_opts *o,
                               struct coop_err *e);

/* ---- export (core/data/export.c) ---------------------------------------------
 * A dataset's splits in the published layout, so other prompt-learning code
 * bases can read them (coop-export-dataset). */
struct coop_export_opts {
    const char *out_dir;
    const char *json_name;      /* file name of the split JSON */
    bool splits[3];             /* which of train/val/test to write */
    const char *sheet;          /* contact sheet PNG path, or NULL */
    int sheet_n;                /* images in the contact sheet (from test) */
    /* Called after each split is written (may be NULL): progress. */
    void (*on_split)(void *ctx, const char *split, size_t n_images);
    void *ctx;
};
/* Writes out_dir/images/<id>.png for every item of the chosen splits,
 * out_dir/<json_name> ({"train": [[rel_path, label, classname], ...], ...},
 * paths relative to out_dir/images), out_dir/meta.json (class names,
 * template, source_class) and the contact sheet. */
COOP_API int coop_dataset_export(const struct coop_dataset_ops *ops, struct coop_dataset *ds,
                                 const char *name, const struct coop_export_opts *o,
                                 struct coop_err *e);
/* Writes {"train": [[rel_path, label, classname], ...], "val": [...]} for
 * the given item indices (a few-shot sample), paths as in the split JSON. */
COOP_API int coop_dataset_export_fewshot(const struct coop_dataset_ops *ops,
                                         struct coop_dataset *ds, const size_t *train,
                                         size_t n_train, const size_t *val, size_t n_val,
                                         const char *path, struct coop_err *e);

#endif
