/* values.c: what every part of the experiment-file loader uses: the matrix's
 * allocation pool, errors positioned at a YAML node, key checks with "did you
 * mean", canonical text of typed scalars, paths against the file's folder and
 * axis lists (a scalar or a list of scalars). Calls nothing of matrix.c,
 * settings.c, entries.c or expand.c. */
#include "mx.h"
#include "coop/util.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pool ---------------------------------------------------------------- */
char *coop_mx_keep(struct coop_matrix *m, char *s)
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

void *coop_mx_alloc(struct coop_matrix *m, size_t bytes)
{
    return coop_mx_keep(m, calloc(1, bytes ? bytes : 1));
}

char *coop_mx_strdup(struct coop_matrix *m, const char *s)
{
    return coop_mx_keep(m, coop_strdup(s ? s : ""));
}

/* ---- errors and checks -------------------------------------------------- */
int coop_mx_fail(struct coop_err *e, const struct coop_matrix *m, const struct ynode *at, int code,
                 const char *fmt, ...)
{
    char msg[COOP_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct coop_err own, *t = e ? e : &own;
    if (at && at->origin) /* a node of a command-line override */
        coop_fail(t, code, "%s: %s", at->origin, msg);
    else
        coop_fail(t, code, "%s:%d:%d: %s", m->file, at ? at->line : 1, at ? at->col : 1, msg);
    if (m->errs)
        coop_mx_errs_add(m->errs, code, t->msg);
    return code;
}

static bool is_null(const struct ynode *n)
{
    if (n->kind != YNODE_SCALAR || n->quoted)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

int coop_mx_expect_scalar(const struct coop_matrix *m, const struct ynode *n, const char *what,
                          struct coop_err *e)
{
    if (n->kind != YNODE_SCALAR)
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: expected a scalar, got %s", what,
                            coop_ynode_kind_name(n->kind));
    if (is_null(n))
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: needs a value", what);
    if (strlen(n->str) != n->len)
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: contains a NUL character", what);
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

int coop_mx_check_keys(const struct coop_matrix *m, const struct ynode *n, const char *what,
                       const char *const *known, size_t n_known, struct coop_err *e)
{
    if (n->kind != YNODE_MAP)
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: expected a mapping, got %s", what,
                            coop_ynode_kind_name(n->kind));
    int first = 0, rc = 0; /* with a collector, every bad key of the mapping is reported */
    for (size_t i = 0; i + 1 < n->n && coop_mx_next(m, rc, &first, e); i += 2) {
        const struct ynode *k = n->items[i];
        size_t j = 0;
        rc = 0;
        while (j < n_known && strcmp(k->str, known[j]) != 0)
            j++;
        if (j == n_known) {
            const char *s = coop_suggest(k->str, known, n_known);
            char keys[512];
            rc = coop_mx_fail(e, m, k, COOP_E_INVAL,
                              "%s: unknown key '%.80s'%s%s%s; valid keys: %s",
                              what, k->str, s ? " (did you mean '" : "", s ? s : "",
                              s ? "'?)" : "", key_list(known, n_known, keys, sizeof keys));
        }
        for (size_t p = 0; !rc && p < i; p += 2)
            if (strcmp(n->items[p]->str, k->str) == 0)
                rc = coop_mx_fail(e, m, k, COOP_E_INVAL, "%s: duplicate key '%s'", what, k->str);
    }
    coop_mx_next(m, rc, &first, e);
    return first;
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
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: expected %s, got '%.60s'", what,
                            isint ? "an integer" : "a number", n->str);
    if (isint)
        v = (double)iv;
    char range[64];
    if (spec->min <= spec->max && (v < spec->min || v > spec->max))
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: %s is out of range %s", what, n->str,
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
    return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: '%.60s' is not one of: %s%s%s%s", what, n->str,
                        list, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
}

int coop_mx_canon(const struct coop_matrix *m, const struct ynode *n, const char *what,
                  const struct coop_param_spec *spec, char **out, struct coop_err *e)
{
    *out = NULL;
    int rc = 0;
    if (n->kind != YNODE_SCALAR || spec->type != COOP_PARAM_STRING || !n->quoted)
        rc = coop_mx_expect_scalar(m, n, what, e);
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
            return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: expected true or false, got '%.60s'",
                                what, n->str);
        *out = coop_strdup(b ? "true" : "false");
        break;
    case COOP_PARAM_CHOICE:
        rc = canon_choice(m, n, what, spec, out, e);
        break;
    default:
        if (strlen(n->str) != n->len)
            return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: contains a NUL character", what);
        *out = coop_strdup(n->str);
        break;
    }
    if (!rc && !*out)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    return rc;
}

const char *coop_mx_path(struct coop_matrix *m, const char *p)
{
    if (p[0] == '/' || !m->dir[0])
        return coop_mx_strdup(m, p);
    return coop_mx_keep(m, coop_asprintf("%s/%s", m->dir, p));
}

/* ---- axes ------------------------------------------------------------------ */
int coop_mx_parse_axis(struct coop_matrix *m, const struct ynode *n, const char *what,
                       const struct coop_param_spec *spec, char ***values, size_t *count,
                       struct coop_err *e)
{
    if (n->kind == YNODE_MAP)
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: expected a value or a list, got a mapping",
                            what);
    size_t cnt = n->kind == YNODE_SEQ ? n->n : 1;
    if (cnt == 0)
        return coop_mx_fail(e, m, n, COOP_E_INVAL,
                            "%s: empty list (an axis needs at least one value)", what);
    char **v = coop_mx_alloc(m, cnt * sizeof *v);
    if (!v)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    /* train.epochs: "auto" is accepted next to integers */
    bool allow_auto = spec->default_value && strcmp(spec->default_value, "auto") == 0;
    for (size_t i = 0; i < cnt; i++) {
        const struct ynode *it = n->kind == YNODE_SEQ ? n->items[i] : n;
        char *c = NULL;
        int rc;
        if (allow_auto && it->kind == YNODE_SCALAR && !it->quoted && strcmp(it->str, "auto") == 0)
            rc = (c = coop_strdup("auto")) ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
        else if (it->kind != YNODE_SCALAR)
            rc = coop_mx_fail(e, m, it, COOP_E_INVAL,
                              "%s: list items must be scalars, got %s", what,
                              coop_ynode_kind_name(it->kind));
        else
            rc = coop_mx_canon(m, it, what, spec, &c, e);
        if (rc || !(v[i] = coop_mx_keep(m, c)))
            return rc ? rc : coop_fail(e, COOP_E_NOMEM, "out of memory");
        for (size_t j = 0; j < i; j++)
            if (strcmp(v[j], v[i]) == 0)
                return coop_mx_fail(e, m, it, COOP_E_INVAL,
                                    "%s: duplicate value '%.60s'", what, v[i]);
    }
    *values = v;
    *count = cnt;
    return 0;
}
