/* test_run.c: the sweep end to end with the test-only toy plugins and the
 * product coop/zeroshot/ensemble plugins: expansion, training, evaluation on
 * a target, results contents, skip on re-run, refusal of completed trials of
 * other plugin versions or checkpoints, failure recording (a failed trial
 * keeps its config and axes, and the report places it), typed axis values, --force,
 * the CLI's dry run, plugin listing and bad input, the re-run of a damaged
 * completed trial, and a kill + resume. */
#include "coop/loader.h"
#include "coop/matrix.h"
#include "coop/results.h"
#include "coop/run.h"
#include "coop/util.h"
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"
#include "../common/toy_sweep.h"

static char tmpdir[256];

static void make_tmp(void)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "run"), 0);
    char *ck = coop_asprintf("%s/toy.ckpt", tmpdir);
    FILE *f = fopen(ck, "w");
    fputs("toy", f);
    fclose(f);
    free(ck);
}

/* Checked teardown (runs in the test's process): a passing test leaves nothing
 * behind; a failing one keeps its folder for a look. */
static void remove_tmp(void)
{
    if (tmpdir[0])
        ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
}

static char *write_yaml(const char *name, const char *body)
{
    char *p = coop_asprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "results_dir: %s/results\n%s", tmpdir, body);
    fclose(f);
    return p;
}

static const char *base_yaml =
    "experiment: toy\n"
    "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
    "datasets:\n"
    "  - name: toy_colors\n"
    "    targets: [toy_colors_shift]\n"
    "methods:\n"
    "  - name: coop\n"
    "    n_ctx: [2, 4]\n"
    "    csc: [false, true]\n"
    "  - name: zeroshot\n"
    "  - name: ensemble\n"
    "  - name: linear_probe\n"
    "shots: [2, 4]\n"
    "seeds: [1]\n"
    "train: {epochs: 30, lr: 0.05, batch_size: 8}\n"
    "augment: {mode: views, views: 2}\n";

static struct coop_registry *registry(void)
{
    return coop_test_registry();
}

static int sweep(const char *yaml, bool force, struct coop_run_summary *s)
{
    struct coop_registry *r = registry();
    struct coop_matrix_resolver res;
    coop_run_resolver(r, &res);
    struct coop_matrix *m = NULL;
    struct coop_err e;
    int rc = coop_matrix_load(yaml, &res, &m, &e);
    if (rc)
        fprintf(stderr, "matrix: %s\n", e.msg);
    ck_assert_int_eq(rc, 0);
    char *cache = coop_asprintf("%s/cache", tmpdir);
    struct coop_run_options o = {.force = force, .cache_dir = cache, .out = stderr};
    rc = coop_run_sweep(m, r, &o, s, &e);
    if (rc)
        fprintf(stderr, "sweep: %s\n", e.msg);
    free(cache);
    coop_matrix_free(m);
    coop_registry_free(r);
    return rc;
}

static size_t count_files(const char *dir, const char *suffix, bool hidden)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if ((de->d_name[0] == '.') == hidden && strstr(de->d_name, suffix))
            n++;
    if (d)
        closedir(d);
    return n;
}

