/* select.c: which trials of a matrix one coop-run takes (--shard, --trial,
 * --where; see coop/run.h). A shard is a function of the trial id alone, so
 * the partition does not move when trials are added, removed or reordered.
 * Selections that take nothing because of a typo are errors naming what no
 * trial has. Never prints. */
#include "coop/run.h"
#include "coop/util.h"
#include <stdlib.h>
#include <string.h>

int coop_run_shard_of(const char *trial_id, int n)
{
    /* the id is hex of a SHA-256: its first 15 digits are uniform */
    char head[16];
    snprintf(head, sizeof head, "%s", trial_id);
    return n > 0 ? (int)(strtoull(head, NULL, 16) % (unsigned long long)n) + 1 : 1;
}

int coop_run_parse_shard(const char *s, int *index, int *count, struct coop_err *e)
{
    char *end;
    long i = strtol(s, &end, 10), n = 0;
    if (*end == '/')
        n = strtol(end + 1, &end, 10);
    if (*end || n < 1 || n > 1000000 || i < 1 || i > n)
        return coop_fail(e, COOP_E_INVAL, "--shard '%s': want I/N with 1 <= I <= N (e.g. "
                         "--shard 2/3)", s);
    *index = (int)i;
    *count = (int)n;
    return 0;
}

/* The value of key in an axes summary ("dataset=a method=coop shots=4"),
 * copied to out; false when the trial has no such axis. */
static bool axis_value(const char *summary, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    for (const char *p = summary; p && *p; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || p[kl] != '=')
            continue;
        const char *v = p + kl + 1;
        size_t vl = strcspn(v, " ");
        snprintf(out, len, "%.*s", (int)(vl < len ? vl : len - 1), v);
        return true;
    }
    return false;
}

/* Whether value is one of the '|'-separated alternatives in want. */
static bool value_matches(const char *want, const char *value)
{
    size_t vl = strlen(value);
    for (const char *p = want; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL) {
        size_t wl = strcspn(p, "|");
        if (wl == vl && strncmp(p, value, vl) == 0)
            return true;
    }
    return false;
}

/* One condition "key=v1|v2" against every trial: clears keep[i] of the
 * trials it rejects; an axis or value no trial has is an error. */
static int apply_condition(const struct coop_matrix *m, const char *cond, size_t len,
                           unsigned char *keep, struct coop_err *e)
{
    char key[64], want[256], value[256];
    const char *eq = memchr(cond, '=', len);
    if (!eq || eq == cond || (size_t)(eq - cond) >= sizeof key ||
        len - (size_t)(eq - cond) > sizeof want)
        return coop_fail(e, COOP_E_INVAL, "--where '%.*s': want AXIS=VALUE[|VALUE...] (e.g. "
                         "--where dataset=world-shapes,shots=4)", (int)len, cond);
    snprintf(key, sizeof key, "%.*s", (int)(eq - cond), cond);
    snprintf(want, sizeof want, "%.*s", (int)(len - (size_t)(eq - cond) - 1), eq + 1);
    size_t n = coop_matrix_count(m), with_axis = 0, matched = 0;
    for (size_t i = 0; i < n; i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        bool has = axis_value(t->axes_summary, key, value, sizeof value);
        bool ok = has && value_matches(want, value);
        with_axis += has;
        matched += ok;
        if (!ok)
            keep[i] = 0;
    }
    if (with_axis == 0)
        return coop_fail(e, COOP_E_INVAL, "--where: no trial has an axis '%s' (axes are what "
                         "--dry-run shows, e.g. dataset, method, shots, seed)", key);
    if (matched == 0)
        return coop_fail(e, COOP_E_INVAL, "--where: no trial has %s=%s", key, want);
    return 0;
}

static int select_ids(const struct coop_matrix *m, const char *const *ids, size_t n_ids,
                      unsigned char *keep, struct coop_err *e)
{
    size_t n = coop_matrix_count(m);
    unsigned char *hit = calloc(n ? n : 1, 1);
    if (!hit)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    int rc = 0;
    for (size_t k = 0; k < n_ids && rc == 0; k++) {
        size_t i = 0;
        while (i < n && strcmp(coop_matrix_trial(m, i)->id, ids[k]) != 0)
            i++;
        if (i == n)
            rc = coop_fail(e, COOP_E_INVAL, "--trial %s: no trial of this experiment has that "
                           "id (--dry-run lists them)", ids[k]);
        else
            hit[i] = 1;
    }
    for (size_t i = 0; i < n; i++)
        keep[i] &= hit[i];
    free(hit);
    return rc;
}

int coop_run_select(const struct coop_matrix *m, const struct coop_run_selection *sel,
                    unsigned char *keep, size_t *n_kept, struct coop_err *e)
{
    size_t n = coop_matrix_count(m);
    memset(keep, 1, n);
    int rc = 0;
    if (sel && sel->n_trial_ids)
        rc = select_ids(m, sel->trial_ids, sel->n_trial_ids, keep, e);
    for (size_t w = 0; sel && w < sel->n_where && rc == 0; w++)
        for (const char *p = sel->where[w]; rc == 0 && p;
             p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
            rc = apply_condition(m, p, strcspn(p, ","), keep, e);
    for (size_t i = 0; sel && sel->shard_count > 0 && i < n; i++)
        if (coop_run_shard_of(coop_matrix_trial(m, i)->id, sel->shard_count) != sel->shard_index)
            keep[i] = 0;
    *n_kept = 0;
    for (size_t i = 0; i < n; i++)
        *n_kept += keep[i];
    return rc;
}
