/* test_progress.c: the status line's pieces (core/run/progress.c, issue 19):
 * the ETA adds each method's trials left at that method's mean trial time
 * (all timed trials' mean before one of the method is timed); the line
 * fits the width $COLUMNS gives, and a label that must be cut loses its
 * least informative axes, never shots and seed. */
#include "coop/util.h"
#include "run/run_internal.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"

static char *buf;
static size_t len;

/* One status line for rt at `columns`, into buf (the ESC[K left out). */
static const char *draw(struct rt *rt, struct coop_run_options *o, const char *columns,
                        const char *phase)
{
    setenv("COLUMNS", columns, 1);
    free(buf);
    buf = NULL;
    o->out = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(o->out);
    coop_rt_progress(rt, phase);
    fclose(o->out);
    o->out = NULL;
    ck_assert_int_ge(len, 4);
    ck_assert(!strncmp(buf, "\r\033[K", 4));
    return buf + 4;
}

static void init(struct rt *rt, struct coop_run_options *o, const char *axes)
{
    memset(o, 0, sizeof *o);
    o->tty = true;
    coop_rt_init(rt, NULL, o, "/nonexistent");
    rt->n_trials = 40;
    rt->trial_no = 12;
    snprintf(rt->axes, sizeof rt->axes, "%s", axes);
}

START_TEST(eta_per_method)
{
    struct rt rt;
    struct coop_run_options o;
    init(&rt, &o, "method=coop shots=4 seed=1");
    rt.eta[0] = (struct rt_eta){"linear_probe", 3, 1, 10.0};
    rt.eta[1] = (struct rt_eta){"coop", 2, 2, 100.0};
    rt.eta[2] = (struct rt_eta){"zeroshot", 4, 0, 0.0};
    rt.neta = 3;
    rt.cur_eta = -1;
    /* 3 x 10 s + 2 x 50 s + 4 x the mean of all three timed (110 / 3 s) */
    ck_assert_ptr_nonnull(strstr(draw(&rt, &o, "200", "starting"), "ETA 4m36s"));
    /* the trial in flight: its method's mean less what it has run */
    rt.cur_eta = 1;
    rt.trial_t0 = coop_now() - 20.0;
    ck_assert_ptr_nonnull(strstr(draw(&rt, &o, "200", "fitting"), "ETA 5m06s"));
    coop_rt_trial_timed(&rt, 20.0);
    ck_assert_int_eq(rt.eta[1].done, 3);
    ck_assert_int_eq(rt.cur_eta, -1);
    coop_rt_free(&rt);
}
END_TEST

START_TEST(line_fits_the_width)
{
    struct rt rt;
    struct coop_run_options o;
    const char *axes = "dataset=world-objects method=coop n_ctx=16 position=middle csc=true "
                       "shots=16 seed=3";
    init(&rt, &o, axes);
    const char *phase = "training epoch 12/200 loss 1.234 acc 56.7%";
    static const char *widths[] = {"200", "120", "80", "60", "40", "30", "12", "1"};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        const char *line = draw(&rt, &o, widths[i], phase);
        size_t w = (size_t)atoi(widths[i]);
        ck_assert_msg(strlen(line) <= (w > 1 ? w - 1 : 0), "%zu columns: '%s'", w, line);
        if (w >= 40)
            ck_assert_msg(strstr(line, "shots=16 seed=3"), "%zu columns: '%s'", w, line);
        if (w == 200)
            ck_assert_msg(strstr(line, axes) && strstr(line, phase) && strstr(line, "elapsed"),
                          "'%s'", line);
    }
    /* the plugin options go first, then the names of dataset and method */
    const char *line = draw(&rt, &o, "100", phase);
    ck_assert_msg(strstr(line, "dataset=world-objects method=coop n_ctx=16 shots=16 seed=3"),
                  "'%s'", line);
    line = draw(&rt, &o, "80", phase);
    ck_assert_msg(strstr(line, "] world-objects method=coop shots=16 seed=3 | training epoch"),
                  "'%s'", line);
    line = draw(&rt, &o, "60", phase);
    ck_assert_msg(strstr(line, "] shots=16 seed=3 | training epoch 12/200"), "'%s'", line);
    coop_rt_free(&rt);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("progress");
    tcase_add_test(tc, eta_per_method);
    tcase_add_test(tc, line_fits_the_width);
    suite_add_tcase(s, tc);
    int rc = coop_check_run(s);
    free(buf);
    return rc;
}
