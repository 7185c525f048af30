/* test_results.c: the HDF5 results store: a full trial round trip, crash
 * safety (a killed writer leaves nothing that looks complete), refusal to
 * overwrite, failed-trial state, corrupt files and stale temporary files. */
#define _GNU_SOURCE
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

static void setup(void)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "results"), 0);
}

static void teardown(void)
{
    coop_test_rmtree(tmpdir);
}

/* Number of entries in dir whose name starts with '.' but is not . or .. */
static int count_hidden(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

#define OK(x) ck_assert_msg((x) == 0, "%s failed: %s", #x, e.msg)

static const char *classes[3] = {"cat", "dog", "bird \xc3\xa9"}; /* UTF-8 survives */
static const float pca[3] = {50.0f, 100.0f, 25.0f};
static const int32_t conf[9] = {1, 1, 0, 0, 2, 0, 1, 2, 1};
static const char *root_str[][2] = {
    {"config", "dataset: pets\nshots: 4\nseed: 1\n"}, {"experiment", "fewshot"},
    {"backbone", "clip"}, {"backbone_version", "0.1.0"}, {"dataset", "pets"},
    {"dataset_version", "1.0"}, {"checkpoint_sha256", "ab12"}, {"axis_dataset", "pets"}, {"axis_shots", "4"},
    {"axis_seed", "1"}, {"axis_method", "coop"}, {"axis_n_ctx", "2"}};

static void write_full(struct coop_results_writer *w)
{
    struct coop_err e;
    for (size_t i = 0; i < sizeof root_str / sizeof *root_str; i++)
        OK(coop_results_attr_str(w, root_str[i][0], root_str[i][1], &e));
    OK(coop_results_axis(w, "position", "end", &e));
    OK(coop_results_plugin(w, "method", "coop", "0.2", &e));
    OK(coop_results_attr_int(w, "n_params", 1024, &e));
    OK(coop_results_attr_double(w, "logit_scale", 100.0, &e));
    struct coop_results_eval ev = {"test", 44.4444, 40.5, 3, pca, conf, classes, 9};
    OK(coop_results_write_eval(w, &ev, &e));
    ev.target = "sketch";
    ev.accuracy = 11.0;
    OK(coop_results_write_eval(w, &ev, &e));
    int32_t ep[2] = {0, 1};
    double loss[2] = {2.5, 1.25}, acc[2] = {30, 60}, lr[2] = {1e-5, 2e-3};
    OK(coop_results_write_curve(w, ep, loss, acc, lr, 2, &e));
    const char *items[4] = {"a/1.jpg", "a/2.jpg", "b/1.jpg", "c/9.jpg"};
    int32_t labels[4] = {0, 0, 1, 2};
    size_t n4 = 4, n0 = 0;
    OK(coop_results_write_strings(w, "fewshot/train_items", items, 1, &n4, &e));
    OK(coop_results_write_i32(w, "fewshot/train_labels", labels, 1, &n4, &e));
    OK(coop_results_write_strings(w, "fewshot/val_items", items, 1, &n0, &e));
    OK(coop_results_write_i32(w, "fewshot/val_labels", labels, 1, &n0, &e));
    float ctx[2 * 3];
    for (int i = 0; i < 6; i++)
        ctx[i] = 0.5f * (float)i - 1.0f;
    size_t md[2] = {2, 3};
    OK(coop_results_write_f32(w, "params/ctx", ctx, 2, md, &e));
    const char *nw[4] = {"a", "photo", "of", "x"};
    float nd[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    size_t mk[2] = {2, 2};
    OK(coop_results_write_strings(w, "interpret/nearest_words", nw, 2, mk, &e));
    OK(coop_results_write_f32(w, "interpret/nearest_distances", nd, 2, mk, &e));
    OK(coop_results_write_scalar_f64(w, "timings/train_s", 12.5, &e));
}

START_TEST(full_trial_round_trip)
{
    struct coop_err e;
    struct coop_results_writer *w;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/exp/sub", tmpdir); /* mkdir -p */
    OK(coop_results_begin(dir, "t1", false, &w, &e));
    ck_assert(!coop_file_exists(coop_results_writer_path(w)));
    ck_assert(coop_file_exists(coop_results_writer_tmp_path(w)));
    write_full(w);
    OK(coop_results_commit(w, "completed", NULL, &e));
    ck_assert_int_eq(count_hidden(dir), 0);

    char path[400];
    snprintf(path, sizeof path, "%s/t1.h5", dir);
    struct coop_results_reader *r;
    OK(coop_results_open(path, &r, &e));
    char *s;
    for (size_t i = 0; i < sizeof root_str / sizeof *root_str; i++) {
        OK(coop_results_read_attr_str(r, root_str[i][0], &s, &e));
        ck_assert_str_eq(s, root_str[i][1]);
        free(s);
    }
    OK(coop_results_read_attr_str(r, "method", &s, &e));
    ck_assert_str_eq(s, "coop");
    free(s);
    OK(coop_results_read_attr_str(r, "method_version", &s, &e));
    ck_assert_str_eq(s, "0.2");
    free(s);
    const char *auto_attrs[] = {"trial_id", "coop_version", "git_revision", "host",
                                "blas_core", "blas_core_choice", "start_time", "end_time",
                                "status", "axis_position"};
    for (size_t i = 0; i < sizeof auto_attrs / sizeof *auto_attrs; i++) {
        OK(coop_results_read_attr_str(r, auto_attrs[i], &s, &e));
        ck_assert_int_gt(strlen(s), 0);
        if (strstr(auto_attrs[i], "time")) /* YYYY-MM-DDTHH:MM:SSZ */
            ck_assert(strlen(s) == 20 && s[10] == 'T' && s[19] == 'Z');
        free(s);
    }
    OK(coop_results_read_attr_str(r, "status", &s, &e));
    ck_assert_str_eq(s, "completed");
    free(s);
    ck_assert(!coop_results_has_attr(r, "error"));
    ck_assert_int_eq(coop_results_read_attr_str(r, "error", &s, &e), COOP_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "t1.h5"));
    int64_t iv;
    double dv;
    OK(coop_results_read_attr_int(r, "schema_version", &iv, &e));
    ck_assert_int_eq(iv, COOP_RESULTS_SCHEMA_VERSION);
    OK(coop_results_read_attr_int(r, "n_params", &iv, &e));
    ck_assert_int_eq(iv, 1024);
    OK(coop_results_read_attr_double(r, "logit_scale", &dv, &e));
    ck_assert(dv == 100.0);
    ck_assert_int_ne(coop_results_read_attr_int(r, "config", &iv, &e), 0);

    char **names;
    size_t n;
    OK(coop_results_list(r, "eval", &names, &n, &e));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(names[0], "sketch");
    ck_assert_str_eq(names[1], "test");
    coop_results_free_strings(names, n);
    OK(coop_results_attr_names(r, &names, &n, &e));
    ck_assert_uint_eq(n, sizeof root_str / sizeof *root_str + 15);
    coop_results_free_strings(names, n);

    OK(coop_results_read_scalar(r, "eval/test/accuracy", &dv, &e));
    ck_assert(dv == 44.4444);
    OK(coop_results_read_scalar(r, "eval/sketch/accuracy", &dv, &e));
    ck_assert(dv == 11.0);
    OK(coop_results_read_scalar(r, "eval/test/macro_f1", &dv, &e));
    ck_assert(dv == 40.5);
    OK(coop_results_read_scalar(r, "eval/test/n_samples", &dv, &e));
    ck_assert(dv == 9);
    float *f;
    int rank;
    size_t shape[COOP_RESULTS_MAX_RANK];
    OK(coop_results_read_f32(r, "eval/test/per_class_accuracy", &f, &rank, shape, &e));
    ck_assert(rank == 1 && shape[0] == 3);
    ck_assert(memcmp(f, pca, sizeof pca) == 0);
    free(f);
    int32_t *iv32;
    OK(coop_results_read_i32(r, "eval/sketch/confusion", &iv32, &rank, shape, &e));
    ck_assert(rank == 2 && shape[0] == 3 && shape[1] == 3);
    ck_assert(memcmp(iv32, conf, sizeof conf) == 0);
    free(iv32);
    char **ss;
    OK(coop_results_read_strings(r, "eval/test/class_names", &ss, &rank, shape, &e));
    ck_assert(rank == 1 && shape[0] == 3);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(ss[i], classes[i]);
    coop_results_free_strings(ss, 3);

    double *d;
    OK(coop_results_read_f64(r, "train/curve/loss", &d, &rank, shape, &e));
    ck_assert(rank == 1 && shape[0] == 2 && d[0] == 2.5 && d[1] == 1.25);
    free(d);
    OK(coop_results_read_f64(r, "train/curve/lr", &d, &rank, shape, &e));
    ck_assert(d[0] == 1e-5 && d[1] == 2e-3);
    free(d);
    OK(coop_results_read_f64(r, "train/curve/accuracy", &d, &rank, shape, &e));
    ck_assert(d[0] == 30 && d[1] == 60);
    free(d);
    OK(coop_results_read_i32(r, "train/curve/epoch", &iv32, &rank, shape, &e));
    ck_assert(iv32[0] == 0 && iv32[1] == 1);
    free(iv32);

    OK(coop_results_read_strings(r, "fewshot/train_items", &ss, &rank, shape, &e));
    ck_assert(rank == 1 && shape[0] == 4);
    ck_assert_str_eq(ss[3], "c/9.jpg");
    coop_results_free_strings(ss, 4);
    OK(coop_results_read_i32(r, "fewshot/train_labels", &iv32, &rank, shape, &e));
    ck_assert(shape[0] == 4 && iv32[2] == 1 && iv32[3] == 2);
    free(iv32);
    OK(coop_results_read_strings(r, "fewshot/val_items", &ss, &rank, shape, &e));
    ck_assert(rank == 1 && shape[0] == 0);
    coop_results_free_strings(ss, 0);

    OK(coop_results_read_f32(r, "params/ctx", &f, &rank, shape, &e));
    ck_assert(rank == 2 && shape[0] == 2 && shape[1] == 3);
    for (int i = 0; i < 6; i++)
        ck_assert(f[i] == 0.5f * (float)i - 1.0f);
    free(f);
    OK(coop_results_read_strings(r, "interpret/nearest_words", &ss, &rank, shape, &e));
    ck_assert(rank == 2 && shape[0] == 2 && shape[1] == 2);
    ck_assert_str_eq(ss[1], "photo");
    coop_results_free_strings(ss, 4);
    OK(coop_results_read_f32(r, "interpret/nearest_distances", &f, &rank, shape, &e));
    ck_assert(rank == 2 && f[3] == 0.4f);
    free(f);
    OK(coop_results_read_scalar(r, "timings/train_s", &dv, &e));
    ck_assert(dv == 12.5);

    ck_assert(coop_results_has(r, "eval/test"));
    ck_assert(!coop_results_has(r, "eval/nope/accuracy"));
    ck_assert_int_eq(coop_results_read_f32(r, "eval/nope/accuracy", &f, &rank, shape, &e),
                     COOP_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "eval/nope/accuracy"));
    ck_assert_ptr_nonnull(strstr(e.msg, "t1.h5"));
    ck_assert_int_eq(coop_results_read_f32(r, "eval/test/class_names", &f, &rank, shape, &e),
                     COOP_E_FORMAT);
    coop_results_close(r);

    enum coop_trial_state st;
    OK(coop_results_state(dir, "t1", &st, NULL, 0, &e));
    ck_assert_int_eq(st, COOP_TRIAL_COMPLETED);
}
END_TEST

