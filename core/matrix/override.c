/* override.c: command-line overrides ("shots=[1,2]", "methods.coop.n_ctx=4",
 * "~train.lr") applied to the YAML tree before it is validated, so an
 * override is checked exactly like the same edit in the file and gives the
 * same trial ids. The nodes an override brings carry its label as their
 * origin, so every later message names the override instead of a file
 * position. Must not validate values: that stays with matrix.c and
 * entries.c. */
#include "mx.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_PATH_PARTS = 16 };

struct ov {
    struct coop_matrix *m;
    const char *label; /* "override 3 'methods.coop.n_ctx=4'" (pooled) */
    const char *top;   /* first key of the path */
    struct coop_err *e;
};

static int ov_fail(const struct ov *o, const char *fmt, const char *arg)
{
    char msg[COOP_ERR_MAX / 2];
    snprintf(msg, sizeof msg, fmt, arg);
    return coop_fail(o->e, COOP_E_INVAL, "%s: %s", o->label, msg);
}

static void set_origin(struct ynode *n, const char *origin)
{
    n->origin = origin;
    for (size_t i = 0; i < n->n; i++)
        set_origin(n->items[i], origin);
}

static struct ynode *new_scalar(const struct ov *o, const char *s)
{
    struct ynode *n = calloc(1, sizeof *n);
    if (n && !(n->str = coop_strdup(s))) {
        free(n);
        n = NULL;
    }
    if (!n)
        return NULL;
    n->kind = YNODE_SCALAR;
    n->len = strlen(s);
    n->line = n->col = 1;
    n->origin = o->label;
    return n;
}

static int append(struct ynode *p, struct ynode *child)
{
    struct ynode **ni = realloc(p->items, (p->n + 1) * sizeof *ni);
    if (!ni)
        return COOP_E_NOMEM;
    p->items = ni;
    p->items[p->n++] = child;
    return 0;
}

/* Appends "key: value" to map (value is taken over, also on failure). */
static int map_add(const struct ov *o, struct ynode *map, const char *key, struct ynode *value)
{
    struct ynode *k = new_scalar(o, key);
    if (!k || append(map, k)) {
        coop_ynode_free(k);
        coop_ynode_free(value);
        return coop_fail(o->e, COOP_E_NOMEM, "out of memory");
    }
    if (append(map, value)) {
        coop_ynode_free(value);
        return coop_fail(o->e, COOP_E_NOMEM, "out of memory");
    }
    return 0;
}

static struct ynode *new_map(const struct ov *o)
{
    struct ynode *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = YNODE_MAP;
        n->line = n->col = 1;
        n->origin = o->label;
    }
    return n;
}

/* What names an entry of the top-level list o->top: "plugin" for backbones. */
static const char *name_key(const struct ov *o)
{
    return strcmp(o->top, "backbone") == 0 ? "plugin" : "name";
}

static bool entry_is(const struct ov *o, const struct ynode *it, const char *key, const char *s)
{
    const struct ynode *v = it->kind == YNODE_SCALAR && strcmp(key, name_key(o)) == 0
                                ? it : coop_ymap_get(it, key);
    return v && v->kind == YNODE_SCALAR && strcmp(v->str, s) == 0;
}

/* Index of the list item that part names: a number, else the entry whose
 * label, else whose plugin name, is part (one entry only). */
static int seq_index(const struct ov *o, const struct ynode *seq, const char *part, size_t *out)
{
    if (part[0] && strspn(part, "0123456789") == strlen(part)) {
        *out = (size_t)strtoull(part, NULL, 10);
        if (*out < seq->n && strlen(part) < 10)
            return 0;
        return ov_fail(o, "list index %s is past the end of the list", part);
    }
    const char *keys[2] = {"label", name_key(o)};
    for (int k = 0; k < 2; k++) {
        size_t hits = 0;
        for (size_t i = 0; i < seq->n; i++)
            if (entry_is(o, seq->items[i], keys[k], part) && hits++ == 0)
                *out = i;
        if (hits == 1)
            return 0;
        if (hits > 1)
            return ov_fail(o, "'%s' names more than one entry of the list; use its label or "
                              "its index (0, 1, ...)", part);
    }
    return ov_fail(o, "no entry of the list is named or labelled '%s'", part);
}

/* A plain name entry ("- coop") becomes the mapping "{name: coop}", so that
 * keys can be set on it. */
static int entry_to_map(const struct ov *o, struct ynode **slot)
{
    if ((*slot)->kind != YNODE_SCALAR)
        return 0;
    struct ynode *map = new_map(o);
    if (!map)
        return coop_fail(o->e, COOP_E_NOMEM, "out of memory");
    map->line = (*slot)->line;
    map->col = (*slot)->col;
    map->origin = (*slot)->origin;
    struct ynode *old = *slot;
    *slot = map;
    return map_add(o, map, name_key(o), old);
}

/* The slot (address of the node pointer) that part names inside *cur;
 * create: add a missing mapping key (its value a new empty mapping). */
static int child_slot(const struct ov *o, struct ynode *cur, const char *part, bool create,
                      struct ynode ***slot)
{
    if (cur->kind == YNODE_SEQ) {
        size_t i;
        int rc = seq_index(o, cur, part, &i);
        *slot = rc ? NULL : &cur->items[i];
        return rc;
    }
    if (cur->kind != YNODE_MAP)
        return ov_fail(o, "cannot set '%s' inside a single value", part);
    for (size_t i = 0; i + 1 < cur->n; i += 2)
        if (strcmp(cur->items[i]->str, part) == 0) {
            *slot = &cur->items[i + 1];
            return 0;
        }
    *slot = NULL;
    if (!create)
        return 0;
    struct ynode *map = new_map(o);
    int rc = map ? map_add(o, cur, part, map) : coop_fail(o->e, COOP_E_NOMEM, "out of memory");
    if (!rc)
        *slot = &cur->items[cur->n - 1];
    return rc;
}