START_TEST(sweep_trains_evaluates_and_records)
{
    make_tmp();
    char *yaml = write_yaml("toy.yaml", base_yaml);
    struct coop_run_summary s;
    ck_assert_int_eq(sweep(yaml, false, &s), 0);
    /* coop: 2 n_ctx x 2 csc x 2 shots; zeroshot and ensemble: once each;
     * linear probe: 2 shots */
    ck_assert_uint_eq(s.total, 12);
    ck_assert_uint_eq(s.completed, 12);
    ck_assert_uint_eq(s.failed, 0);
    char *dir = coop_asprintf("%s/results/toy", tmpdir);
    ck_assert_uint_eq(count_files(dir, ".h5", false), 12);
    /* read every file back: CoOp learns the toy task, zero-shot is recorded */
    DIR *d = opendir(dir);
    struct dirent *de;
    int coop_files = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strstr(de->d_name, ".h5"))
            continue;
        char *f = coop_asprintf("%s/%s", dir, de->d_name);
        struct coop_results_reader *r;
        struct coop_err e;
        ck_assert_int_eq(coop_results_open(f, &r, &e), 0);
        char *status, *kind;
        ck_assert_int_eq(coop_results_read_attr_str(r, "status", &status, &e), 0);
        ck_assert_str_eq(status, "completed");
        ck_assert_int_eq(coop_results_read_attr_str(r, "method_kind", &kind, &e), 0);
        ck_assert(coop_results_has(r, "eval/test/accuracy"));
        ck_assert(coop_results_has(r, "eval/toy_colors_shift/accuracy"));
        ck_assert(coop_results_has(r, "eval/toy_colors_shift/confusion"));
        if (strcmp(kind, "prompt") == 0) {
            coop_files++;
            double *loss;
            int rank;
            size_t shape[COOP_RESULTS_MAX_RANK];
            ck_assert_int_eq(coop_results_read_f64(r, "train/curve/loss", &loss, &rank, shape, &e), 0);
            ck_assert_int_eq(rank, 1);
            ck_assert_uint_eq(shape[0], 30);
            ck_assert_double_lt(loss[29], 0.7 * loss[0]); /* training loss falls */
            free(loss);
            double *acc;
            ck_assert_int_eq(coop_results_read_f64(r, "train/curve/accuracy", &acc, &rank, shape, &e), 0);
            /* axis values keep their types: numbers as numbers, booleans as bools */
            bool csc;
            int64_t n_ctx, shots;
            ck_assert_int_eq(coop_results_read_attr_bool(r, "axis_csc", &csc, &e), 0);
            ck_assert_int_eq(coop_results_read_attr_int(r, "axis_n_ctx", &n_ctx, &e), 0);
            ck_assert_int_eq(coop_results_read_attr_int(r, "axis_shots", &shots, &e), 0);
            ck_assert(n_ctx == 2 || n_ctx == 4);
            ck_assert(shots == 2 || shots == 4);
            char *str;
            ck_assert_int_ne(coop_results_read_attr_str(r, "axis_n_ctx", &str, &e), 0);
            ck_assert_int_eq(coop_results_read_attr_str(r, "axis_position", &str, &e), 0);
            free(str);
            /* class-specific context can fit the toy task: well above chance (25%) */
            if (csc)
                ck_assert_double_gt(acc[29], 90.0);
            free(acc);
            ck_assert(coop_results_has(r, "params/ctx"));
            ck_assert(coop_results_has(r, "interpret/nearest_words"));
            ck_assert(coop_results_has(r, "fewshot/train_items"));
            /* the stored context re-evaluated later gives the trial's own target numbers */
            double *tacc;
            ck_assert_int_eq(coop_results_read_f64(r, "eval/toy_colors_shift/accuracy", &tacc,
                                                   &rank, shape, &e), 0);
            struct coop_registry *reg = registry();
            char *cache = coop_asprintf("%s/cache", tmpdir);
            struct coop_eval_request q = {f, "toy_colors_shift", NULL, NULL, cache};
            struct coop_run_options o = {.out = NULL};
            double a2 = -1, f2 = -1;
            ck_assert_int_eq(coop_run_eval_stored(&q, reg, &o, &a2, &f2, &e), 0);
            ck_assert_double_eq_tol(a2, tacc[0], 1e-9);
            ck_assert_double_ge(f2, 0.0);
            /* a misspelt dataset is named, with a suggestion, before the backbone loads */
            char *log = NULL;
            size_t loglen = 0;
            o.out = open_memstream(&log, &loglen);
            q.dataset = "toy_colors_shfit";
            ck_assert_int_eq(coop_run_eval_stored(&q, reg, &o, &a2, &f2, &e), COOP_E_NOTFOUND);
            fclose(o.out);
            ck_assert_msg(strstr(e.msg, "'toy_colors_shfit' (did you mean 'toy_colors_shift'?)"),
                          "%s", e.msg);
            ck_assert_msg(!strstr(log, "loading backbone"), "%s", log);
            free(log);
            free(tacc);
            free(cache);
            coop_registry_free(reg);
        }
        char *plugin;
        ck_assert_int_eq(coop_results_read_attr_str(r, "method_plugin", &plugin, &e), 0);
        if (strcmp(plugin, "linear_probe") == 0) {
            double *acc;
            int rank;
            size_t shape[COOP_RESULTS_MAX_RANK];
            ck_assert_int_eq(
                coop_results_read_f64(r, "eval/test/accuracy", &acc, &rank, shape, &e), 0);
            ck_assert_double_gt(acc[0], 80.0); /* the toy colours are linearly separable */
            free(acc);
            char *state;
            ck_assert_int_eq(coop_results_read_attr_str(r, "method_state", &state, &e), 0);
            ck_assert_ptr_nonnull(strstr(state, "C="));
            free(state);
        }
        free(plugin);
        free(status);
        free(kind);
        coop_results_close(r);
        free(f);
    }
    closedir(d);
    ck_assert_int_eq(coop_files, 8);
    coop_run_summary_free(&s);
    /* re-run: everything is skipped, judged by recorded status */
    ck_assert_int_eq(sweep(yaml, false, &s), 0);
    ck_assert_uint_eq(s.skipped, 12);
    ck_assert_uint_eq(s.ran, 0);
    coop_run_summary_free(&s);
    /* --force re-runs */
    ck_assert_int_eq(sweep(yaml, true, &s), 0);
    ck_assert_uint_eq(s.completed, 12);
    coop_run_summary_free(&s);
    ck_assert_uint_eq(count_files(dir, ".tmp", true), 0);
    /* the report over what the sweep wrote */
    char *cmd = coop_asprintf("%s/core/cli/coop-report/coop-report %s > %s/report.txt 2>&1",
                              getenv("COOP_BUILD_ROOT"), dir, tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    char *tab = coop_asprintf("%s/report/tables/fewshot.md", dir), *text = NULL;
    struct coop_err e;
    ck_assert_int_eq(coop_read_file(tab, 1 << 20, &text, NULL, &e), 0);
    ck_assert_ptr_nonnull(strstr(text, "CoOp M=4 end CSC"));
    ck_assert_ptr_nonnull(strstr(text, "Zero-shot CLIP"));
    ck_assert_ptr_nonnull(strstr(text, "Linear probe"));
    free(text), free(tab), free(cmd);
    free(dir);
    free(yaml);
}
END_TEST

/* augment.crop_scale reaches the training views: another scale is another
 * feature cache (never a stale view), and the trials differ. */
