/* stored.h (internal to core/run): a learned prompt as a results file or a
 * prompt file holds it (stored.c). */
#ifndef COOP_RUN_STORED_H
#define COOP_RUN_STORED_H

#include "coop/matrix.h"
#include "coop/plugin.h"
#include "coop/results.h"

struct stored {
    char *kind, *method, *bb_plugin, *checkpoint, *vocab, *id;
    char **mkeys, **mvals, **bkeys, **bvals, **src_names;
    size_t nm, nb, nsrc;
    struct coop_kv *mkv, *bkv; /* the method's and the backbone's parameters */
    float *ctx;                /* params/ctx */
    size_t ctx_n;
    int ctx_rank;
    size_t ctx_shape[COOP_RESULTS_MAX_RANK];
};

/* Reads file into s (zeroed first; free with coop_rt_stored_free also on error).
 * Refuses methods that are not prompts; errors are prefixed with file. */
int coop_rt_stored_load(const char *file, struct stored *s, struct coop_err *e);
void coop_rt_stored_free(struct stored *s);
/* t zeroed, with the backbone fields of s (for coop_rt_backbone); t points into s. */
void coop_rt_stored_trial(const struct stored *s, struct coop_trial *t);

#endif
