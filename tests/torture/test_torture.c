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

static char **list_h5(const char *dir, size_t *n)
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
static void compare_dataset(struct coop_results_reader *a, struct coop_results_reader *b,
                            const char *path, const char *file)
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
                      "%s: %s[%zu]: %.17g uninterrupted, %.17g after kills", file, path, i,
                      da[i], db[i]);
    free(da);
    free(db);
}

/* Walks group path of both files: same members, same data; timing/ skipped. */
static size_t compare_group(struct coop_results_reader *a, struct coop_results_reader *b,
                            const char *path, const char *file)
{
    struct coop_err e;
    char **na, **nb;
    size_t n_a, n_b, checked = 0;
    if (coop_results_list(a, path, &na, &n_a, &e) != 0) {
        compare_dataset(a, b, path, file);
        return 1;
    }
    ck_assert_msg(coop_results_list(b, path, &nb, &n_b, &e) == 0, "%s: %s", file, e.msg);
    ck_assert_msg(n_a == n_b, "%s: group %s has %zu members, %zu after kills", file, path, n_a,
                  n_b);
    for (size_t i = 0; i < n_a; i++) {
        ck_assert_str_eq(na[i], nb[i]);
        char *child = coop_asprintf("%s%s%s", path, strcmp(path, "/") ? "/" : "", na[i]);
        if (strcmp(child, "/timing") != 0)
            checked += compare_group(a, b, child, file);
        free(child);
    }
    coop_results_free_strings(na, n_a);
    coop_results_free_strings(nb, n_b);
    return checked;
}

static void compare_attr(struct coop_results_reader *a, struct coop_results_reader *b,
                         const char *name, const char *file)
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
static size_t compare_folders(const char *dir_a, const char *dir_b)
{
    size_t n_a, n_b;
    char **fa = list_h5(dir_a, &n_a), **fb = list_h5(dir_b, &n_b);
    ck_assert_uint_eq(n_a, n_b);
    for (size_t i = 0; i < n_a; i++) {
        ck_assert_str_eq(fa[i], fb[i]);
        char *pa = coop_asprintf("%s/%s", dir_a, fa[i]), *pb = coop_asprintf("%s/%s", dir_b, fb[i]);
        struct coop_results_reader *a, *b;
        struct coop_err e;
        ck_assert_msg(coop_results_open(pa, &a, &e) == 0, "%s", e.msg);
        ck_assert_msg(coop_results_open(pb, &b, &e) == 0, "%s", e.msg);
        compare_attr(a, b, "status", fa[i]);
        compare_attr(a, b, "config", fa[i]);
        char *status;
        ck_assert_int_eq(coop_results_read_attr_str(a, "status", &status, &e), 0);
        ck_assert_str_eq(status, "completed");
        free(status);
        ck_assert_uint_gt(compare_group(a, b, "/", fa[i]), 0);
        coop_results_close(a);
        coop_results_close(b);
        free(pa), free(pb), free(fa[i]), free(fb[i]);
    }
    free(fa);
    free(fb);
    return n_a;
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
    ck_assert_uint_eq(compare_folders(da, db), 9);
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
