/* settings.c: the settings an experiment sweeps besides plugin entries:
 * shots, seeds, the train: and augment: sections (the published CoOp protocol
 * as defaults) and a method's own train: overrides. Calls values.c only. */
#include "mx.h"
#include "coop/util.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>

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

const struct coop_param_spec *coop_mx_setting_spec(const char *axis)
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
        out[i].name = coop_mx_keep(m, coop_asprintf("%s.%s", section, specs[i].name));
        out[i].values = coop_mx_alloc(m, sizeof(char *));
        if (!out[i].name || !out[i].values || !(out[i].values[0] =
                                                    coop_mx_strdup(m, specs[i].default_value)))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        out[i].n = 1;
    }
    if (!n)
        return 0;
    int rc = coop_mx_note(m, coop_mx_check_keys(m, n, section, known, count, e), e);
    for (size_t i = 0; !rc && n->kind == YNODE_MAP && i + 1 < n->n; i += 2) {
        size_t k = 0;
        while (k < count && strcmp(specs[k].name, n->items[i]->str) != 0)
            k++;
        if (k == count) /* reported by coop_mx_check_keys */
            continue;
        const struct ynode *v = n->items[i + 1];
        out[k].given = true;
        if (strcmp(specs[k].name, "epochs") == 0 && v->kind == YNODE_SCALAR &&
            strcmp(v->str, "auto") == 0 && !v->quoted) {
            out[k].values[0] = coop_mx_strdup(m, "auto");
            continue;
        }
        rc = coop_mx_note(m, coop_mx_parse_axis(m, v, out[k].name, &specs[k], &out[k].values,
                                                &out[k].n, e), e);
    }
    return rc;
}

int coop_mx_parse_train_override(struct coop_matrix *m, const struct ynode *n, const char **out,
                                 struct coop_err *e)
{
    const char *known[MX_TRAIN_KEYS];
    for (size_t i = 0; i < MX_TRAIN_KEYS; i++)
        known[i] = train_specs[i].name;
    int rc = coop_mx_check_keys(m, n, "method train", known, MX_TRAIN_KEYS, e);
    for (size_t i = 0; !rc && i + 1 < n->n; i += 2) {
        size_t k = 0;
        while (strcmp(train_specs[k].name, n->items[i]->str) != 0)
            k++;
        const struct ynode *v = n->items[i + 1];
        char **vals;
        size_t cnt;
        if (v->kind == YNODE_SEQ)
            return coop_mx_fail(e, m, v, COOP_E_INVAL,
                                "train.%s: a method's own training settings are single "
                                "values (sweep them in the top-level train: section)",
                                train_specs[k].name);
        char what[64];
        snprintf(what, sizeof what, "train.%s", train_specs[k].name);
        rc = coop_mx_parse_axis(m, v, what, &train_specs[k], &vals, &cnt, e);
        if (!rc)
            out[k] = vals[0];
    }
    return rc;
}

/* The plugin's recipe for the keys the method's own train: leaves unset,
 * checked like a value in the file (a bad one names the plugin). */
int coop_mx_train_recipe(struct coop_matrix *m, struct mx_entry *en, const struct ynode *at,
                         struct coop_err *e)
{
    const struct coop_kv *kv = en->info.train_defaults;
    int rc = 0;
    for (size_t i = 0; kv && kv[i].key && rc == 0; i++) {
        size_t k = 0;
        while (k < MX_TRAIN_KEYS && strcmp(train_specs[k].name, kv[i].key) != 0)
            k++;
        if (k == MX_TRAIN_KEYS || !kv[i].value)
            return coop_mx_fail(e, m, at, COOP_E_INVAL,
                                "plugin '%.80s' declares a training recipe with an unknown "
                                "key or no value: '%.60s'", en->name, kv[i].key);
        if (en->train[k])
            continue;
        struct ynode v = {.kind = YNODE_SCALAR, .line = at->line, .col = at->col,
                          .origin = at->origin, .str = (char *)kv[i].value,
                          .len = strlen(kv[i].value)};
        char what[160], *out = NULL;
        snprintf(what, sizeof what, "plugin '%.80s' recipe train.%s", en->name, kv[i].key);
        rc = coop_mx_canon(m, &v, what, &train_specs[k], &out, e);
        if (rc == 0 && !(en->recipe[k] = coop_mx_keep(m, out)))
            rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    return rc;
}

int coop_mx_parse_settings(struct coop_matrix *m, const struct ynode *root, struct coop_err *e)
{
    int rc = coop_mx_note(m, parse_settings(m, coop_ymap_get(root, "train"), "train",
                                            train_specs, m->train, MX_TRAIN_KEYS, e), e);
    if (!rc)
        rc = coop_mx_note(m, parse_settings(m, coop_ymap_get(root, "augment"), "augment",
                                            augment_specs, m->augment, MX_AUGMENT_KEYS, e), e);
    return rc;
}
