/* load.c: reads every trial file of a results folder into the report's data
 * model (all root attributes as text, accuracy per evaluation target; a file
 * that cannot be read as a whole is skipped with a warning) and
 * assigns each trial to a setting: trials that must never be averaged together
 * (different backbone or checkpoint) land in different settings. */
#include "report_internal.h"
#include "coop/results.h"
#include "coop/util.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int coop_rp_strs_push(struct rp_strs *s, const char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return s->oom = true, -1;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = coop_strdup(str ? str : "")))
        return s->oom = true, -1;
    s->n++;
    return 0;
}

int coop_rp_strs_pushf(struct rp_strs *s, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return coop_rp_strs_push(s, buf);
}

long coop_rp_strs_find(const struct rp_strs *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return (long)i;
    return -1;
}

void coop_rp_strs_free(struct rp_strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

const char *coop_rp_get(const struct rp_trial *t, const char *key)
{
    long i = coop_rp_strs_find(&t->keys, key);
    return i < 0 ? NULL : t->vals.v[i];
}

double coop_rp_eval_acc(const struct rp_trial *t, const char *target)
{
    for (size_t i = 0; i < t->n_evals; i++)
        if (strcmp(t->evals[i].target, target) == 0)
            return t->evals[i].accuracy;
    return NAN;
}

/* The shortest text that reads back as v: what the config said ("0.02", not
 * "0.020000000000000000"), so typed and string axis values group together. */
static void real_text(char *buf, size_t len, double v)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* Root attribute as text, whatever its type: numbers as the config writes
 * them, booleans as "true"/"false" (the string form older files hold). */
static int attr_text(struct coop_results_reader *r, const char *name, char **out)
{
    struct coop_err e;
    int64_t iv;
    double dv;
    bool bv;
    if (coop_results_read_attr_str(r, name, out, &e) == 0)
        return 0;
    char buf[64];
    if (coop_results_read_attr_int(r, name, &iv, &e) == 0) {
        double chk;
        coop_results_read_attr_double(r, name, &chk, &e);
        if (chk == (double)iv)
            snprintf(buf, sizeof buf, "%lld", (long long)iv);
        else
            real_text(buf, sizeof buf, chk);
    } else if (coop_results_read_attr_double(r, name, &dv, &e) == 0) {
        real_text(buf, sizeof buf, dv);
    } else if (coop_results_read_attr_bool(r, name, &bv, &e) == 0) {
        snprintf(buf, sizeof buf, "%s", bv ? "true" : "false");
    } else {
        return -1;
    }
    *out = coop_strdup(buf);
    return *out ? 0 : -1;
}

static double scalar_or_nan(struct coop_results_reader *r, const char *target, const char *leaf)
{
    char p[512];
    snprintf(p, sizeof p, "eval/%s/%s", target, leaf);
    double v;
    struct coop_err e;
    return coop_results_read_scalar(r, p, &v, &e) == 0 ? v : NAN;
}

/* A rank-1 array's length, or 0 when it is not one (or its length is not n
 * for n > 0). */
static size_t vec_len(int rank, const size_t *shape, size_t n)
{
    return rank == 1 && (n == 0 || shape[0] == n) ? shape[0] : 0;
}

/* Per-class accuracy with its class names, when both read and agree (files of
 * other tools or older ones may lack them: the export then leaves them out). */
static void load_per_class(struct rp_eval *ev, struct coop_results_reader *r)
{
    char p[512];
    struct coop_err e;
    int rank = 0;
    size_t shape[COOP_RESULTS_MAX_RANK], n = 0;
    float *pc = NULL;
    char **names = NULL;
    snprintf(p, sizeof p, "eval/%s/per_class_accuracy", ev->target);
    if (coop_results_has(r, p) && coop_results_read_f32(r, p, &pc, &rank, shape, &e) == 0)
        n = vec_len(rank, shape, 0);
    snprintf(p, sizeof p, "eval/%s/class_names", ev->target);
    if (n && coop_results_has(r, p) &&
        coop_results_read_strings(r, p, &names, &rank, shape, &e) == 0 &&
        vec_len(rank, shape, n) == n) {
        ev->per_class = pc;
        ev->class_names = names;
        ev->n_classes = n;
        return;
    }
    size_t all = 1;
    for (int i = 0; names && i < rank; i++)
        all *= shape[i];
    coop_results_free_strings(names, names ? all : 0);
    free(pc);
}

static void load_curve(struct rp_curve *c, struct coop_results_reader *r)
{
    struct coop_err e;
    int rank;
    size_t shape[COOP_RESULTS_MAX_RANK], n = 0;
    memset(c, 0, sizeof *c);
    if (!coop_results_has(r, "train/curve/epoch") ||
        coop_results_read_i32(r, "train/curve/epoch", &c->epoch, &rank, shape, &e) != 0)
        return;
    n = vec_len(rank, shape, 0);
    const char *paths[3] = {"train/curve/loss", "train/curve/accuracy", "train/curve/lr"};
    double **dst[3] = {&c->loss, &c->accuracy, &c->lr};
    bool ok = n > 0;
    for (int i = 0; i < 3 && ok; i++)
        ok = coop_results_has(r, paths[i]) &&
             coop_results_read_f64(r, paths[i], dst[i], &rank, shape, &e) == 0 &&
             vec_len(rank, shape, n) == n;
    if (ok) {
        c->n = n;
        return;
    }
    free(c->epoch), free(c->loss), free(c->accuracy), free(c->lr);
    memset(c, 0, sizeof *c);
}

static int load_evals(struct rp_trial *t, struct coop_results_reader *r, struct coop_err *e)
{
    char **names;
    size_t n;
    if (!coop_results_has(r, "eval"))
        return 0;
    int rc = coop_results_list(r, "eval", &names, &n, e);
    if (rc)
        return rc;
    t->evals = calloc(n ? n : 1, sizeof *t->evals);
    if (!t->evals) {
        coop_results_free_strings(names, n);
        return coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct rp_eval *ev = &t->evals[t->n_evals++];
        ev->target = names[i];
        names[i] = NULL;
        ev->accuracy = scalar_or_nan(r, ev->target, "accuracy");
        ev->macro_f1 = scalar_or_nan(r, ev->target, "macro_f1");
        ev->n_samples = scalar_or_nan(r, ev->target, "n_samples");
        load_per_class(ev, r);
    }
    coop_results_free_strings(names, n);
    return 0;
}

static int load_attrs(struct rp_trial *t, struct coop_results_reader *r, struct coop_err *e)
{
    char **names;
    size_t n;
    int rc = coop_results_attr_names(r, &names, &n, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        char *v = NULL;
        if (strcmp(names[i], "config") == 0 || attr_text(r, names[i], &v) != 0)
            continue;
        if (coop_rp_strs_push(&t->keys, names[i]) || coop_rp_strs_push(&t->vals, v))
            rc = coop_fail(e, COOP_E_NOMEM, "report: out of memory");
        free(v);
    }
    coop_results_free_strings(names, n);
    return rc;
}

static const char *first_of(const struct rp_trial *t, const char *a, const char *b)
{
    const char *v = coop_rp_get(t, a);
    return v ? v : coop_rp_get(t, b);
}

static void derive(struct rp_trial *t)
{
    const char *st = coop_rp_get(t, "status");
    t->completed = st && strcmp(st, "completed") == 0;
    t->failed = st && strcmp(st, "failed") == 0;
    t->dataset = first_of(t, "axis_dataset", "dataset");
    t->method = first_of(t, "axis_method", "method");
    t->seed = coop_rp_get(t, "axis_seed");
    t->epochs = first_of(t, "axis_epochs", "axis_max_epoch");
    if (!t->epochs)
        t->epochs = first_of(t, "max_epoch", "epochs");
    const char *sh = coop_rp_get(t, "axis_shots");
    t->shots = sh ? atoi(sh) : 0;
    const char *pr = coop_rp_get(t, "axis_protocol");
    t->base2new = pr && strcmp(pr, "base2new") == 0;
    if (!t->dataset)
        t->dataset = "?";
    if (!t->method)
        t->method = "?";
}

/* What must be equal for two trials to be compared at all. */
static void setting_key(char *buf, size_t len, const struct rp_trial *t)
{
    const char *bb = first_of(t, "axis_backbone", "backbone");
    const char *ck = coop_rp_get(t, "checkpoint_sha256");
    snprintf(buf, len, "backbone=%s, checkpoint=%.12s", bb ? bb : "?", ck ? ck : "?");
}

static void trial_free(struct rp_trial *t)
{
    free(t->file);
    coop_rp_strs_free(&t->keys);
    coop_rp_strs_free(&t->vals);
    free(t->label_axis);
    for (size_t j = 0; j < t->n_evals; j++) {
        free(t->evals[j].target);
        free(t->evals[j].per_class);
        coop_results_free_strings(t->evals[j].class_names, t->evals[j].n_classes);
    }
    free(t->evals);
    free(t->curve.epoch), free(t->curve.loss), free(t->curve.accuracy), free(t->curve.lr);
    memset(t, 0, sizeof *t);
}

/* Reads one file into t (which takes path); COOP_E_NOMEM, or another code
 * when the file cannot be read as a whole, with e naming the file. */
static int read_trial(struct rp_trial *t, char *path, struct coop_err *e)
{
    struct coop_results_reader *r;
    memset(t, 0, sizeof *t);
    t->file = path;
    int rc = coop_results_open(path, &r, e);
    if (rc)
        return rc;
    rc = load_attrs(t, r, e);
    if (!rc)
        rc = load_evals(t, r, e);
    if (!rc)
        load_curve(&t->curve, r);
    coop_results_close(r);
    return rc;
}

/* A file that cannot be read as a whole is skipped with one warning naming
 * it; only running out of memory stops the report. */
static int load_one(struct rp_set *s, const char *dir, const char *name, struct coop_err *e)
{
    char *path = coop_asprintf("%s/%s", dir, name);
    if (!path)
        return coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    struct rp_trial *t = &s->t[s->n];
    struct coop_err e2;
    s->n_files++;
    int rc = read_trial(t, path, &e2);
    if (rc) {
        trial_free(t);
        if (rc == COOP_E_NOMEM)
            return coop_fail(e, rc, "%s", e2.msg);
        s->n_unreadable++;
        coop_rp_strs_pushf(&s->warnings, "skipping unreadable results file: %s", e2.msg);
        return 0;
    }
    s->n++;
    derive(t);
    if (!t->completed && !t->failed)
        coop_rp_strs_pushf(&s->warnings, "%s: unexpected status '%s'; treated as missing", path,
                           coop_rp_get(t, "status") ? coop_rp_get(t, "status") : "(none)");
    char key[512];
    setting_key(key, sizeof key, t);
    long k = coop_rp_strs_find(&s->settings, key);
    if (k < 0) {
        if (coop_rp_strs_push(&s->settings, key))
            return coop_fail(e, COOP_E_NOMEM, "report: out of memory");
        k = (long)s->settings.n - 1;
    }
    t->setting = (int)k;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int coop_rp_load(struct rp_set *s, const char *dir, struct coop_err *e)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    if (!d)
        return coop_fail(e, COOP_E_IO, "%s: cannot open results folder: %s", dir,
                         strerror(errno));
    struct rp_strs names = {0};
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) && !rc) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] != '.' && l > 3 && strcmp(de->d_name + l - 3, ".h5") == 0)
            if (coop_rp_strs_push(&names, de->d_name))
                rc = coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    }
    closedir(d);
    if (!rc && names.n)
        qsort(names.v, names.n, sizeof *names.v, name_cmp);
    s->t = calloc(names.n ? names.n : 1, sizeof *s->t);
    if (!rc && !s->t)
        rc = coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    for (size_t i = 0; i < names.n && !rc; i++)
        rc = load_one(s, dir, names.v[i], e);
    coop_rp_strs_free(&names);
    if (!rc && coop_rp_mark_label_axes(s) != 0)
        rc = coop_fail(e, COOP_E_NOMEM, "report: out of memory");
    if (!rc && s->settings.n > 1)
        coop_rp_strs_pushf(&s->warnings,
                           "results hold %zu incompatible settings (different backbone "
                           "or checkpoint); they are never averaged together: one set of tables "
                           "per setting", s->settings.n);
    return rc;
}

void coop_rp_set_free(struct rp_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        trial_free(&s->t[i]);
    free(s->t);
    coop_rp_strs_free(&s->settings);
    coop_rp_strs_free(&s->warnings);
    memset(s, 0, sizeof *s);
}
