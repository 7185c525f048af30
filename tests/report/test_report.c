/* test_report.c: coop-report on results files written with the results
 * writer: every cell of the few-shot, domain-generalisation and ablation
 * tables (mean ± CI strings, missing and failed counts, averages), no mixing of
 * incompatible trials, the written files (Markdown, CSV, LaTeX, PNG, SVG,
 * export CSV + HDF5 with per-class accuracy and curves), typed and string
 * axis values read alike, damaged files skipped with one warning each. */
#define _GNU_SOURCE
#include "coop/report.h"
#include "coop/results.h"
#include "coop/util.h"
#include "report/report_internal.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"
#include "../common/results_damage.h"

static char tmpdir[256];

/* fontconfig (used by cairo's text) keeps process-lifetime caches that
 * LeakSanitizer reports; they are not ours. */
const char *__lsan_default_suppressions(void);
__attribute__((used)) const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}

static void setup(void)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "report"), 0);
}

/* COOP_TEST_KEEP=1 keeps the generated folders for inspection. */
static void teardown(void)
{
    if (getenv("COOP_TEST_KEEP")) {
        fprintf(stderr, "kept %s\n", tmpdir);
        return;
    }
    coop_test_rmtree(tmpdir);
}

#define OK(x) ck_assert_msg((x) == 0, "%s failed: %s", #x, e.msg)

struct spec {
    const char *dataset, *method;
    int shots, seed; /* seed 0: no seed axis (non-training methods) */
    const char *n_ctx, *pos, *csc;
    double acc;
    bool failed;
    const char *backbone, *epochs;
    double acc_a, acc_s; /* shift targets imagenet_a / imagenet_sketch; NaN: none */
    const char *a_name;  /* another name for the first target (NULL: imagenet_a) */
    const char *init;    /* coop's init words axis (NULL: not written) */
    bool b2n;            /* protocol base2new: eval/base (acc) and eval/new (acc_new) */
    double acc_new;      /* NaN: no eval/new (the linear probe) */
};

static int n_written;
/* Axis values as coop-run writes them now (numbers and booleans typed) for
 * every other trial; the rest as older coop-run wrote them (all strings). */
static bool mix_typed_axes;

/* An axis in the string form, or typed as coop-run writes it (every spec
 * value here is canonical text). */
static int put_axis(struct coop_results_writer *w, bool typed, const char *name,
                    const char *value, enum coop_results_axis_type type, struct coop_err *e)
{
    return coop_results_axis_typed(w, name, value, typed ? type : COOP_RESULTS_AXIS_STRING, e);
}

static void put_trial(const struct spec *sp)
{
    struct coop_err e;
    struct coop_results_writer *w;
    char id[32];
    bool ty = mix_typed_axes && n_written % 2;
    snprintf(id, sizeof id, "trial%03d", n_written++);
    OK(coop_results_begin(tmpdir, id, false, &w, &e));
    const char *bb = sp->backbone ? sp->backbone : "tiny";
    OK(coop_results_axis(w, "dataset", sp->dataset, &e));
    OK(coop_results_axis(w, "method", sp->method, &e));
    OK(coop_results_axis(w, "backbone", bb, &e));
    char buf[32];
    snprintf(buf, sizeof buf, "%d", sp->shots);
    OK(put_axis(w, ty, "shots", buf, COOP_RESULTS_AXIS_INT, &e));
    /* like coop-run: seed "0" and no epochs for methods without training,
     * epochs derived from the shots, every method parameter as an axis */
    snprintf(buf, sizeof buf, "%d", sp->seed);
    OK(put_axis(w, ty, "seed", buf, COOP_RESULTS_AXIS_INT, &e));
    if (sp->shots > 0)
        OK(put_axis(w, ty, "epochs", sp->epochs ? sp->epochs : sp->shots == 1 ? "50" : "100",
                    COOP_RESULTS_AXIS_INT, &e));
    if (!strcmp(sp->method, "coop"))
        OK(put_axis(w, ty, "init_std", "0.02", COOP_RESULTS_AXIS_FLOAT, &e));
    if (!strcmp(sp->method, "coop") && sp->init)
        OK(coop_results_axis(w, "init", sp->init, &e));
    if (!strcmp(sp->method, "linear_probe"))
        OK(put_axis(w, ty, "C", "0", COOP_RESULTS_AXIS_FLOAT, &e));
    if (!strcmp(sp->method, "zeroshot"))
        OK(coop_results_axis(w, "template", "", &e));
    if (sp->n_ctx)
        OK(put_axis(w, ty, "n_ctx", sp->n_ctx, COOP_RESULTS_AXIS_INT, &e));
    if (sp->pos)
        OK(coop_results_axis(w, "position", sp->pos, &e));
    if (sp->csc)
        OK(put_axis(w, ty, "csc", sp->csc, COOP_RESULTS_AXIS_BOOL, &e));
    OK(coop_results_attr_str(w, "checkpoint_sha256", !strcmp(bb, "tiny") ? "aaaa" : "bbbb", &e));
    if (sp->b2n)
        OK(coop_results_axis(w, "protocol", "base2new", &e));
    if (sp->failed) {
        OK(coop_results_commit(w, "failed", "training diverged", &e));
        return;
    }
    if (!strcmp(sp->method, "coop") && sp->shots > 0) { /* a 3-epoch training curve */
        int32_t ep[3] = {0, 1, 2};
        double loss[3] = {2, 1.5, 1 + sp->seed / 10.0}, acc[3] = {10, 20, 30},
               lr[3] = {1e-5, 2e-3, 1e-3};
        OK(coop_results_write_curve(w, ep, loss, acc, lr, 3, &e));
    }
    const char *names[2] = {"a", "b"};
    float pca[2] = {25, 75};
    int32_t conf[4] = {1, 1, 1, 1};
    struct coop_results_eval ev = {sp->b2n ? "base" : "test", sp->acc, sp->acc, 2, pca, conf,
                                   names, 4};
    OK(coop_results_write_eval(w, &ev, &e));
    if (sp->b2n && !isnan(sp->acc_new)) {
        ev.target = "new";
        ev.accuracy = sp->acc_new;
        OK(coop_results_write_eval(w, &ev, &e));
    }
    if (!isnan(sp->acc_a)) {
        ev.target = sp->a_name ? sp->a_name : "imagenet_a";
        ev.accuracy = sp->acc_a;
        OK(coop_results_write_eval(w, &ev, &e));
    }
    if (!isnan(sp->acc_s)) {
        ev.target = "imagenet_sketch";
        ev.accuracy = sp->acc_s;
        OK(coop_results_write_eval(w, &ev, &e));
    }
    OK(coop_results_commit(w, "completed", NULL, &e));
}

