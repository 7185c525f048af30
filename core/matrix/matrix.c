/* matrix.c: loading an experiment file: limits, the top-level sections
 * (experiment, paths, shots, seeds, train, augment), shared helpers (pool,
 * positioned errors, key checks, canonical values) and the public accessors.
 * Plugin entries live in entries.c, the expansion in expand.c. */
#include "mx.h"
#include "coop/util.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- pool ---------------------------------------------------------------- */
char *mx_keep(struct coop_matrix *m, char *s)
{
    if (!s) {
        m->oom = true;
        return NULL;
    }
    if (m->n_pool == m->cap_pool) {
        size_t nc = m->cap_pool ? m->cap_pool * 2 : 64;
        void **np = realloc(m->pool, nc * sizeof *np);
        if (!np) {
            free(s);
            m->oom = true;
            return NULL;
        }
        m->pool = np;
        m->cap_pool = nc;
    }
    m->pool[m->n_pool++] = s;
    return s;
}

void *mx_alloc(struct coop_matrix *m, size_t bytes)
{
    return mx_keep(m, calloc(1, bytes ? bytes : 1));
}

char *mx_strdup(struct coop_matrix *m, const char *s)
{
    return mx_keep(m, coop_strdup(s ? s : ""));
}

/* ---- errors and checks -------------------------------------------------- */
int mx_fail(struct coop_err *e, const struct coop_matrix *m, const struct ynode *at, int code,
            const char *fmt, ...)
{
    char msg[COOP_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return coop_fail(e, code, "%s:%d:%d: %s", m->file, at ? at->line : 1, at ? at->col : 1, msg);
}

static bool is_null(const struct ynode *n)
{
    if (n->kind != YNODE_SCALAR || n->quoted)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

int mx_expect_scalar(const struct coop_matrix *m, const struct ynode *n, const char *what,
                     struct coop_err *e)
{
    if (n->kind != YNODE_SCALAR)
        return mx_fail(e, m, n, COOP_E_INVAL, "%s: expected a scalar, got %s", what,
                       ynode_kind_name(n->kind));
    if (is_null(n))
        return mx_fail(e, m, n, COOP_E_INVAL, "%s: needs a value", what);
    if (strlen(n->str) != n->len)
        return mx_fail(e, m, n, COOP_E_INVAL, "%s: contains a NUL character", what);
    return 0;
}

/* "a, b, c" of known[] into buf (cut with "..." where it does not fit), or
 * "none" for an empty list. */
static const char *key_list(const char *const *known, size_t n_known, char *buf, size_t len)
{
    snprintf(buf, len, "%s", n_known ? "" : "none");
    for (size_t i = 0; i < n_known; i++) {
        size_t used = strlen(buf);
        if (used + strlen(known[i]) + 8 > len) {
            snprintf(buf + used, len - used, ", ...");
            break;
        }
        snprintf(buf + used, len - used, "%s%s", i ? ", " : "", known[i]);
    }
    return buf;
}

int mx_check_keys(const struct coop_matrix *m, const struct ynode *n, const char *what,
                  const char *const *known, size_t n_known, struct coop_err *e)
{
    if (n->kind != YNODE_MAP)
        return mx_fail(e, m, n, COOP_E_INVAL, "%s: expected a mapping, got %s", what,
                       ynode_kind_name(n->kind));
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        const struct ynode *k = n->items[i];
        size_t j = 0;
        while (j < n_known && strcmp(k->str, known[j]) != 0)
            j++;
        if (j == n_known) {
            const char *s = coop_suggest(k->str, known, n_known);
            char keys[512];
            return mx_fail(e, m, k, COOP_E_INVAL, "%s: unknown key '%.80s'%s%s%s; valid keys: %s",
                           what, k->str, s ? " (did you mean '" : "", s ? s : "",
                           s ? "'?)" : "", key_list(known, n_known, keys, sizeof keys));
        }
        for (size_t p = 0; p < i; p += 2)
            if (strcmp(n->items[p]->str, k->str) == 0)
                return mx_fail(e, m, k, COOP_E_INVAL, "%s: duplicate key '%s'", what, k->str);
    }
    return 0;
}

/* ---- canonical values ---------------------------------------------------- */
static int parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False",
                                                                             "FALSE"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, t[i]) == 0)
            return *out = true, 0;
        if (strcmp(s, f[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

static int parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
        return -1;
    *out = v;
    return 0;
}

static int canon_number(const struct coop_matrix *m, const struct ynode *n, const char *what,
                        const struct coop_param_spec *spec, char **out, struct coop_err *e)
{
    bool isint = spec->type == COOP_PARAM_INT;
    long long iv = 0;
    double v = 0;
    if (n->quoted || (isint ? parse_ll(n->str, &iv) : parse_double(n->str, &v)))
        return mx_fail(e, m, n, COOP_E_INVAL, "%s: expected %s, got '%.60s'", what,
                       isint ? "an integer" : "a number", n->str);
    if (isint)
        v = (double)iv;
    char range[64];
    if (spec->min <= spec->max && (v < spec->min || v > spec->max))
        return mx_fail(e, m, n, COOP_E_INVAL, "%s: %s is out of range %s", what, n->str,
                       coop_param_range(spec, range, sizeof range));
    *out = isint ? coop_asprintf("%lld", iv) : coop_asprintf("%.9g", v);
    return 0;
}

static int canon_choice(const struct coop_matrix *m, const struct ynode *n, const char *what,
                        const struct coop_param_spec *spec, char **out, struct coop_err *e)
{
    size_t nc = 0;
    while (spec->choices && spec->choices[nc])
        nc++;
    for (size_t i = 0; i < nc; i++)
        if (strcmp(n->str, spec->choices[i]) == 0)
            return *out = coop_strdup(n->str), 0;
    const char *s = coop_suggest(n->str, (const char *const *)spec->choices, nc);
    char list[256] = "";
    for (size_t i = 0; i < nc && strlen(list) < 200; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 spec->choices[i]);
    return mx_fail(e, m, n, COOP_E_INVAL, "%s: '%.60s' is not one of: %s%s%s%s", what, n->str,
                   list, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
}

int mx_canon(const struct coop_matrix *m, const struct ynode *n, const char *what,
             const struct coop_param_spec *spec, char **out, struct coop_err *e)
{
    *out = NULL;
    int rc = 0;
    if (n->kind != YNODE_SCALAR || spec->type != COOP_PARAM_STRING || !n->quoted)
        rc = mx_expect_scalar(m, n, what, e);
    if (rc)
        return rc;
    bool b;
    switch (spec->type) {
    case COOP_PARAM_INT:
    case COOP_PARAM_FLOAT:
        rc = canon_number(m, n, what, spec, out, e);
        break;
    case COOP_PARAM_BOOL:
        if (n->quoted || parse_bool(n->str, &b))
            return mx_fail(e, m, n, COOP_E_INVAL, "%s: expected true or false, got '%.60s'",
                           what, n->str);
        *out = coop_strdup(b ? "true" : "false");
        break;
    case COOP_PARAM_CHOICE:
        rc = canon_choice(m, n, what, spec, out, e);
        break;
    default:
        if (strlen(n->str) != n->len)
            return mx_fail(e, m, n, COOP_E_INVAL, "%s: contains a NUL character", what);
        *out = coop_strdup(n->str);
        break;
    }
    if (!rc && !*out)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    return rc;
}

const char *mx_path(struct coop_matrix *m, const char *p)
{
    if (p[0] == '/' || !m->dir[0])
        return mx_strdup(m, p);
    return mx_keep(m, coop_asprintf("%s/%s", m->dir, p));
}

/* ---- sections -------------------------------------------------------------- */
static const struct coop_param_spec shots_spec = {"shots", COOP_PARAM_INT, NULL, 1, 100000,
                                                  NULL, NULL};
static const struct coop_param_spec seed_spec = {"seeds", COOP_PARAM_INT, NULL, 0, INT_MAX,
                                                 NULL, NULL};
static const char *const sched_choices[] = {"cosine", "constant", "linear", NULL};
static const char *const warm_choices[] = {"constant", "linear", NULL};
static const char *const opt_choices[] = {"sgd", NULL};
static const char *const aug_choices[] = {"views", "online", "none", NULL};
/* The published CoOp protocol (docs/experiments.md); "epochs" is special:
 * "auto" or an integer. Order = struct mx_setting train[] order. */
static const struct coop_param_spec train_specs[MX_TRAIN_KEYS] = {
    {"epochs", COOP_PARAM_INT, "auto", 1, 100000, NULL, NULL},
    {"batch_size", COOP_PARAM_INT, "32", 1, 1 << 20, NULL, NULL},
    {"lr", COOP_PARAM_FLOAT, "0.002", 0, 10, NULL, NULL},
    {"momentum", COOP_PARAM_FLOAT, "0.9", 0, 1, NULL, NULL},
    {"weight_decay", COOP_PARAM_FLOAT, "0.0005", 0, 1, NULL, NULL},
    {"schedule", COOP_PARAM_CHOICE, "cosine", 0, 0, sched_choices, NULL},
    {"warmup_epochs", COOP_PARAM_INT, "1", 0, 100000, NULL, NULL},
    {"warmup_lr", COOP_PARAM_FLOAT, "1e-05", 0, 10, NULL, NULL},
    {"warmup_type", COOP_PARAM_CHOICE, "constant", 0, 0, warm_choices, NULL},
    {"optimizer", COOP_PARAM_CHOICE, "sgd", 0, 0, opt_choices, NULL},
};
static const struct coop_param_spec augment_specs[MX_AUGMENT_KEYS] = {
    {"mode", COOP_PARAM_CHOICE, "views", 0, 0, aug_choices, NULL},
    {"views", COOP_PARAM_INT, "1", 1, 1000, NULL, NULL},
    {"crop_scale", COOP_PARAM_FLOAT, "0.08", 0.01, 1, NULL, NULL},
};

static const struct coop_param_spec *find_spec(const struct coop_param_spec *specs, size_t n,
                                               const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, specs[i].name) == 0)
            return &specs[i];
    return NULL;
}

const struct coop_param_spec *mx_setting_spec(const char *axis)
{
    const char *dot = strchr(axis, '.');
    if (!dot)
        return strcmp(axis, "shots") == 0 ? &shots_spec
               : strcmp(axis, "seed") == 0 || strcmp(axis, "seeds") == 0 ? &seed_spec : NULL;
    size_t plen = (size_t)(dot - axis);
    if (plen == 5 && memcmp(axis, "train", 5) == 0)
        return find_spec(train_specs, MX_TRAIN_KEYS, dot + 1);
    if (plen == 7 && memcmp(axis, "augment", 7) == 0)
        return find_spec(augment_specs, MX_AUGMENT_KEYS, dot + 1);
    return NULL;
}

static int parse_settings(struct coop_matrix *m, const struct ynode *n, const char *section,
                          const struct coop_param_spec *specs, struct mx_setting *out,
                          size_t count, struct coop_err *e)
{
    const char *known[MX_TRAIN_KEYS];
    for (size_t i = 0; i < count; i++) {
        known[i] = specs[i].name;
        out[i].name = mx_keep(m, coop_asprintf("%s.%s", section, specs[i].name));
        out[i].values = mx_alloc(m, sizeof(char *));
        if (!out[i].name || !out[i].values || !(out[i].values[0] =
                                                    mx_strdup(m, specs[i].default_value)))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        out[i].n = 1;
    }
    if (!n)
        return 0;
    int rc = mx_check_keys(m, n, section, known, count, e);
    for (size_t i = 0; !rc && i + 1 < n->n; i += 2) {
        size_t k = 0;
        while (strcmp(specs[k].name, n->items[i]->str) != 0)
            k++;
        const struct ynode *v = n->items[i + 1];
        if (strcmp(specs[k].name, "epochs") == 0 && v->kind == YNODE_SCALAR &&
            strcmp(v->str, "auto") == 0 && !v->quoted) {
            out[k].values[0] = mx_strdup(m, "auto");
            continue;
        }
        rc = mx_parse_axis(m, v, out[k].name, &specs[k], &out[k].values, &out[k].n, e);
    }
    return rc;
}

int mx_parse_train_override(struct coop_matrix *m, const struct ynode *n, const char **out,
                            struct coop_err *e)
{
    const char *known[MX_TRAIN_KEYS];
    for (size_t i = 0; i < MX_TRAIN_KEYS; i++)
        known[i] = train_specs[i].name;
    int rc = mx_check_keys(m, n, "method train", known, MX_TRAIN_KEYS, e);
    for (size_t i = 0; !rc && i + 1 < n->n; i += 2) {
        size_t k = 0;
        while (strcmp(train_specs[k].name, n->items[i]->str) != 0)
            k++;
        const struct ynode *v = n->items[i + 1];
        char **vals;
        size_t cnt;
        if (v->kind == YNODE_SEQ)
            return mx_fail(e, m, v, COOP_E_INVAL,
                           "train.%s: a method's own training settings are single values "
                           "(sweep them in the top-level train: section)", train_specs[k].name);
        char what[64];
        snprintf(what, sizeof what, "train.%s", train_specs[k].name);
        rc = mx_parse_axis(m, v, what, &train_specs[k], &vals, &cnt, e);
        if (!rc)
            out[k] = vals[0];
    }
    return rc;
}

static int parse_experiment(struct coop_matrix *m, const struct ynode *n, struct coop_err *e)
{
    if (!n) {
        const char *base = strrchr(m->file, '/');
        char *s = coop_strdup(base ? base + 1 : m->file);
        char *dot = s ? strrchr(s, '.') : NULL;
        if (dot && dot != s)
            *dot = '\0';
        m->experiment = mx_keep(m, s);
        if (!m->experiment)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                strlen(s) || s[0] == '.' || !s[0])
            m->experiment = "experiment";
        return 0;
    }
    int rc = mx_expect_scalar(m, n, "experiment", e);
    if (rc)
        return rc;
    if (strspn(n->str, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            n->len || n->str[0] == '.' || n->len > 200)
        return mx_fail(e, m, n, COOP_E_INVAL,
                       "experiment: '%.60s' must be a folder name (letters, digits, '.', '_', "
                       "'-'; not starting with '.')", n->str);
    m->experiment = mx_strdup(m, n->str);
    return 0;
}

static int parse_paths(struct coop_matrix *m, const struct ynode *root, struct coop_err *e)
{
    const struct ynode *n = ymap_get(root, "results_dir");
    int rc = 0;
    m->results_dir = "results";
    if (n && !(rc = mx_expect_scalar(m, n, "results_dir", e)))
        m->results_dir = mx_strdup(m, n->str);
    n = rc ? NULL : ymap_get(root, "data_root");
    if (n && !(rc = mx_expect_scalar(m, n, "data_root", e))) {
        m->data_root = mx_path(m, n->str);
        if (!m->data_root)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        if (!coop_dir_exists(m->data_root))
            rc = mx_fail(e, m, n, COOP_E_IO, "data_root: folder '%s' does not exist",
                         m->data_root);
    }
    n = ymap_get(root, "plugin_path");
    if (rc || !n)
        return rc;
    size_t cnt = n->kind == YNODE_SEQ ? n->n : 1;
    m->plugin_paths = mx_alloc(m, cnt * sizeof(char *));
    if (!m->plugin_paths)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < cnt; i++) {
        const struct ynode *v = n->kind == YNODE_SEQ ? n->items[i] : n;
        if ((rc = mx_expect_scalar(m, v, "plugin_path", e)))
            break;
        m->plugin_paths[i] = mx_path(m, v->str);
        if (!m->plugin_paths[i])
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        if (!coop_dir_exists(m->plugin_paths[i]))
            rc = mx_fail(e, m, v, COOP_E_IO, "plugin_path: folder '%s' does not exist",
                         m->plugin_paths[i]);
        m->n_plugin_paths++;
    }
    return rc;
}

