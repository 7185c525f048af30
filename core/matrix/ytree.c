/* ytree.c: builds a positioned YAML tree from libyaml events. Hostile input
 * is refused early: aliases are errors (no expansion at all, so alias bombs
 * cost nothing), nesting deeper than COOP_MATRIX_MAX_DEPTH and more than
 * COOP_MATRIX_MAX_NODES nodes stop the parse at the offending event. Must
 * not interpret the document: that is matrix.c's job. */
#include "ytree.h"
#include "coop/matrix.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct builder {
    struct ydoc *doc;
    struct ynode *stack[COOP_MATRIX_MAX_DEPTH + 1];
    size_t caps[COOP_MATRIX_MAX_DEPTH + 1];
    int depth;
    size_t nodes;
};

const char *coop_ynode_kind_name(enum ynode_kind k)
{
    return k == YNODE_SCALAR ? "a scalar" : k == YNODE_SEQ ? "a list" : "a mapping";
}

void coop_ynode_free(struct ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        coop_ynode_free(n->items[i]);
    free(n->items);
    free(n->str);
    free(n);
}

void coop_ydoc_free(struct ydoc *d)
{
    coop_ynode_free(d->root);
    free(d->file);
    d->root = NULL;
    d->file = NULL;
}

const struct ynode *coop_ymap_get(const struct ynode *n, const char *key)
{
    if (!n || n->kind != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < n->n; i += 2)
        if (strcmp(n->items[i]->str, key) == 0)
            return n->items[i + 1];
    return NULL;
}

static int at(struct builder *b, struct coop_err *e, int code, yaml_mark_t m, const char *msg)
{
    return coop_fail(e, code, "%s:%zu:%zu: %s", b->doc->file, m.line + 1, m.column + 1, msg);
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* Appends child to the open container on top of the stack (or makes it the
 * root), so a failure later frees it with the rest of the tree. */
static int attach(struct builder *b, struct ynode *child, yaml_mark_t m, struct coop_err *e)
{
    if (b->depth == 0) {
        if (b->doc->root) {
            coop_ynode_free(child);
            return at(b, e, COOP_E_FORMAT, m, "more than one top-level node");
        }
        b->doc->root = child;
        return 0;
    }
    struct ynode *p = b->stack[b->depth - 1];
    size_t *cap = &b->caps[b->depth - 1];
    if (p->kind == YNODE_MAP && p->n % 2 == 0 && child->kind != YNODE_SCALAR) {
        coop_ynode_free(child);
        return at(b, e, COOP_E_FORMAT, m, "mapping keys must be plain scalars");
    }
    if (p->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct ynode **ni = realloc(p->items, nc * sizeof *ni);
        if (!ni) {
            coop_ynode_free(child);
            return at(b, e, COOP_E_NOMEM, m, "out of memory");
        }
        p->items = ni;
        *cap = nc;
    }
    p->items[p->n++] = child;
    return 0;
}

static struct ynode *new_node(struct builder *b, enum ynode_kind k, yaml_mark_t m,
                              struct coop_err *e)
{
    if (++b->nodes > COOP_MATRIX_MAX_NODES) {
        at(b, e, COOP_E_NOMEM, m, "too many YAML nodes (limit " STR(COOP_MATRIX_MAX_NODES) ")");
        return NULL;
    }
    struct ynode *n = calloc(1, sizeof *n);
    if (!n) {
        at(b, e, COOP_E_NOMEM, m, "out of memory");
        return NULL;
    }
    n->kind = k;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    return n;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev, struct coop_err *e)
{
    struct ynode *n = new_node(b, YNODE_SCALAR, ev->start_mark, e);
    if (!n)
        return COOP_E_NOMEM;
    size_t len = ev->data.scalar.length;
    n->str = malloc(len + 1);
    if (!n->str) {
        free(n);
        return at(b, e, COOP_E_NOMEM, ev->start_mark, "out of memory");
    }
    memcpy(n->str, ev->data.scalar.value, len);
    n->str[len] = '\0';
    n->len = len;
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    return attach(b, n, ev->start_mark, e);
}

static int on_open(struct builder *b, enum ynode_kind k, yaml_mark_t m, struct coop_err *e)
{
    if (b->depth >= COOP_MATRIX_MAX_DEPTH)
        return at(b, e, COOP_E_FORMAT, m,
                  "nesting deeper than " STR(COOP_MATRIX_MAX_DEPTH) " levels");
    struct ynode *n = new_node(b, k, m, e);
    if (!n)
        return COOP_E_NOMEM;
    int rc = attach(b, n, m, e);
    if (rc)
        return rc;
    b->caps[b->depth] = 0;
    b->stack[b->depth++] = n;
    return 0;
}

/* Handles one event; *done is set at the end of the stream. */
static int on_event(struct builder *b, const yaml_event_t *ev, int *done, struct coop_err *e)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev, e);
    case YAML_SEQUENCE_START_EVENT:
        return on_open(b, YNODE_SEQ, ev->start_mark, e);
    case YAML_MAPPING_START_EVENT:
        return on_open(b, YNODE_MAP, ev->start_mark, e);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        b->depth--;
        return 0;
    case YAML_ALIAS_EVENT:
        return at(b, e, COOP_E_FORMAT, ev->start_mark,
                  "YAML aliases (*name) are not supported in experiment files");
    case YAML_DOCUMENT_START_EVENT:
        if (b->doc->root)
            return at(b, e, COOP_E_FORMAT, ev->start_mark,
                      "more than one YAML document (---) in the file");
        return 0;
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return 0;
    default:
        return 0;
    }
}

int coop_ydoc_parse(struct ydoc *d, const char *text, size_t len, const char *file,
                    struct coop_err *e)
{
    memset(d, 0, sizeof *d);
    d->file = coop_strdup(file ? file : "<string>");
    if (!d->file)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (len > COOP_MATRIX_MAX_FILE_BYTES) {
        int rc = coop_fail(e, COOP_E_NOMEM, "%s:1:1: file is larger than the limit of %u bytes",
                           d->file, (unsigned)COOP_MATRIX_MAX_FILE_BYTES);
        coop_ydoc_free(d);
        return rc;
    }
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        coop_ydoc_free(d);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    struct builder b = {.doc = d};
    int rc = 0, done = 0;
    while (!rc && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            char ctx[160] = "";
            if (p.context)
                snprintf(ctx, sizeof ctx, " %s (opened at %zu:%zu)", p.context,
                         p.context_mark.line + 1, p.context_mark.column + 1);
            rc = coop_fail(e, COOP_E_FORMAT, "%s:%zu:%zu: YAML syntax error: %s%s", d->file,
                           p.problem_mark.line + 1, p.problem_mark.column + 1,
                           p.problem ? p.problem : "unknown problem", ctx);
            break;
        }
        rc = on_event(&b, &ev, &done, e);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc)
        coop_ydoc_free(d);
    return rc;
}
