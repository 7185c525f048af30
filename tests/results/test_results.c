/* test_results.c: the HDF5 results store: a full trial round trip, crash
 * safety (a killed writer leaves nothing that looks complete), refusal to
 * overwrite, failed-trial state, corrupt files and stale temporary files,
 * damaged files (truncated, flipped bytes in the seal, the superblock and
 * the values) that never count as completed, Fletcher-32 on arrays for any
 * HDF5 reader, and files from before the seal: read as before, their damaged
 * copies (fuzz reproducers on which libhdf5 crashes) refused, never a crash. */
#define _GNU_SOURCE
#include "coop/results.h"
#include "coop/util.h"
#include "results/h5_internal.h"
#include <check.h>
#include <dirent.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"
#include "../common/results_damage.h"

static char tmpdir[256];

/* Under AddressSanitizer the child that reads a file from before the seal has
 * no address-space cap (the shadow memory is terabytes of address space), so
 * a run-away allocation in libhdf5 would only end at the child's 20 s alarm.
 * This caps single allocations the way the cap does in other builds. */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=2048";
}

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

/* Typed axes: int64, float64 and h5py's bool read back as such (and not as
 * strings); a value not of its type is refused naming the axis. */
START_TEST(typed_axes_round_trip)
{
    struct coop_err e;
    struct coop_results_writer *w;
    OK(coop_results_begin(tmpdir, "typed", false, &w, &e));
    OK(coop_results_axis_typed(w, "n_ctx", "16", COOP_RESULTS_AXIS_INT, &e));
    OK(coop_results_axis_typed(w, "init_std", "0.02", COOP_RESULTS_AXIS_FLOAT, &e));
    OK(coop_results_axis_typed(w, "csc", "true", COOP_RESULTS_AXIS_BOOL, &e));
    OK(coop_results_axis_typed(w, "position", "end", COOP_RESULTS_AXIS_STRING, &e));
    ck_assert_int_eq(coop_results_axis_typed(w, "shots", "16x", COOP_RESULTS_AXIS_INT, &e),
                     COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "'shots'"));
    ck_assert_int_eq(coop_results_axis_typed(w, "lr", "nan", COOP_RESULTS_AXIS_FLOAT, &e),
                     COOP_E_INVAL);
    ck_assert_int_eq(coop_results_axis_typed(w, "csc", "yes", COOP_RESULTS_AXIS_BOOL, &e),
                     COOP_E_INVAL);
    OK(coop_results_commit(w, "completed", NULL, &e));
    char *path = coop_asprintf("%s/typed.h5", tmpdir), *str = NULL;
    struct coop_results_reader *r;
    OK(coop_results_open(path, &r, &e));
    int64_t iv;
    double dv;
    bool bv = false;
    OK(coop_results_read_attr_int(r, "axis_n_ctx", &iv, &e));
    ck_assert_int_eq(iv, 16);
    OK(coop_results_read_attr_double(r, "axis_init_std", &dv, &e));
    ck_assert(dv == 0.02);
    OK(coop_results_read_attr_bool(r, "axis_csc", &bv, &e));
    ck_assert(bv);
    ck_assert_int_eq(coop_results_read_attr_bool(r, "axis_n_ctx", &bv, &e), COOP_E_FORMAT);
    ck_assert_int_eq(coop_results_read_attr_bool(r, "axis_position", &bv, &e), COOP_E_FORMAT);
    ck_assert_int_ne(coop_results_read_attr_str(r, "axis_csc", &str, &e), 0);
    OK(coop_results_read_attr_str(r, "axis_position", &str, &e));
    ck_assert_str_eq(str, "end");
    ck_assert(!coop_results_has_attr(r, "axis_shots") && !coop_results_has_attr(r, "axis_lr"));
    free(str);
    coop_results_close(r);
    /* h5py's own bool is read too (it is the same enum) */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "axis_csc", H5P_DEFAULT), t = H5Aget_type(a);
    ck_assert_int_eq(H5Tget_class(t), H5T_ENUM);
    ck_assert_uint_eq(H5Tget_size(t), 1);
    H5Tclose(t), H5Aclose(a), H5Fclose(f);
    free(path);
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


/* ---- damaged files -------------------------------------------------------- */
static void write_full_trial(const char *id)
{
    struct coop_err e;
    struct coop_results_writer *w;
    OK(coop_results_begin(tmpdir, id, false, &w, &e));
    write_full(w);
    OK(coop_results_commit(w, "completed", NULL, &e));
}

