/* progress.c: what the sweep shows while it runs: the progress line (trial
 * n of N, its axes, the phase, elapsed time and ETA; redrawn in place on a
 * terminal, one line per phase otherwise) and log lines that do not break it.
 * Called by the sweep, the runtime and the trial runner; calls nothing of
 * theirs. */
#include "coop/util.h"
#include "run_internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void fmt_time(char *buf, size_t n, double s)
{
    if (s < 0 || s != s)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void coop_rt_progress(struct rt *rt, const char *phase)
{
    rt->phase = phase;
    if (!rt->o->out)
        return;
    double now = coop_now();
    char eta[32] = "?", el[32];
    size_t left = rt->n_trials - rt->trial_no + 1;
    if (rt->done_trials > 0)
        fmt_time(eta, sizeof eta, rt->done_seconds / (double)rt->done_trials * (double)left -
                                      (now - rt->trial_t0));
    fmt_time(el, sizeof el, now - rt->sweep_t0);
    if (rt->o->tty) {
        fprintf(rt->o->out, "\r\033[K[%zu/%zu] %.60s | %s | elapsed %s, ETA %s", rt->trial_no,
                rt->n_trials, rt->axes, phase, el, eta);
        fflush(rt->o->out);
    } else if (strncmp(phase, "training epoch", 14) != 0 ||
               rt->epoch == rt->epochs || rt->epoch % 10 == 1) {
        /* plain logs: every phase, but only every 10th epoch */
        fprintf(rt->o->out, "[%zu/%zu] %s: %s (elapsed %s, ETA %s)\n", rt->trial_no,
                rt->n_trials, rt->axes, phase, el, eta);
        fflush(rt->o->out);
    }
}

void coop_rt_log(struct rt *rt, const char *fmt, ...)
{
    if (!rt->o->out)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(rt->o->out, "%s%s\n", rt->o->tty ? "\r\033[K" : "", buf);
    fflush(rt->o->out);
}
