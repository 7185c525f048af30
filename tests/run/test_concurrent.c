/* test_concurrent.c: several coop-run processes on one results folder and
 * one feature cache (issue 15). A small sweep with the test plugins (the toy
 * backbone, a toy dataset that sleeps per image so that trials overlap) runs
 * once in a single process; then three processes started together run it in
 * another folder with a shared cache. Every trial must be computed exactly
 * once (the processes' "completed now" counts add up to the trial count), no
 * claim or temporary file may be left, and every stored result must equal
 * the single-process run bit for bit. A fourth process started afterwards
 * finds nothing to do. Also: --shard I/N over N processes, one after the
 * other, covers each trial once; and one coop-run --jobs 3 (three forked
 * workers) computes each trial once with the same results, while SIGTERM
 * to it stops every worker (exit 130, nothing left behind) and the same
 * command then finishes the sweep. */
#include "coop/util.h"
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/results_compare.h"
#include "../common/tmpdir.h"

#define N_TRIALS 25

static char tmpdir[256];

static void remove_tmp(void)
{
    if (tmpdir[0])
        ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
}

/* Writes <tmpdir>/<name>.yaml, whose results go to <tmpdir>/<name>/results. */
static char *write_yaml(const char *name)
{
    char *p = coop_asprintf("%s/%s.yaml", tmpdir, name);
    char *ckpt = coop_asprintf("%s/toy.ckpt", tmpdir);
    FILE *f = fopen(ckpt, "w");
    ck_assert_ptr_nonnull(f);
    fputs("toy\n", f);
    ck_assert_int_eq(fclose(f), 0);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "experiment: conc\n"
            "results_dir: %s/%s/results\n"
            "backbone: {plugin: toy, checkpoint: %s}\n"
            "datasets:\n"
            "  - name: toy_colors\n"
            "    options: {sleep_ms: 1}\n"
            "methods:\n"
            "  - {name: coop, n_ctx: [2, 4, 8]}\n"
            "  - zeroshot\n"
            "  - linear_probe\n"
            "shots: [1, 2]\n"
            "seeds: [1, 2, 3]\n"
            "train: {epochs: 4, batch_size: 8}\n",
            tmpdir, name, ckpt);
    ck_assert_int_eq(fclose(f), 0);
    free(ckpt);
    return p;
}

/* Starts coop-run with args (NULL-terminated, after the program name) and
 * stdout to out_path. */
static pid_t spawn(const char *out_path, const char *const *args)
{
    char *exe = coop_asprintf("%s/core/cli/coop-run/coop-run", getenv("COOP_BUILD_ROOT"));
    const char *argv[16] = {exe};
    size_t n = 1;
    while (args[n - 1] && n < 15) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        freopen(out_path, "w", stdout); /* the summary and the log lines, in one file */
        dup2(STDOUT_FILENO, STDERR_FILENO);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    free(exe);
    return pid;
}

/* Waits for pid; a non-zero exit status shows its stdout (out_path). */
static int wait_exit(pid_t pid, const char *out_path)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    char *text;
    size_t len;
    struct coop_err e;
    if (WEXITSTATUS(st) && coop_read_file(out_path, 1 << 20, &text, &len, &e) == 0) {
        printf("%s (exit %d):\n%s\n", out_path, WEXITSTATUS(st), text);
        fflush(stdout);
        free(text);
    }
    return WEXITSTATUS(st);
}

/* The "N trials: X completed now" line of a coop-run's stdout: X (N to *total). */
static size_t completed_now(const char *out_path, size_t *total)
{
    char *text;
    size_t len, x = 0;
    struct coop_err e;
    ck_assert_msg(coop_read_file(out_path, 1 << 20, &text, &len, &e) == 0, "%s", e.msg);
    const char *line = strstr(text, " trials: ");
    ck_assert_msg(line, "%s: no summary line:\n%s", out_path, text);
    while (line > text && line[-1] != '\n')
        line--;
    ck_assert_int_eq(sscanf(line, "%zu trials: %zu completed now", total, &x), 2);
    free(text);
    return x;
}

/* Files in dir whose name contains what. */
static size_t count_named(const char *dir, const char *what)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        n += strstr(de->d_name, what) != NULL;
    if (d)
        closedir(d);
    return n;
}