#define S(...) put_trial(&(struct spec){__VA_ARGS__, .acc_a = NAN, .acc_s = NAN})
/* A base-to-new trial: base accuracy acc, new accuracy acc_new. */
#define B2N(...) put_trial(&(struct spec){__VA_ARGS__, .acc_a = NAN, .acc_s = NAN, .b2n = true})

/* The few-shot fixture; expected cells are in the tests below. */
static void fewshot_fixture(void)
{
    S("pets", "zeroshot", 0, 0, .acc = 50);
    S("flowers", "zeroshot", 0, 0, .acc = 60);
    const double pets1[3] = {60, 62, 64}, flowers1[3] = {80, 80, 80}, lp[3] = {40, 41, 42};
    const double m4[3] = {50, 52, 54}, mid[3] = {58, 59, 60};
    for (int s = 1; s <= 3; s++) {
        S("pets", "coop", 1, s, "16", "end", "false", .acc = pets1[s - 1]);
        S("flowers", "coop", 1, s, "16", "end", "false", .acc = flowers1[s - 1]);
        S("pets", "linear_probe", 1, s, .acc = lp[s - 1]);
        S("pets", "coop", 1, s, "4", "end", "false", .acc = m4[s - 1]);
        S("pets", "coop", 1, s, "16", "middle", "false", .acc = mid[s - 1]);
    }
    S("pets", "coop", 2, 1, "16", "end", "false", .acc = 70);
    S("pets", "coop", 2, 2, "16", "end", "false", .acc = 71); /* seed 3 missing */
    S("flowers", "coop", 2, 1, "16", "end", "false", .acc = 82);
    S("flowers", "coop", 2, 2, "16", "end", "false", .failed = true);
    S("flowers", "coop", 2, 3, "16", "end", "false", .acc = 85);
    S("pets", "coop", 1, 1, "16", "end", "true", .acc = 66); /* CSC: seed 1 only */
}

static const char *const fewshot_expected[][5] = {
    {"flowers", "Zero-shot CLIP", "60.0", "", ""},
    {"flowers", "Linear probe", "", "\xe2\x80\x94", ""},
    {"flowers", "CoOp M=4 end unified", "", "\xe2\x80\x94", ""},
    {"flowers", "CoOp M=16 end unified", "", "80.0 \xc2\xb1 0.0",
     "83.5 \xc2\xb1 2.9 (2/3 seeds, 1 failed)"},
    {"flowers", "CoOp M=16 end CSC", "", "\xe2\x80\x94", ""},
    {"flowers", "CoOp M=16 middle unified", "", "\xe2\x80\x94", ""},
    {"pets", "Zero-shot CLIP", "50.0", "", ""},
    {"pets", "Linear probe", "", "41.0 \xc2\xb1 1.1", ""},
    {"pets", "CoOp M=4 end unified", "", "52.0 \xc2\xb1 2.3", ""},
    {"pets", "CoOp M=16 end unified", "", "62.0 \xc2\xb1 2.3", "70.5 \xc2\xb1 1.0 (2/3 seeds)"},
    {"pets", "CoOp M=16 end CSC", "", "66.0 (1/3 seeds)", ""},
    {"pets", "CoOp M=16 middle unified", "", "59.0 \xc2\xb1 1.1", ""},
    {"Average", "Zero-shot CLIP", "55.0", "", ""},
    {"Average", "Linear probe", "", "41.0 (3/6 runs)", ""},
    {"Average", "CoOp M=4 end unified", "", "52.0 (3/6 runs)", ""},
    {"Average", "CoOp M=16 end unified", "", "71.0", "77.0 (4/6 runs)"},
    {"Average", "CoOp M=16 end CSC", "", "66.0 (1/6 runs)", ""},
    {"Average", "CoOp M=16 middle unified", "", "59.0 (3/6 runs)", ""},
};

static void check_table(const struct rp_table *t, const char *const *exp, size_t rows,
                        size_t cols)
{
    ck_assert_uint_eq(t->ncol, cols);
    ck_assert_uint_eq(coop_rp_table_rows(t), rows);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            ck_assert_msg(!strcmp(coop_rp_table_cell(t, r, c), exp[r * cols + c]),
                          "row %zu col %zu: got '%s', expected '%s'", r, c,
                          coop_rp_table_cell(t, r, c), exp[r * cols + c]);
}

START_TEST(format_cell)
{
    char b[64];
    double v[3] = {60, 62, 64};
    coop_report_format_cell(b, sizeof b, v, 3, 3, 0);
    ck_assert_str_eq(b, "62.0 \xc2\xb1 2.3");
    coop_report_format_cell(b, sizeof b, v, 2, 3, 0);
    ck_assert_str_eq(b, "61.0 \xc2\xb1 2.0 (2/3 seeds)");
    coop_report_format_cell(b, sizeof b, v, 1, 3, 2);
    ck_assert_str_eq(b, "60.0 (1/3 seeds, 2 failed)");
    coop_report_format_cell(b, sizeof b, v, 0, 3, 0);
    ck_assert_str_eq(b, "\xe2\x80\x94");
    coop_report_format_cell(b, sizeof b, v, 0, 3, 3);
    ck_assert_str_eq(b, "\xe2\x80\x94 (3 failed)");
    coop_report_format_cell(b, sizeof b, v, 1, 1, 0);
    ck_assert_str_eq(b, "60.0");
}
END_TEST

