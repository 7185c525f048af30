/* sweep.c: the trial loop: skip what is completed (refusing completed trials
 * that other plugin versions or checkpoints made, and prompts longer than the
 * backbone's context), run the rest, record failures and carry on, stop
 * cleanly when cancelled; each trial claimed first (claim.c), so processes
 * sharing a results folder run it once. The progress line is progress.c's. */
#include "claim.h"
#include "coop/results.h"
#include "coop/util.h"
#include "run_internal.h"
#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- resolver over the registry ---------------------------------------- */
static int resolve(void *ctx, enum coop_plugin_kind kind, const char *name,
                   struct coop_matrix_plugin_info *out)
{
    const struct coop_registry *reg = ctx;
    const struct coop_plugin *p = NULL;
    if (kind)
        p = coop_registry_find(reg, kind, name);
    else if (!(p = coop_registry_find(reg, COOP_PLUGIN_PROMPT, name)))
        p = coop_registry_find(reg, COOP_PLUGIN_BASELINE, name);
    if (!p)
        return COOP_E_NOTFOUND;
    out->kind = p->kind;
    out->params = coop_plugin_params(p);
    out->trains = p->kind != COOP_PLUGIN_BASELINE ||
                  ((const struct coop_baseline_ops *)p->ops)->needs_training_data;
    const struct coop_prompt_ops *pops = p->kind == COOP_PLUGIN_PROMPT ? p->ops : NULL;
    out->train_defaults = pops && COOP_OPS_HAS(pops, train_defaults, 3) ? pops->train_defaults
                                                                         : NULL;
    return 0;
}

static size_t names(void *ctx, enum coop_plugin_kind kind, const char **out, size_t max)
{
    const struct coop_registry *reg = ctx;
    if (kind)
        return coop_registry_names(reg, kind, out, max);
    size_t n = coop_registry_names(reg, COOP_PLUGIN_PROMPT, out, max);
    return n + coop_registry_names(reg, COOP_PLUGIN_BASELINE, n < max ? out + n : out,
                                   n < max ? max - n : 0);
}

static size_t rejected(void *ctx, const char *name, char *why, size_t len)
{
    return coop_registry_rejected(ctx, name, why, len);
}

void coop_run_resolver(const struct coop_registry *reg, struct coop_matrix_resolver *out)
{
    out->ctx = (void *)reg;
    out->lookup = resolve;
    out->names = names;
    out->rejected = rejected;
}

/* ---- the loop --------------------------------------------------------------- */
void coop_run_summary_free(struct coop_run_summary *s)
{
    for (size_t i = 0; i < s->failed; i++) {
        free(s->failures[i].summary);
        free(s->failures[i].message);
    }
    free(s->failures);
    free(s->results_dir);
    memset(s, 0, sizeof *s);
}

static void add_failure(struct coop_run_summary *s, const struct coop_trial *t, const char *msg)
{
    struct coop_run_failure *nf = realloc(s->failures, (s->failed + 1) * sizeof *nf);
    if (!nf)
        return;
    s->failures = nf;
    memcpy(nf[s->failed].id, t->id, sizeof nf[s->failed].id);
    nf[s->failed].summary = coop_strdup(t->axes_summary);
    nf[s->failed].message = coop_strdup(msg);
    s->failed++;
}

/* Whether the completed trial file <dir>/<id>.h5 was made by the plugin
 * versions and checkpoint this sweep would use. Returns 1 with the first
 * difference in why, 0 when current, or an error. A trial id covers the
 * configuration text only, so a new version of a plugin or new bytes under the
 * same checkpoint path keep the id; skipping such a trial would mix old
 * results with new ones. Attributes a file lacks are not compared. */
