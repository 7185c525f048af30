/* test_slurm.c: coop-run --slurm against a real Slurm (suite 'slurm', run by
 * tools/dev.sh slurm, which starts munged, slurmctld and slurmd on this
 * machine with a one-node configuration and stops them afterwards). A small
 * sweep (test plugins; a dataset that sleeps per image so that tasks last a
 * second or two) is submitted as an array with at most two tasks at once;
 * the test polls squeue until the array and its report job are gone and
 * checks that two tasks ran at the same time, that every trial completed
 * exactly once (one "1 completed now" per task log), that the results equal
 * a single-process run bit for bit, that the report job wrote the summary
 * and the report, and that a resubmission finds nothing to run. A second
 * sweep with a trial that fails shows that trial in the summary with its id
 * and its task's log. A task killed with kill -9 mid-trial loses only that
 * trial, and a resubmission takes its dead claim over. When Slurm does not
 * answer, the test says so and fails: it never skips. */
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

#define N_TRIALS 6

static char tmpdir[256];

static void remove_tmp(void)
{
    if (tmpdir[0])
        ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
}

/* Output of a shell command (NUL-terminated, malloc'd); its exit status to *st. */
static char *sh(const char *cmd, int *st)
{
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = 0, cap = 4096;
    char *out = malloc(cap);
    for (size_t r; (r = fread(out + n, 1, cap - n - 1, p)) > 0;) {
        n += r;
        if (n + 1 == cap)
            out = realloc(out, cap *= 2);
    }
    out[n] = '\0';
    int rc = pclose(p);
    *st = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

static char *read_text(const char *path)
{
    char *text;
    size_t len;
    struct coop_err e;
    ck_assert_msg(coop_read_file(path, 1 << 22, &text, &len, &e) == 0, "%s", e.msg);
    return text;
}

/* Fails, saying why, when no Slurm answers here. */
static void require_slurm(void)
{
    int st;
    char *out = sh("sinfo -h -o '%T' 2>&1", &st);
    ck_assert_msg(st == 0 && (strstr(out, "idle") || strstr(out, "mixed")),
                  "Slurm is not running here (sinfo: exit %d: %s): start munged, slurmctld "
                  "and slurmd with tools/dev.sh slurm, which runs this suite", st, out);
    free(out);
}

/* Writes <tmpdir>/<name>.yaml (results in <tmpdir>/<name>/results). */
static char *write_yaml_ms(const char *name, bool with_failure, int sleep_ms)
{
    char *p = coop_asprintf("%s/%s.yaml", tmpdir, name);
    char *ckpt = coop_asprintf("%s/toy.ckpt", tmpdir);
    FILE *f = fopen(ckpt, "w");
    ck_assert_ptr_nonnull(f);
    fputs("toy\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_ptr_nonnull(f = fopen(p, "w"));
    fprintf(f,
            "experiment: slurm\n"
            "results_dir: %s/%s/results\n"
            "backbone: {plugin: toy, checkpoint: %s}\n"
            "datasets:\n"
            "  - name: toy_colors\n"
            "    options: {sleep_ms: %d%s}\n"
            "methods:\n"
            "  - {name: coop, n_ctx: [2, 4]}\n"
            "  - linear_probe\n"
            "shots: [1]\n"
            "seeds: [1, 2]\n"
            "train: {epochs: 3, batch_size: 8}\n"
            "slurm:\n"
            "  cpus_per_task: 1\n"
            "  max_parallel: 2\n"
            "  time: \"5:00\"\n",
            tmpdir, name, ckpt, sleep_ms, with_failure ? ", fail_open: [false, true]" : "");
    ck_assert_int_eq(fclose(f), 0);
    free(ckpt);
    return p;
}

static char *write_yaml(const char *name, bool with_failure)
{
    return write_yaml_ms(name, with_failure, 15);
}

static char *coop_run(void)
{
    return coop_asprintf("%s/core/cli/coop-run/coop-run", getenv("COOP_BUILD_ROOT"));
}

/* The job id after "submitted array job" / "report job" in coop-run's output. */
static void job_ids(const char *out, char *array, char *report)
{
    const char *a = strstr(out, "submitted array job "), *r = strstr(out, "and report job ");
    ck_assert_msg(a && r, "no job ids in:\n%s", out);
    ck_assert_int_eq(sscanf(a, "submitted array job %31[0-9]", array), 1);
    ck_assert_int_eq(sscanf(r, "and report job %31[0-9]", report), 1);
}

/* Polls squeue until neither job is queued or running (90 s at most);
 * returns the most array tasks seen running at once. */
static int wait_jobs(const char *array, const char *report)
{
    char *cmd = coop_asprintf("squeue -h -j %s,%s -o '%%i %%T' 2>&1", array, report);
    int most = 0;
    for (int i = 0; i < 900; i++) {
        int st, running = 0;
        char *out = sh(cmd, &st);
        for (const char *p = strstr(out, "RUNNING"); p; p = strstr(p + 1, "RUNNING"))
            running++;
        bool left = strstr(out, array) || strstr(out, report);
        if (running > most)
            most = running;
        free(out);
        if (!left)
            break;
        ck_assert_msg(i < 899, "jobs %s and %s still queued after 90 s", array, report);
        usleep(100000);
    }
    free(cmd);
    return most;
}

/* Submits yaml, waits for both jobs; returns the most tasks at once. */
static int submit_and_wait(const char *yaml, char *array, char *report)
{
    char *exe = coop_run(), *cmd = coop_asprintf("'%s' --slurm '%s' 2>&1", exe, yaml);
    int st;
    char *out = sh(cmd, &st);
    ck_assert_msg(st == 0, "coop-run --slurm: exit %d:\n%s", st, out);
    job_ids(out, array, report);
    free(out);
    free(cmd);
    free(exe);
    return wait_jobs(array, report);
}

/* Sum over the array's task logs of "N trials: X completed now". */
static size_t completed_in_logs(const char *logs, const char *array, size_t *n_logs)
{
    DIR *d = opendir(logs);
    ck_assert_ptr_nonnull(d);
    size_t sum = 0;
    *n_logs = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (strncmp(de->d_name, array, strlen(array)) != 0 || de->d_name[strlen(array)] != '_')
            continue;
        char *p = coop_asprintf("%s/%s", logs, de->d_name), *text = read_text(p);
        const char *s = strstr(text, " trials: ");
        size_t x = 0, total = 0;
        while (s && s > text && s[-1] != '\n')
            s--;
        ck_assert_msg(s && sscanf(s, "%zu trials: %zu completed now", &total, &x) == 2,
                      "%s: no summary line:\n%s", p, text);
        ck_assert_uint_eq(total, 1); /* one trial a task */
        sum += x;
        (*n_logs)++;
        free(text);
        free(p);
    }
    closedir(d);
    return sum;
}

START_TEST(array_runs_every_trial_once_and_the_report)
{
    require_slurm();
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "slurm"), 0);
    char *ya = write_yaml("alone", false), *yb = write_yaml("array", false);
    char *exe = coop_run(), array[32], report[32];
    char *cmd = coop_asprintf("'%s' --no-progress '%s' 2>&1", exe, ya);
    int st;
    char *out = sh(cmd, &st);
    ck_assert_msg(st == 0, "single-process run: %s", out);
    free(out);

    int most = submit_and_wait(yb, array, report);
    printf("array job %s: at most %d tasks running at once\n", array, most);
    ck_assert_int_ge(most, 2);
    char *res = coop_asprintf("%s/array/results/slurm", tmpdir);
    char *logs = coop_asprintf("%s/slurm/logs", res);
    size_t n_logs;
    ck_assert_uint_eq(completed_in_logs(logs, array, &n_logs), N_TRIALS);
    ck_assert_uint_eq(n_logs, N_TRIALS);
    char *da = coop_asprintf("%s/alone/results/slurm", tmpdir);
    ck_assert_uint_eq(coop_test_compare_folders(da, res), N_TRIALS);

    char *sp = coop_asprintf("%s/slurm/summary.txt", res), *summary = read_text(sp);
    ck_assert_msg(strstr(summary, "6 done, 0 running, 0 failed, 0 to do"), "%s", summary);
    char *rp = coop_asprintf("%s/report-%s.log", logs, report), *rlog = read_text(rp);
    ck_assert_msg(strstr(rlog, "Few-shot accuracy"), "report job log:\n%s", rlog);

    free(cmd);
    cmd = coop_asprintf("'%s' --slurm '%s' 2>&1", exe, yb); /* resubmitted: nothing left */
    out = sh(cmd, &st);
    ck_assert_msg(st == 0 && strstr(out, "nothing to submit"), "%s", out);
    free(out), free(cmd), free(summary), free(sp), free(rlog), free(rp);
    free(ya), free(yb), free(exe), free(res), free(logs), free(da);
}
END_TEST

