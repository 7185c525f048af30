/* matrix.c: loading an experiment file: limits, the top-level sections
 * (experiment, paths, then each section's parser in order) and the public
 * accessors. Shots, seeds, train and augment live in settings.c, plugin
 * entries in entries.c, the expansion in expand.c, the helpers they all use
 * in values.c. */
#include "mx.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- sections -------------------------------------------------------------- */
static int parse_experiment(struct coop_matrix *m, const struct ynode *n, struct coop_err *e)
{
    if (!n) {
        const char *base = strrchr(m->file, '/');
        char *s = coop_strdup(base ? base + 1 : m->file);
        char *dot = s ? strrchr(s, '.') : NULL;
        if (dot && dot != s)
            *dot = '\0';
        m->experiment = coop_mx_keep(m, s);
        if (!m->experiment)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                strlen(s) || s[0] == '.' || !s[0])
            m->experiment = "experiment";
        return 0;
    }
    int rc = coop_mx_expect_scalar(m, n, "experiment", e);
    if (rc)
        return rc;
    if (strspn(n->str, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            n->len || n->str[0] == '.' || n->len > 200)
        return coop_mx_fail(e, m, n, COOP_E_INVAL,
                       "experiment: '%.60s' must be a folder name (letters, digits, '.', '_', "
                       "'-'; not starting with '.')", n->str);
    m->experiment = coop_mx_strdup(m, n->str);
    return 0;
}

/* plugin_path: one folder or a list, each relative to the file's folder. */
static int parse_plugin_paths(struct coop_matrix *m, const struct ynode *root,
                              struct coop_err *e)
{
    const struct ynode *n = coop_ymap_get(root, "plugin_path");
    if (!n)
        return 0;
    int rc = 0;
    size_t cnt = n->kind == YNODE_SEQ ? n->n : 1;
    m->plugin_paths = coop_mx_alloc(m, cnt * sizeof(char *));
    if (!m->plugin_paths)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < cnt; i++) {
        const struct ynode *v = n->kind == YNODE_SEQ ? n->items[i] : n;
        if ((rc = coop_mx_expect_scalar(m, v, "plugin_path", e)))
            break;
        m->plugin_paths[i] = coop_mx_path(m, v->str);
        if (!m->plugin_paths[i])
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        if (!coop_dir_exists(m->plugin_paths[i]))
            rc = coop_mx_fail(e, m, v, COOP_E_IO, "plugin_path: folder '%s' does not exist",
                         m->plugin_paths[i]);
        m->n_plugin_paths++;
    }
    return rc;
}

static int parse_paths(struct coop_matrix *m, const struct ynode *root, struct coop_err *e)
{
    const struct ynode *n = coop_ymap_get(root, "results_dir");
    int rc = 0;
    m->results_dir = "results";
    if (n && !(rc = coop_mx_expect_scalar(m, n, "results_dir", e)))
        m->results_dir = coop_mx_strdup(m, n->str);
    n = rc ? NULL : coop_ymap_get(root, "data_root");
    if (n && !(rc = coop_mx_expect_scalar(m, n, "data_root", e))) {
        m->data_root = coop_mx_path(m, n->str);
        if (!m->data_root)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        if (!coop_dir_exists(m->data_root))
            rc = coop_mx_fail(e, m, n, COOP_E_IO, "data_root: folder '%s' does not exist",
                         m->data_root);
    }
    return rc ? rc : parse_plugin_paths(m, root, e);
}

static const char *const top_keys[] = {
    "experiment", "description", "results_dir", "data_root", "plugin_path", "backbone",
    "datasets",   "methods",     "shots",       "seeds",     "train",       "augment",
    "zip",        "exclude",     "slurm",       /* slurm: coop-run --slurm's (core/run/slurm.c) */
    "threads",    "jobs"}; /* threads, jobs: how the trials run, not what they compute:
                              * in no trial id */
#define N_TOP (sizeof top_keys / sizeof *top_keys)

/* threads: N (1..4096; coop-run sets OpenMP and OpenBLAS to it) and jobs: N
 * (1..256 worker processes), into *out (0 when absent or bad). */