static int trial_is_stale(struct rt *rt, const struct coop_trial *t, const char *dir, char *why,
                          size_t len, struct coop_err *e)
{
    const struct {
        const char *attr, *role, *name;
        enum coop_plugin_kind kind;
    } plugins[] = {
        {"backbone_plugin_version", "backbone", t->backbone_plugin, COOP_PLUGIN_BACKBONE},
        {"dataset_plugin_version", "dataset", t->dataset, COOP_PLUGIN_DATASET},
        {"method_plugin_version", "method", t->method, t->method_kind},
    };
    char *path = coop_asprintf("%s/%s.h5", dir, t->id);
    struct coop_results_reader *r = NULL;
    int rc = path ? coop_results_open(path, &r, e) : coop_fail(e, COOP_E_NOMEM, "out of memory");
    int stale = 0;
    for (size_t i = 0; rc == 0 && !stale && i < sizeof plugins / sizeof plugins[0]; i++) {
        const struct coop_plugin *p = coop_registry_find(rt->reg, plugins[i].kind, plugins[i].name);
        char *was = NULL;
        if (p && coop_results_read_attr_str(r, plugins[i].attr, &was, NULL) == 0 &&
            strcmp(was, p->version ? p->version : "") != 0) {
            snprintf(why, len, "%s: %s plugin '%s' %s, now %s", path, plugins[i].role,
                     plugins[i].name, was, p->version ? p->version : "(no version)");
            stale = 1;
        }
        free(was);
    }
    char *sha = NULL;
    if (rc == 0 && !stale && coop_results_read_attr_str(r, "checkpoint_sha256", &sha, NULL) == 0 &&
        sha[0] && (rc = coop_rt_backbone(rt, t, e)) == 0 && rt->info.checkpoint_sha256[0] &&
        strcmp(sha, rt->info.checkpoint_sha256) != 0) {
        snprintf(why, len, "%s: checkpoint %s had SHA-256 %.12s..., now %.12s...", path,
                 t->checkpoint ? t->checkpoint : "(none)", sha, rt->info.checkpoint_sha256);
        stale = 1;
    }
    free(sha);
    coop_results_close(r);
    free(path);
    return rc ? rc : stale;
}

/* Refuses to resume over completed trials in dir (the matrix's results folder)
 * that another plugin version or checkpoint made (before any trial runs, so
 * nothing is mixed or lost). */
static int check_completed_are_current(struct rt *rt, const struct coop_matrix *m,
                                       const char *dir, struct coop_err *e)
{
    size_t n = coop_matrix_count(m), stale = 0;
    char first[COOP_ERR_MAX / 2] = "";
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        if (rt->o->selected && !rt->o->selected[i])
            continue;
        enum coop_trial_state st = COOP_TRIAL_MISSING;
        struct coop_err te;
        char why[sizeof first];
        if (coop_results_state(dir, t->id, &st, NULL, 0, &te) == 0 && st == COOP_TRIAL_COMPLETED) {
            rc = trial_is_stale(rt, t, dir, why, sizeof why, e);
            if (rc == 1 && stale++ == 0)
                memcpy(first, why, sizeof first);
            rc = rc == 1 ? 0 : rc;
        }
    }
    if (rc == 0 && stale)
        rc = coop_fail(e, COOP_E_INVAL,
                       "%zu completed trial%s made with another plugin version or checkpoint "
                       "(%s%s); coop-run does not mix them with new results: re-run them with "
                       "--force, or move them out of the results folder",
                       stale, stale == 1 ? " was" : "s were", first,
                       stale > 1 ? ", and others" : "");
    return rc;
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool same_params(const struct coop_params *a, const struct coop_params *b)
{
    bool same = a->n == b->n;
    for (size_t i = 0; same && i < a->n; i++)
        same = strcmp(a->kv[i].key, b->kv[i].key) == 0 &&
               strcmp(a->kv[i].value, b->kv[i].value) == 0;
    return same;
}

/* Whether trials a and b ask the same prompt-length question: same backbone,
 * dataset, targets and method settings (shots and seeds do not matter). */
static bool same_prompt_check(const struct coop_trial *a, const struct coop_trial *b)
{
    bool same = same_str(a->backbone_plugin, b->backbone_plugin) &&
                same_str(a->checkpoint, b->checkpoint) && same_str(a->vocab, b->vocab) &&
                same_str(a->dataset, b->dataset) && same_str(a->method, b->method) &&
                same_str(a->data_root, b->data_root) && a->n_targets == b->n_targets &&
                same_params(&a->backbone_params, &b->backbone_params) &&
                same_params(&a->dataset_params, &b->dataset_params) &&
                same_params(&a->method_params, &b->method_params);
    for (size_t i = 0; same && i < a->n_targets; i++)
        same = strcmp(a->targets[i], b->targets[i]) == 0;
    return same;
}

/* Asks t's prompt plugin whether its prompts fit the backbone for the
 * classes of t's dataset and each target. A backbone or dataset that does
 * not open is left to the trial, which records the failure. */
