/* tests/common/results_damage.h: damaged copies of results files for the
 * results and report suites. tests/fixtures/results/legacy.h5 is a real
 * results file as coop wrote them before the seal (a toy CoOp trial, 4 shots,
 * written by coop-run at cd0205a9492a);
 * the reproducers below are byte changes to it, found by fuzzing,
 * on which libhdf5 1.10.8 itself crashes, allocates without end or loops. Header
 * only: #include "../common/results_damage.h". */
#ifndef COOP_TESTS_RESULTS_DAMAGE_H
#define COOP_TESTS_RESULTS_DAMAGE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coop_test_damage {
    const char *name;
    struct {
        size_t off;
        unsigned char v;
    } set[4];
    size_t n;
};

static const struct coop_test_damage coop_test_legacy_reproducers[] = {
    {"segv-1", {{1874, 0x67}, {2600, 0x65}, {3545, 0x01}, {3648, 0x11}}, 4},
    {"segv-2", {{1816, 0x90}, {3457, 0x01}}, 2},
    {"bad-attribute-list", {{627, 0x08}, {669, 0x10}, {936, 0x90}, {2989, 0x10}}, 4},
    {"runaway-alloc", {{3649, 0x80}, {7051, 0xf0}, {19708, 0xe9}}, 3},
};
#define COOP_TEST_N_REPRODUCERS \
    (sizeof coop_test_legacy_reproducers / sizeof *coop_test_legacy_reproducers)

/* One changed byte on which libhdf5 loops for ever (reading a string from the
 * global heap); only the child's alarm ends it. */
static const struct coop_test_damage coop_test_legacy_loop = {"loop", {{3553, 0x08}}, 1};

/* Whole file into a malloc'd buffer (NULL on failure). */
static inline unsigned char *coop_test_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    unsigned char *b = len > 0 ? malloc((size_t)len) : NULL;
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = b ? (size_t)len : 0;
    return b;
}

/* Writes n bytes of b to path; 0 or -1. */
static inline int coop_test_spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = fwrite(b, 1, n, f) != n;
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* path/legacy.h5 of the fixtures, in buf. */
static inline void coop_test_legacy_path(char *buf, size_t len)
{
    const char *root = getenv("COOP_SOURCE_ROOT");
    snprintf(buf, len, "%s/tests/fixtures/results/legacy.h5", root ? root : ".");
}

/* Writes legacy.h5 with damage d applied to out; 0 or -1. */
static inline int coop_test_write_reproducer(const struct coop_test_damage *d, const char *out)
{
    char src[1024];
    coop_test_legacy_path(src, sizeof src);
    size_t n;
    unsigned char *b = coop_test_slurp(src, &n);
    if (!b)
        return -1;
    for (size_t i = 0; i < d->n; i++)
        if (d->set[i].off < n)
            b[d->set[i].off] = d->set[i].v;
    int rc = coop_test_spit(out, b, n);
    free(b);
    return rc;
}

#endif