static int parse_count(struct coop_matrix *m, const struct ynode *n, const char *key, long max,
                       const char *what, int *out, struct coop_err *e)
{
    *out = 0;
    if (!n)
        return 0;
    int rc = coop_mx_expect_scalar(m, n, key, e);
    char *end = NULL;
    long v = rc ? 0 : strtol(n->str, &end, 10);
    if (!rc && (end == n->str || *end || v < 1 || v > max))
        rc = coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: want a whole number from 1 to %ld (%s), "
                          "got '%.80s'", key, max, what, n->str);
    if (!rc)
        *out = (int)v;
    return rc;
}

/* no error recorded so far: the parts that build on the others may run */
static bool clean(const struct coop_matrix *m)
{
    return !m->errs || m->errs->n == 0;
}

/* The independent sections each report their errors (coop_mx_note); rc is
 * set only when parsing must stop. */
static int parse_sections(struct coop_matrix *m, const struct ynode *root, struct coop_err *e)
{
    const struct ynode *n;
    int rc = 0;
    if ((n = coop_ymap_get(root, "description")))
        rc = coop_mx_note(m, coop_mx_expect_scalar(m, n, "description", e), e);
    if (!rc)
        rc = coop_mx_note(m, parse_count(m, coop_ymap_get(root, "threads"), "threads", 4096,
                                         "OpenMP and OpenBLAS threads", &m->threads, e), e);
    if (!rc)
        rc = coop_mx_note(m, parse_count(m, coop_ymap_get(root, "jobs"), "jobs", 256,
                                         "worker processes", &m->jobs, e), e);
    if (!rc)
        rc = coop_mx_note(m, parse_experiment(m, coop_ymap_get(root, "experiment"), e), e);
    if (!rc)
        rc = coop_mx_note(m, parse_paths(m, root, e), e);
    if (!rc && !m->oom)
        rc = coop_mx_note(m, coop_mx_parse_backbones(m, coop_ymap_get(root, "backbone"), e), e);
    if (!rc && !m->oom)
        rc = coop_mx_note(m, coop_mx_parse_datasets(m, coop_ymap_get(root, "datasets"), e), e);
    if (!rc && !m->oom)
        rc = coop_mx_note(m, coop_mx_parse_methods(m, coop_ymap_get(root, "methods"), e), e);
    m->shots.name = "shots";
    m->seeds.name = "seed";
    if (!rc && (n = coop_ymap_get(root, "shots")))
        rc = coop_mx_note(m, coop_mx_parse_axis(m, n, "shots", coop_mx_setting_spec("shots"),
                                                &m->shots.values, &m->shots.n, e), e);
    if (!rc && clean(m))
        rc = coop_mx_check_dataset_epochs(m, e);
    if (!rc && (n = coop_ymap_get(root, "seeds")))
        rc = coop_mx_note(m, coop_mx_parse_axis(m, n, "seeds", coop_mx_setting_spec("seeds"),
                                                &m->seeds.values, &m->seeds.n, e), e);
    if (!rc && !coop_ymap_get(root, "seeds")) {
        m->seeds.values = coop_mx_alloc(m, sizeof(char *));
        if (!m->seeds.values || !(m->seeds.values[0] = coop_mx_strdup(m, "1")))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        m->seeds.n = 1;
    }
    if (!rc)
        rc = coop_mx_note(m, coop_mx_parse_settings(m, root, e), e);
    return rc;
}