START_TEST(writer_rejects_bad_input)
{
    struct coop_err e;
    struct coop_results_writer *w;
    ck_assert_int_eq(coop_results_begin(tmpdir, "a/b", false, &w, &e), COOP_E_INVAL);
    ck_assert_int_eq(coop_results_begin(tmpdir, ".hidden", false, &w, &e), COOP_E_INVAL);
    ck_assert_int_eq(coop_results_begin(tmpdir, "", false, &w, &e), COOP_E_INVAL);
    OK(coop_results_begin(tmpdir, "t", false, &w, &e));
    double v = 1;
    OK(coop_results_write_f64(w, "x/y", &v, 0, NULL, &e));
    ck_assert_int_eq(coop_results_write_f64(w, "x/y", &v, 0, NULL, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "x/y"));
    ck_assert_int_ne(coop_results_write_f64(w, "x", &v, 0, NULL, &e), 0); /* x is a group */
    const char *bad[2] = {"a", NULL};
    size_t two = 2;
    ck_assert_int_eq(coop_results_write_strings(w, "s", bad, 1, &two, &e), COOP_E_INVAL);
    /* An invalid status aborts: no final file, no temporary file left. */
    ck_assert_int_eq(coop_results_commit(w, "done", NULL, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "done"));
    enum coop_trial_state st;
    OK(coop_results_state(tmpdir, "t", &st, NULL, 0, &e));
    ck_assert_int_eq(st, COOP_TRIAL_MISSING);
    ck_assert_int_eq(count_hidden(tmpdir), 0);
    /* abort removes the temporary file */
    OK(coop_results_begin(tmpdir, "t", false, &w, &e));
    ck_assert_int_eq(count_hidden(tmpdir), 1);
    coop_results_abort(w);
    ck_assert_int_eq(count_hidden(tmpdir), 0);
}
END_TEST

