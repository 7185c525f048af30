/* test_claims.c: trial claims (core/run/claim.c) and the results writer's
 * final placement under concurrency (issue 15): a live claim keeps a second
 * claimant out, on this host and from another; a released claim, one whose
 * process is gone, and one whose heartbeat is older than the timeout are
 * taken over by the next generation, and the old holder then knows it lost;
 * the heartbeat keeps a claim fresh; a gap below a live generation does not
 * let a claimant in; completing removes every generation. A commit never
 * replaces a trial another writer completed after begin. */
#include "coop/results.h"
#include "coop/util.h"
#include "run/claim.h"
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

static char dir[256];
static const char id[] = "0123456789abcdef";

static void setup(void)
{
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "claims"), 0);
}

static void teardown(void)
{
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}

static char *gen(int n)
{
    return coop_asprintf("%s/.%s.claim-%d", dir, id, n);
}

static bool gen_exists(int n)
{
    char *p = gen(n);
    bool yes = access(p, F_OK) == 0;
    free(p);
    return yes;
}

/* A claim file as another host's coop-run writes it, aged by age seconds. */
static void write_foreign(int n, const char *host, long pid, double age)
{
    char *p = gen(n);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "coop-run claim 1\nhost %s\npidns pid:[1]\npid %ld\nstarted 0\nslurm 7_3\n", host,
            pid);
    ck_assert_int_eq(fclose(f), 0);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    struct timespec ts[2] = {st.st_mtim, st.st_mtim};
    ts[0].tv_sec -= (time_t)age;
    ts[1].tv_sec -= (time_t)age;
    ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
    free(p);
}

static struct claim *take(double timeout, struct claim_holder *h)
{
    struct coop_err e;
    struct claim *c = NULL;
    ck_assert_msg(coop_claim_acquire(dir, id, timeout, &c, h, &e) == 0, "%s", e.msg);
    return c;
}

START_TEST(live_claim_keeps_others_out)
{
    struct claim_holder h;
    struct claim *c = take(0, &h);
    ck_assert_ptr_nonnull(c);
    ck_assert(gen_exists(1));
    ck_assert(coop_claim_held(c));
    ck_assert_ptr_null(take(0, &h)); /* this host, this (live) pid */
    ck_assert_int_eq(h.state, CLAIM_ALIVE);
    ck_assert_int_eq(h.pid, (long)getpid());
    struct coop_err e;
    ck_assert_int_eq(coop_claim_inspect(dir, id, 0, coop_claim_clock(dir), &h, &e), 0);
    ck_assert_int_eq(h.state, CLAIM_ALIVE);
    ck_assert_int_eq(h.generation, 1);
    coop_claim_release(c, true);
    ck_assert(!gen_exists(1));
    ck_assert_int_eq(coop_claim_inspect(dir, id, 0, coop_claim_clock(dir), &h, &e), 0);
    ck_assert_int_eq(h.state, CLAIM_NONE);
}
END_TEST

START_TEST(released_claim_is_taken_over)
{
    struct claim_holder h;
    coop_claim_release(take(0, &h), false);
    ck_assert(gen_exists(1)); /* kept, marked released */
    struct claim *c = take(0, &h);
    ck_assert_ptr_nonnull(c);
    ck_assert(gen_exists(2));
    coop_claim_release(c, true);
    ck_assert(!gen_exists(1) && !gen_exists(2));
}
END_TEST