static int parse_root(struct coop_matrix *m, const struct ynode *root, struct coop_err *e)
{
    if (!root)
        return coop_fail(e, COOP_E_INVAL, "%s:1:1: empty experiment file", m->file);
    int rc = coop_mx_check_keys(m, root, "top level", top_keys, N_TOP, e);
    if (root->kind != YNODE_MAP || (rc = coop_mx_note(m, rc, e)))
        return rc;
    rc = parse_sections(m, root, e);
    if (!rc && !m->oom && clean(m))
        rc = coop_mx_parse_zip(m, coop_ymap_get(root, "zip"), e);
    if (!rc && clean(m))
        rc = coop_mx_parse_exclude(m, coop_ymap_get(root, "exclude"), e);
    if (!rc && !m->oom && clean(m))
        rc = coop_mx_expand(m, root, e);
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

/* The document after the overrides, validated and expanded; errors go to
 * m->errs. keep_yaml: the document's text is kept for coop_matrix_yaml. */
static int load_doc(struct coop_matrix *m, const char *text, size_t len,
                    const struct coop_matrix_options *o, struct coop_err *e)
{
    struct ydoc doc;
    int rc = coop_mx_note(m, coop_ydoc_parse(&doc, text, len, m->file, e), e);
    if (rc || !clean(m))
        return rc;
    /* an override that cannot be applied is reported and left out; the
     * document is still checked, so the others' errors show too */
    rc = coop_mx_note(m, coop_mx_apply_overrides(m, &doc, o, e), e);
    if (!rc)
        rc = coop_mx_note(m, parse_root(m, doc.root, e), e);
    if (!rc && clean(m) && o && o->keep_yaml) {
        char *y = NULL;
        rc = coop_mx_note(m, coop_mx_emit_yaml(doc.root, m->experiment, &y, e), e);
        m->yaml_text = coop_mx_keep(m, y);
    }
    coop_ydoc_free(&doc);
    return rc;
}

int coop_matrix_load_string_opts(const char *text, size_t len, const char *display_name,
                                 const struct coop_matrix_resolver *r,
                                 const struct coop_matrix_options *o, struct coop_matrix **out,
                                 struct coop_err *e)
{
    *out = NULL;
    if (!text || !r || !r->lookup)
        return coop_fail(e, COOP_E_INVAL, "coop_matrix_load: text and resolver are required");
    struct coop_matrix *m = calloc(1, sizeof *m);
    if (!m)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    m->r = r;
    m->file = coop_mx_strdup(m, display_name ? display_name : "<string>");
    m->dir = coop_mx_keep(m, display_name ? folder_of(display_name) : coop_strdup(""));
    if (!m->file || !m->dir) {
        coop_matrix_free(m);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    if (strcmp(m->dir, "/") == 0)
        m->dir = "";
    struct mx_errs errs;
    memset(&errs, 0, sizeof errs);
    m->errs = &errs;
    int rc = load_doc(m, text, len, o, e);
    int first = coop_mx_errs_finish(&errs, m->file, o, e);
    coop_mx_errs_free(&errs);
    m->errs = NULL;
    rc = first ? first : rc;
    if (rc) {
        coop_matrix_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int coop_matrix_load_string(const char *text, size_t len, const char *display_name,
                            const struct coop_matrix_resolver *r, struct coop_matrix **out,
                            struct coop_err *e)
{
    return coop_matrix_load_string_opts(text, len, display_name, r, NULL, out, e);
}

int coop_matrix_load_opts(const char *path, const struct coop_matrix_resolver *r,
                          const struct coop_matrix_options *o, struct coop_matrix **out,
                          struct coop_err *e)
{
    char *text;
    size_t len;
    *out = NULL;
    int rc = coop_read_file(path, COOP_MATRIX_MAX_FILE_BYTES, &text, &len, e);
    if (rc)
        return coop_fail_prefix(e, rc, "%s:1:1", path);
    rc = coop_matrix_load_string_opts(text, len, path, r, o, out, e);
    free(text);
    return rc;
}

int coop_matrix_load(const char *path, const struct coop_matrix_resolver *r,
                     struct coop_matrix **out, struct coop_err *e)
{
    return coop_matrix_load_opts(path, r, NULL, out, e);
}

const char *coop_matrix_yaml(const struct coop_matrix *m)
{
    return m ? m->yaml_text : NULL;
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
    rc = dir ? coop_ydoc_parse(&doc, text, len, path, e)
             : coop_fail(e, COOP_E_NOMEM, "out of memory");
    free(text);
    if (!rc) {
        if (doc.root && doc.root->kind != YNODE_MAP)
            rc = coop_mx_fail(e, &m, doc.root, COOP_E_INVAL, "top level: expected a mapping");
        else if (doc.root) /* only plugin_path: the rest waits for the overrides */
            rc = parse_plugin_paths(&m, doc.root, e);
        coop_ydoc_free(&doc);
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

int coop_matrix_threads(const struct coop_matrix *m)
{
    return m ? m->threads : 0;
}

int coop_matrix_jobs(const struct coop_matrix *m)
{
    return m ? m->jobs : 0;
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