/* Class names of eval/<target>, joined with spaces. */
static char *eval_names(struct coop_results_reader *r, const char *target)
{
    char path[96], **v, *out = coop_strdup("");
    int rank;
    size_t shape[COOP_RESULTS_MAX_RANK];
    struct coop_err e;
    snprintf(path, sizeof path, "eval/%s/class_names", target);
    ck_assert_msg(coop_results_read_strings(r, path, &v, &rank, shape, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < shape[0]; i++) {
        char *n = coop_asprintf("%s%s%s", out, i ? " " : "", v[i]);
        free(out);
        out = n;
    }
    coop_results_free_strings(v, shape[0]);
    return out;
}

static double eval_scalar(struct coop_results_reader *r, const char *path)
{
    double v = NAN;
    struct coop_err e;
    ck_assert_msg(coop_results_read_scalar(r, path, &v, &e) == 0, "%s: %s", path, e.msg);
    return v;
}

/* toy_colors' 4 classes: base = red green (labels 0, 1), new = blue yellow
 * relabelled 0, 1. CoOp trains on the base shots only and is evaluated on both
 * halves; the linear probe on the base half only. */
START_TEST(base2new_trains_on_base_and_evaluates_both_halves)
{
    make_tmp();
    char *yaml = write_yaml("b2n.yaml", "experiment: b2n\n"
                                        "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                                        "datasets: [{name: toy_colors, protocol: base2new}]\n"
                                        "methods: [{name: coop, n_ctx: 2, csc: [false, true]},"
                                        " zeroshot, linear_probe]\n"
                                        "shots: 4\nseeds: [1]\n"
                                        "train: {epochs: 10, lr: 0.05, batch_size: 8}\n");
    struct coop_run_summary s;
    ck_assert_int_eq(sweep(yaml, false, &s), 0);
    ck_assert_uint_eq(s.completed, 3);
    ck_assert_uint_eq(s.failed, 1); /* class-specific context has no rows for new classes */
    coop_run_summary_free(&s);
    char *dir = coop_asprintf("%s/results/b2n", tmpdir);
    DIR *d = opendir(dir);
    struct dirent *de;
    int seen = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strstr(de->d_name, ".h5"))
            continue;
        char *f = coop_asprintf("%s/%s", dir, de->d_name), *method, *proto;
        struct coop_results_reader *r;
        struct coop_err e;
        ck_assert_int_eq(coop_results_open(f, &r, &e), 0);
        ck_assert_int_eq(coop_results_read_attr_str(r, "axis_method", &method, &e), 0);
        ck_assert_int_eq(coop_results_read_attr_str(r, "axis_protocol", &proto, &e), 0);
        ck_assert_str_eq(proto, "base2new");
        ck_assert(!coop_results_has(r, "eval/test/accuracy"));
        char *status, *err;
        ck_assert_int_eq(coop_results_read_attr_str(r, "status", &status, &e), 0);
        if (strcmp(status, "failed") == 0) {
            ck_assert_int_eq(coop_results_read_attr_str(r, "error", &err, &e), 0);
            ck_assert_msg(strstr(err, "the new classes are none of the 2 trained on") &&
                          strstr(err, "class 'blue' maps to training class -1"), "%s", err);
            ck_assert(coop_results_has(r, "eval/base/accuracy")); /* base was evaluated */
            free(err), free(status), free(method), free(proto), free(f);
            coop_results_close(r);
            seen++;
            continue;
        }
        free(status);
        char *bn = eval_names(r, "base");
        ck_assert_str_eq(bn, "red green");
        ck_assert_double_eq(eval_scalar(r, "eval/base/n_samples"), 16); /* 8 test items a class */
        if (strcmp(method, "zeroshot") != 0) { /* the sample: base classes, labels 0..1 */
            int32_t *lab;
            int rank;
            size_t shape[COOP_RESULTS_MAX_RANK];
            ck_assert_int_eq(coop_results_read_i32(r, "fewshot/train_labels", &lab, &rank, shape,
                                                   &e), 0);
            ck_assert_uint_eq(shape[0], 8);
            for (size_t i = 0; i < shape[0]; i++)
                ck_assert(lab[i] == 0 || lab[i] == 1);
            free(lab);
        }
        if (strcmp(method, "linear_probe") == 0) {
            ck_assert(!coop_results_has(r, "eval/new/accuracy"));
            ck_assert(!coop_results_has(r, "base2new/harmonic_mean"));
        } else {
            char *nn = eval_names(r, "new");
            ck_assert_str_eq(nn, "blue yellow");
            free(nn);
            double b = eval_scalar(r, "eval/base/accuracy"), n = eval_scalar(r, "eval/new/accuracy");
            ck_assert_double_eq_tol(eval_scalar(r, "base2new/harmonic_mean"),
                                    b + n > 0 ? 2 * b * n / (b + n) : 0, 1e-12);
            ck_assert_double_eq(eval_scalar(r, "eval/new/n_samples"), 16);
        }
        if (strcmp(method, "coop") == 0) { /* coop-eval takes the base classes as trained */
            struct coop_registry *reg = registry();
            char *cache = coop_asprintf("%s/cache", tmpdir);
            struct coop_eval_request q = {f, "toy_colors_shift", NULL, NULL, cache};
            struct coop_run_options o = {.out = NULL};
            double a2 = -1, f2 = -1;
            ck_assert_msg(coop_run_eval_stored(&q, reg, &o, &a2, &f2, &e) == 0, "%s", e.msg);
            ck_assert(a2 >= 0 && a2 <= 100);
            free(cache);
            coop_registry_free(reg);
        }
        seen++;
        free(bn), free(method), free(proto), free(f);
        coop_results_close(r);
    }
    closedir(d);
    ck_assert_int_eq(seen, 4);
    free(dir);
    free(yaml);
}
END_TEST

START_TEST(crop_scale_makes_its_own_views)
{
    make_tmp();
    const char *body = "experiment: crop\n"
                       "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                       "datasets: [toy_colors]\n"
                       "methods: [{name: coop, n_ctx: 2}]\n"
                       "shots: 4\n"
                       "train: {epochs: 5, lr: 0.05, batch_size: 8}\n";
    char *a = coop_asprintf("%saugment: {mode: views, views: 2}\n", body);
    char *b = coop_asprintf("%saugment: {mode: views, views: 2, crop_scale: [0.08, 1]}\n", body);
    char *ya = write_yaml("a.yaml", a), *yb = write_yaml("b.yaml", b);
    char *feat = coop_asprintf("%s/cache/features", tmpdir);
    struct coop_run_summary s;
    ck_assert_int_eq(sweep(ya, false, &s), 0);
    ck_assert_uint_eq(s.completed, 1);
    coop_run_summary_free(&s);
    size_t n1 = count_files(feat, ".feat", false);
    ck_assert_int_eq(sweep(yb, false, &s), 0);
    ck_assert_uint_eq(s.skipped, 1); /* crop_scale 0.08 is the trial run before */
    ck_assert_uint_eq(s.completed, 1);
    coop_run_summary_free(&s);
    ck_assert_uint_eq(count_files(feat, ".feat", false), n1 + 2); /* two views at scale 1 */
    free(a), free(b), free(ya), free(yb), free(feat);
}
END_TEST