static const char *const top_keys[] = {
    "experiment", "description", "results_dir", "data_root", "plugin_path", "backbone",
    "datasets",   "methods",     "shots",       "seeds",     "train",       "augment",
    "zip",        "exclude",     "slurm"}; /* slurm: coop-run --slurm's (core/run/slurm.c) */
#define N_TOP (sizeof top_keys / sizeof *top_keys)

static int parse_root(struct coop_matrix *m, const struct ynode *root, struct coop_err *e)
{
    if (!root)
        return coop_fail(e, COOP_E_INVAL, "%s:1:1: empty experiment file", m->file);
    int rc = mx_check_keys(m, root, "top level", top_keys, N_TOP, e);
    const struct ynode *n;
    if (!rc && (n = ymap_get(root, "description")))
        rc = mx_expect_scalar(m, n, "description", e);
    if (!rc)
        rc = parse_experiment(m, ymap_get(root, "experiment"), e);
    if (!rc)
        rc = parse_paths(m, root, e);
    if (!rc && !m->oom)
        rc = mx_parse_backbones(m, ymap_get(root, "backbone"), e);
    if (!rc && !m->oom)
        rc = mx_parse_datasets(m, ymap_get(root, "datasets"), e);
    if (!rc && !m->oom)
        rc = mx_parse_methods(m, ymap_get(root, "methods"), e);
    m->shots.name = "shots";
    m->seeds.name = "seed";
    if (!rc && (n = ymap_get(root, "shots")))
        rc = mx_parse_axis(m, n, "shots", &shots_spec, &m->shots.values, &m->shots.n, e);
    if (!rc)
        rc = mx_check_dataset_epochs(m, e);
    if (!rc && (n = ymap_get(root, "seeds")))
        rc = mx_parse_axis(m, n, "seeds", &seed_spec, &m->seeds.values, &m->seeds.n, e);
    if (!rc && !ymap_get(root, "seeds")) {
        m->seeds.values = mx_alloc(m, sizeof(char *));
        if (!m->seeds.values || !(m->seeds.values[0] = mx_strdup(m, "1")))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        m->seeds.n = 1;
    }
    if (!rc)
        rc = parse_settings(m, ymap_get(root, "train"), "train", train_specs, m->train,
                            MX_TRAIN_KEYS, e);
    if (!rc)
        rc = parse_settings(m, ymap_get(root, "augment"), "augment", augment_specs,
                            m->augment, MX_AUGMENT_KEYS, e);
    if (!rc && !m->oom)
        rc = mx_parse_zip(m, ymap_get(root, "zip"), e);
    if (!rc)
        rc = mx_parse_exclude(m, ymap_get(root, "exclude"), e);
    if (!rc && !m->oom)
        rc = mx_expand(m, root, e);
    if (!rc && m->oom)
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", m->file);
    return rc;
}

