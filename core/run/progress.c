/* progress.c: what the sweep shows while it runs. On a terminal one status
 * line (trial n of N, the trial's label, the phase, elapsed time and ETA),
 * redrawn in place and never wider than the terminal; otherwise a line when
 * a trial starts and one when it ends; --verbose: a line per phase and every
 * 10th epoch; --quiet: errors and warnings only. Log lines do not break the
 * status line. Called by the sweep, the runtime and the trial runner; calls
 * nothing of theirs. */
#include "coop/util.h"
#include "run_internal.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

/* The terminal's width: asked at every redraw (so a resized window is
 * followed), else $COLUMNS, else 80. */
static int term_width(FILE *out)
{
    struct winsize ws;
    int fd = fileno(out);
    if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int w = c ? atoi(c) : 0;
    return w > 0 ? w : 80;
}

/* ---- the ETA ---------------------------------------------------------------- */
static struct rt_eta *eta_of(struct rt *rt, const char *method)
{
    for (int i = 0; i < rt->neta; i++)
        if (!strcmp(rt->eta[i].method, method))
            return &rt->eta[i];
    if (rt->neta == RT_MAX_ETA)
        return &rt->eta[RT_MAX_ETA - 1]; /* more methods than that share the last */
    rt->eta[rt->neta].method = method;
    return &rt->eta[rt->neta++];
}

/* Expected seconds of one trial of method i: the mean of its timed trials;
 * before one is timed, the mean of all timed trials; NAN before any. */
static double eta_estimate(const struct rt *rt, int i)
{
    if (rt->eta[i].done)
        return rt->eta[i].seconds / (double)rt->eta[i].done;
    double s = 0;
    size_t n = 0;
    for (int j = 0; j < rt->neta; j++)
        s += rt->eta[j].seconds, n += rt->eta[j].done;
    return n ? s / (double)n : NAN;
}

static double eta_seconds(const struct rt *rt, double now)
{
    double left = 0;
    for (int i = 0; i < rt->neta; i++)
        if (rt->eta[i].left)
            left += (double)rt->eta[i].left * eta_estimate(rt, i);
    if (rt->cur_eta >= 0) {
        double cur = eta_estimate(rt, rt->cur_eta) - (now - rt->trial_t0);
        left += cur > 0 ? cur : 0;
    }
    return rt->o->jobs > 1 ? left / rt->o->jobs : left; /* workers share what is left */
}

/* ---- labels ----------------------------------------------------------------- */
/* The trials to run per method, and the " k=v " tokens of the first
 * selected trial's axes that every selected trial has too. */
int coop_rt_plan(struct rt *rt, const struct coop_matrix *m, const unsigned char *sel,
                 const bool *runs)
{
    size_t n = coop_matrix_count(m), first = 0;
    while (first < n && sel && !sel[first])
        first++;
    free(rt->constant_axes);
    rt->constant_axes = coop_asprintf(" ");
    rt->cur_eta = -1;
    for (size_t i = first; i < n; i++)
        if (runs[i])
            eta_of(rt, coop_matrix_trial(m, i)->method)->left++;
    if (!rt->constant_axes || first == n)
        return rt->constant_axes ? 0 : COOP_E_NOMEM;
    char *all = coop_strdup(coop_matrix_trial(m, first)->axes_summary);
    for (char *tok = all ? strtok(all, " ") : NULL; tok; tok = strtok(NULL, " ")) {
        char *pad = coop_asprintf(" %s ", tok);
        size_t i = first;
        for (; pad && i < n; i++) {
            const char *axes = coop_matrix_trial(m, i)->axes_summary;
            char *s = (!sel || sel[i]) ? coop_asprintf(" %s ", axes) : NULL;
            bool has = !s || strstr(s, pad);
            free(s);
            if (!has)
                break;
        }
        char *grown = i == n ? coop_asprintf("%s%s ", rt->constant_axes, tok) : NULL;
        if (grown)
            free(rt->constant_axes), rt->constant_axes = grown;
        free(pad);
    }
    free(all);
    return 0;
}

/* How much a label token tells: shots and seed are never cut, the dataset
 * and method last. */
static int token_rank(const char *tok)
{
    if (!strncmp(tok, "shots=", 6) || !strncmp(tok, "seed=", 5))
        return 3;
    if (!strncmp(tok, "dataset=", 8) || !strncmp(tok, "method=", 7))
        return 2;
    return 1;
}

/* The label from the tokens not dropped (keep[i]). */
static size_t join_tokens(char *out, size_t cap, char **tok, const bool *keep, int n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        if (keep[i])
            len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s",
                                    len ? " " : "", tok[i]);
    return len < cap ? len : cap - 1;
}

/* rt->axes cut to at most max characters: the axes other than dataset,
 * method, shots and seed go first (the last first), then dataset and method
 * lose their names, then go too (the method first), then the rest is
 * truncated (returns
 * false then). */
static bool fit_label(const char *axes, size_t max, char *out, size_t cap)
{
    char buf[256], *tok[32];
    bool keep[32] = {false};
    int n = 0;
    snprintf(buf, sizeof buf, "%s", axes);
    for (char *p = strtok(buf, " "); p && n < 32; p = strtok(NULL, " "))
        keep[n] = true, tok[n++] = p;
    size_t len = join_tokens(out, cap, tok, keep, n);
    for (int i = n - 1; i >= 0 && len > max; i--)
        if (token_rank(tok[i]) == 1) {
            keep[i] = false;
            len = join_tokens(out, cap, tok, keep, n);
        }
    for (int i = 0; i < n && len > max; i++) /* "world-objects coop shots=16 seed=3" */
        if (token_rank(tok[i]) == 2) {
            tok[i] = strchr(tok[i], '=') + 1;
            len = join_tokens(out, cap, tok, keep, n);
        }
    for (int i = n - 1; i >= 0 && len > max; i--)
        if (keep[i] && !strchr(tok[i], '=')) { /* a stripped dataset or method */
            keep[i] = false;
            len = join_tokens(out, cap, tok, keep, n);
        }
    if (len <= max)
        return true;
    out[max] = '\0';
    return false;
}