START_TEST(failing_trial_is_recorded_and_sweep_goes_on)
{
    make_tmp();
    char *yaml = write_yaml("fail.yaml",
                            "experiment: fails\n"
                            "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                            "datasets:\n"
                            "  - name: toy_colors\n"
                            "    options: {fail_open: [true, false]}\n"
                            "methods: [zeroshot]\n");
    struct coop_run_summary s;
    ck_assert_int_eq(sweep(yaml, false, &s), 0);
    ck_assert_uint_eq(s.total, 2);
    ck_assert_uint_eq(s.completed, 1);
    ck_assert_uint_eq(s.failed, 1);
    ck_assert_ptr_nonnull(strstr(s.failures[0].message, "asked to fail"));
    char *dir = coop_asprintf("%s/results/fails", tmpdir);
    enum coop_trial_state st;
    char msg[256];
    struct coop_err e;
    ck_assert_int_eq(coop_results_state(dir, s.failures[0].id, &st, msg, sizeof msg, &e), 0);
    ck_assert_int_eq(st, COOP_TRIAL_FAILED);
    ck_assert_ptr_nonnull(strstr(msg, "asked to fail"));
    coop_run_summary_free(&s);
    /* a re-run retries the failed trial only */
    ck_assert_int_eq(sweep(yaml, false, &s), 0);
    ck_assert_uint_eq(s.skipped, 1);
    ck_assert_uint_eq(s.failed, 1);
    coop_run_summary_free(&s);
    free(dir);
    free(yaml);
}
END_TEST

/* A trial whose dataset fails at open (for a reason other than missing
 * data, which the pre-flight checks refuse before any trial); its file still
 * carries its config and axes, so the report puts it in its own cell as failed
 * (not under a "backbone=?" setting of its own). */
