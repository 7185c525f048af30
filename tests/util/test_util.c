/* test_util.c: the deterministic helpers (RNG streams, SHA-256, suggestions). */
#include "coop/util.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../common/check_run.h"

START_TEST(sha256_known_vectors)
{
    char hex[65];
    coop_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    coop_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    coop_sha256_hex(m, strlen(m), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(hash_uniform_is_counter_based)
{
    float a[8], b[4];
    coop_hash_uniform(a, 8, 42, -1.0, 1.0);
    coop_hash_uniform(b, 4, 42, -1.0, 1.0);
    for (int i = 0; i < 4; i++)
        ck_assert(a[i] == b[i]);
    for (int i = 0; i < 8; i++)
        ck_assert(a[i] >= -1.0f && a[i] < 1.0f);
    /* first value pinned: splitmix64 of seed + golden ratio */
    uint64_t z = coop_mix64(42 + 0x9E3779B97F4A7C15ULL);
    ck_assert(a[0] == (float)(-1.0 + 2.0 * (double)(z >> 40) / 16777216.0));
    ck_assert_uint_eq(coop_mix64(0), 0);
    ck_assert_uint_eq(coop_mix64(1), 0x5692161d100b05e5ULL);
}
END_TEST

START_TEST(rng_reproducible_and_unbiased)
{
    struct coop_rng r1, r2;
    coop_rng_seed(&r1, 7);
    coop_rng_seed(&r2, 7);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(coop_rng_u64(&r1), coop_rng_u64(&r2));
    int counts[5] = {0};
    for (int i = 0; i < 50000; i++)
        counts[coop_rng_below(&r1, 5)]++;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_gt(counts[i], 9500);
        ck_assert_int_lt(counts[i], 10500);
    }
    double s = 0, s2 = 0;
    for (int i = 0; i < 20000; i++) {
        double x = coop_rng_normal(&r1);
        s += x;
        s2 += x * x;
    }
    ck_assert_double_lt(s / 20000 < 0 ? -s / 20000 : s / 20000, 0.03);
    ck_assert_double_lt(s2 / 20000 > 1 ? s2 / 20000 - 1 : 1 - s2 / 20000, 0.05);
    ck_assert_uint_ne(coop_seed_derive(1, "train"), coop_seed_derive(1, "val"));
}
END_TEST

START_TEST(proc_parent)
{
    ck_assert_int_eq(coop_proc_parent((long)getpid()), (long)getppid());
    pid_t c = fork();
    if (c == 0)
        _exit(0);
    ck_assert_int_eq(coop_proc_parent((long)c), (long)getpid()); /* running or a zombie */
    waitpid(c, NULL, 0);
    ck_assert_int_eq(coop_proc_parent((long)c), -1); /* reaped */
    ck_assert_int_eq(coop_proc_parent(0), -1);
}
END_TEST

START_TEST(suggestions)
{
    const char *c[] = {"datasets", "methods", "shots", "seeds"};
    ck_assert_str_eq(coop_suggest("dataset", c, 4), "datasets");
    ck_assert_str_eq(coop_suggest("shot", c, 4), "shots");
    ck_assert_ptr_null(coop_suggest("zzzzzzzz", c, 4));
    ck_assert_uint_eq(coop_edit_distance("kitten", "sitting"), 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, sha256_known_vectors);
    tcase_add_test(tc, hash_uniform_is_counter_based);
    tcase_add_test(tc, rng_reproducible_and_unbiased);
    tcase_add_test(tc, suggestions);
    tcase_add_test(tc, proc_parent);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
