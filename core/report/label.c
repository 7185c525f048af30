/* label.c: method labels derived from a trial's axes ("CoOp M=16 end
 * unified", "Zero-shot CLIP", ...) and the orders rows and columns take. */
#include "report_internal.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Axes that are part of a label's fixed layout or of the row/column/setting
 * structure; any other axis_* is appended to the label as " name=value". */
static const char *const structural[] = {"axis_dataset",  "axis_method", "axis_shots",
                                         "axis_seed",     "axis_n_ctx",  "axis_position",
                                         "axis_csc",      "axis_backbone", "axis_epochs",
                                         "axis_max_epoch", "axis_protocol"};

static bool in_list(const char *s, const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(s, l[i]) == 0)
            return true;
    return false;
}

bool coop_rp_axis_structural(const char *key)
{
    return in_list(key, structural, sizeof structural / sizeof *structural);
}

/* Per (method, axis): the first value seen, whether it varies, how many
 * trials carry it. */
struct axis_seen {
    const char *method, *key, *value;
    size_t count;
    bool varies;
};

static struct axis_seen *seen_find(struct axis_seen *v, size_t n, const char *m, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].method, m) && !strcmp(v[i].key, k))
            return &v[i];
    return NULL;
}

static size_t method_count(const struct rp_set *s, const char *m)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += !strcmp(s->t[i].method, m);
    return n;
}

int coop_rp_mark_label_axes(struct rp_set *s)
{
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < s->n; i++)
        cap += s->t[i].keys.n;
    struct axis_seen *v = calloc(cap + 1, sizeof *v);
    if (!v)
        return COOP_E_NOMEM;
    for (size_t i = 0; i < s->n; i++) {
        const struct rp_trial *t = &s->t[i];
        for (size_t k = 0; k < t->keys.n; k++) {
            if (strncmp(t->keys.v[k], "axis_", 5) != 0 || coop_rp_axis_structural(t->keys.v[k]))
                continue;
            struct axis_seen *a = seen_find(v, n, t->method, t->keys.v[k]);
            if (!a) {
                a = &v[n++];
                *a = (struct axis_seen){t->method, t->keys.v[k], t->vals.v[k], 0, false};
            }
            a->count++;
            a->varies |= strcmp(a->value, t->vals.v[k]) != 0;
        }
    }
    for (size_t j = 0; j < n; j++) /* present in some trials of the method only */
        v[j].varies |= v[j].count != method_count(s, v[j].method);
    int rc = 0;
    for (size_t i = 0; i < s->n && !rc; i++) {
        struct rp_trial *t = &s->t[i];
        t->label_axis = calloc(t->keys.n + 1, sizeof *t->label_axis);
        if (!t->label_axis) {
            rc = COOP_E_NOMEM;
            break;
        }
        for (size_t k = 0; k < t->keys.n; k++) {
            struct axis_seen *a = seen_find(v, n, t->method, t->keys.v[k]);
            t->label_axis[k] = a && a->varies;
        }
    }
    free(v);
    return rc;
}

static const char *base_label(const char *m)
{
    static const char *const zs[] = {"zeroshot", "zero_shot", "zero-shot", "zs", "clip",
                                     "zeroshot_clip", "zero_shot_clip"};
    static const char *const ens[] = {"ensemble", "ensembling", "prompt_ensemble",
                                      "prompt_ensembling", "prompt-ensembling"};
    static const char *const lp[] = {"linear_probe", "linear-probe", "linprobe", "linear",
                                     "logreg"};
    if (in_list(m, zs, sizeof zs / sizeof *zs))
        return "Zero-shot CLIP";
    if (in_list(m, ens, sizeof ens / sizeof *ens))
        return "Prompt ensembling";
    if (in_list(m, lp, sizeof lp / sizeof *lp))
        return "Linear probe";
    if (strcasecmp(m, "coop") == 0)
        return "CoOp";
    if (strcasecmp(m, "cocoop") == 0)
        return "CoCoOp";
    return m;
}