START_TEST(failed_trial_keeps_its_axes_for_the_report)
{
    make_tmp();
    char *body = coop_asprintf("experiment: gone\n"
                               "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                               "datasets: [toy_colors, {name: toy_colors_shift, options: "
                               "{fail_open: true}}]\n"
                               "methods: [zeroshot]\n");
    char *path = write_yaml("gone.yaml", body);
    struct coop_run_summary s;
    ck_assert_int_eq(sweep(path, false, &s), 0);
    ck_assert_uint_eq(s.completed, 1);
    ck_assert_uint_eq(s.failed, 1);
    char *dir = coop_asprintf("%s/results/gone", tmpdir);
    char *f = coop_asprintf("%s/%s.h5", dir, s.failures[0].id);
    struct coop_results_reader *r;
    struct coop_err e;
    ck_assert_int_eq(coop_results_open(f, &r, &e), 0);
    const char *want[][2] = {{"axis_dataset", "toy_colors_shift"}, {"axis_method", "zeroshot"},
                             {"axis_backbone", NULL}, {"experiment", "gone"}, {"config", NULL},
                             {"status", "failed"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *v = NULL;
        ck_assert_msg(coop_results_read_attr_str(r, want[i][0], &v, &e) == 0, "%s", want[i][0]);
        if (want[i][1])
            ck_assert_str_eq(v, want[i][1]);
        free(v);
    }
    coop_results_close(r);
    coop_run_summary_free(&s);
    char *cmd = coop_asprintf("%s/core/cli/coop-report/coop-report %s > %s/report.txt 2>&1",
                              getenv("COOP_BUILD_ROOT"), dir, tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    char *rep = coop_asprintf("%s/report.txt", tmpdir), *text = NULL;
    ck_assert_int_eq(coop_read_file(rep, 1 << 20, &text, NULL, &e), 0);
    ck_assert_msg(!strstr(text, "backbone=?"), "%s", text);
    ck_assert_msg(!strstr(text, "incompatible settings"), "%s", text);
    ck_assert_msg(strstr(text, "| toy_colors_shift | Zero-shot CLIP | \xe2\x80\x94 (1 failed) |"),
                  "%s", text);
    free(text);
    free(rep);
    free(cmd), free(f), free(dir), free(path), free(body);
}
END_TEST

/* Runs coop-run with args; returns exit status, output in out. */
static int run_cli(const char *args, char *out, size_t len)
{
    char *cmd = coop_asprintf("%s/core/cli/coop-run/coop-run %s 2>&1", getenv("COOP_BUILD_ROOT"),
                              args);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    free(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(cli_dry_run_list_and_bad_input)
{
    make_tmp();
    char *yaml = write_yaml("toy.yaml", base_yaml);
    static char out[65536];
    char *args = coop_asprintf("--dry-run %s", yaml);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "12 trials"));
    ck_assert_ptr_nonnull(strstr(out, "n_ctx=4"));
    ck_assert_ptr_nonnull(strstr(out, "todo"));
    free(args);
    ck_assert_int_eq(run_cli("--list-plugins", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "toy_colors"));
    ck_assert_ptr_nonnull(strstr(out, "coop "));
    ck_assert_ptr_nonnull(strstr(out, "zeroshot"));
    ck_assert_ptr_nonnull(strstr(out, "ABI")); /* coop-bad_abi.so reported */
    char *bad = write_yaml("bad.yaml", "experiment: bad\n"
                                       "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                                       "datasets: [toy_colours]\n"
                                       "methods: [zeroshot]\n");
    args = coop_asprintf("%s", bad);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "bad.yaml:4:"));
    ck_assert_ptr_nonnull(strstr(out, "toy_colors")); /* did you mean */
    free(args);
    free(bad);
    free(yaml);
}
END_TEST

/* --describe prints a plugin's file and every declared parameter with type,
 * default, range (integers as integers) or choices and help; KIND/NAME picks a
 * kind; an unknown name exits 2 with a suggestion. */
START_TEST(cli_describe_prints_parameters)
{
    make_tmp();
    static char out[65536];
    ck_assert_int_eq(run_cli("--describe toy_colors", out, sizeof out), 0);
    ck_assert_msg(strstr(out, "dataset toy_colors 1.0: test-only 4-colour dataset\n"), "%s", out);
    ck_assert_msg(strstr(out, "file: ") && strstr(out, ".so\n"), "%s", out);
    ck_assert_msg(strstr(out, "train_per_class  int     12         [1, 64]            "
                              "train images per class\n"), "%s", out);
    ck_assert_msg(strstr(out, "fail_open        bool    false      -                  "
                              "fail when opened (tests)\n"), "%s", out);
    ck_assert_int_eq(run_cli("--describe prompt/coop", out, sizeof out), 0);
    ck_assert_msg(strstr(out, "position         choice  end        end|middle|front   "), "%s",
                  out);
    ck_assert_msg(strstr(out, "init             string  \"\"         -  "), "%s", out);
    ck_assert_msg(strstr(out, "init_std         float   0.02       [0, 10]  "), "%s", out);
    ck_assert_int_eq(run_cli("--describe toy_colrs", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "unknown plugin 'toy_colrs' (did you mean 'toy_colors'?)"), "%s",
                  out);
    ck_assert_int_eq(run_cli("--describe baseline/toy_colors", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "unknown baseline plugin 'toy_colors'"), "%s", out);
    ck_assert_int_eq(run_cli("--describe data/coop", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "unknown plugin kind 'data'"), "%s", out);
}
END_TEST

/* Asking for a plugin whose file was rejected names the file and the reason:
 * a descriptor of another ABI (coop-bad_abi.so provides 'future'), a file
 * dlopen refuses for an undefined symbol (coop-dataset-halfbuilt.so), a file
 * without the entry point (coop-no_entry.so); other names keep "did you mean". */
START_TEST(rejected_plugin_files_are_named)
{
    make_tmp();
    static char out[65536];
    const char *cases[][3] = {
        {"future", "coop-bad_abi.so: descriptor 0 ('future') was built against plugin ABI 2",
         "rebuild the plugin"},
        {"halfbuilt", "coop-dataset-halfbuilt.so: cannot load plugin",
         "undefined symbol: coop_test_symbol_defined_nowhere"}};
    for (int i = 0; i < 2; i++) {
        char *body = coop_asprintf("experiment: rej\n"
                                   "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                                   "datasets: [%s]\n"
                                   "methods: [zeroshot]\n", cases[i][0]);
        char *yaml = write_yaml("rej.yaml", body);
        ck_assert_int_eq(run_cli(yaml, out, sizeof out), 2);
        char want[128];
        snprintf(want, sizeof want, "rej.yaml:4:12: dataset plugin '%s' is not available: ",
                 cases[i][0]);
        ck_assert_msg(strstr(out, want), "%s", out);
        ck_assert_msg(strstr(out, cases[i][1]) && strstr(out, cases[i][2]), "%s", out);
        free(body), free(yaml);
    }
    struct coop_registry *r = registry();
    struct coop_err e;
    ck_assert_int_eq(coop_registry_explain(r, COOP_PLUGIN_DATASET, "no_entry", &e),
                     COOP_E_NOTFOUND);
    ck_assert_msg(strstr(e.msg, "dataset plugin 'no_entry' is not available: ") &&
                  strstr(e.msg, "coop-no_entry.so: not a coop plugin: entry point "
                                "coop_plugin_enum() missing"), "%s", e.msg);
    ck_assert_int_eq(coop_registry_explain(r, COOP_PLUGIN_DATASET, "future", &e),
                     COOP_E_NOTFOUND);
    ck_assert_msg(strstr(e.msg, "coop-bad_abi.so: descriptor 0 ('future')"), "%s", e.msg);
    ck_assert_msg(!strstr(e.msg, "halfbuilt"), "%s", e.msg); /* only the file that matters */
    char why[512];
    ck_assert_uint_eq(coop_registry_rejected(r, "toy_colours", why, sizeof why), 0);
    ck_assert_uint_eq(coop_registry_rejected(r, "built", why, sizeof why), 0); /* no -built.so */
    ck_assert_int_eq(coop_registry_explain(r, COOP_PLUGIN_DATASET, "toy_colours", &e),
                     COOP_E_NOTFOUND);
    ck_assert_msg(strstr(e.msg, "did you mean 'toy_colors'"), "%s", e.msg);
    coop_registry_free(r);
}
END_TEST

/* A prompt longer than the backbone's context (toy: 16 tokens) for some class
 * stops the sweep before any trial runs, naming the dataset, the class and
 * the lengths; n_ctx and init words are both counted. */
START_TEST(too_long_prompts_are_refused_before_any_trial)
{
    make_tmp();
    const char *methods[][2] = {
        {"[{name: coop, n_ctx: [2, 13]}]", "13 context (n_ctx)"},
        {"[zeroshot, {name: coop, init: \"a b c d e f g h i j k l m\"}]",
         "13 of the init words"}};
    for (int i = 0; i < 2; i++) {
        char *body = coop_asprintf("experiment: long\n"
                                   "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                                   "datasets: [{name: toy_colors, targets: [toy_colors_shift]}]\n"
                                   "methods: %s\n"
                                   "shots: 2\n"
                                   "train: {epochs: 2, batch_size: 8}\n", methods[i][0]);
        char *yaml = write_yaml("long.yaml", body);
        struct coop_registry *r = registry();
        struct coop_matrix_resolver res;
        coop_run_resolver(r, &res);
        struct coop_matrix *m = NULL;
        struct coop_err e;
        ck_assert_msg(coop_matrix_load(yaml, &res, &m, &e) == 0, "%s", e.msg);
        char *cache = coop_asprintf("%s/cache", tmpdir);
        struct coop_run_options o = {.cache_dir = cache, .out = stderr};
        struct coop_run_summary s;
        ck_assert_int_eq(coop_run_sweep(m, r, &o, &s, &e), COOP_E_INVAL);
        ck_assert_msg(strstr(e.msg, "dataset 'toy_colors'") && strstr(e.msg, "class 'red'") &&
                      strstr(e.msg, "is 17 tokens") && strstr(e.msg, methods[i][1]) &&
                      strstr(e.msg, "context length 16"), "%s", e.msg);
        ck_assert_uint_eq(s.ran, 0); /* not even the trials that fit */
        coop_run_summary_free(&s);
        char *dir = coop_asprintf("%s/results/long", tmpdir);
        ck_assert_uint_eq(count_files(dir, ".h5", false), 0);
        free(dir), free(cache), free(body), free(yaml);
        coop_matrix_free(m);
        coop_registry_free(r);
    }
}
END_TEST

/* Writes a completed results file for trial t as another version would have:
 * the given dataset plugin version and checkpoint hash. */
static void fake_completed(const struct coop_trial *t, const char *dataset_version,
                           const char *checkpoint_sha)
{
    char *dir = coop_asprintf("%s/%s", t->results_dir, t->experiment);
    struct coop_results_writer *w = NULL;
    struct coop_err e;
    ck_assert_int_eq(coop_mkdirs(dir, &e), 0);
    ck_assert_int_eq(coop_results_begin(dir, t->id, true, &w, &e), 0);
    ck_assert_int_eq(coop_results_attr_str(w, "config", t->config_yaml, &e), 0);
    ck_assert_int_eq(coop_results_attr_str(w, "backbone_plugin_version", "1.0", &e), 0);
    ck_assert_int_eq(coop_results_attr_str(w, "dataset_plugin_version", dataset_version, &e), 0);
    ck_assert_int_eq(coop_results_attr_str(w, "checkpoint_sha256", checkpoint_sha, &e), 0);
    ck_assert_int_eq(coop_results_commit(w, "completed", NULL, &e), 0);
    free(dir);
}

/* A completed trial that another dataset plugin version or checkpoint made
 * keeps its id, but is not skipped silently: the sweep refuses before running
 * anything, names the file and the difference, and leaves it as it was;
 * --force re-runs it. A file that matches is skipped as before. */
START_TEST(completed_trials_of_another_version_are_refused)
{
    make_tmp();
    char *yaml = write_yaml("v.yaml", "experiment: v\n"
                                      "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                                      "datasets: [toy_colors]\n"
                                      "methods: [zeroshot, ensemble]\n");
    char *dir = coop_asprintf("%s/results/v", tmpdir), *cache = coop_asprintf("%s/cache", tmpdir);
    char sha[65];
    memset(sha, 'a', 64); /* what the toy backbone reports */
    sha[64] = '\0';
    const char *cases[][3] = {{"0.9", sha, "dataset plugin 'toy_colors' 0.9, now 1.0"},
                              {"1.0", "b0b0", "checkpoint"}};
    for (size_t c = 0; c < 2; c++) {
        struct coop_registry *r = registry();
        struct coop_matrix_resolver res;
        coop_run_resolver(r, &res);
        struct coop_matrix *m = NULL;
        struct coop_err e;
        ck_assert_int_eq(coop_matrix_load(yaml, &res, &m, &e), 0);
        ck_assert_uint_eq(coop_matrix_count(m), 2);
        const struct coop_trial *t = coop_matrix_trial(m, 1);
        fake_completed(t, cases[c][0], cases[c][1]);
        struct coop_run_options o = {.cache_dir = cache, .out = stderr};
        struct coop_run_summary s;
        ck_assert_int_eq(coop_run_sweep(m, r, &o, &s, &e), COOP_E_INVAL);
        ck_assert_msg(strstr(e.msg, t->id) && strstr(e.msg, cases[c][2]) &&
                      strstr(e.msg, "--force"), "%s", e.msg);
        ck_assert_uint_eq(s.ran, 0);
        coop_run_summary_free(&s);
        /* nothing else ran (the second case finds the first one's two files) */
        ck_assert_uint_eq(count_files(dir, ".h5", false), c == 0 ? 1 : 2);
        char *path = coop_asprintf("%s/%s.h5", dir, t->id);
        struct coop_results_reader *rd = NULL;
        char *v = NULL;
        ck_assert_int_eq(coop_results_open(path, &rd, &e), 0);
        ck_assert_int_eq(coop_results_read_attr_str(rd, "dataset_plugin_version", &v, &e), 0);
        ck_assert_str_eq(v, cases[c][0]); /* untouched */
        free(v);
        coop_results_close(rd);
        /* --force re-runs it with the current versions; then a plain run skips both */
        o.force = true;
        ck_assert_int_eq(coop_run_sweep(m, r, &o, &s, &e), 0);
        ck_assert_uint_eq(s.completed, 2);
        coop_run_summary_free(&s);
        o.force = false;
        ck_assert_int_eq(coop_run_sweep(m, r, &o, &s, &e), 0);
        ck_assert_uint_eq(s.skipped, 2);
        ck_assert_uint_eq(s.foreign, 0);
        coop_run_summary_free(&s);
        ck_assert_int_eq(coop_results_open(path, &rd, &e), 0);
        ck_assert_int_eq(coop_results_read_attr_str(rd, "dataset_plugin_version", &v, &e), 0);
        ck_assert_str_eq(v, "1.0");
        free(v);
        coop_results_close(rd);
        free(path);
        if (c == 1) {
            /* result files no trial of this matrix names are counted, other files not */
            const char *extra[] = {"0123456789abcdef.h5", "notes.h5", "0123456789abcdef.txt"};
            for (size_t k = 0; k < 3; k++) {
                char *x = coop_asprintf("%s/%s", dir, extra[k]);
                FILE *f = fopen(x, "w");
                ck_assert_ptr_nonnull(f);
                fclose(f);
                free(x);
            }
            ck_assert_int_eq(coop_run_sweep(m, r, &o, &s, &e), 0);
            ck_assert_uint_eq(s.skipped, 2);
            ck_assert_uint_eq(s.foreign, 1);
            coop_run_summary_free(&s);
        }
        coop_matrix_free(m);
        coop_registry_free(r);
    }
    free(dir);
    free(cache);
    free(yaml);
}
END_TEST

/* Weights that are finite but overflow the features: every method's trial
 * fails (status failed, counted, exit 1) with where it happened, instead of
 * completing at chance accuracy. */
START_TEST(non_finite_numbers_fail_their_trials)
{
    make_tmp();
    char *yaml = write_yaml("nan.yaml", "experiment: nan\n"
                                        "backbone:\n"
                                        "  plugin: toy\n"
                                        "  checkpoint: toy.ckpt\n"
                                        "  options: {weight_scale: 3e38}\n"
                                        "datasets: [toy_colors]\n"
                                        "methods: [{name: coop, n_ctx: 2}, zeroshot,\n"
                                        "          linear_probe]\n"
                                        "shots: 2\n"
                                        "train: {epochs: 3, batch_size: 8}\n");
    static char out[65536];
    char *args = coop_asprintf("--cache %s/cache %s", tmpdir, yaml);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "3 failed"), "%s", out);
    ck_assert_msg(strstr(out, "non-finite logit at epoch 1, iteration 1"), "%s", out);
    ck_assert_msg(strstr(out, "evaluation on test: non-finite logits for 32 of 32 images"), "%s",
                  out);
    ck_assert_msg(strstr(out, "linear probe: non-finite objective"), "%s", out);
    char *dir = coop_asprintf("%s/results/nan", tmpdir);
    DIR *d = opendir(dir);
    struct dirent *de;
    int failed = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strstr(de->d_name, ".h5"))
            continue;
        char id[32], msg[256];
        snprintf(id, sizeof id, "%.16s", de->d_name);
        enum coop_trial_state st;
        struct coop_err e;
        ck_assert_int_eq(coop_results_state(dir, id, &st, msg, sizeof msg, &e), 0);
        ck_assert_int_eq(st, COOP_TRIAL_FAILED);
        ck_assert_ptr_nonnull(strstr(msg, "non-finite"));
        failed++;
    }
    closedir(d);
    ck_assert_int_eq(failed, 3);
    free(dir), free(args), free(yaml);
}
END_TEST