void coop_rt_trial_next(struct rt *rt, const struct coop_trial *t)
{
    char buf[256], *tok[32];
    int n = 0;
    size_t len = 0;
    snprintf(buf, sizeof buf, "%s", t->axes_summary);
    for (char *p = strtok(buf, " "); p && n < 32; p = strtok(NULL, " "))
        tok[n++] = p;
    rt->axes[0] = '\0';
    for (int i = 0; i < n; i++) {
        char pad[260];
        snprintf(pad, sizeof pad, " %s ", tok[i]);
        if (rt->constant_axes && strstr(rt->constant_axes, pad))
            continue;
        len += (size_t)snprintf(rt->axes + len, sizeof rt->axes - len, "%s%s", len ? " " : "",
                                tok[i]);
        if (len >= sizeof rt->axes)
            break;
    }
    if (!rt->axes[0]) /* one trial, or all alike: its full axes */
        snprintf(rt->axes, sizeof rt->axes, "%s", t->axes_summary);
    struct rt_eta *q = eta_of(rt, t->method);
    if (q->left)
        q->left--;
    rt->cur_eta = (int)(q - rt->eta);
    rt->trial_t0 = coop_now();
}

void coop_rt_trial_timed(struct rt *rt, double seconds)
{
    if (rt->cur_eta >= 0) {
        rt->eta[rt->cur_eta].done++;
        rt->eta[rt->cur_eta].seconds += seconds;
    }
    rt->cur_eta = -1;
}

double coop_rt_trial_seconds(const struct rt *rt)
{
    return coop_now() - rt->trial_t0;
}

/* ---- output ------------------------------------------------------------------- */
/* The status line in at most width - 1 columns (the last column would make
 * some terminals wrap): "[n/N] label | phase | elapsed E, ETA T"; elapsed,
 * then the label's least informative axes, then the phase give way. */
static void status_line(struct rt *rt, const char *phase, const char *el, const char *eta,
                        char *out, size_t cap)
{
    size_t max = (size_t)term_width(rt->o->out) - 1;
    char pre[48], tail[80], label[256], ph[128];
    snprintf(pre, sizeof pre, "[%zu/%zu] ", rt->trial_no, rt->n_trials);
    snprintf(tail, sizeof tail, " | elapsed %s, ETA %s", el, eta);
    if (strlen(pre) + strlen(rt->axes) + 3 + strlen(phase) + strlen(tail) > max)
        snprintf(tail, sizeof tail, " | ETA %s", eta);
    size_t fixed = strlen(pre) + strlen(tail), phase_min = strlen(phase) < 16 ? strlen(phase) : 16;
    size_t room = max > fixed + 3 + phase_min ? max - fixed - 3 - phase_min : 0;
    if (!fit_label(rt->axes, room, label, sizeof label)) /* shots and seed before the phase */
        fit_label(rt->axes, max > fixed + 3 ? max - fixed - 3 : 0, label, sizeof label);
    size_t used = fixed + strlen(label) + 3;
    snprintf(ph, sizeof ph, "%s", phase);
    if (used + strlen(ph) > max)
        ph[max > used ? max - used : 0] = '\0';
    snprintf(out, cap, "%s%s | %s%s", pre, label, ph, tail);
    if (strlen(out) > max)
        out[max] = '\0';
}

void coop_rt_progress(struct rt *rt, const char *phase)
{
    rt->phase = phase;
    if (!rt->o->out || rt->o->verbosity < 0)
        return;
    bool starting = !strcmp(phase, "starting");
    double now = coop_now();
    char eta[32] = "?", el[32];
    double left = eta_seconds(rt, now);
    if (left == left)
        fmt_time(eta, sizeof eta, left);
    fmt_time(el, sizeof el, now - rt->sweep_t0);
    if (rt->o->verbosity > 0 || !rt->o->tty) {
        /* lines: the start of a trial; --verbose every phase, every 10th epoch */
        if (rt->o->verbosity > 0 ? strncmp(phase, "training epoch", 14) != 0 ||
                                       rt->epoch == rt->epochs || rt->epoch % 10 == 1
                                 : starting) {
            fprintf(rt->o->out, "%s[%zu/%zu] %s: %s (elapsed %s, ETA %s)\n",
                    rt->o->tty ? "\r\033[K" : "", rt->trial_no, rt->n_trials, rt->axes,
                    starting ? "started" : phase, el, eta);
            fflush(rt->o->out);
        }
        return;
    }
    char line[512];
    status_line(rt, phase, el, eta, line, sizeof line);
    fprintf(rt->o->out, "\r\033[K%s", line);
    fflush(rt->o->out);
}

static void vlog(struct rt *rt, const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fprintf(rt->o->out, "%s%s\n", rt->o->tty ? "\r\033[K" : "", buf);
    fflush(rt->o->out);
}

void coop_rt_log(struct rt *rt, const char *fmt, ...)
{
    if (!rt->o->out)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(rt, fmt, ap);
    va_end(ap);
}

void coop_rt_info(struct rt *rt, const char *fmt, ...)
{
    if (!rt->o->out || rt->o->verbosity < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(rt, fmt, ap);
    va_end(ap);
}