static int check_prompt_fits(struct rt *rt, const struct coop_trial *t, struct coop_err *e)
{
    const struct coop_plugin *p = coop_registry_find(rt->reg, COOP_PLUGIN_PROMPT, t->method);
    const struct coop_prompt_ops *pops = p ? p->ops : NULL;
    struct coop_err te;
    snprintf(rt->axes, sizeof rt->axes, "checking prompt lengths");
    if (!pops || pops->version < 2 || !pops->check_classes || coop_rt_backbone(rt, t, &te) != 0)
        return 0;
    int rc = 0;
    for (size_t i = 0; i <= t->n_targets && rc == 0; i++) {
        const char *name = i == 0 ? t->dataset : t->targets[i - 1];
        struct rt_dataset *d = NULL;
        int K = 0;
        const char **names = NULL;
        if ((i == 0 ? coop_rt_dataset(rt, name, &t->dataset_params, t->data_root, &d, &te)
                    : coop_rt_target(rt, t, i - 1, &d, &te)) ||
            !(names = coop_run_class_names(d, &K, &te)))
            continue;
        struct coop_prompt_args a = {&rt->host, &t->method_params, rt->bb, names, K,
                                     (uint64_t)t->seed, NULL};
        rc = pops->check_classes(&a, e);
        if (rc)
            coop_fail_prefix(e, rc, "%s '%s' (%s)", i == 0 ? "dataset" : "target", name,
                             t->axes_summary);
        free(names);
    }
    return rc;
}

/* Refuses, before any trial runs, a sweep in which a prompt method's prompts
 * are longer than the backbone's context for some class: every such trial
 * would fail, and only after the trials before it had run. Trials already
 * completed (and not forced) are not asked about. */
static int check_prompts_fit(struct rt *rt, const struct coop_matrix *m, bool force,
                             struct coop_err *e)
{
    size_t n = coop_matrix_count(m);
    bool *asked = calloc(n, sizeof *asked);
    int rc = asked ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        bool same = t->method_kind != COOP_PLUGIN_PROMPT ||
                    (rt->o->selected && !rt->o->selected[i]);
        for (size_t j = 0; j < i && !same; j++)
            same = asked[j] && same_prompt_check(t, coop_matrix_trial(m, j));
        if (same)
            continue;
        char *dir = coop_asprintf("%s/%s", t->results_dir, t->experiment);
        enum coop_trial_state st = COOP_TRIAL_MISSING;
        struct coop_err te;
        if (dir && !force)
            coop_results_state(dir, t->id, &st, NULL, 0, &te);
        if (st != COOP_TRIAL_COMPLETED) {
            rc = check_prompt_fits(rt, t, e);
            asked[i] = true;
        }
        free(dir);
    }
    free(asked);
    return rc;
}

/* Which selected trials will run (not completed, or forced): the progress
 * display's plan and the pre-flight checks of their data. */
static int plan_progress(struct rt *rt, const struct coop_matrix *m, struct coop_err *e)
{
    size_t n = coop_matrix_count(m);
    bool *runs = calloc(n ? n : 1, sizeof *runs);
    if (!runs)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        enum coop_trial_state st = COOP_TRIAL_MISSING;
        if (rt->o->selected && !rt->o->selected[i])
            continue;
        char *dir = rt->o->force ? NULL : coop_asprintf("%s/%s", t->results_dir, t->experiment);
        if (dir)
            coop_results_state(dir, t->id, &st, NULL, 0, NULL);
        free(dir);
        runs[i] = st != COOP_TRIAL_COMPLETED;
    }
    int rc = coop_rt_plan(rt, m, rt->o->selected, runs)
                 ? coop_fail(e, COOP_E_NOMEM, "out of memory")
                 : coop_rt_preflight(rt, m, runs, e);
    free(runs);
    return rc;
}

/* Result files (<16 hex digits>.h5) in dir that are not trials of m. */
static size_t count_foreign(const struct coop_matrix *m, const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0, k = coop_matrix_count(m);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strlen(de->d_name) != 19 || strcmp(de->d_name + 16, ".h5") != 0 ||
            strspn(de->d_name, "0123456789abcdef") != 16)
            continue;
        size_t i = 0;
        while (i < k && strncmp(coop_matrix_trial(m, i)->id, de->d_name, 16) != 0)
            i++;
        n += i == k;
    }
    if (d)
        closedir(d);
    return n;
}