static unsigned char *slurp_trial(const char *id, size_t *n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.h5", tmpdir, id);
    unsigned char *b = coop_test_slurp(path, n);
    ck_assert_ptr_nonnull(b);
    return b;
}

static void spit_trial(const char *id, const unsigned char *b, size_t n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.h5", tmpdir, id);
    ck_assert_int_eq(coop_test_spit(path, b, n), 0);
}

/* Offset of the first copy of needle in b (fails when absent). */
static size_t find_bytes(const unsigned char *b, size_t n, const void *needle, size_t len)
{
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(b + i, needle, len) == 0)
            return i;
    ck_abort_msg("value not found in the file");
    return 0;
}

/* A damaged <id>.h5: not completed, an error naming it, and no reader. */
static void expect_damaged(const char *id, const char *what)
{
    struct coop_err e;
    enum coop_trial_state st = COOP_TRIAL_COMPLETED;
    char path[400];
    snprintf(path, sizeof path, "%s/%s.h5", tmpdir, id);
    int rc = coop_results_state(tmpdir, id, &st, NULL, 0, &e);
    ck_assert_msg(rc == COOP_E_FORMAT, "%s: state returned %d (%s)", what, rc,
                  rc ? e.msg : "no error");
    ck_assert_msg(st != COOP_TRIAL_COMPLETED, "%s: counted as completed", what);
    ck_assert_msg(strstr(e.msg, path), "%s: message does not name the file: %s", what, e.msg);
    struct coop_results_reader *r = NULL;
    ck_assert_msg(coop_results_open(path, &r, &e) == COOP_E_FORMAT, "%s: opened", what);
    ck_assert_ptr_null(r);
}

START_TEST(damaged_file_never_counts_as_completed)
{
    write_full_trial("good");
    size_t n;
    unsigned char *img = slurp_trial("good", &n);
    double acc = 44.4444, loss[2] = {2.5, 1.25};
    size_t acc_off = find_bytes(img, n, &acc, sizeof acc);
    size_t loss_off = find_bytes(img, n, loss, sizeof loss);
    const struct {
        const char *what;
        size_t len;     /* bytes kept (n: all) */
        size_t flip;    /* offset of a flipped byte (SIZE_MAX: none) */
    } cases[] = {
        {"empty", 0, SIZE_MAX},           {"1 byte", 1, SIZE_MAX},
        {"half the seal", 256, SIZE_MAX}, {"the seal only", 512, SIZE_MAX},
        {"seal + superblock start", 600, SIZE_MAX}, {"half", n / 2, SIZE_MAX},
        {"all but the last byte", n - 1, SIZE_MAX}, {"seal line", n, 3},
        {"seal digest", n, 30},           {"superblock signature", n, 513},
        {"superblock", n, 512 + 20},      {"accuracy value", n, acc_off + 3},
        {"curve value", n, loss_off + 9}, {"last byte", n, n - 1},
    };
    unsigned char *b = malloc(n + 1);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memcpy(b, img, n);
        if (cases[i].flip != SIZE_MAX)
            b[cases[i].flip] ^= 0x10;
        spit_trial("damaged", b, cases[i].len);
        expect_damaged("damaged", cases[i].what);
    }
    memcpy(b, img, n);
    b[n] = 0;
    spit_trial("damaged", b, n + 1);
    expect_damaged("damaged", "one byte appended");
    free(b);
    free(img);
    /* the intact original is untouched by all this */
    struct coop_err e;
    enum coop_trial_state st;
    OK(coop_results_state(tmpdir, "good", &st, NULL, 0, &e));
    ck_assert_int_eq(st, COOP_TRIAL_COMPLETED);
}
END_TEST

static bool has_fletcher32(hid_t f, const char *path)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "%s: cannot open", path);
    hid_t dcpl = H5Dget_create_plist(d);
    bool found = false;
    for (int i = 0; i < H5Pget_nfilters(dcpl); i++) {
        unsigned flags, conf;
        size_t nv = 0;
        char name[64];
        if (H5Pget_filter2(dcpl, (unsigned)i, &flags, &nv, NULL, sizeof name, name, &conf) ==
            H5Z_FILTER_FLETCHER32)
            found = true;
    }
    H5Pclose(dcpl);
    H5Dclose(d);
    return found;
}

/* Plain libhdf5 (as h5py or h5dump read the file): arrays carry Fletcher-32,
 * so a flipped value fails its read there too. */
