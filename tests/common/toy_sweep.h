/* tests/common/toy_sweep.h: a registry of the built plugins and a sweep of
 * the toy plugins in a scratch folder, for the tests that need trial files to
 * work on. Header only: #include "../common/toy_sweep.h" (needs Check). */
#ifndef COOP_TESTS_TOY_SWEEP_H
#define COOP_TESTS_TOY_SWEEP_H

#include "coop/loader.h"
#include "coop/matrix.h"
#include "coop/run.h"
#include "coop/util.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Every plugin of the build tree (COOP_PLUGIN_PATH); free with coop_registry_free. */
static inline struct coop_registry *coop_test_registry(void)
{
    struct coop_registry *r = NULL;
    struct coop_err e;
    ck_assert_int_eq(coop_registry_create(&r, &e), 0);
    ck_assert_msg(coop_registry_discover(r, NULL, 0, &e) == 0, "%s", e.msg);
    return r;
}

/* Writes dir/toy.ckpt and dir/name = "results_dir: dir/results" + body, and
 * runs that sweep with the cache in dir/cache; *s is the sweep's summary
 * (free with coop_run_summary_free). */
static inline void coop_test_toy_sweep(struct coop_registry *reg, const char *dir,
                                       const char *name, const char *body,
                                       struct coop_run_summary *s)
{
    char *ck = coop_asprintf("%s/toy.ckpt", dir), *yaml = coop_asprintf("%s/%s", dir, name);
    FILE *f = fopen(ck, "w");
    ck_assert_ptr_nonnull(f);
    fputs("toy", f);
    fclose(f);
    f = fopen(yaml, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "results_dir: %s/results\n%s", dir, body);
    fclose(f);
    struct coop_matrix_resolver res;
    coop_run_resolver(reg, &res);
    struct coop_matrix *m = NULL;
    struct coop_err e;
    ck_assert_msg(coop_matrix_load(yaml, &res, &m, &e) == 0, "%s", e.msg);
    char *cache = coop_asprintf("%s/cache", dir);
    struct coop_run_options o = {.cache_dir = cache, .out = NULL};
    ck_assert_msg(coop_run_sweep(m, reg, &o, s, &e) == 0, "%s", e.msg);
    coop_matrix_free(m);
    free(cache);
    free(ck);
    free(yaml);
}

#endif