/* A completed trial whose file was damaged afterwards (its checksum fails)
 * is not completed: the next run warns, naming the file, and runs it again.
 * One that cannot be read at all is left alone and reported. */
START_TEST(damaged_completed_trial_is_rerun_with_a_warning)
{
    make_tmp();
    char *yaml = write_yaml("dmg.yaml", "experiment: dmg\n"
                                        "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                                        "datasets: [toy_colors]\n"
                                        "methods: [zeroshot, ensemble]\n");
    char *args = coop_asprintf("--cache %s/cache %s", tmpdir, yaml);
    static char out[65536];
    ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
    char *dir = coop_asprintf("%s/results/dmg", tmpdir);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    char victim[600] = "";
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.' && strstr(de->d_name, ".h5"))
            snprintf(victim, sizeof victim, "%s/%s", dir, de->d_name);
    closedir(d);
    ck_assert(victim[0]);
    FILE *f = fopen(victim, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, n / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, n / 2, SEEK_SET);
    fputc(c ^ 0x04, f);
    fclose(f);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "warning: ") && strstr(out, victim) && strstr(out, "re-run"),
                  "no warning naming %s: %s", victim, out);
    ck_assert_ptr_nonnull(strstr(out, "2 trials: 1 completed now, 1 already completed"));
    ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "2 trials: 0 completed now, 2 already completed"));
    /* A file that cannot be read at all (read(2) fails: EIO) may be a completed
     * trial: it is neither skipped nor replaced, and the trial counts as failed. */
    ck_assert_int_eq(unlink(victim), 0);
    ck_assert_int_eq(symlink("/proc/self/mem", victim), 0);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "cannot tell whether it is completed") && strstr(out, victim),
                  "%s", out);
    struct stat lst;
    ck_assert(lstat(victim, &lst) == 0 && S_ISLNK(lst.st_mode));
    free(dir);
    free(args);
    free(yaml);
}
END_TEST