/* Whether <dir>/<id>.h5 was written at or after since (file system time):
 * by another process of this round, whose outcome this one keeps. */
static bool written_since(const char *dir, const char *id, double since)
{
    struct stat st;
    char *path = coop_asprintf("%s/%s.h5", dir, id);
    bool yes = path && stat(path, &st) == 0 &&
               (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec >= since;
    free(path);
    return yes;
}

/* Claims t for this process. Returns 0 with *cl held (run it), 1 when it is
 * another process's (counted in s->elsewhere) or now completed, or an error
 * (the trial cannot be claimed: its folder cannot be written). */
static int claim_trial(struct rt *rt, const struct coop_trial *t, const char *dir, double round,
                       struct coop_run_summary *s, struct claim **cl, struct coop_err *e)
{
    struct claim_holder h;
    int rc = coop_claim_acquire(dir, t->id, rt->o->claim_timeout, cl, &h, e);
    if (rc)
        return rc;
    if (!*cl) {
        s->elsewhere++;
        if (rt->o->jobs <= 1 || !coop_claim_sibling(&h)) /* a sibling's trials are not news */
            coop_rt_info(rt, "trial %s: running on %s (pid %ld%s%s); left to it", t->id,
                         h.host, h.pid, h.slurm[0] ? ", Slurm " : "", h.slurm);
        return 1;
    }
    enum coop_trial_state st = COOP_TRIAL_MISSING;
    struct coop_err te;
    coop_results_state(dir, t->id, &st, NULL, 0, &te);
    if ((st == COOP_TRIAL_COMPLETED && !rt->o->force) || written_since(dir, t->id, round)) {
        coop_claim_release(*cl, st == COOP_TRIAL_COMPLETED);
        *cl = NULL;
        s->elsewhere++;
        return 1;
    }
    return 0;
}

/* Commits a finished trial unless its claim was taken over meanwhile.
 * Returns 1 when it is complete on disk (also by another process's commit). */
static int commit_claimed(struct rt *rt, const struct coop_trial *t, const char *dir,
                          struct claim *cl, struct coop_results_writer *w,
                          struct coop_run_summary *s)
{
    struct coop_err te;
    enum coop_trial_state st = COOP_TRIAL_MISSING;
    if (!coop_claim_held(cl)) {
        coop_results_abort(w);
        s->elsewhere++;
        coop_rt_log(rt, "trial %s: another process took its claim over (this one's heartbeat "
                    "was seen as stale); this run's result is dropped", t->id);
        return 0;
    }
    if (coop_results_commit(w, "completed", NULL, &te) == 0) {
        s->completed++;
        return 1;
    }
    if (coop_results_state(dir, t->id, &st, NULL, 0, NULL) == 0 && st == COOP_TRIAL_COMPLETED) {
        s->elsewhere++;
        coop_rt_log(rt, "trial %s: completed by another process meanwhile; this run's result "
                    "is dropped", t->id);
        return 1;
    }
    add_failure(s, t, te.msg);
    coop_rt_log(rt, "trial %s FAILED: %s", t->id, te.msg);
    return 0;
}

int coop_run_sweep(const struct coop_matrix *m, const struct coop_registry *reg,
                   const struct coop_run_options *o, struct coop_run_summary *s,
                   struct coop_err *e)
{
    if (o->jobs > 1)
        return coop_run_sweep_jobs(m, reg, o, s, e);
    return coop_run_sweep_one(m, reg, o, s, e);
}

size_t coop_run_selected_count(const struct coop_matrix *m, const unsigned char *selected)
{
    size_t n = coop_matrix_count(m), k = n;
    for (size_t i = 0; selected && i < n; i++)
        k -= !selected[i];
    return k;
}

int coop_run_sweep_one(const struct coop_matrix *m, const struct coop_registry *reg,
                       const struct coop_run_options *o, struct coop_run_summary *s,
                       struct coop_err *e)
{
    memset(s, 0, sizeof *s);
    size_t n = coop_matrix_count(m);
    s->total = coop_run_selected_count(m, o->selected);
    if (s->total == 0)
        return 0;
    const struct coop_trial *t0 = coop_matrix_trial(m, 0);
    s->results_dir = coop_asprintf("%s/%s", t0->results_dir, t0->experiment);
    struct rt rt;
    char *default_cache = coop_asprintf("%s/.cache", t0->results_dir);
    coop_rt_init(&rt, reg, o, o->cache_dir ? o->cache_dir : default_cache);
    free(default_cache);
    rt.n_trials = s->total;
    int rc = coop_mkdirs(s->results_dir, e);
    double round = rc ? 0 : coop_claim_clock(s->results_dir);
    if (rc == 0)
        rc = coop_results_clean_stale(s->results_dir, NULL, e);
    if (rc == 0 && !o->force)
        rc = check_completed_are_current(&rt, m, s->results_dir, e);
    if (rc == 0)
        rc = check_prompts_fit(&rt, m, o->force, e);
    if (rc == 0)
        s->foreign = count_foreign(m, s->results_dir);
    if (rc == 0)
        rc = plan_progress(&rt, m, e);
    for (size_t i = 0, no = 0; i < n && rc == 0; i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        if (o->selected && !o->selected[i])
            continue;
        char *dir = coop_asprintf("%s/%s", t->results_dir, t->experiment);
        enum coop_trial_state st = COOP_TRIAL_MISSING;
        struct coop_err te;
        rt.trial_no = ++no;
        coop_rt_trial_next(&rt, t);
        if (o->cancel && *o->cancel) {
            free(dir);
            rc = coop_fail(e, COOP_E_INTERRUPTED, "interrupted");
            break;
        }
        int src = coop_results_state(dir, t->id, &st, NULL, 0, &te);
        if (src == COOP_E_FORMAT) {
            coop_rt_log(&rt, "warning: %s; the trial will be re-run", te.msg);
        } else if (src != 0) { /* unknown state: neither skip nor overwrite */
            char msg[COOP_ERR_MAX];
            snprintf(msg, sizeof msg, "cannot tell whether it is completed, so it is left "
                     "alone: %.900s", te.msg);
            add_failure(s, t, msg);
            coop_rt_log(&rt, "trial %s FAILED (%s): %s", t->id, t->axes_summary, msg);
            free(dir);
            continue;
        }
        if (st == COOP_TRIAL_COMPLETED && !o->force) {
            if (written_since(dir, t->id, round))
                s->elsewhere++; /* completed by another process since this run started */
            else
                s->skipped++;
            free(dir);
            continue;
        }
        struct claim *cl = NULL;
        int crc = claim_trial(&rt, t, dir, round, s, &cl, &te);
        if (crc < 0) {
            add_failure(s, t, te.msg);
            coop_rt_log(&rt, "trial %s FAILED (%s): %s", t->id, t->axes_summary, te.msg);
        }
        if (crc) {
            free(dir);
            continue;
        }
        struct coop_results_writer *w = NULL;
        rt.epoch = rt.epochs = 0;
        coop_rt_progress(&rt, "starting");
        int trc = coop_results_begin(dir, t->id, o->force, &w, &te);
        if (trc == 0)
            trc = coop_run_trial(&rt, t, w, &te);
        s->ran++;
        bool complete = false;
        if (trc == COOP_E_INTERRUPTED || (o->cancel && *o->cancel)) {
            coop_results_abort(w); /* the trial in flight is abandoned */
            rc = coop_fail(e, COOP_E_INTERRUPTED, "interrupted during trial %s", t->id);
        } else if (trc == 0) {
            complete = commit_claimed(&rt, t, dir, cl, w, s);
        } else if (!w && !o->force && coop_results_state(dir, t->id, &st, NULL, 0, NULL) == 0 &&
                   st == COOP_TRIAL_COMPLETED) {
            s->elsewhere++; /* begin refused: a process whose claim was taken over finished it */
            complete = true;
        } else {
            char msg[COOP_ERR_MAX];
            memcpy(msg, te.msg, sizeof msg);
            add_failure(s, t, msg);
            coop_rt_log(&rt, "trial %s FAILED (%s): %s", t->id, t->axes_summary, msg);
            if (w && coop_results_commit(w, "failed", msg, &te) != 0)
                coop_rt_log(&rt, "warning: could not record the failure: %s", te.msg);
        }
        coop_claim_release(cl, complete);
        if (trc == 0)
            coop_rt_trial_timed(&rt, coop_rt_trial_seconds(&rt));
        free(dir);
    }
    if (o->tty && o->out)
        fprintf(o->out, "\r\033[K");
    s->interrupted = rc == COOP_E_INTERRUPTED;
    s->seconds = coop_now() - rt.sweep_t0;
    coop_rt_free(&rt);
    return rc;
}