static void check_killed(int use_sigkill)
{
    struct coop_err e;
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct coop_results_writer *w;
        if (coop_results_begin(tmpdir, "victim", false, &w, &e) != 0)
            _exit(2);
        write_full(w);
        if (write(fds[1], "x", 1) != 1)
            _exit(3);
        if (use_sigkill)
            for (;;)
                pause();
        _exit(0); /* dies without commit */
    }
    char c;
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    if (use_sigkill)
        kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    if (use_sigkill)
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    else
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    enum coop_trial_state st;
    OK(coop_results_state(tmpdir, "victim", &st, NULL, 0, &e));
    ck_assert_int_eq(st, COOP_TRIAL_MISSING);
    char path[400];
    snprintf(path, sizeof path, "%s/victim.h5", tmpdir);
    ck_assert(!coop_file_exists(path));
    ck_assert_int_eq(count_hidden(tmpdir), 1); /* the dead writer's tmp file */
    /* A live writer's tmp file and a completed file survive the clean-up. */
    struct coop_results_writer *live;
    OK(coop_results_begin(tmpdir, "live", false, &live, &e));
    struct coop_results_writer *done;
    OK(coop_results_begin(tmpdir, "done", false, &done, &e));
    OK(coop_results_commit(done, "completed", NULL, &e));
    /* Another host's temporary file (shared storage) is not ours to judge. */
    char other[400];
    snprintf(other, sizeof other, "%s/.x.h5.tmp-some_other_host-999999", tmpdir);
    FILE *f = fopen(other, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    int removed = -1;
    OK(coop_results_clean_stale(tmpdir, &removed, &e));
    ck_assert_int_eq(removed, 1);
    ck_assert(coop_file_exists(other));
    ck_assert_int_eq(unlink(other), 0);
    ck_assert_int_eq(count_hidden(tmpdir), 1); /* live's */
    OK(coop_results_state(tmpdir, "done", &st, NULL, 0, &e));
    ck_assert_int_eq(st, COOP_TRIAL_COMPLETED);
    OK(coop_results_commit(live, "completed", NULL, &e));
    ck_assert_int_eq(count_hidden(tmpdir), 0);
    /* the killed trial can be re-run */
    struct coop_results_writer *w;
    OK(coop_results_begin(tmpdir, "victim", false, &w, &e));
    OK(coop_results_commit(w, "completed", NULL, &e));
    OK(coop_results_state(tmpdir, "victim", &st, NULL, 0, &e));
    ck_assert_int_eq(st, COOP_TRIAL_COMPLETED);
}