START_TEST(a_failed_task_shows_in_the_summary)
{
    require_slurm();
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "slurm"), 0);
    char *y = write_yaml("failing", true), array[32], report[32];
    submit_and_wait(y, array, report);
    char *sp = coop_asprintf("%s/failing/results/slurm/slurm/summary.txt", tmpdir);
    char *summary = read_text(sp);
    ck_assert_msg(strstr(summary, "6 done, 0 running, 6 failed, 0 to do"), "%s", summary);
    /* each failed trial: its id, the error, its task and that task's log */
    const char *f = strstr(summary, " failed ");
    ck_assert_msg(f && f - summary >= 18 && strstr(f, "asked to fail"), "%s", summary);
    char *task = coop_asprintf("Slurm task %s_", array);
    ck_assert_msg(strstr(f, task) && strstr(f, "/slurm/logs/"), "%s", summary);
    free(task), free(summary), free(sp), free(y);
}
END_TEST

/* The pid in the name of a trial's temporary results file
 * (.<id>.h5.tmp-<host>-<pid>) in dir, or 0 when no trial is in flight. */
static long pid_in_flight(const char *dir)
{
    DIR *d = opendir(dir);
    long pid = 0;
    for (struct dirent *de; d && (de = readdir(d)) && !pid;) {
        const char *t = strstr(de->d_name, ".h5.tmp-"), *dash = strrchr(de->d_name, '-');
        if (t && dash)
            pid = atol(dash + 1);
    }
    if (d)
        closedir(d);
    return pid;
}