static void run_alone(const char *yaml, const char *cache)
{
    char *out = coop_asprintf("%s/alone.out", tmpdir);
    const char *args[] = {"--no-progress", "--cache", cache, yaml, NULL};
    ck_assert_int_eq(wait_exit(spawn(out, args), out), 0);
    size_t total;
    ck_assert_uint_eq(completed_now(out, &total), N_TRIALS);
    free(out);
}

START_TEST(three_processes_compute_each_trial_once)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "concurrent"), 0);
    char *ya = write_yaml("alone"), *yb = write_yaml("together");
    char *ca = coop_asprintf("%s/alone/cache", tmpdir);
    char *cb = coop_asprintf("%s/together/cache", tmpdir);
    char *da = coop_asprintf("%s/alone/results/conc", tmpdir);
    char *db = coop_asprintf("%s/together/results/conc", tmpdir);
    run_alone(ya, ca);

    pid_t pids[3];
    char *outs[3];
    const char *args[] = {"--no-progress", "--cache", cb, yb, NULL};
    for (int i = 0; i < 3; i++) {
        outs[i] = coop_asprintf("%s/together-%d.out", tmpdir, i);
        pids[i] = spawn(outs[i], args);
    }
    size_t sum = 0, total;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(wait_exit(pids[i], outs[i]), 0);
        size_t x = completed_now(outs[i], &total);
        ck_assert_uint_eq(total, N_TRIALS);
        printf("process %d completed %zu trials\n", i, x);
        sum += x;
    }
    ck_assert_uint_eq(sum, N_TRIALS); /* each trial computed once */
    ck_assert_uint_eq(count_named(db, ".claim"), 0);
    ck_assert_uint_eq(count_named(db, ".tmp-"), 0);
    ck_assert_uint_eq(coop_test_compare_folders(da, db), N_TRIALS);

    /* a later process finds everything done */
    ck_assert_int_eq(wait_exit(spawn(outs[0], args), outs[0]), 0);
    ck_assert_uint_eq(completed_now(outs[0], &total), 0);
    for (int i = 0; i < 3; i++)
        free(outs[i]);
    free(ya), free(yb), free(ca), free(cb), free(da), free(db);
}
END_TEST

START_TEST(shards_cover_each_trial_once)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "concurrent"), 0);
    char *ya = write_yaml("alone"), *yb = write_yaml("shards");
    char *ca = coop_asprintf("%s/alone/cache", tmpdir);
    char *cb = coop_asprintf("%s/shards/cache", tmpdir);
    char *da = coop_asprintf("%s/alone/results/conc", tmpdir);
    char *db = coop_asprintf("%s/shards/results/conc", tmpdir);
    char *out = coop_asprintf("%s/shard.out", tmpdir);
    run_alone(ya, ca);
    size_t sum = 0, total;
    for (int i = 1; i <= 3; i++) {
        char shard[16];
        snprintf(shard, sizeof shard, "%d/3", i);
        const char *args[] = {"--no-progress", "--shard", shard, "--cache", cb, yb, NULL};
        ck_assert_int_eq(wait_exit(spawn(out, args), out), 0);
        size_t x = completed_now(out, &total);
        ck_assert_uint_eq(x, total); /* a shard's trials, all run */
        ck_assert_uint_lt(x, N_TRIALS);
        sum += x;
    }
    ck_assert_uint_eq(sum, N_TRIALS);
    ck_assert_uint_eq(coop_test_compare_folders(da, db), N_TRIALS);
    free(ya), free(yb), free(ca), free(cb), free(da), free(db), free(out);
}
END_TEST

/* The processes whose parent is pid (Linux's /proc). */
static int children_of(pid_t pid)
{
    DIR *d = opendir("/proc");
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        n += coop_proc_parent(strtol(de->d_name, NULL, 10)) == (long)pid;
    }
    if (d)
        closedir(d);
    return n;
}

/* The claims in dir, each of which must say "released" (given back by an
 * interrupted process, docs/cluster.md). */