START_TEST(claim_of_a_dead_process_is_taken_over)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) { /* claims, then dies without releasing (kill -9 alike) */
        struct claim *c;
        struct coop_err e;
        _exit(coop_claim_acquire(dir, id, 0, &c, NULL, &e) == 0 && c ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert(gen_exists(1));
    struct claim_holder h;
    struct claim *c = take(0, &h);
    ck_assert_ptr_nonnull(c);
    ck_assert(gen_exists(2));
    coop_claim_release(c, true);
}
END_TEST

START_TEST(other_hosts_claim_waits_for_its_heartbeat_to_age)
{
    struct claim_holder h;
    write_foreign(1, "elsewhere", 1, 3);
    ck_assert_ptr_null(take(60, &h)); /* 3 s old, timeout 60 s: alive */
    ck_assert_int_eq(h.state, CLAIM_ALIVE);
    ck_assert_str_eq(h.host, "elsewhere");
    ck_assert_str_eq(h.slurm, "7_3");
    ck_assert(h.age >= 2 && h.age < 30);
    write_foreign(1, "elsewhere", 1, 120); /* now silent for 2 minutes */
    struct claim *c = take(60, &h);
    ck_assert_ptr_nonnull(c);
    ck_assert(gen_exists(2));
    coop_claim_release(c, false);
}
END_TEST

START_TEST(a_taken_over_holder_knows_it_lost)
{
    struct claim_holder h;
    struct claim *c = take(0, &h);
    ck_assert_ptr_nonnull(c);
    write_foreign(2, "elsewhere", 1, 0); /* as a process that saw ours as stale */
    ck_assert(!coop_claim_held(c));
    coop_claim_release(c, false); /* gives nothing up: generation 1 is no longer ours */
    ck_assert(gen_exists(2));
}
END_TEST

START_TEST(heartbeat_keeps_a_claim_fresh)
{
    struct claim_holder h;
    struct claim *c = take(2, &h); /* heartbeat every 0.2 s */
    ck_assert_ptr_nonnull(c);
    char *p = gen(1);
    struct timespec old[2] = {{1000, 0}, {1000, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, old, 0), 0);
    struct stat st = {0};
    for (int i = 0; i < 100 && st.st_mtim.tv_sec <= 1000; i++) {
        usleep(50000);
        ck_assert_int_eq(stat(p, &st), 0);
    }
    ck_assert_int_gt(st.st_mtim.tv_sec, 1000);
    ck_assert(coop_claim_held(c));
    free(p);
    coop_claim_release(c, true);
}
END_TEST

START_TEST(a_gap_below_a_live_generation_lets_nobody_in)
{
    struct claim_holder h;
    write_foreign(2, "elsewhere", 1, 0); /* generation 1 removed, 2 alive */
    ck_assert_ptr_null(take(60, &h));
    ck_assert_int_eq(h.state, CLAIM_ALIVE);
    ck_assert_int_eq(h.generation, 2);
    ck_assert(!gen_exists(1));
}
END_TEST

/* A commit never replaces what another writer completed after begin. */
START_TEST(commit_does_not_replace_a_completed_trial)
{
    struct coop_results_writer *a, *b;
    struct coop_err e;
    ck_assert_int_eq(coop_results_begin(dir, id, false, &a, &e), 0);
    pid_t child = fork(); /* another process (a temporary name of its own) */
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(coop_results_begin(dir, id, false, &b, &e) == 0 &&
              coop_results_attr_str(b, "who", "b", &e) == 0 &&
              coop_results_commit(b, "completed", NULL, &e) == 0 ? 0 : 1);
    int wst;
    ck_assert_int_eq(waitpid(child, &wst, 0), child);
    ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    ck_assert_int_eq(coop_results_attr_str(a, "who", "a", &e), 0);
    ck_assert_int_eq(coop_results_commit(a, "completed", NULL, &e), COOP_E_INVAL);
    ck_assert_msg(strstr(e.msg, "already completed"), "%s", e.msg);
    char *path = coop_asprintf("%s/%s.h5", dir, id), *who;
    struct coop_results_reader *r;
    ck_assert_int_eq(coop_results_open(path, &r, &e), 0);
    ck_assert_int_eq(coop_results_read_attr_str(r, "who", &who, &e), 0);
    ck_assert_str_eq(who, "b");
    free(who);
    coop_results_close(r);
    /* a failed record is replaced by a later commit */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(coop_results_begin(dir, id, false, &a, &e), 0);
    ck_assert_int_eq(coop_results_commit(a, "failed", "boom", &e), 0);
    ck_assert_int_eq(coop_results_begin(dir, id, false, &b, &e), 0);
    ck_assert_int_eq(coop_results_commit(b, "completed", NULL, &e), 0);
    enum coop_trial_state st;
    ck_assert_int_eq(coop_results_state(dir, id, &st, NULL, 0, &e), 0);
    ck_assert_int_eq(st, COOP_TRIAL_COMPLETED);
    free(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("claims");
    TCase *tc = tcase_create("claims");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, live_claim_keeps_others_out);
    tcase_add_test(tc, released_claim_is_taken_over);
    tcase_add_test(tc, claim_of_a_dead_process_is_taken_over);
    tcase_add_test(tc, other_hosts_claim_waits_for_its_heartbeat_to_age);
    tcase_add_test(tc, a_taken_over_holder_knows_it_lost);
    tcase_add_test(tc, heartbeat_keeps_a_claim_fresh);
    tcase_add_test(tc, a_gap_below_a_live_generation_lets_nobody_in);
    tcase_add_test(tc, commit_does_not_replace_a_completed_trial);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