START_TEST(killed_writer_exit_leaves_nothing_complete)
{
    check_killed(0);
}
END_TEST

START_TEST(killed_writer_sigkill_leaves_nothing_complete)
{
    check_killed(1);
}
END_TEST

static void write_marker(const char *id, const char *status, const char *err, double mark,
                         bool replace, int expect)
{
    struct coop_err e;
    struct coop_results_writer *w;
    int rc = coop_results_begin(tmpdir, id, replace, &w, &e);
    ck_assert_msg(rc == expect, "begin returned %d: %s", rc, e.msg);
    if (rc)
        return;
    OK(coop_results_write_scalar_f64(w, "mark", mark, &e));
    OK(coop_results_commit(w, status, err, &e));
}

static double read_marker(const char *id)
{
    struct coop_err e;
    char path[400];
    snprintf(path, sizeof path, "%s/%s.h5", tmpdir, id);
    struct coop_results_reader *r;
    OK(coop_results_open(path, &r, &e));
    double v;
    OK(coop_results_read_scalar(r, "mark", &v, &e));
    coop_results_close(r);
    return v;
}

START_TEST(refuses_to_overwrite_completed)
{
    struct coop_err e;
    struct coop_results_writer *w;
    write_marker("t", "completed", NULL, 1.0, false, 0);
    ck_assert_int_eq(coop_results_begin(tmpdir, "t", false, &w, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "already completed"));
    ck_assert_ptr_nonnull(strstr(e.msg, "t.h5"));
    ck_assert(read_marker("t") == 1.0);
    ck_assert_int_eq(count_hidden(tmpdir), 0);
    /* A replacement keeps the old file until it commits: abort leaves it intact. */
    OK(coop_results_begin(tmpdir, "t", true, &w, &e));
    OK(coop_results_write_scalar_f64(w, "mark", 9.0, &e));
    ck_assert(read_marker("t") == 1.0);
    coop_results_abort(w);
    ck_assert(read_marker("t") == 1.0);
    write_marker("t", "completed", NULL, 2.0, true, 0); /* --force */
    ck_assert(read_marker("t") == 2.0);
    ck_assert_int_eq(count_hidden(tmpdir), 0);
}
END_TEST