START_TEST(arrays_carry_fletcher32_for_any_hdf5_reader)
{
    write_full_trial("good");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char path[400];
    snprintf(path, sizeof path, "%s/good.h5", tmpdir);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    const char *arrays[] = {"train/curve/loss", "train/curve/epoch", "eval/test/confusion",
                            "eval/test/per_class_accuracy", "params/ctx",
                            "fewshot/train_labels", "interpret/nearest_distances"};
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
        ck_assert_msg(has_fletcher32(f, arrays[i]), "%s: no Fletcher-32 filter", arrays[i]);
    H5Fclose(f);
    size_t n;
    unsigned char *img = slurp_trial("good", &n);
    double loss[2] = {2.5, 1.25}, got[2];
    img[find_bytes(img, n, loss, sizeof loss) + 9] ^= 0x01;
    spit_trial("flipped", img, n);
    free(img);
    snprintf(path, sizeof path, "%s/flipped.h5", tmpdir);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    hid_t d = H5Dopen2(f, "train/curve/loss", H5P_DEFAULT);
    ck_assert_int_lt(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got), 0);
    H5Dclose(d);
    d = H5Dopen2(f, "train/curve/accuracy", H5P_DEFAULT);
    ck_assert_int_ge(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got), 0);
    ck_assert(got[0] == 30 && got[1] == 60);
    H5Dclose(d);
    H5Fclose(f);
}
END_TEST

/* Everything a caller could ask of an opened reader; must never crash. */
static void read_all_public(struct coop_results_reader *r)
{
    struct coop_err e;
    char **names;
    size_t n;
    if (coop_results_attr_names(r, &names, &n, &e) == 0) {
        for (size_t i = 0; i < n; i++) {
            char *s = NULL;
            double v;
            if (coop_results_read_attr_str(r, names[i], &s, &e) == 0)
                free(s);
            coop_results_read_attr_double(r, names[i], &v, &e);
        }
        coop_results_free_strings(names, n);
    }
    const char *paths[] = {"eval/test/accuracy", "eval/test/class_names", "params/ctx",
                           "train/curve/loss", "fewshot/train_items"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        double *d = NULL;
        char **s = NULL;
        int rank;
        size_t shape[COOP_RESULTS_MAX_RANK], k = 1;
        coop_results_read_f64(r, paths[i], &d, &rank, shape, &e);
        free(d);
        if (coop_results_read_strings(r, paths[i], &s, &rank, shape, &e) == 0) {
            for (int j = 0; j < rank; j++)
                k *= shape[j];
            coop_results_free_strings(s, k);
        }
    }
    if (coop_results_list(r, "eval", &names, &n, &e) == 0)
        coop_results_free_strings(names, n);
}

START_TEST(file_from_before_the_seal_reads_and_its_damage_never_crashes)
{
    struct coop_err e;
    char legacy[1024], path[400];
    coop_test_legacy_path(legacy, sizeof legacy);
    size_t n;
    unsigned char *img = coop_test_slurp(legacy, &n);
    ck_assert_ptr_nonnull(img);
    spit_trial("old", img, n);
    enum coop_trial_state st;
    OK(coop_results_state(tmpdir, "old", &st, NULL, 0, &e));
    ck_assert_int_eq(st, COOP_TRIAL_COMPLETED);
    struct coop_results_reader *r;
    snprintf(path, sizeof path, "%s/old.h5", tmpdir);
    OK(coop_results_open(path, &r, &e));
    double acc;
    OK(coop_results_read_scalar(r, "eval/test/accuracy", &acc, &e));
    ck_assert(acc >= 0 && acc <= 100);
    coop_results_close(r);
    /* the fuzz campaign's reproducers: libhdf5 crashes on each */
    for (size_t i = 0; i < COOP_TEST_N_REPRODUCERS; i++) {
        const struct coop_test_damage *d = &coop_test_legacy_reproducers[i];
        snprintf(path, sizeof path, "%s/old.h5", tmpdir);
        ck_assert_int_eq(coop_test_write_reproducer(d, path), 0);
        expect_damaged("old", d->name);
    }
    /* libhdf5 loops on this one: the child's alarm ends it (shortened here) */
    ck_assert_int_eq(setenv("COOP_RESULTS_CHECK_SECONDS", "2", 1), 0);
    ck_assert_int_eq(coop_test_write_reproducer(&coop_test_legacy_loop, path), 0);
    st = COOP_TRIAL_COMPLETED;
    ck_assert_int_eq(coop_results_state(tmpdir, "old", &st, NULL, 0, &e), COOP_E_FORMAT);
    ck_assert_int_ne(st, COOP_TRIAL_COMPLETED);
    ck_assert_ptr_nonnull(strstr(e.msg, path));
    ck_assert_ptr_nonnull(strstr(e.msg, "did not finish reading it within 2 s"));
    ck_assert_int_eq(unsetenv("COOP_RESULTS_CHECK_SECONDS"), 0);
    /* generated: truncations and random bytes; either refused naming the
     * file, or read in full without a crash */
    struct coop_rng rng;
    coop_rng_seed(&rng, 14);
    unsigned char *b = malloc(n);
    for (int i = 0; i < 48; i++) {
        memcpy(b, img, n);
        size_t len = n;
        if (i % 3 == 0)
            len = (size_t)(coop_rng_u64(&rng) % n);
        else
            for (int k = 0; k < 1 + i % 4; k++)
                b[coop_rng_u64(&rng) % n] = (unsigned char)coop_rng_u64(&rng);
        spit_trial("old", b, len);
        r = NULL;
        int rc = coop_results_open(path, &r, &e);
        if (rc) {
            ck_assert_msg(rc == COOP_E_FORMAT, "mutant %d: %d (%s)", i, rc, e.msg);
            ck_assert_msg(strstr(e.msg, path), "mutant %d: %s", i, e.msg);
            continue;
        }
        read_all_public(r);
        coop_results_close(r);
    }
    free(b);
    free(img);
}
END_TEST

