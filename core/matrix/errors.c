/* errors.c: collecting every error of one experiment file instead of stopping
 * at the first. Parsing goes on with the next independent part (section,
 * entry, parameter) after an error; what depends on a failed part (the epoch
 * check, zip, exclude, the expansion) is skipped, so one mistake does not
 * cascade into follow-on messages. Knows nothing of the sections themselves. */
#include "mx.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void coop_mx_errs_add(struct mx_errs *l, int code, const char *msg)
{
    if (l->full)
        return;
    if (l->n && strcmp(l->msg[l->n - 1], msg) == 0)
        return;
    char *s = coop_strdup(msg);
    if (!s) { /* keep what we have; the load fails with its first code */
        l->full = true;
        return;
    }
    if (!l->n)
        l->first = code;
    l->msg[l->n++] = s;
    l->full = l->n == COOP_MATRIX_MAX_ERRORS;
}

int coop_mx_note(const struct coop_matrix *m, int rc, struct coop_err *e)
{
    if (!rc)
        return 0;
    if (!m->errs)
        return rc;
    coop_mx_errs_add(m->errs, rc, e->msg);
    return rc == COOP_E_NOMEM || m->errs->full ? rc : 0;
}

bool coop_mx_next(const struct coop_matrix *m, int rc, int *first, struct coop_err *e)
{
    if (!rc)
        return true;
    if (!*first)
        *first = rc;
    return coop_mx_note(m, rc, e) == 0;
}

/* All messages, one a line, into e as far as they fit. */
static void join(const struct mx_errs *l, struct coop_err *e)
{
    size_t used = 0;
    e->msg[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        size_t len = strlen(l->msg[i]);
        if (used + len + 2 + 40 > sizeof e->msg) {
            snprintf(e->msg + used, sizeof e->msg - used, "(%zu more errors)", l->n - i);
            return;
        }
        used += (size_t)snprintf(e->msg + used, sizeof e->msg - used, "%s%s", l->msg[i],
                                 i + 1 < l->n ? "\n" : "");
    }
}

int coop_mx_errs_finish(struct mx_errs *l, const char *file, const struct coop_matrix_options *o,
                   struct coop_err *e)
{
    if (!l->n)
        return 0;
    for (size_t i = 0; o && o->on_error && i < l->n; i++)
        o->on_error(o->ctx, l->msg[i]);
    if (l->n == 1)
        snprintf(e->msg, sizeof e->msg, "%s", l->msg[0]);
    else if (o && o->on_error)
        snprintf(e->msg, sizeof e->msg, "%s: %zu errors%s", file, l->n,
                 l->full ? " (the most reported at once; fix these and run again)" : "");
    else
        join(l, e);
    return l->first;
}

void coop_mx_errs_free(struct mx_errs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->msg[i]);
    l->n = 0;
}