static size_t claims_released(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (!strstr(de->d_name, ".claim"))
            continue;
        char *path = coop_asprintf("%s/%s", dir, de->d_name), *text;
        size_t len;
        struct coop_err e;
        ck_assert_msg(coop_read_file(path, 1 << 16, &text, &len, &e) == 0, "%s", e.msg);
        ck_assert_msg(strstr(text, "\nreleased\n") || !strncmp(text, "released\n", 9),
                      "claim %s not given back:\n%s", path, text);
        free(text);
        free(path);
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* A lone run's folder (alone) and a second folder (name) for the same sweep,
 * the lone run done. */
struct pair {
    char *ya, *yb, *ca, *cb, *da, *db, *out;
};

static struct pair pair_setup(const char *name)
{
    struct pair p;
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "concurrent"), 0);
    p.ya = write_yaml("alone");
    p.yb = write_yaml(name);
    p.ca = coop_asprintf("%s/alone/cache", tmpdir);
    p.cb = coop_asprintf("%s/%s/cache", tmpdir, name);
    p.da = coop_asprintf("%s/alone/results/conc", tmpdir);
    p.db = coop_asprintf("%s/%s/results/conc", tmpdir, name);
    p.out = coop_asprintf("%s/%s.out", tmpdir, name);
    run_alone(p.ya, p.ca);
    return p;
}

static void pair_free(struct pair *p)
{
    free(p->ya), free(p->yb), free(p->ca), free(p->cb), free(p->da), free(p->db), free(p->out);
}

START_TEST(jobs_share_the_trials)
{
    struct pair p = pair_setup("jobs");
    const char *args[] = {"--no-progress", "--jobs", "3", "--cache", p.cb, p.yb, NULL};
    pid_t pid = spawn(p.out, args);
    int most = 0;
    for (int i = 0; i < 3000 && most < 3; i++) { /* the workers, while they run */
        int c = children_of(pid);
        most = c > most ? c : most;
        if (waitpid(pid, NULL, WNOHANG) != 0)
            break;
        usleep(10000);
    }
    ck_assert_int_eq(most, 3);
    ck_assert_int_eq(wait_exit(pid, p.out), 0);
    char *text;
    size_t len;
    struct coop_err e;
    ck_assert_int_eq(coop_read_file(p.out, 1 << 20, &text, &len, &e), 0);
    ck_assert_msg(!strstr(text, "left to it"), "%s", text); /* siblings' claims not logged */
    free(text);
    size_t total;
    ck_assert_uint_eq(completed_now(p.out, &total), N_TRIALS); /* the workers' counts added */
    ck_assert_uint_eq(total, N_TRIALS);
    ck_assert_uint_eq(count_named(p.db, ".claim"), 0);
    ck_assert_uint_eq(count_named(p.db, ".tmp-"), 0);
    ck_assert_uint_eq(coop_test_compare_folders(p.da, p.db), N_TRIALS);
    /* again: everything is done, and said to be */
    ck_assert_int_eq(wait_exit(spawn(p.out, args), p.out), 0);
    ck_assert_uint_eq(completed_now(p.out, &total), 0);
    ck_assert_int_eq(coop_read_file(p.out, 1 << 20, &text, &len, &e), 0);
    ck_assert_msg(strstr(text, "0 completed now, 25 already completed (skipped), 0 failed"),
                  "%s", text);
    free(text);
    pair_free(&p);
}
END_TEST

START_TEST(sigterm_stops_every_job)
{
    struct pair p = pair_setup("term");
    const char *args[] = {"--no-progress", "--jobs", "2", "--cache", p.cb, p.yb, NULL};
    pid_t pid = spawn(p.out, args);
    int i = 0;
    while (count_named(p.db, ".claim") == 0 && i++ < 3000) /* a trial in flight */
        usleep(10000);
    ck_assert_int_lt(i, 3000);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 130);
    for (i = 0; i < 500 && children_of(pid) > 0; i++) /* no worker outlives it */
        usleep(10000);
    ck_assert_uint_gt(claims_released(p.db), 0); /* the trials in flight given back */
    ck_assert_int_eq(count_named(p.db, ".tmp-"), 0);
    /* the same command finishes the sweep; the results are the lone run's */
    ck_assert_int_eq(wait_exit(spawn(p.out, args), p.out), 0);
    size_t total;
    size_t now = completed_now(p.out, &total);
    ck_assert_uint_gt(now, 0);
    ck_assert_uint_le(now, N_TRIALS);
    ck_assert_uint_eq(coop_test_compare_folders(p.da, p.db), N_TRIALS);
    pair_free(&p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("concurrent");
    TCase *tc = tcase_create("processes");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, NULL, remove_tmp);
    tcase_add_test(tc, three_processes_compute_each_trial_once);
    tcase_add_test(tc, shards_cover_each_trial_once);
    tcase_add_test(tc, jobs_share_the_trials);
    tcase_add_test(tc, sigterm_stops_every_job);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