START_TEST(fewshot_table_cells)
{
    fewshot_fixture();
    struct rp_set s;
    struct coop_err e;
    OK(coop_rp_load(&s, tmpdir, &e));
    ck_assert_uint_eq(s.n, 23);
    ck_assert_uint_eq(s.settings.n, 1);
    ck_assert_uint_eq(s.warnings.n, 0);
    struct rp_table t;
    struct rp_curves cv;
    ck_assert_int_eq(coop_rp_table_fewshot(&t, &cv, &s, 0), 0);
    const char *hdr[5] = {"Dataset", "Method", "0 shots", "1 shot", "2 shots"};
    for (int c = 0; c < 5; c++)
        ck_assert_str_eq(t.header.v[c], hdr[c]);
    check_table(&t, &fewshot_expected[0][0], 18, 5);
    ck_assert_uint_eq(s.warnings.n, 0);
    /* curves: pets CoOp M=16 end unified has 1 and 2 shots; Average only where
     * every dataset has a value */
    bool found_pets = false, found_avg = false;
    for (size_t i = 0; i < cv.n; i++) {
        if (!strcmp(cv.s[i].panel, "pets") && !strcmp(cv.s[i].label, "CoOp M=16 end unified")) {
            found_pets = true;
            ck_assert_uint_eq(cv.s[i].n, 2);
            ck_assert(fabs(cv.s[i].mean[1] - 70.5) < 1e-9);
        }
        if (!strcmp(cv.s[i].panel, "Average") && !strcmp(cv.s[i].label, "Linear probe"))
            found_avg = true;
    }
    ck_assert(found_pets && !found_avg);
    coop_rp_curves_free(&cv);
    coop_rp_table_free(&t);

    ck_assert_int_eq(coop_rp_table_ablation(&t, &s, 0, "n_ctx"), 0);
    const char *const ab_n[] = {"Dataset", "Method", "Shots", "M=4", "M=16"};
    for (int c = 0; c < 5; c++)
        ck_assert_str_eq(t.header.v[c], ab_n[c]);
    const char *const ab_n_rows[] = {
        "pets", "CoOp end unified", "1", "52.0 \xc2\xb1 2.3", "62.0 \xc2\xb1 2.3",
        "Average", "CoOp end unified", "1", "52.0", "62.0"};
    check_table(&t, ab_n_rows, 2, 5);
    coop_rp_table_free(&t);

    ck_assert_int_eq(coop_rp_table_ablation(&t, &s, 0, "position"), 0);
    ck_assert_str_eq(t.header.v[3], "end");
    ck_assert_str_eq(t.header.v[4], "middle");
    const char *const ab_p_rows[] = {
        "pets", "CoOp M=16 unified", "1", "62.0 \xc2\xb1 2.3", "59.0 \xc2\xb1 1.1",
        "Average", "CoOp M=16 unified", "1", "62.0", "59.0"};
    check_table(&t, ab_p_rows, 2, 5);
    coop_rp_table_free(&t);

    ck_assert_int_eq(coop_rp_table_ablation(&t, &s, 0, "csc"), 0);
    ck_assert_str_eq(t.header.v[3], "unified");
    ck_assert_str_eq(t.header.v[4], "CSC");
    const char *const ab_c_rows[] = {
        "pets", "CoOp M=16 end", "1", "62.0 \xc2\xb1 2.3", "66.0 (1/3 seeds)",
        "Average", "CoOp M=16 end", "1", "62.0", "66.0 (1/3 runs)"};
    check_table(&t, ab_c_rows, 2, 5);
    coop_rp_table_free(&t);

    ck_assert_int_eq(coop_rp_table_dg(&t, &s, 0), 0);
    ck_assert_uint_eq(coop_rp_table_rows(&t), 0); /* no shift targets here */
    coop_rp_table_free(&t);
    coop_rp_set_free(&s);
}
END_TEST

/* Trials written with typed axis values (numbers, booleans) and ones with the
 * older string form land in the same cells, labels and ablation columns. */
START_TEST(typed_and_string_axes_read_alike)
{
    mix_typed_axes = true;
    fewshot_fixture();
    mix_typed_axes = false;
    struct rp_set s;
    struct coop_err e;
    OK(coop_rp_load(&s, tmpdir, &e));
    ck_assert_uint_eq(s.n, 23);
    ck_assert_uint_eq(s.settings.n, 1);
    struct rp_table t;
    struct rp_curves cv;
    ck_assert_int_eq(coop_rp_table_fewshot(&t, &cv, &s, 0), 0);
    check_table(&t, &fewshot_expected[0][0], 18, 5);
    ck_assert_uint_eq(s.warnings.n, 0);
    coop_rp_curves_free(&cv);
    coop_rp_table_free(&t);
    ck_assert_int_eq(coop_rp_table_ablation(&t, &s, 0, "csc"), 0);
    const char *const ab_c_rows[] = {
        "pets", "CoOp M=16 end", "1", "62.0 \xc2\xb1 2.3", "66.0 (1/3 seeds)",
        "Average", "CoOp M=16 end", "1", "62.0", "66.0 (1/3 runs)"};
    check_table(&t, ab_c_rows, 2, 5);
    coop_rp_table_free(&t);
    coop_rp_set_free(&s);
}
END_TEST