/* ---- public entry points ---------------------------------------------------- */
static char *folder_of(const char *display)
{
    const char *slash = display ? strrchr(display, '/') : NULL;
    char *d = slash ? coop_strdup(display) : coop_strdup(".");
    if (d && slash)
        d[slash - display] = '\0';
    if (d && !d[0]) {
        free(d);
        return coop_strdup("/");
    }
    char *real = d ? realpath(d, NULL) : NULL;
    free(d);
    return real ? real : coop_strdup("");
}

int coop_matrix_load_string(const char *text, size_t len, const char *display_name,
                            const struct coop_matrix_resolver *r, struct coop_matrix **out,
                            struct coop_err *e)
{
    *out = NULL;
    if (!text || !r || !r->lookup)
        return coop_fail(e, COOP_E_INVAL, "coop_matrix_load: text and resolver are required");
    struct coop_matrix *m = calloc(1, sizeof *m);
    if (!m)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    m->r = r;
    m->file = mx_strdup(m, display_name ? display_name : "<string>");
    m->dir = mx_keep(m, display_name ? folder_of(display_name) : coop_strdup(""));
    if (!m->file || !m->dir) {
        coop_matrix_free(m);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    if (strcmp(m->dir, "/") == 0)
        m->dir = "";
    struct ydoc doc;
    int rc = ydoc_parse(&doc, text, len, m->file, e);
    if (!rc) {
        rc = parse_root(m, doc.root, e);
        ydoc_free(&doc);
    }
    if (rc) {
        coop_matrix_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int coop_matrix_load(const char *path, const struct coop_matrix_resolver *r,
                     struct coop_matrix **out, struct coop_err *e)
{
    char *text;
    size_t len;
    *out = NULL;
    int rc = coop_read_file(path, COOP_MATRIX_MAX_FILE_BYTES, &text, &len, e);
    if (rc)
        return coop_fail_prefix(e, rc, "%s:1:1", path);
    rc = coop_matrix_load_string(text, len, path, r, out, e);
    free(text);
    return rc;
}

int coop_matrix_peek_plugin_paths(const char *path, char ***paths, size_t *n,
                                  struct coop_err *e)
{
    *paths = NULL;
    *n = 0;
    char *text;
    size_t len;
    int rc = coop_read_file(path, COOP_MATRIX_MAX_FILE_BYTES, &text, &len, e);
    if (rc)
        return coop_fail_prefix(e, rc, "%s:1:1", path);
    struct coop_matrix m = {0};
    struct ydoc doc;
    m.file = path;
    char *dir = folder_of(path);
    m.dir = dir && strcmp(dir, "/") ? dir : "";
    rc = dir ? ydoc_parse(&doc, text, len, path, e) : coop_fail(e, COOP_E_NOMEM, "out of memory");
    free(text);
    if (!rc) {
        if (doc.root && doc.root->kind != YNODE_MAP)
            rc = mx_fail(e, &m, doc.root, COOP_E_INVAL, "top level: expected a mapping");
        else if (doc.root)
            rc = parse_paths(&m, doc.root, e);
        ydoc_free(&doc);
    }
    if (!rc && m.n_plugin_paths) {
        *paths = calloc(m.n_plugin_paths, sizeof(char *));
        for (size_t i = 0; *paths && i < m.n_plugin_paths; i++)
            if (((*paths)[i] = coop_strdup(m.plugin_paths[i])))
                (*n)++;
        if (*n != m.n_plugin_paths)
            rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < m.n_pool; i++)
        free(m.pool[i]);
    free(m.pool);
    free(dir);
    if (rc) {
        coop_matrix_free_paths(*paths, *n);
        *paths = NULL;
        *n = 0;
    }
    return rc;
}

void coop_matrix_free_paths(char **paths, size_t n)
{
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

size_t coop_matrix_count(const struct coop_matrix *m)
{
    return m ? m->n_trials : 0;
}

const struct coop_trial *coop_matrix_trial(const struct coop_matrix *m, size_t i)
{
    return m && i < m->n_trials ? &m->trials[i] : NULL;
}

const char *const *coop_matrix_plugin_paths(const struct coop_matrix *m, size_t *n)
{
    *n = m->n_plugin_paths;
    return m->plugin_paths;
}

const char *coop_matrix_experiment(const struct coop_matrix *m)
{
    return m->experiment;
}

const char *const *coop_matrix_axes(const struct coop_matrix *m, size_t *n)
{
    *n = m->n_axes;
    return m->axes;
}

void coop_matrix_free(struct coop_matrix *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_pool; i++)
        free(m->pool[i]);
    free(m->pool);
    free(m->trials);
    free(m);
}

int coop_train_epochs_auto(int shots)
{
    if (shots <= 0)
        return 0;
    return shots == 1 ? 50 : shots <= 4 ? 100 : 200;
}