START_TEST(failed_trial_state)
{
    struct coop_err e;
    write_marker("f", "failed", "dataset: image 17 unreadable", 1.0, false, 0);
    enum coop_trial_state st;
    char msg[64];
    OK(coop_results_state(tmpdir, "f", &st, msg, sizeof msg, &e));
    ck_assert_int_eq(st, COOP_TRIAL_FAILED);
    ck_assert_str_eq(msg, "dataset: image 17 unreadable");
    char small[8];
    OK(coop_results_state(tmpdir, "f", &st, small, sizeof small, &e));
    ck_assert_str_eq(small, "dataset");
    /* A re-run replaces a failed trial without being forced. */
    write_marker("f", "completed", NULL, 3.0, false, 0);
    OK(coop_results_state(tmpdir, "f", &st, msg, sizeof msg, &e));
    ck_assert_int_eq(st, COOP_TRIAL_COMPLETED);
    ck_assert_str_eq(msg, "");
    ck_assert(read_marker("f") == 3.0);
    OK(coop_results_state(tmpdir, "nope", &st, msg, sizeof msg, &e));
    ck_assert_int_eq(st, COOP_TRIAL_MISSING);
    ck_assert_int_eq(coop_results_state(tmpdir, "../f", &st, msg, sizeof msg, &e), COOP_E_INVAL);
}
END_TEST

START_TEST(corrupt_file_is_an_error_naming_it)
{
    struct coop_err e;
    char path[400];
    snprintf(path, sizeof path, "%s/x.h5", tmpdir);
    FILE *f = fopen(path, "wb");
    struct coop_rng rng;
    coop_rng_seed(&rng, 5);
    for (int i = 0; i < 4096; i++)
        fputc((int)(coop_rng_u64(&rng) & 0xff), f);
    fclose(f);
    enum coop_trial_state st;
    ck_assert_int_eq(coop_results_state(tmpdir, "x", &st, NULL, 0, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, path));
    struct coop_results_reader *r;
    ck_assert_int_eq(coop_results_open(path, &r, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, path));
    /* truncated real results file */
    write_marker("y", "completed", NULL, 1.0, false, 0);
    snprintf(path, sizeof path, "%s/y.h5", tmpdir);
    ck_assert_int_eq(truncate(path, 100), 0);
    ck_assert_int_eq(coop_results_state(tmpdir, "y", &st, NULL, 0, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "y.h5"));
    ck_assert_int_eq(coop_results_open("/nonexistent/z.h5", &r, &e), COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/z.h5"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("results");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, full_trial_round_trip);
    tcase_add_test(tc, writer_rejects_bad_input);
    tcase_add_test(tc, killed_writer_exit_leaves_nothing_complete);
    tcase_add_test(tc, killed_writer_sigkill_leaves_nothing_complete);
    tcase_add_test(tc, refuses_to_overwrite_completed);
    tcase_add_test(tc, failed_trial_state);
    tcase_add_test(tc, corrupt_file_is_an_error_naming_it);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
