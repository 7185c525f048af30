/* ytree.h (internal to core/matrix): a small YAML document tree built from
 * libyaml events, with source positions on every node and hard limits on
 * size, depth, node count and aliases. It knows nothing of experiments. */
#ifndef COOP_MATRIX_YTREE_H
#define COOP_MATRIX_YTREE_H

#include "coop/common.h"
#include <stdbool.h>
#include <stddef.h>

enum ynode_kind { YNODE_SCALAR = 1, YNODE_SEQ = 2, YNODE_MAP = 3 };

struct ynode {
    enum ynode_kind kind;
    int line, col;  /* 1-based */
    /* NULL: the experiment file; else what the node came from (a command-line
     * override, "override 2 'shots=[1,2]'"), named in messages instead of
     * file:line:col. Not owned. */
    const char *origin;
    bool quoted;    /* scalar written with quotes or as a block scalar */
    char *str;      /* scalar text (NUL-terminated) */
    size_t len;     /* scalar length (may contain NUL: refused by users) */
    struct ynode **items; /* SEQ: n items; MAP: n keys at 2i, values at 2i+1 */
    size_t n;
};

struct ydoc {
    struct ynode *root; /* NULL for an empty document */
    char *file;         /* display name used in messages */
};

/* Parses one YAML document. Errors carry "file:line:col: ". */
int coop_ydoc_parse(struct ydoc *d, const char *text, size_t len, const char *file,
                    struct coop_err *e);
void coop_ydoc_free(struct ydoc *d);

/* Value of key in a MAP node (NULL if absent or n is not a map). */
const struct ynode *coop_ymap_get(const struct ynode *n, const char *key);
const char *coop_ynode_kind_name(enum ynode_kind k);
/* Frees a node and everything below it. */
void coop_ynode_free(struct ynode *n);

#endif