START_TEST(kill_mid_sweep_then_resume)
{
    make_tmp();
    char *yaml = write_yaml("slow.yaml",
                            "experiment: slow\n"
                            "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                            "datasets:\n"
                            "  - name: toy_colors\n"
                            "    options: {sleep_ms: 20}\n"
                            "methods: [{name: coop, n_ctx: 4}]\n"
                            "shots: [1, 2, 4]\n"
                            "seeds: [1, 2]\n"
                            "train: {epochs: 5, batch_size: 4}\n"
                            "augment: {mode: online}\n");
    char *dir = coop_asprintf("%s/results/slow", tmpdir);
    char *exe = coop_asprintf("%s/core/cli/coop-run/coop-run", getenv("COOP_BUILD_ROOT"));
    char *cache = coop_asprintf("%s/cache", tmpdir);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        freopen("/dev/null", "w", stdout);
        execl(exe, exe, "--cache", cache, yaml, (char *)NULL);
        _exit(127);
    }
    /* wait for the first completed trial, then stop the run mid-sweep */
    for (int i = 0; i < 6000 && count_files(dir, ".h5", false) < 1; i++)
        usleep(10000);
    ck_assert_uint_ge(count_files(dir, ".h5", false), 1);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 130);
    size_t done = count_files(dir, ".h5", false);
    ck_assert_uint_lt(done, 6);
    ck_assert_uint_eq(count_files(dir, ".tmp", true), 0); /* the trial in flight left nothing */
    static char out[65536];
    char *args = coop_asprintf("--cache %s %s", cache, yaml);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
    char expect[64];
    snprintf(expect, sizeof expect, "%zu already completed", done);
    ck_assert_ptr_nonnull(strstr(out, expect));
    ck_assert_uint_eq(count_files(dir, ".h5", false), 6);
    free(args), free(yaml), free(dir), free(exe), free(cache);
}
END_TEST

/* The host's parameter helpers (coop/loader.h) that coop-export-dataset's
 * --set and coop-run --describe use: checks, defaults, texts. */