START_TEST(domain_generalisation_table)
{
    put_trial(&(struct spec){"imagenet", "zeroshot", 0, 0, .acc = 58, .acc_a = NAN, .acc_s = 30});
    const double test[3] = {63, 64, 65}, sk[3] = {34, 35, 36};
    for (int s = 1; s <= 3; s++) {
        put_trial(&(struct spec){"imagenet", "coop", 16, s, "16", "end", "false",
                                 .acc = test[s - 1], .acc_a = 23, .acc_s = sk[s - 1]});
        S("imagenet", "linear_probe", 16, s, .acc = 55); /* no shift evaluation */
        put_trial(&(struct spec){"pets", "coop", 16, s, "16", "end", "false", .acc = 70,
                                 .acc_a = 39 + s, .acc_s = NAN, .a_name = "pets_sketch"});
    }
    struct rp_set s;
    struct coop_err e;
    OK(coop_rp_load(&s, tmpdir, &e));
    struct rp_table t;
    ck_assert_int_eq(coop_rp_table_dg(&t, &s, 0), 0);
    const char *hdr[6] = {"Source dataset", "Method",          "Source",
                          "imagenet_a",     "imagenet_sketch", "pets_sketch"};
    for (int c = 0; c < 6; c++)
        ck_assert_str_eq(t.header.v[c], hdr[c]);
    /* blank: the source never had that target; dash: this method lacks it */
    const char *const rows[] = {
        "imagenet", "Zero-shot CLIP", "58.0", "\xe2\x80\x94", "30.0", "",
        "imagenet", "CoOp M=16 end unified (16 shots)", "64.0 \xc2\xb1 1.1", "23.0 \xc2\xb1 0.0",
        "35.0 \xc2\xb1 1.1", "",
        "pets", "CoOp M=16 end unified (16 shots)", "70.0 \xc2\xb1 0.0", "", "",
        "41.0 \xc2\xb1 1.1"};
    check_table(&t, rows, 3, 6);
    coop_rp_table_free(&t);
    coop_rp_set_free(&s);
}
END_TEST

/* The findings table: each claim's verdict from a small fixture (two
 * datasets of 2 classes: chance 50, a seed trains from 60). */
START_TEST(findings_table)
{
    put_trial(&(struct spec){"b", "zeroshot", 0, 0, .acc = 60, .acc_a = 30.5, .acc_s = NAN,
                             .a_name = "b_r"});
    S("a", "ensemble", 0, 0, .acc = 52);
    S("b", "ensemble", 0, 0, .acc = 62);
    put_trial(&(struct spec){"a", "zeroshot", 0, 0, .acc = 50, .acc_a = 45.5, .acc_s = NAN,
                             .a_name = "a-sketch"});
    const double a1[3] = {61, 62, 63}, b1[3] = {65, 66, 55};
    for (int s = 1; s <= 3; s++) {
        S("a", "linear_probe", 1, s, .acc = 40);
        S("b", "linear_probe", 1, s, .acc = 40);
        put_trial(&(struct spec){"a", "linear_probe", 16, s, .acc = 70, .acc_a = 40,
                                 .acc_s = NAN, .a_name = "a-sketch"});
        put_trial(&(struct spec){"b", "linear_probe", 16, s, .acc = 70, .acc_a = 10,
                                 .acc_s = NAN, .a_name = "b_r"});
        S("a", "coop", 1, s, "16", "end", "false", .acc = a1[s - 1]);
        S("b", "coop", 1, s, "16", "end", "false", .acc = b1[s - 1]);
        put_trial(&(struct spec){"a", "coop", 16, s, "16", "end", "false", .acc = 58,
                                 .acc_a = 45, .acc_s = NAN, .a_name = "a-sketch"});
        put_trial(&(struct spec){"b", "coop", 16, s, "16", "end", "false", .acc = 65,
                                 .acc_a = 30, .acc_s = NAN, .a_name = "b_r"});
        S("a", "coop", 16, s, "16", "middle", "true", .acc = 68);
        S("b", "coop", 16, s, "16", "middle", "true", .acc = 70);
    }
    struct rp_set s;
    struct coop_err e;
    OK(coop_rp_load(&s, tmpdir, &e));
    struct rp_table t;
    ck_assert_int_eq(coop_rp_table_findings(&t, &s, 0), 0);
    ck_assert_uint_eq(t.ncol, 3);
    ck_assert_uint_eq(coop_rp_table_rows(&t), 6);
    const char *const verdict[6] = {"does not hold", "holds", "holds",
                                    "does not hold", "holds", "holds"};
    const char *const measured[6] = {
        "1 shot: 62.0 (M=16 end unified) vs 40.0; 16 shots: 69.0 (M=16 middle CSC) vs 70.0",
        "16 shots: 69.0; zero-shot 55.0",
        "a 58.0 vs 50.0; b 65.0 vs 60.0 (above on 2 of 2; needed 2)",
        "a: lowest of 3 seeds 61.0 (bar 60.0); b: lowest of 3 seeds 55.0 (bar 60.0)",
        "ensemble 57.0 vs one template 55.0",
        "a-sketch: CoOp 45.0, zero-shot 45.5, probe 40.0; b_r: CoOp 30.0, zero-shot 30.5, "
        "probe 10.0"};
    for (size_t r = 0; r < 6; r++) {
        ck_assert_str_eq(coop_rp_table_cell(&t, r, 1), measured[r]);
        ck_assert_str_eq(coop_rp_table_cell(&t, r, 2), verdict[r]);
    }
    coop_rp_table_free(&t);
    coop_rp_set_free(&s);
}
END_TEST

