/* test_featcache.c: the feature cache: persistence, invalidation by key (a
 * changed checkpoint or preprocessing is another key, hence another file),
 * a torn last record from a killed writer, and a corrupt header. */
#include "coop/featcache.h"
#include "coop/util.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

static char dir[256];

START_TEST(persist_invalidate_and_recover)
{
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "featcache"), 0);
    struct coop_featcache *c;
    struct coop_err e;
    const char *key = "checkpoint=aaa\npreprocess=v1\nview=0\n";
    float f[3][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
    ck_assert_int_eq(coop_featcache_open(dir, key, 10, 4, &c, &e), 0);
    ck_assert(!coop_featcache_has(c, 2));
    ck_assert_int_eq(coop_featcache_put(c, 2, f[0], &e), 0);
    ck_assert_int_eq(coop_featcache_put(c, 7, f[1], &e), 0);
    ck_assert_int_eq(coop_featcache_put(c, 9, f[2], &e), 0);
    ck_assert_int_eq(coop_featcache_put(c, 10, f[2], &e), COOP_E_INVAL);
    char *path = coop_strdup(coop_featcache_path(c));
    coop_featcache_close(c);
    /* persisted */
    ck_assert_int_eq(coop_featcache_open(dir, key, 10, 4, &c, &e), 0);
    ck_assert_uint_eq(coop_featcache_count(c), 3);
    ck_assert(memcmp(coop_featcache_get(c, 7), f[1], sizeof f[1]) == 0);
    coop_featcache_close(c);
    /* another checkpoint or preprocessing: another file, nothing reused */
    ck_assert_int_eq(coop_featcache_open(dir, "checkpoint=bbb\npreprocess=v1\nview=0\n", 10, 4,
                                         &c, &e), 0);
    ck_assert_str_ne(coop_featcache_path(c), path);
    ck_assert_uint_eq(coop_featcache_count(c), 0);
    coop_featcache_close(c);
    /* a killed writer's torn record is dropped, the rest kept, appends go on */
    FILE *fp = fopen(path, "r+b");
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fclose(fp);
    ck_assert_int_eq(truncate(path, len - 5), 0);
    ck_assert_int_eq(coop_featcache_open(dir, key, 10, 4, &c, &e), 0);
    ck_assert_uint_eq(coop_featcache_count(c), 2);
    ck_assert(!coop_featcache_has(c, 9));
    ck_assert_int_eq(coop_featcache_put(c, 9, f[2], &e), 0);
    coop_featcache_close(c);
    ck_assert_int_eq(coop_featcache_open(dir, key, 10, 4, &c, &e), 0);
    ck_assert_uint_eq(coop_featcache_count(c), 3);
    ck_assert(memcmp(coop_featcache_get(c, 9), f[2], sizeof f[2]) == 0);
    coop_featcache_close(c);
    /* a different item count for the same key is refused, naming the file */
    ck_assert_int_eq(coop_featcache_open(dir, key, 11, 4, &c, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, path));
    /* a corrupt header too */
    fp = fopen(path, "r+b");
    fputs("garbage!", fp);
    fclose(fp);
    ck_assert_int_eq(coop_featcache_open(dir, key, 10, 4, &c, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "not a coop feature cache"));
    unlink(path);
    free(path);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("featcache");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, persist_invalidate_and_recover);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
