/* tests/common/results_compare.h: two results folders hold the same trials
 * with the same stored results: every trial file of one has its twin in the
 * other, completed, with the same config and every dataset (metrics, curves,
 * confusions, learned parameters, few-shot samples) equal bit for bit; only
 * timing/ may differ. Check assertions; header only, like check_run.h:
 * #include "../common/results_compare.h". */
#ifndef COOP_TESTS_RESULTS_COMPARE_H
#define COOP_TESTS_RESULTS_COMPARE_H

#include "coop/results.h"
#include "coop/util.h"
#include <check.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static inline char **coop_test_list_h5(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    char **v = NULL;
    struct dirent *de;
    *n = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && strstr(de->d_name, ".h5")) {
            v = realloc(v, (*n + 1) * sizeof *v);
            v[(*n)++] = coop_strdup(de->d_name);
        }
    closedir(d);
    for (size_t i = 1; i < *n; i++) /* insertion sort: a handful of names */
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v;
}

/* One dataset: numbers compared as float64 (exact for the stored f32, f64 and
 * i32), strings as strings. */
static inline void coop_test_compare_dataset(struct coop_results_reader *a,
                                             struct coop_results_reader *b, const char *path,
                                             const char *file)
{
    struct coop_err e;
    int ra, rb;
    size_t sa[COOP_RESULTS_MAX_RANK], sb[COOP_RESULTS_MAX_RANK];
    char **stra, **strb;
    if (coop_results_read_strings(a, path, &stra, &ra, sa, &e) == 0) {
        ck_assert_msg(coop_results_read_strings(b, path, &strb, &rb, sb, &e) == 0, "%s: %s: %s",
                      file, path, e.msg);
        ck_assert_int_eq(ra, rb);
        size_t n = 1;
        for (int i = 0; i < ra; i++)
            n *= sa[i];
        for (int i = 0; i < ra; i++)
            ck_assert_uint_eq(sa[i], sb[i]);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(strcmp(stra[i], strb[i]) == 0, "%s: %s[%zu] differs", file, path, i);
        coop_results_free_strings(stra, n);
        coop_results_free_strings(strb, n);
        return;
    }
    double *da, *db;
    ck_assert_msg(coop_results_read_f64(a, path, &da, &ra, sa, &e) == 0, "%s: %s", file, e.msg);
    ck_assert_msg(coop_results_read_f64(b, path, &db, &rb, sb, &e) == 0, "%s: %s", file, e.msg);
    ck_assert_int_eq(ra, rb);
    size_t n = 1;
    for (int i = 0; i < ra; i++) {
        ck_assert_uint_eq(sa[i], sb[i]);
        n *= sa[i];
    }
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&da[i], &db[i], sizeof *da) == 0,
                      "%s: %s[%zu]: %.17g in a, %.17g in b", file, path, i,
                      da[i], db[i]);
    free(da);
    free(db);
}

/* Walks group path of both files: same members, same data; timing/ skipped. */
static inline size_t coop_test_compare_group(struct coop_results_reader *a,
                                             struct coop_results_reader *b, const char *path,
                                             const char *file)
{
    struct coop_err e;
    char **na, **nb;
    size_t n_a, n_b, checked = 0;
    if (coop_results_list(a, path, &na, &n_a, &e) != 0) {
        coop_test_compare_dataset(a, b, path, file);
        return 1;
    }
    ck_assert_msg(coop_results_list(b, path, &nb, &n_b, &e) == 0, "%s: %s", file, e.msg);
    ck_assert_msg(n_a == n_b, "%s: group %s has %zu members in a, %zu in b", file, path, n_a,
                  n_b);
    for (size_t i = 0; i < n_a; i++) {
        ck_assert_str_eq(na[i], nb[i]);
        char *child = coop_asprintf("%s%s%s", path, strcmp(path, "/") ? "/" : "", na[i]);
        if (strcmp(child, "/timing") != 0)
            checked += coop_test_compare_group(a, b, child, file);
        free(child);
    }
    coop_results_free_strings(na, n_a);
    coop_results_free_strings(nb, n_b);
    return checked;
}

static inline void coop_test_compare_attr(struct coop_results_reader *a,
                                          struct coop_results_reader *b, const char *name,
                                          const char *file)
{
    struct coop_err e;
    char *va, *vb;
    ck_assert_msg(coop_results_read_attr_str(a, name, &va, &e) == 0, "%s: %s", file, e.msg);
    ck_assert_msg(coop_results_read_attr_str(b, name, &vb, &e) == 0, "%s: %s", file, e.msg);
    ck_assert_msg(strcmp(va, vb) == 0, "%s: attribute %s: '%s' vs '%s'", file, name, va, vb);
    free(va);
    free(vb);
}

/* Every trial file of dir_a has its twin in dir_b with the same contents;
 * returns the number of trial files. */
static inline size_t coop_test_compare_folders(const char *dir_a, const char *dir_b)
{
    size_t n_a, n_b;
    char **fa = coop_test_list_h5(dir_a, &n_a), **fb = coop_test_list_h5(dir_b, &n_b);
    ck_assert_uint_eq(n_a, n_b);
    for (size_t i = 0; i < n_a; i++) {
        ck_assert_str_eq(fa[i], fb[i]);
        char *pa = coop_asprintf("%s/%s", dir_a, fa[i]), *pb = coop_asprintf("%s/%s", dir_b, fb[i]);
        struct coop_results_reader *a, *b;
        struct coop_err e;
        ck_assert_msg(coop_results_open(pa, &a, &e) == 0, "%s", e.msg);
        ck_assert_msg(coop_results_open(pb, &b, &e) == 0, "%s", e.msg);
        coop_test_compare_attr(a, b, "status", fa[i]);
        coop_test_compare_attr(a, b, "config", fa[i]);
        char *status;
        ck_assert_int_eq(coop_results_read_attr_str(a, "status", &status, &e), 0);
        ck_assert_str_eq(status, "completed");
        free(status);
        ck_assert_uint_gt(coop_test_compare_group(a, b, "/", fa[i]), 0);
        coop_results_close(a);
        coop_results_close(b);
        free(pa), free(pb), free(fa[i]), free(fb[i]);
    }
    free(fa);
    free(fb);
    return n_a;
}

#endif