START_TEST(labels_show_only_varying_axes)
{
    for (int s = 1; s <= 2; s++) {
        S("pets", "coop", 1, s, "16", "end", "false", .acc = 60, .init = "");
        S("pets", "coop", 1, s, "16", "end", "false", .acc = 70, .init = "a photo of a");
    }
    struct rp_set s;
    struct coop_err e;
    OK(coop_rp_load(&s, tmpdir, &e));
    struct rp_table t;
    struct rp_curves cv;
    ck_assert_int_eq(coop_rp_table_fewshot(&t, &cv, &s, 0), 0);
    /* init differs between coop trials: in the label; init_std and epochs do not */
    const char *const rows[] = {"pets", "CoOp M=16 end unified init=", "60.0 \xc2\xb1 0.0",
                                "pets", "CoOp M=16 end unified init=a photo of a",
                                "70.0 \xc2\xb1 0.0",
                                "Average", "CoOp M=16 end unified init=", "60.0",
                                "Average", "CoOp M=16 end unified init=a photo of a", "70.0"};
    check_table(&t, rows, 4, 3);
    coop_rp_curves_free(&cv);
    coop_rp_table_free(&t);
    coop_rp_set_free(&s);
}
END_TEST

START_TEST(never_mixes_incompatible_trials)
{
    for (int s = 1; s <= 2; s++) {
        S("pets", "coop", 1, s, "16", "end", "false", .acc = 60 + s);
        S("pets", "coop", 1, s, "16", "end", "false", .acc = 70 + s, .backbone = "big");
    }
    S("pets", "coop", 1, 1, "16", "end", "false", .acc = 90, .backbone = "big"); /* dup seed */
    S("pets", "coop", 2, 1, "16", "end", "false", .acc = 61, .epochs = "100");
    S("pets", "coop", 2, 2, "16", "end", "false", .acc = 62, .epochs = "200");
    struct rp_set s;
    struct coop_err e;
    OK(coop_rp_load(&s, tmpdir, &e));
    ck_assert_uint_eq(s.settings.n, 2);
    ck_assert_uint_eq(s.warnings.n, 1);
    ck_assert_ptr_nonnull(strstr(s.warnings.v[0], "incompatible settings"));
    struct rp_table t;
    struct rp_curves cv;
    ck_assert_int_eq(coop_rp_table_fewshot(&t, &cv, &s, 0), 0); /* tiny: first trial */
    ck_assert_str_eq(coop_rp_table_cell(&t, 0, 2), "61.5 \xc2\xb1 1.0");
    ck_assert_str_eq(coop_rp_table_cell(&t, 0, 3), "mixed (see warnings)");
    ck_assert_str_eq(coop_rp_table_cell(&t, 1, 3), "mixed (see warnings)"); /* Average */
    ck_assert_ptr_nonnull(strstr(s.warnings.v[1], "different epoch counts"));
    coop_rp_curves_free(&cv);
    coop_rp_table_free(&t);
    ck_assert_int_eq(coop_rp_table_fewshot(&t, &cv, &s, 1), 0); /* big */
    ck_assert_str_eq(coop_rp_table_cell(&t, 0, 2), "mixed (see warnings)");
    ck_assert_ptr_nonnull(strstr(s.warnings.v[2], "same seed twice"));
    ck_assert_ptr_nonnull(strstr(t.title, "backbone=big"));
    coop_rp_curves_free(&cv);
    coop_rp_table_free(&t);
    coop_rp_set_free(&s);
}
END_TEST

static bool file_starts_with(const char *path, const char *magic, size_t n)
{
    char buf[64] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n && memcmp(buf, magic, n) == 0;
}

static bool file_contains(const char *path, const char *needle)
{
    char *s;
    size_t len;
    struct coop_err e;
    if (coop_read_file(path, 1 << 24, &s, &len, &e) != 0)
        return false;
    bool r = strstr(s, needle) != NULL;
    free(s);
    return r;
}

START_TEST(base2new_table)
{
    S("pets", "zeroshot", 0, 0, .acc = 50); /* all classes: the few-shot table's only */
    B2N("pets", "zeroshot", 0, 0, .acc = 70, .acc_new = 75);
    B2N("flowers", "zeroshot", 0, 0, .acc = 60, .acc_new = 80);
    for (int s = 1; s <= 3; s++) {
        B2N("pets", "coop", 16, s, "16", "end", "false", .acc = 78 + 2 * s, .acc_new = 60);
        B2N("pets", "linear_probe", 16, s, .acc = 90, .acc_new = NAN);
        B2N("flowers", "coop", 16, s, "16", "end", "false", .acc = 68 + 2 * s,
            .acc_new = 48 + 2 * s, .failed = s == 3);
    }
    struct rp_set s;
    struct coop_err e;
    OK(coop_rp_load(&s, tmpdir, &e));
    struct rp_table t;
    ck_assert_int_eq(coop_rp_table_base2new(&t, &s, 0), 0);
    const char *hdr[5] = {"Dataset", "Method", "Base", "New", "H"};
    for (int c = 0; c < 5; c++)
        ck_assert_str_eq(t.header.v[c], hdr[c]);
    /* H of the row's means (2·82·60/142 = 69.3); the average's H of the averages;
     * the probe has no new-class weights: New and H blank */
    const char *const rows[] = {
        "flowers", "Zero-shot CLIP", "60.0", "80.0", "68.6",
        "flowers", "Linear probe (16 shots)", "\xe2\x80\x94", "", "",
        "flowers", "CoOp M=16 end unified (16 shots)", "71.0 \xc2\xb1 2.0 (2/3 seeds, 1 failed)",
        "51.0 \xc2\xb1 2.0 (2/3 seeds, 1 failed)", "59.4",
        "pets", "Zero-shot CLIP", "70.0", "75.0", "72.4",
        "pets", "Linear probe (16 shots)", "90.0 \xc2\xb1 0.0", "", "",
        "pets", "CoOp M=16 end unified (16 shots)", "82.0 \xc2\xb1 2.3", "60.0 \xc2\xb1 0.0",
        "69.3",
        "Average", "Zero-shot CLIP", "65.0", "77.5", "70.7",
        "Average", "Linear probe (16 shots)", "90.0 (3/6 runs)", "", "",
        "Average", "CoOp M=16 end unified (16 shots)", "76.5 (5/6 runs)", "55.5 (5/6 runs)",
        "64.3"};
    check_table(&t, rows, 9, 5);
    coop_rp_table_free(&t);
    /* the other tables never see base-to-new trials */
    struct rp_curves cv;
    ck_assert_int_eq(coop_rp_table_fewshot(&t, &cv, &s, 0), 0);
    const char *const fs[] = {"pets", "Zero-shot CLIP", "50.0", "Average", "Zero-shot CLIP",
                              "50.0"};
    check_table(&t, fs, 2, 3);
    coop_rp_table_free(&t);
    coop_rp_curves_free(&cv);
    ck_assert_int_eq(coop_rp_table_dg(&t, &s, 0), 0);
    ck_assert_uint_eq(coop_rp_table_rows(&t), 0);
    coop_rp_table_free(&t);
    coop_rp_set_free(&s);
    /* written as Markdown, CSV and LaTeX by coop_report_generate */
    struct coop_report_options opt = {tmpdir, NULL, false};
    struct coop_report_output out;
    OK(coop_report_generate(&opt, &out, &e));
    char path[512];
    snprintf(path, sizeof path, "%s/report/tables/base2new.csv", tmpdir);
    ck_assert(file_contains(path, "pets,CoOp M=16 end unified (16 shots),82.0 \xc2\xb1 2.3,"
                                  "60.0 \xc2\xb1 0.0,69.3\n"));
    snprintf(path, sizeof path, "%s/report/tables/base2new.tex", tmpdir);
    ck_assert(file_contains(path, "82.0 $\\pm$ 2.3"));
    snprintf(path, sizeof path, "%s/report/tables/base2new.md", tmpdir);
    ck_assert(file_contains(path, "| Average | Zero-shot CLIP | 65.0 | 77.5 | 70.7 |"));
    coop_report_output_free(&out);
}
END_TEST

