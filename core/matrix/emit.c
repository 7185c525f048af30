/* emit.c: writes a YAML tree back as text (coop-run --print-config) with
 * libyaml's emitter, keeping what the matrix reads from a node: its kind,
 * its text and whether a scalar was quoted. Lists of scalars are written in
 * flow style ([1, 2]), everything else in block style. Comments and key
 * order beyond the tree's are not kept. */
#include "mx.h"
#include "coop/util.h"
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct sink {
    char *buf;
    size_t len, cap;
    bool oom;
};

static int on_write(void *data, unsigned char *text, size_t size)
{
    struct sink *s = data;
    if (s->len + size + 1 > s->cap) {
        size_t nc = (s->len + size + 1) * 2;
        char *nb = realloc(s->buf, nc);
        if (!nb) {
            s->oom = true;
            return 0;
        }
        s->buf = nb;
        s->cap = nc;
    }
    memcpy(s->buf + s->len, text, size);
    s->len += size;
    s->buf[s->len] = '\0';
    return 1;
}

static int scalar(yaml_emitter_t *em, const char *text, bool quoted)
{
    yaml_event_t ev;
    /* an empty plain scalar (null) is written as ~: "" would turn into '' in
     * flow context, a quoted string */
    const char *t = !quoted && !text[0] ? "~" : text;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)t, (int)strlen(t),
                                      !quoted, quoted,
                                      quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                             : YAML_PLAIN_SCALAR_STYLE))
        return 0;
    return yaml_emitter_emit(em, &ev);
}

/* A list written [a, b]: scalars only, none that flow style would have to
 * quote (a plain "a, b" read from block style must stay plain). */
static bool flow_list(const struct ynode *n)
{
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        if (it->kind != YNODE_SCALAR || (!it->quoted && strpbrk(it->str, ",[]{}#:&*!|>'\"%@`")))
            return false;
    }
    return true;
}

static int node(yaml_emitter_t *em, const struct ynode *n, const char *experiment)
{
    yaml_event_t ev;
    if (n->kind == YNODE_SCALAR)
        return scalar(em, n->str, n->quoted);
    int ok;
    if (n->kind == YNODE_SEQ)
        ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                  flow_list(n) ? YAML_FLOW_SEQUENCE_STYLE
                                                                 : YAML_BLOCK_SEQUENCE_STYLE);
    else
        ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    if (!ok || !yaml_emitter_emit(em, &ev))
        return 0;
    if (experiment && !coop_ymap_get(n, "experiment") &&
        (!scalar(em, "experiment", false) || !scalar(em, experiment, false)))
        return 0;
    for (size_t i = 0; i < n->n; i++)
        if (!node(em, n->items[i], NULL))
            return 0;
    if (n->kind == YNODE_SEQ)
        yaml_sequence_end_event_initialize(&ev);
    else
        yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev);
}

static int document(yaml_emitter_t *em, const struct ynode *root, const char *experiment)
{
    yaml_event_t ev;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    if (!yaml_emitter_emit(em, &ev))
        return 0;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    if (!yaml_emitter_emit(em, &ev) || !node(em, root, experiment))
        return 0;
    yaml_document_end_event_initialize(&ev, 1);
    if (!yaml_emitter_emit(em, &ev))
        return 0;
    yaml_stream_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev) && yaml_emitter_flush(em);
}

int coop_mx_emit_yaml(const struct ynode *root, const char *experiment, char **out,
                 struct coop_err *e)
{
    *out = NULL;
    if (!root || root->kind != YNODE_MAP)
        return coop_fail(e, COOP_E_INVAL, "the experiment is not a mapping");
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em))
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    struct sink s = {0};
    yaml_emitter_set_output(&em, on_write, &s);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 100);
    int ok = document(&em, root, experiment);
    char problem[200];
    snprintf(problem, sizeof problem, "%s", em.problem ? em.problem : "unknown problem");
    yaml_emitter_delete(&em);
    if (!ok || s.oom) {
        free(s.buf);
        return s.oom ? coop_fail(e, COOP_E_NOMEM, "out of memory")
                     : coop_fail(e, COOP_E_FORMAT, "writing the experiment as YAML: %s",
                                 problem);
    }
    *out = s.buf;
    return 0;
}
