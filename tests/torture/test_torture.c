/* test_torture.c: kill -9 during a sweep loses nothing and changes nothing.
 * A small sweep on the synthetic world with the shipped world CLIP (CoOp,
 * zero-shot and linear-probe trials over two shot counts and two seeds) runs
 * once through coop-run uninterrupted; then, in another folder, coop-run is
 * SIGKILLed five times at varied moments (start-up, a trial in flight, right
 * after a commit) and restarted until it completes. Both folders must end up
 * with the same trial files, none left temporary, and every dataset in them
 * (metrics, curves, confusions, learned parameters, few-shot samples) equal
 * bit for bit; only timing/ differs. The kill moments follow events in the
 * results folder (polled), never assertions on time. */
#include "coop/results.h"
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

static char tmpdir[256];

static void remove_tmp(void)
{
    if (tmpdir[0])
        ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
}

/* Writes <tmpdir>/<name>.yaml, whose results go to <tmpdir>/<name>/results. */
static char *write_yaml(const char *name)
{
    const char *src = getenv("COOP_SOURCE_ROOT");
    ck_assert_ptr_nonnull(src);
    char *p = coop_asprintf("%s/%s.yaml", tmpdir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "experiment: torture\n"
            "results_dir: %s/%s/results\n"
            "backbone:\n"
            "  plugin: clip\n"
            "  checkpoint: %s/models/world-clip/world-clip.safetensors\n"
            "  vocab: %s/models/world-clip/bpe_world.txt.gz\n"
            "datasets:\n"
            "  - name: world-shapes\n"
            "    options: {train_per_class: 4, val_per_class: 2, test_per_class: 12}\n"
            "    targets: [world-shapes-v2]\n"
            "methods:\n"
            "  - {name: coop, n_ctx: 4}\n"
            "  - zeroshot\n"
            "  - linear_probe\n"
            "shots: [1, 2]\n"
            "seeds: [1, 2]\n"
            "train: {epochs: 12, batch_size: 4}\n"
            "augment: {mode: views, views: 2}\n",
            tmpdir, name, src, src);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

static pid_t spawn(const char *yaml, const char *cache)
{
    char *exe = coop_asprintf("%s/core/cli/coop-run/coop-run", getenv("COOP_BUILD_ROOT"));
    fflush(NULL); /* or the child's freopen writes our pending output again */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        freopen("/dev/null", "w", stdout);
        execl(exe, exe, "--cache", cache, yaml, (char *)NULL);
        _exit(127);
    }
    free(exe);
    return pid;
}

/* Completed trial files (name.h5) in dir, or with temporary, the temporary
 * ones (.name.h5.tmp-<host>-<pid>), all or (pid > 0) those of process pid. */
static size_t count_pid(const char *dir, bool temporary, pid_t pid)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    char suffix[32];
    snprintf(suffix, sizeof suffix, "-%ld", (long)pid);
    while (d && (de = readdir(d))) {
        const char *tmp = strstr(de->d_name, ".h5.tmp-");
        size_t l = strlen(de->d_name), ls = strlen(suffix);
        if (temporary ? de->d_name[0] == '.' && tmp &&
                            (pid <= 0 || (l > ls && strcmp(de->d_name + l - ls, suffix) == 0))
                      : de->d_name[0] != '.' && strstr(de->d_name, ".h5"))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static size_t count(const char *dir, bool temporary)
{
    return count_pid(dir, temporary, 0);
}

/* When to kill: after the event, wait delay_ms more. */
enum event { AT_START, IN_FLIGHT, COMMITTED };
struct moment {
    enum event ev;
    int delay_ms;
};

/* Waits for the moment (polling every 2 ms) and kills -9. Returns true when
 * the SIGKILL ended the run, false when it finished before. */
static bool kill_at(pid_t pid, const char *dir, struct moment m)
{
    size_t done0 = count(dir, false);
    int st;
    for (;;) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            ck_assert(WIFEXITED(st));
            ck_assert_int_eq(WEXITSTATUS(st), 0);
            return false;
        }
        if (m.ev == AT_START || (m.ev == IN_FLIGHT && count_pid(dir, true, pid) > 0) ||
            (m.ev == COMMITTED && count(dir, false) > done0))
            break;
        usleep(2000);
    }
    usleep((useconds_t)m.delay_ms * 1000);
    size_t done = count(dir, false), tmp = count_pid(dir, true, pid);
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st)) { /* finished between the check and the kill */
        ck_assert_int_eq(WEXITSTATUS(st), 0);
        return false;
    }
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    printf("kill -9 with %zu trials completed, %zu in flight\n", done, tmp);
    return true;
}

static int run_to_end(const char *yaml, const char *cache)
{
    int st;
    pid_t pid = spawn(yaml, cache);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

START_TEST(kill9_during_sweep_loses_and_changes_nothing)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "torture"), 0);
    char *ya = write_yaml("straight"), *yb = write_yaml("killed");
    char *ca = coop_asprintf("%s/straight/cache", tmpdir);
    char *cb = coop_asprintf("%s/killed/cache", tmpdir);
    char *da = coop_asprintf("%s/straight/results/torture", tmpdir);
    char *db = coop_asprintf("%s/killed/results/torture", tmpdir);
    ck_assert_int_eq(run_to_end(ya, ca), 0);

    /* start-up (plugins, checkpoint, features), a trial in flight, just after a
     * commit, then both again a little later */
    const struct moment plan[] = {
        {AT_START, 30}, {IN_FLIGHT, 0}, {COMMITTED, 0}, {IN_FLIGHT, 60}, {COMMITTED, 20}};
    int kills = 0;
    for (size_t i = 0; i < sizeof plan / sizeof *plan; i++)
        kills += kill_at(spawn(yb, cb), db, plan[i]);
    ck_assert_int_ge(kills, 3);
    int rc = 1;
    for (int tries = 0; tries < 3 && rc != 0; tries++) /* restarts until it completes */
        rc = run_to_end(yb, cb);
    ck_assert_int_eq(rc, 0);

    ck_assert_uint_eq(count(db, true), 0); /* no temporary file survives */
    ck_assert_uint_eq(coop_test_compare_folders(da, db), 9);
    free(ya), free(yb), free(ca), free(cb), free(da), free(db);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("torture");
    TCase *tc = tcase_create("kill9");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, NULL, remove_tmp);
    tcase_add_test(tc, kill9_during_sweep_loses_and_changes_nothing);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