/* A file with a dataset of dims (chunked, never written: no storage), made
 * with plain libhdf5 as another tool would. */
static void write_claiming(const char *path, int rank, const hsize_t *dims)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {1, 1};
    ck_assert_int_ge(H5Pset_chunk(dcpl, rank, chunk), 0);
    hid_t d = H5Dcreate2(f, "eval/test/per_class_accuracy", H5T_IEEE_F32LE, sp,
                         H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0) { /* no intermediate groups by default */
        hid_t g1 = H5Gcreate2(f, "eval", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t g2 = H5Gcreate2(g1, "test", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        d = H5Dcreate2(g2, "per_class_accuracy", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl,
                       H5P_DEFAULT);
        H5Gclose(g2);
        H5Gclose(g1);
    }
    ck_assert_int_ge(d, 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
}

/* Shapes are checked before they size an allocation: one that overflows
 * size_t, and one far larger than the file could hold. */
/* A file read(2) cannot read (EIO) is not damage: its state is unknown. */
START_TEST(unreadable_file_state_is_unknown_not_damaged)
{
    struct coop_err e;
    char path[400];
    snprintf(path, sizeof path, "%s/io.h5", tmpdir);
    ck_assert_int_eq(symlink("/proc/self/mem", path), 0);
    enum coop_trial_state st = COOP_TRIAL_COMPLETED;
    ck_assert_int_eq(coop_results_state(tmpdir, "io", &st, NULL, 0, &e), COOP_E_IO);
    ck_assert_int_eq(st, COOP_TRIAL_MISSING);
    ck_assert_ptr_nonnull(strstr(e.msg, path));
}
END_TEST

START_TEST(implausible_shapes_are_refused_before_allocating)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const hsize_t huge[2] = {(hsize_t)1 << 33, (hsize_t)1 << 33}, big[1] = {(hsize_t)1 << 28};
    const struct {
        const char *what;
        int rank;
        const hsize_t *dims;
    } cases[] = {{"overflowing", 2, huge}, {"1 GiB in a small file", 1, big}};
    for (size_t i = 0; i < 2; i++) {
        struct coop_err e;
        char path[400];
        snprintf(path, sizeof path, "%s/shape.h5", tmpdir);
        write_claiming(path, cases[i].rank, cases[i].dims);
        struct coop_results_reader *r = NULL;
        int rc = coop_results_open(path, &r, &e);
        float *v = NULL;
        int rank;
        size_t shape[COOP_RESULTS_MAX_RANK];
        if (rc == 0) {
            rc = coop_results_read_f32(r, "eval/test/per_class_accuracy", &v, &rank, shape, &e);
            coop_results_close(r);
            free(v);
        }
        ck_assert_msg(rc == COOP_E_FORMAT, "%s: %d (%s)", cases[i].what, rc, rc ? e.msg : "read");
        ck_assert_msg(strstr(e.msg, "damaged shape") && strstr(e.msg, path), "%s: %s",
                      cases[i].what, e.msg);
    }
}
END_TEST

/* The plain-file layer (coop_h5file_*, what coop-encode writes with) and the
 * whole-dataset readers the fixture tests use: a round trip; a discarded or
 * failed file leaves nothing behind; errors name the file and the dataset. */
START_TEST(plain_file_layer_round_trip)
{
    struct coop_h5file *h;
    struct coop_err e;
    char *path = coop_asprintf("%s/plain.h5", tmpdir);
    const float f[6] = {1.5f, -2, 3, 4, 5, 6.25f};
    const int32_t i[3] = {7, -8, 9};
    const char *s[2] = {"a photo of a cat", "caf\xc3\xa9"};
    const size_t fs[2] = {2, 3}, is[1] = {3};
    OK(coop_h5file_create(&h, path, &e));
    OK(coop_h5file_write_f32(h, "feat", f, 2, fs, &e));
    OK(coop_h5file_write_i32(h, "grp/ids", i, 1, is, &e));
    OK(coop_h5file_write_strings(h, "texts", s, 2, &e));
    OK(coop_h5file_attr_str(h, "arch", "ViT-B/16", &e));
    ck_assert_int_eq(coop_h5file_write_f32(h, "feat", f, 2, fs, &e), COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "plain.h5: feat: cannot create dataset"));
    ck_assert_int_eq(access(path, F_OK), -1); /* only the temporary name until closed */
    OK(coop_h5file_close(h, true, &e));
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(fid >= 0);
    size_t n = 0;
    int rank = 0;
    hsize_t dims[COOP_RESULTS_MAX_RANK];
    float *got;
    OK(coop_h5_read(fid, path, "feat", H5T_NATIVE_FLOAT, sizeof(float), (void **)&got, &n, &rank,
                    dims, &e));
    ck_assert(n == 6 && rank == 2 && dims[0] == 2 && dims[1] == 3);
    ck_assert_mem_eq(got, f, sizeof f);
    coop_free(got);
    int *ids = coop_h5_ints(fid, "grp/ids", &n);
    ck_assert(ids && n == 3 && ids[0] == 7 && ids[1] == -8 && ids[2] == 9);
    coop_free(ids);
    char arch[32] = "";
    hid_t a = H5Aopen(fid, "arch", H5P_DEFAULT), at = H5Aget_type(a);
    ck_assert(H5Tis_variable_str(at) == 0 && H5Tget_cset(at) == H5T_CSET_UTF8);
    ck_assert(H5Aread(a, at, arch) >= 0);
    ck_assert_str_eq(arch, "ViT-B/16");
    H5Tclose(at), H5Aclose(a);
    ck_assert_int_eq(coop_h5_read(fid, path, "nope", H5T_NATIVE_FLOAT, sizeof(float),
                                  (void **)&got, NULL, NULL, NULL, &e), COOP_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "no dataset 'nope'"));
    ck_assert_ptr_null(coop_h5_floats(fid, "nope", NULL));
    ck_assert_int_eq(coop_h5_attr_long(fid, "missing", -3), -3);
    H5Fclose(fid);
    /* discarded: neither the file nor its temporary name remains */
    char *gone = coop_asprintf("%s/gone.h5", tmpdir);
    OK(coop_h5file_create(&h, gone, &e));
    OK(coop_h5file_write_i32(h, "ids", i, 1, is, &e));
    OK(coop_h5file_close(h, false, &e));
    ck_assert_int_eq(access(gone, F_OK), -1);
    ck_assert_int_eq(count_hidden(tmpdir), 0);
    char *bad = coop_asprintf("%s/no/such/dir/x.h5", tmpdir);
    ck_assert_int_eq(coop_h5file_create(&h, bad, &e), COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, bad));
    free(path), free(gone), free(bad);
}
END_TEST

int main(void)

{
    Suite *s = suite_create("results");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, full_trial_round_trip);
    tcase_add_test(tc, writer_rejects_bad_input);
    tcase_add_test(tc, typed_axes_round_trip);
    tcase_add_test(tc, killed_writer_exit_leaves_nothing_complete);
    tcase_add_test(tc, killed_writer_sigkill_leaves_nothing_complete);
    tcase_add_test(tc, refuses_to_overwrite_completed);
    tcase_add_test(tc, failed_trial_state);
    tcase_add_test(tc, corrupt_file_is_an_error_naming_it);
    tcase_add_test(tc, damaged_file_never_counts_as_completed);
    tcase_add_test(tc, arrays_carry_fletcher32_for_any_hdf5_reader);
    tcase_add_test(tc, file_from_before_the_seal_reads_and_its_damage_never_crashes);
    tcase_add_test(tc, implausible_shapes_are_refused_before_allocating);
    tcase_add_test(tc, unreadable_file_state_is_unknown_not_damaged);
    tcase_add_test(tc, plain_file_layer_round_trip);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