START_TEST(a_killed_task_loses_only_its_trial)
{
    require_slurm();
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "slurm"), 0);
    char *y = write_yaml_ms("killed", false, 40), *exe = coop_run(), array[32], report[32];
    char *res = coop_asprintf("%s/killed/results/slurm", tmpdir);
    char *cmd = coop_asprintf("'%s' --slurm '%s' 2>&1", exe, y);
    int st;
    char *out = sh(cmd, &st);
    ck_assert_msg(st == 0, "%s", out);
    job_ids(out, array, report);
    free(out);
    long pid = 0;
    for (int i = 0; i < 600 && !pid; i++) {
        usleep(50000);
        pid = pid_in_flight(res);
    }
    ck_assert_msg(pid > 0, "no trial in flight after 30 s");
    ck_assert_int_eq(kill((pid_t)pid, SIGKILL), 0);
    wait_jobs(array, report);
    char *sp = coop_asprintf("%s/slurm/summary.txt", res), *summary = read_text(sp);
    char *gone = coop_asprintf("its last run stopped: process %ld is gone", pid);
    ck_assert_msg(strstr(summary, "5 done, 0 running, 0 failed, 1 to do") &&
                      strstr(summary, gone), "%s", summary);
    out = sh(cmd, &st); /* resubmitted: the killed trial alone */
    ck_assert_msg(st == 0 && strstr(out, "1 trial to run (5 done"), "%s", out);
    job_ids(out, array, report);
    free(out);
    wait_jobs(array, report);
    free(summary);
    summary = read_text(sp);
    ck_assert_msg(strstr(summary, "6 done, 0 running, 0 failed, 0 to do"), "%s", summary);
    free(summary), free(sp), free(gone), free(cmd), free(res), free(exe), free(y);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("slurm");
    TCase *tc = tcase_create("array");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, NULL, remove_tmp);
    tcase_add_test(tc, array_runs_every_trial_once_and_the_report);
    tcase_add_test(tc, a_failed_task_shows_in_the_summary);
    tcase_add_test(tc, a_killed_task_loses_only_its_trial);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