bool coop_rp_truthy(const char *v)
{
    return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
           strcasecmp(v, "csc") == 0 || strcasecmp(v, "on") == 0);
}

static void append(char *buf, size_t len, const char *s)
{
    size_t l = strlen(buf);
    if (l < len)
        snprintf(buf + l, len - l, "%s", s);
}

void coop_rp_label(char *buf, size_t len, const struct rp_trial *t, const char *omit)
{
    snprintf(buf, len, "%s", base_label(t->method));
    const char *v;
    char tmp[256];
    if ((v = coop_rp_get(t, "axis_n_ctx")) && !(omit && strcmp(omit, "n_ctx") == 0)) {
        snprintf(tmp, sizeof tmp, " M=%s", v);
        append(buf, len, tmp);
    }
    if ((v = coop_rp_get(t, "axis_position")) && !(omit && strcmp(omit, "position") == 0)) {
        snprintf(tmp, sizeof tmp, " %s", v);
        append(buf, len, tmp);
    }
    if ((v = coop_rp_get(t, "axis_csc")) && !(omit && strcmp(omit, "csc") == 0))
        append(buf, len, coop_rp_truthy(v) ? " CSC" : " unified");
    for (size_t i = 0; i < t->keys.n; i++) {
        const char *k = t->keys.v[i];
        if (strncmp(k, "axis_", 5) != 0 || coop_rp_axis_structural(k) ||
            (t->label_axis && !t->label_axis[i]))
            continue;
        snprintf(tmp, sizeof tmp, " %s=%s", k + 5, t->vals.v[i]);
        append(buf, len, tmp);
    }
}

static int method_rank(const char *label)
{
    static const char *const order[] = {"Zero-shot CLIP", "Prompt ensembling", "Linear probe",
                                        "CoOp", "CoCoOp"};
    for (int i = 0; i < 5; i++) {
        size_t l = strlen(order[i]);
        if (strncmp(label, order[i], l) == 0 && (label[l] == 0 || label[l] == ' '))
            return i;
    }
    return 5;
}

static int position_rank(const char *p)
{
    if (strcasecmp(p, "end") == 0)
        return 0;
    if (strcasecmp(p, "middle") == 0 || strcasecmp(p, "mid") == 0)
        return 1;
    if (strcasecmp(p, "front") == 0)
        return 2;
    return 3;
}

int coop_rp_axis_value_cmp(const char *axis, const char *a, const char *b)
{
    if (strcmp(axis, "position") == 0 && position_rank(a) != position_rank(b))
        return position_rank(a) - position_rank(b);
    if (strcmp(axis, "csc") == 0 && coop_rp_truthy(a) != coop_rp_truthy(b))
        return coop_rp_truthy(a) ? 1 : -1;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (!*ea && !*eb && ea != a && eb != b && x != y)
        return x < y ? -1 : 1;
    return strcmp(a, b);
}

/* Compares the " M=<n>" parts numerically, then positions, then the rest. */
int coop_rp_label_cmp(const char *a, const char *b)
{
    int ra = method_rank(a), rb = method_rank(b);
    if (ra != rb)
        return ra - rb;
    const char *ma = strstr(a, " M="), *mb = strstr(b, " M=");
    if (ma && mb) {
        long na = strtol(ma + 3, NULL, 10), nb = strtol(mb + 3, NULL, 10);
        if (na != nb)
            return na < nb ? -1 : 1;
    }
    static const char *const pos[] = {" end", " middle", " front"};
    int pa = 3, pb = 3;
    for (int i = 2; i >= 0; i--) {
        if (strstr(a, pos[i]))
            pa = i;
        if (strstr(b, pos[i]))
            pb = i;
    }
    if (pa != pb)
        return pa - pb;
    bool ca = strstr(a, " CSC") != NULL, cb = strstr(b, " CSC") != NULL;
    if (ca != cb)
        return ca ? 1 : -1;
    return strcmp(a, b);
}