START_TEST(param_helpers_check_fill_and_describe)
{
    static const char *const pos[] = {"end", "middle", "front", NULL};
    static const struct coop_param_spec spec[] = {
        {"n_ctx", COOP_PARAM_INT, "16", 1, 64, NULL, NULL},
        {"position", COOP_PARAM_CHOICE, "end", 0, 0, pos, NULL},
        {"root", COOP_PARAM_STRING, NULL, 1, 0, NULL, NULL},
        COOP_PARAM_END};
    struct coop_kv kv[8] = {{"root", "/data"}, {"n_ctx", "4"}};
    size_t n = 2;
    struct coop_err e;
    ck_assert_int_eq(coop_params_resolve(spec, kv, &n, 8, &e), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(kv[2].key, "position");
    ck_assert_str_eq(kv[2].value, "end");
    struct coop_kv bad[4] = {{"n_cxt", "4"}};
    n = 1;
    ck_assert_int_eq(coop_params_resolve(spec, bad, &n, 4, &e), COOP_E_INVAL);
    ck_assert_str_eq(e.msg, "unknown dataset parameter 'n_cxt' (did you mean 'n_ctx'?)");
    bad[0] = (struct coop_kv){"n_ctx", "65"};
    ck_assert_int_eq(coop_params_resolve(spec, bad, &n, 4, &e), COOP_E_INVAL);
    ck_assert_str_eq(e.msg, "parameter n_ctx = '65' is not an integer in [1, 64]");
    n = 0;
    ck_assert_int_eq(coop_params_resolve(spec, bad, &n, 4, &e), COOP_E_INVAL);
    ck_assert_str_eq(e.msg, "dataset parameter root is required");
    char buf[64];
    ck_assert_str_eq(coop_param_domain(&spec[0], buf, sizeof buf), "[1, 64]");
    ck_assert_str_eq(coop_param_domain(&spec[1], buf, sizeof buf), "end|middle|front");
    ck_assert_str_eq(coop_param_domain(&spec[2], buf, sizeof buf), "-");
    ck_assert_str_eq(coop_param_type_name(COOP_PARAM_CHOICE), "choice");
    ck_assert_str_eq(coop_param_type_name(COOP_PARAM_FLOAT), "float");
}
END_TEST

/* Each trial of the last sweep as "id acc=... cache=... train=i,j,...;" in id
 * order: what a run produced, for comparing runs. */
static char *trial_outcomes(void)
{
    char *dir = coop_asprintf("%s/results/toy", tmpdir);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    ck_assert_int_ge(n, 0);
    char *all = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&all, &len);
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (nm[0] != '.' && strstr(nm, ".h5")) {
            char *f = coop_asprintf("%s/%s", dir, nm);
            struct coop_results_reader *r;
            struct coop_err e;
            ck_assert_msg(coop_results_open(f, &r, &e) == 0, "%s", e.msg);
            double *acc;
            int32_t *idx;
            char *cache;
            int rank;
            size_t shape[COOP_RESULTS_MAX_RANK], ni;
            ck_assert_int_eq(
                coop_results_read_f64(r, "eval/test/accuracy", &acc, &rank, shape, &e), 0);
            ck_assert_int_eq(coop_results_read_attr_str(r, "fewshot_cache", &cache, &e), 0);
            ck_assert_int_eq(
                coop_results_read_i32(r, "fewshot/train_index", &idx, &rank, shape, &e), 0);
            ni = shape[0];
            fprintf(out, "%.16s acc=%.17g cache=%s train=", nm, acc[0], cache);
            for (size_t k = 0; k < ni; k++)
                fprintf(out, "%d,", idx[k]);
            fputs(";\n", out);
            free(acc);
            free(idx);
            free(cache);
            coop_results_close(r);
            free(f);
        }
        free(names[i]);
    }
    free(names);
    fclose(out);
    free(dir);
    return all;
}

/* One sweep of `options` into fresh results and cache folders. */
static char *run_variants(const char *options)
{
    char *res = coop_asprintf("%s/results", tmpdir), *cache = coop_asprintf("%s/cache", tmpdir);
    ck_assert_int_eq(coop_test_rmtree(res), 0);
    ck_assert_int_eq(coop_test_rmtree(cache), 0);
    free(res);
    free(cache);
    char *body = coop_asprintf("experiment: toy\n"
                               "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                               "datasets:\n"
                               "  - name: toy_colors\n"
                               "%s"
                               "methods: [{name: linear_probe}]\n"
                               "shots: [4]\n"
                               "seeds: [1]\n",
                               options);
    char *yaml = write_yaml("variants.yaml", body);
    struct coop_run_summary s;
    ck_assert_int_eq(sweep(yaml, false, &s), 0);
    ck_assert_uint_eq(s.failed, 0);
    coop_run_summary_free(&s);
    free(body);
    free(yaml);
    return trial_outcomes();
}

/* Two variants of one dataset (other options) in one sweep, in either order,
 * give what each gives alone: each has its own few-shot cache file. */
START_TEST(dataset_variants_have_their_own_fewshot_cache)
{
    make_tmp();
    char *alone6 = run_variants("    options: {train_per_class: 6}\n");
    char *alone12 = run_variants("    options: {train_per_class: 12}\n");
    char *both = coop_asprintf("%s%s", alone6, alone12);
    /* trial ids sort the same either way; the file contents must not depend on the order */
    char *want = strcmp(alone6, alone12) < 0 ? both : coop_asprintf("%s%s", alone12, alone6);
    char *fwd = run_variants("    options: {train_per_class: [6, 12]}\n");
    char *rev = run_variants("    options: {train_per_class: [12, 6]}\n");
    ck_assert_str_eq(fwd, want);
    ck_assert_str_eq(rev, want);
    ck_assert(strstr(alone6, "/fewshot/toy_colors_shots4_seed1_") != NULL);
    /* a dataset without options keeps the plain name */
    char *plain = run_variants("");
    ck_assert_msg(strstr(plain, "/fewshot/toy_colors_shots4_seed1.json") != NULL, "%s", plain);
    if (want != both)
        free(want);
    free(both);
    free(alone6);
    free(alone12);
    free(fwd);
    free(rev);
    free(plain);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, NULL, remove_tmp);
    tcase_add_test(tc, sweep_trains_evaluates_and_records);
    tcase_add_test(tc, crop_scale_makes_its_own_views);
    tcase_add_test(tc, base2new_trains_on_base_and_evaluates_both_halves);
    tcase_add_test(tc, failing_trial_is_recorded_and_sweep_goes_on);
    tcase_add_test(tc, failed_trial_keeps_its_axes_for_the_report);
    tcase_add_test(tc, cli_dry_run_list_and_bad_input);
    tcase_add_test(tc, cli_describe_prints_parameters);
    tcase_add_test(tc, param_helpers_check_fill_and_describe);
    tcase_add_test(tc, completed_trials_of_another_version_are_refused);
    tcase_add_test(tc, damaged_completed_trial_is_rerun_with_a_warning);
    tcase_add_test(tc, kill_mid_sweep_then_resume);
    tcase_add_test(tc, non_finite_numbers_fail_their_trials);
    tcase_add_test(tc, rejected_plugin_files_are_named);
    tcase_add_test(tc, too_long_prompts_are_refused_before_any_trial);
    tcase_add_test(tc, dataset_variants_have_their_own_fewshot_cache);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