/* Removes what the last part names from cur (a key or a list item). */
static int remove_child(const struct ov *o, struct ynode *cur, const char *part)
{
    size_t at, width = 1;
    if (cur->kind == YNODE_SEQ) {
        int rc = seq_index(o, cur, part, &at);
        if (rc)
            return rc;
    } else {
        struct ynode **slot;
        int rc = child_slot(o, cur, part, false, &slot);
        if (rc)
            return rc;
        if (!slot)
            return ov_fail(o, "there is no key '%s' to remove", part);
        at = (size_t)(slot - cur->items) - 1;
        width = 2;
    }
    for (size_t i = at; i < at + width; i++)
        coop_ynode_free(cur->items[i]);
    memmove(cur->items + at, cur->items + at + width, (cur->n - at - width) * sizeof *cur->items);
    cur->n -= width;
    return 0;
}

/* Splits "a.b.c" into parts (in buf). */
static int split_path(const struct ov *o, char *buf, char **parts, size_t *n)
{
    *n = 0;
    for (char *p = buf, *dot;; p = dot + 1) {
        dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        if (!p[0])
            return ov_fail(o, "an empty key in the path%s", "");
        if (*n == MAX_PATH_PARTS)
            return ov_fail(o, "more than %s keys in the path", "16");
        parts[(*n)++] = p;
        if (!dot)
            return 0;
    }
}

/* The override's value as a YAML node ("" is null, as "key:" is in a file). */
static int parse_value(const struct ov *o, const char *text, struct ynode **out)
{
    struct ydoc d;
    int rc = coop_ydoc_parse(&d, text, strlen(text), o->label, o->e);
    if (rc)
        return rc;
    *out = d.root ? d.root : new_scalar(o, "");
    d.root = NULL;
    coop_ydoc_free(&d);
    if (!*out)
        return coop_fail(o->e, COOP_E_NOMEM, "out of memory");
    set_origin(*out, o->label);
    return 0;
}

/* Walks parts[0..n-2] from the root, creating mappings on the way. */
static int walk(const struct ov *o, struct ydoc *doc, char **parts, size_t n, bool create,
                struct ynode **cur)
{
    if (!doc->root && !(doc->root = new_map(o)))
        return coop_fail(o->e, COOP_E_NOMEM, "out of memory");
    *cur = doc->root;
    for (size_t i = 0; i + 1 < n; i++) {
        struct ynode **slot;
        int rc = child_slot(o, *cur, parts[i], create, &slot);
        if (!rc && !slot)
            return ov_fail(o, "there is no key '%s' on the way", parts[i]);
        if (!rc && (*cur)->kind == YNODE_SEQ)
            rc = entry_to_map(o, slot);
        if (rc)
            return rc;
        *cur = *slot;
    }
    return 0;
}

static int apply_one(const struct ov *o, struct ydoc *doc, const char *text)
{
    bool del = text[0] == '~';
    const char *eq = strchr(text, '=');
    if (del ? eq != NULL : !eq || eq == text)
        return ov_fail(o, "%s", del ? "write ~KEY to remove a key (no '=VALUE')"
                                    : "expected KEY=VALUE, e.g. shots=[1,2] or train.lr=0.01");
    char *path = coop_strdup(del ? text + 1 : text);
    if (!path)
        return coop_fail(o->e, COOP_E_NOMEM, "out of memory");
    if (!del)
        path[eq - text] = '\0';
    char *parts[MAX_PATH_PARTS];
    size_t n;
    struct ynode *cur = NULL, *value = NULL;
    int rc = split_path(o, path, parts, &n);
    struct ov one = *o;
    one.top = rc ? "" : parts[0];
    if (!rc && strcmp(parts[0], "plugin_path") == 0)
        rc = ov_fail(o, "%s is read before overrides apply: give --plugin-path instead",
                     "plugin_path");
    if (!rc)
        rc = walk(&one, doc, parts, n, !del, &cur);
    if (!rc && del)
        rc = remove_child(&one, cur, parts[n - 1]);
    if (!rc && !del)
        rc = parse_value(&one, eq + 1, &value);
    struct ynode **slot = NULL;
    if (!rc && !del && !(rc = child_slot(&one, cur, parts[n - 1], false, &slot)) && slot) {
        coop_ynode_free(*slot);
        *slot = value;
    } else if (!rc && !del) {
        rc = map_add(&one, cur, parts[n - 1], value);
    } else {
        coop_ynode_free(value);
    }
    free(path);
    return rc;
}

int coop_mx_apply_overrides(struct coop_matrix *m, struct ydoc *doc,
                       const struct coop_matrix_options *o, struct coop_err *e)
{
    int rc = 0, first = 0;
    for (size_t i = 0; o && i < o->n_overrides && coop_mx_next(m, rc, &first, e); i++) {
        struct ov ov = {m, coop_mx_keep(m, coop_asprintf("override %zu '%.200s'", i + 1,
                                                      o->overrides[i])), "", e};
        rc = ov.label ? apply_one(&ov, doc, o->overrides[i])
                      : coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    coop_mx_next(m, rc, &first, e);
    return first;
}