START_TEST(generate_writes_every_output)
{
    fewshot_fixture();
    char path[512];
    snprintf(path, sizeof path, "%s/broken.h5", tmpdir); /* an unreadable file */
    FILE *f = fopen(path, "wb");
    fputs("not hdf5 at all", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/.x.h5.tmp-host-1", tmpdir); /* ignored */
    f = fopen(path, "wb");
    fclose(f);
    struct coop_report_options opt = {tmpdir, NULL, true};
    struct coop_report_output out;
    struct coop_err e;
    OK(coop_report_generate(&opt, &out, &e));
    ck_assert_uint_eq(out.n_files, 24);
    ck_assert_uint_eq(out.n_completed, 22);
    ck_assert_uint_eq(out.n_failed, 1);
    ck_assert_uint_eq(out.n_unreadable, 1);
    ck_assert_uint_ge(out.n_warnings, 1);
    ck_assert_ptr_nonnull(strstr(out.warnings[0], "broken.h5"));
    ck_assert_ptr_nonnull(strstr(out.markdown, "| pets | CoOp M=16 end unified |  | 62.0 \xc2\xb1 2.3 | "
                                               "70.5 \xc2\xb1 1.0 (2/3 seeds) |"));
    ck_assert_ptr_nonnull(strstr(out.markdown, "domain_generalisation: no matching trials"));
    const char *files[] = {"tables/fewshot.md", "tables/fewshot.csv", "tables/fewshot.tex",
                           "tables/ablation_n_ctx.md", "tables/ablation_position.csv",
                           "tables/ablation_csc.tex", "figures/fewshot.png",
                           "figures/fewshot.svg", "export/all_trials.csv",
                           "export/all_trials.h5", "export/all_trials_per_class.csv",
                           "export/all_trials_curves.csv"};
    size_t nf = sizeof files / sizeof *files;
    for (size_t i = 0; i < nf; i++) {
        if (!coop_report_have_figures() && strstr(files[i], "figures/"))
            continue;
        snprintf(path, sizeof path, "%s/report/%s", tmpdir, files[i]);
        ck_assert_msg(coop_file_exists(path), "%s missing", path);
        bool listed = false;
        for (size_t j = 0; j < out.n_written; j++)
            listed |= !strcmp(out.written[j], path);
        ck_assert_msg(listed, "%s not listed as written", path);
    }
    snprintf(path, sizeof path, "%s/report/tables/fewshot.csv", tmpdir);
    ck_assert(file_contains(path, "Average,CoOp M=16 end unified,,71.0,77.0 (4/6 runs)\n"));
    snprintf(path, sizeof path, "%s/report/tables/fewshot.tex", tmpdir);
    ck_assert(file_contains(path, "pets & CoOp M=16 end unified &  & 62.0 $\\pm$ 2.3 & "
                                  "70.5 $\\pm$ 1.0 (2/3 seeds) \\\\"));
    ck_assert(file_contains(path, "flowers & Linear probe &  & -- &  \\\\"));
    if (!coop_report_have_figures()) { /* built without cairo: said so, nothing drawn */
        bool said = false;
        for (size_t i = 0; i < out.n_warnings; i++)
            said |= strstr(out.warnings[i], "figures skipped") != NULL;
        ck_assert(said);
        snprintf(path, sizeof path, "%s/report/figures/fewshot.png", tmpdir);
        ck_assert(!coop_file_exists(path));
    } else {
        snprintf(path, sizeof path, "%s/report/figures/fewshot.png", tmpdir);
        ck_assert(file_starts_with(path, "\x89PNG\r\n\x1a\n", 8));
        snprintf(path, sizeof path, "%s/report/figures/fewshot.svg", tmpdir);
        ck_assert(file_starts_with(path, "<?xml", 5));
        ck_assert(file_contains(path, "<svg"));
        ck_assert(file_contains(path, "</svg>"));
    }
    /* export: one row per (trial, target) + header; failed trial has one row */
    snprintf(path, sizeof path, "%s/report/export/all_trials.csv", tmpdir);
    char *csv;
    size_t len;
    OK(coop_read_file(path, 1 << 24, &csv, &len, &e));
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += csv[i] == '\n';
    ck_assert_uint_eq(lines, 24);
    ck_assert_ptr_nonnull(strstr(csv, "axis_dataset"));
    ck_assert_ptr_nonnull(strstr(csv, "training diverged"));
    free(csv);
    snprintf(path, sizeof path, "%s/report/export/all_trials.h5", tmpdir);
    struct coop_results_reader *r;
    OK(coop_results_open(path, &r, &e));
    double *acc;
    int rank;
    size_t shape[COOP_RESULTS_MAX_RANK];
    OK(coop_results_read_f64(r, "trials/accuracy", &acc, &rank, shape, &e));
    ck_assert(rank == 1 && shape[0] == 23);
    char **ds;
    OK(coop_results_read_strings(r, "trials/axis_dataset", &ds, &rank, shape, &e));
    size_t nan = 0;
    for (size_t i = 0; i < 23; i++) {
        nan += isnan(acc[i]);
        ck_assert(!strcmp(ds[i], "pets") || !strcmp(ds[i], "flowers"));
    }
    ck_assert_uint_eq(nan, 1);
    free(acc);
    coop_results_free_strings(ds, 23);
    /* per-class accuracy: 22 completed trials x 2 classes; curves: 17 trained
     * completed CoOp trials x 3 epochs */
    float *pc;
    int32_t *ix;
    char **cls, **file;
    OK(coop_results_read_f32(r, "per_class/accuracy", &pc, &rank, shape, &e));
    ck_assert(rank == 1 && shape[0] == 44);
    OK(coop_results_read_i32(r, "per_class/class_index", &ix, &rank, shape, &e));
    OK(coop_results_read_strings(r, "per_class/class", &cls, &rank, shape, &e));
    for (size_t i = 0; i < 44; i++) {
        ck_assert(pc[i] == (ix[i] ? 75.0f : 25.0f));
        ck_assert_str_eq(cls[i], ix[i] ? "b" : "a");
    }
    free(pc), free(ix);
    coop_results_free_strings(cls, 44);
    OK(coop_results_read_strings(r, "per_class/target", &cls, &rank, shape, &e));
    ck_assert(rank == 1 && shape[0] == 44 && !strcmp(cls[43], "test"));
    coop_results_free_strings(cls, 44);
    double *loss;
    OK(coop_results_read_f64(r, "curves/loss", &loss, &rank, shape, &e));
    ck_assert(rank == 1 && shape[0] == 51);
    OK(coop_results_read_i32(r, "curves/epoch", &ix, &rank, shape, &e));
    OK(coop_results_read_strings(r, "curves/file", &file, &rank, shape, &e));
    for (size_t i = 0; i < 51; i++) {
        ck_assert_int_eq(ix[i], (int32_t)(i % 3));
        ck_assert(loss[i] == (i % 3 == 0 ? 2 : i % 3 == 1 ? 1.5 : loss[i]));
        ck_assert_ptr_nonnull(strstr(file[i], "/trial"));
    }
    free(loss), free(ix);
    coop_results_free_strings(file, 51);
    coop_results_close(r);
    snprintf(path, sizeof path, "%s/report/export/all_trials_per_class.csv", tmpdir);
    ck_assert(file_contains(path, "file,target,class_index,class,accuracy\n"));
    ck_assert(file_contains(path, ",test,1,b,75\n"));
    snprintf(path, sizeof path, "%s/report/export/all_trials_curves.csv", tmpdir);
    ck_assert(file_contains(path, "file,epoch,loss,accuracy,lr\n"));
    ck_assert(file_contains(path, ",2,1.1000000000000001,30,0.001\n")); /* seed 1, last epoch */
    coop_report_output_free(&out);
    /* a second run replaces the report (the export file included) */
    OK(coop_report_generate(&opt, &out, &e));
    coop_report_output_free(&out);
}
END_TEST

/* Runs the coop-report executable; returns its exit status, stdout in out. */
static int run_cli(const char *args, char *out, size_t len)
{
    const char *root = getenv("COOP_BUILD_ROOT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/core/cli/coop-report/coop-report' %s 2>/dev/null",
             root ? root : ".", args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(cli_prints_tables_and_paths)
{
    if (!getenv("COOP_BUILD_ROOT")) {
        fprintf(stderr, "COOP_BUILD_ROOT unset: skipping the coop-report executable test\n");
        return;
    }
    fewshot_fixture();
    static char out[1 << 16];
    char args[600];
    snprintf(args, sizeof args, "--no-figures --out '%s/rep' '%s'", tmpdir, tmpdir);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "| Average | CoOp M=16 end unified |  | 71.0 | "
                                      "77.0 (4/6 runs) |"));
    ck_assert_ptr_nonnull(strstr(out, "23 trial files: 22 completed, 1 failed, 0 unreadable"));
    char line[600];
    snprintf(line, sizeof line, "wrote %s/rep/tables/fewshot.md\n", tmpdir);
    ck_assert_ptr_nonnull(strstr(out, line));
    ck_assert_ptr_null(strstr(out, "figures/"));
    snprintf(args, sizeof args, "--quiet --no-figures '%s'", tmpdir);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
    ck_assert_ptr_null(strstr(out, "| Dataset |"));
    ck_assert_int_eq(run_cli("", out, sizeof out), 2);
    ck_assert_int_eq(run_cli("--bogus x", out, sizeof out), 2);
    ck_assert_int_eq(run_cli("/nonexistent/results", out, sizeof out), 2); /* input error */
}
END_TEST

static char *render(int (*fn)(FILE *, const struct rp_table *), const struct rp_table *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(fn(f, t), 0);
    fclose(f);
    return buf;
}

START_TEST(renderers_escape)
{
    struct rp_table t = {0};
    t.title = strdup("Acc (%) a_b");
    t.name = strdup("x");
    t.ncol = 3;
    coop_rp_strs_push(&t.header, "Dataset");
    coop_rp_strs_push(&t.header, "Method");
    coop_rp_strs_push(&t.header, "1 shot");
    coop_rp_strs_push(&t.cells, "oxford_pets");
    coop_rp_strs_push(&t.cells, "a|b, \"c\" & d");
    coop_rp_strs_push(&t.cells, "61.2 \xc2\xb1 1.3 (2/3 seeds)");
    coop_rp_strs_push(&t.cells, "dtd");
    coop_rp_strs_push(&t.cells, "CoOp");
    coop_rp_strs_push(&t.cells, "\xe2\x80\x94");
    char *md = render(coop_rp_table_write_md, &t);
    ck_assert_ptr_nonnull(strstr(md, "### Acc (%) a_b\n\n| Dataset | Method | 1 shot |\n"
                                     "|---|---|--:|\n"));
    ck_assert_ptr_nonnull(strstr(md, "| oxford_pets | a\\|b, \"c\" & d | 61.2 \xc2\xb1 1.3 "
                                     "(2/3 seeds) |\n| dtd | CoOp | \xe2\x80\x94 |\n"));
    char *csv = render(coop_rp_table_write_csv, &t);
    ck_assert_str_eq(csv, "Dataset,Method,1 shot\n"
                          "oxford_pets,\"a|b, \"\"c\"\" & d\",61.2 \xc2\xb1 1.3 (2/3 seeds)\n"
                          "dtd,CoOp,\xe2\x80\x94\n");
    char *tex = render(coop_rp_table_write_tex, &t);
    ck_assert_ptr_nonnull(strstr(tex, "% Acc (\\%) a\\_b\n\\begin{tabular}{llc}\n"));
    ck_assert_ptr_nonnull(strstr(tex, "oxford\\_pets & a|b, \"c\" \\& d & 61.2 $\\pm$ 1.3 "
                                      "(2/3 seeds) \\\\\n"));
    ck_assert_ptr_nonnull(strstr(tex, "dtd & CoOp & -- \\\\\n\\bottomrule"));
    free(md);
    free(csv);
    free(tex);
    coop_rp_table_free(&t);
}
END_TEST

START_TEST(missing_folder_is_an_error)
{
    struct coop_report_options opt = {"/nonexistent/results/x", NULL, false};
    struct coop_report_output out;
    struct coop_err e;
    ck_assert_int_eq(coop_report_generate(&opt, &out, &e), COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/results/x"));
}
END_TEST


/* Damaged files (generated from a real one, and the fuzz reproducers on
 * which libhdf5 crashes) are skipped with one warning each; the report is
 * built from the rest. */
START_TEST(damaged_files_are_skipped_with_one_warning_each)
{
    n_written = 0; /* trial001 below; CK_FORK=no (valgrind) shares the counter */
    S("pets", "zeroshot", 0, 0, .acc = 50);
    S("pets", "coop", 1, 1, "16", "end", "false", .acc = 60);
    S("pets", "coop", 1, 2, "16", "end", "false", .acc = 64);
    char path[600], bad[8][600];
    size_t nb = 0, n;
    snprintf(path, sizeof path, "%s/trial001.h5", tmpdir);
    unsigned char *img = coop_test_slurp(path, &n);
    ck_assert_ptr_nonnull(img);
    const size_t cut[] = {100, n / 2, n - 1}, flip[] = {40, 700, n / 2, n - 8};
    for (size_t i = 0; i < 3; i++) {
        snprintf(bad[nb], sizeof bad[nb], "%s/cut%zu.h5", tmpdir, i);
        ck_assert_int_eq(coop_test_spit(bad[nb++], img, cut[i]), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        img[flip[i]] ^= 0x20;
        snprintf(bad[nb], sizeof bad[nb], "%s/flip%zu.h5", tmpdir, i);
        ck_assert_int_eq(coop_test_spit(bad[nb++], img, n), 0);
        img[flip[i]] ^= 0x20;
    }
    free(img);
    snprintf(bad[nb], sizeof bad[nb], "%s/legacy-segv.h5", tmpdir);
    ck_assert_int_eq(coop_test_write_reproducer(&coop_test_legacy_reproducers[0], bad[nb++]), 0);
    struct coop_report_options opt = {tmpdir, NULL, false};
    struct coop_report_output out;
    struct coop_err e;
    OK(coop_report_generate(&opt, &out, &e));
    ck_assert_uint_eq(out.n_files, 3 + nb);
    ck_assert_uint_eq(out.n_completed, 3);
    ck_assert_uint_eq(out.n_unreadable, nb);
    for (size_t i = 0; i < nb; i++) {
        size_t hits = 0;
        for (size_t k = 0; k < out.n_warnings; k++)
            hits += strstr(out.warnings[k], bad[i]) != NULL;
        ck_assert_msg(hits == 1, "%s named in %zu warnings", bad[i], hits);
    }
    ck_assert_ptr_nonnull(strstr(out.markdown, "62.0"));
    coop_report_output_free(&out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, format_cell);
    tcase_add_test(tc, fewshot_table_cells);
    tcase_add_test(tc, typed_and_string_axes_read_alike);
    tcase_add_test(tc, domain_generalisation_table);
    tcase_add_test(tc, findings_table);
    tcase_add_test(tc, base2new_table);
    tcase_add_test(tc, never_mixes_incompatible_trials);
    tcase_add_test(tc, labels_show_only_varying_axes);
    tcase_add_test(tc, generate_writes_every_output);
    tcase_add_test(tc, damaged_files_are_skipped_with_one_warning_each);
    tcase_add_test(tc, missing_folder_is_an_error);
    tcase_add_test(tc, cli_prints_tables_and_paths);
    tcase_add_test(tc, renderers_escape);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
