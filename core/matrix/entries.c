/* entries.c: plugin entries of an experiment file (backbone, datasets,
 * methods): plugin lookup through the caller's resolver, parameter validation
 * against the plugin's spec (unknown keys, types, ranges, choices, defaults),
 * and each entry's own parameter axes flattened into variants. Knows nothing
 * of shots, seeds or training settings. */
#include "mx.h"
#include "coop/util.h"
#include <stdlib.h>
#include <string.h>

#define MX_MAX_NAMES 512

static const char *kind_word(enum coop_plugin_kind k)
{
    return k == COOP_PLUGIN_BACKBONE ? "backbone" : k == COOP_PLUGIN_DATASET ? "dataset"
                                                                              : "method";
}

static int unknown_plugin(struct coop_matrix *m, const struct ynode *at,
                          enum coop_plugin_kind hint, const char *name, struct coop_err *e)
{
    const char *names[MX_MAX_NAMES];
    size_t n = 0;
    if (m->r->names) {
        enum coop_plugin_kind kinds[2] = {hint, 0};
        if (hint == 0) {
            kinds[0] = COOP_PLUGIN_PROMPT;
            kinds[1] = COOP_PLUGIN_BASELINE;
        }
        for (int k = 0; k < 2 && kinds[k]; k++) {
            size_t got = m->r->names(m->r->ctx, kinds[k], names + n, MX_MAX_NAMES - n);
            n += got < MX_MAX_NAMES - n ? got : MX_MAX_NAMES - n;
        }
    }
    char why[COOP_ERR_MAX - 256];
    if (m->r->rejected && m->r->rejected(m->r->ctx, name, why, sizeof why))
        return coop_mx_fail(e, m, at, COOP_E_NOTFOUND, "%s plugin '%.80s' is not available: %s",
                            kind_word(hint), name, why);
    const char *s = coop_suggest(name, names, n);
    return coop_mx_fail(e, m, at, COOP_E_NOTFOUND, "unknown %s plugin '%.80s'%s%s%s",
                        kind_word(hint), name, s ? " (did you mean '" : "", s ? s : "",
                        s ? "'?)" : "");
}

static int lookup(struct coop_matrix *m, const struct ynode *at, enum coop_plugin_kind hint,
                  const char *name, struct coop_matrix_plugin_info *info, struct coop_err *e)
{
    memset(info, 0, sizeof *info);
    if (m->r->lookup(m->r->ctx, hint, name, info) != 0)
        return unknown_plugin(m, at, hint, name, e);
    bool ok = hint ? info->kind == hint
                   : info->kind == COOP_PLUGIN_PROMPT || info->kind == COOP_PLUGIN_BASELINE;
    if (!ok)
        return coop_mx_fail(e, m, at, COOP_E_INVAL, "plugin '%.80s' is not a %s plugin", name,
                            kind_word(hint));
    if (info->kind == COOP_PLUGIN_PROMPT)
        info->trains = true;
    return 0;
}

/* Parameters of an entry from map (NULL = all defaults); skip[] are the
 * entry's own keys when parameters sit next to them (methods). */
static int parse_params(struct coop_matrix *m, struct mx_entry *en, const struct ynode *map,
                        const struct ynode *at, const char *const *skip, size_t n_skip,
                        struct coop_err *e)
{
    const struct coop_param_spec *sp = en->info.params;
    size_t np = 0;
    while (sp && sp[np].name)
        np++;
    const char **known = coop_mx_alloc(m, (np + n_skip) * sizeof *known);
    en->params = coop_mx_alloc(m, (np ? np : 1) * sizeof *en->params);
    if (!known || !en->params)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < np; i++)
        known[i] = sp[i].name;
    for (size_t i = 0; i < n_skip; i++)
        known[np + i] = skip[i];
    en->n_params = np;
    char what[256];
    snprintf(what, sizeof what, "%s '%s'",
             en->kind == MX_BACKBONE ? "backbone" : en->kind == MX_DATASET ? "dataset" : "method",
             en->name);
    int rc = map ? coop_mx_check_keys(m, map, what, known, np + n_skip, e) : 0, first = 0;
    for (size_t i = 0; i < np && coop_mx_next(m, rc, &first, e); i++) {
        rc = 0;
        struct mx_param *p = &en->params[i];
        p->spec = &sp[i];
        const struct ynode *v = coop_ymap_get(map, sp[i].name);
        snprintf(what, sizeof what, "%s: %s", en->name, sp[i].name);
        if (v) {
            p->given = true;
            rc = coop_mx_parse_axis(m, v, what, &sp[i], &p->values, &p->n, e);
        } else if (!sp[i].default_value) {
            rc = coop_mx_fail(e, m, at, COOP_E_INVAL, "%s: required parameter '%s' is missing",
                              en->name, sp[i].name);
        } else {
            /* defaults go through the same canonical form as written values, so
             * writing a default out or leaving it implicit gives the same id */
            struct ynode d = {.kind = YNODE_SCALAR, .line = at->line, .col = at->col,
                              .quoted = sp[i].type == COOP_PARAM_STRING,
                              .str = (char *)sp[i].default_value,
                              .len = strlen(sp[i].default_value)};
            snprintf(what, sizeof what, "plugin '%s': default of %s", en->name, sp[i].name);
            rc = coop_mx_parse_axis(m, &d, what, &sp[i], &p->values, &p->n, e);
        }
    }
    coop_mx_next(m, rc, &first, e);
    return first;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const struct coop_kv *)a)->key, ((const struct coop_kv *)b)->key);
}

/* Parses an entry-level zip (list of lists of parameter names, or one list)
 * into dim_of[param]; returns the number of dims in *n_dims, lengths in dim_len. */
static int entry_dims(struct coop_matrix *m, struct mx_entry *en, const struct ynode *zip,
                      int *dim_of, size_t *dim_len, size_t *n_dims, struct coop_err *e)
{
    for (size_t i = 0; i < en->n_params; i++)
        dim_of[i] = -1;
    size_t nd = 0;
    size_t ng = !zip ? 0 : zip->kind == YNODE_SEQ && zip->n && zip->items[0]->kind == YNODE_SEQ
                                 ? zip->n : 1;
    if (zip && (zip->kind != YNODE_SEQ || zip->n == 0))
        return coop_mx_fail(e, m, zip, COOP_E_INVAL, "zip: expected a list of parameter names");
    for (size_t g = 0; g < ng; g++) {
        const struct ynode *grp = ng == 1 && zip->items[0]->kind != YNODE_SEQ ? zip : zip->items[g];
        if (grp->kind != YNODE_SEQ || grp->n < 2)
            return coop_mx_fail(e, m, grp, COOP_E_INVAL, "zip: each group is a list of two or more "
                                                         "parameter names");
        for (size_t j = 0; j < grp->n; j++) {
            const struct ynode *it = grp->items[j];
            size_t k = 0;
            while (k < en->n_params && (it->kind != YNODE_SCALAR ||
                                        strcmp(it->str, en->params[k].spec->name) != 0))
                k++;
            if (k == en->n_params || dim_of[k] >= 0)
                return coop_mx_fail(e, m, it, COOP_E_INVAL, "zip: '%.60s' is %s parameter of '%s'",
                                    it->kind == YNODE_SCALAR ? it->str : "?",
                                    k == en->n_params ? "not a" : "a repeated", en->name);
            if (j && en->params[k].n != dim_len[nd])
                return coop_mx_fail(e, m, it, COOP_E_INVAL,
                                    "zip: '%s' has %zu values, '%s' has %zu",
                                    it->str, en->params[k].n, grp->items[0]->str, dim_len[nd]);
            dim_of[k] = (int)nd;
            dim_len[nd] = en->params[k].n;
        }
        nd++;
    }
    for (size_t i = 0; i < en->n_params; i++)
        if (dim_of[i] < 0) {
            dim_of[i] = (int)nd;
            dim_len[nd++] = en->params[i].n;
        }
    *n_dims = nd;
    return 0;
}

static int make_variant(struct coop_matrix *m, struct mx_entry *en, const size_t *idx,
                        const int *dim_of, struct mx_variant *v)
{
    struct coop_kv *kv = coop_mx_alloc(m, (en->n_params ? en->n_params : 1) * sizeof *kv);
    if (!kv)
        return COOP_E_NOMEM;
    char sum[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < en->n_params; i++) {
        const struct mx_param *p = &en->params[i];
        kv[i].key = p->spec->name;
        kv[i].value = p->values[idx[dim_of[i]]];
        if (p->n > 1 && len < sizeof sum - 1)
            len += (size_t)snprintf(sum + len, sizeof sum - len, "%s%s=%s", len ? " " : "",
                                    kv[i].key, kv[i].value);
    }
    qsort(kv, en->n_params, sizeof *kv, cmp_kv);
    v->params.kv = kv;
    v->params.n = en->n_params;
    v->summary = coop_mx_strdup(m, sum);
    return v->summary ? 0 : COOP_E_NOMEM;
}

static int expand_entry(struct coop_matrix *m, struct mx_entry *en, const struct ynode *zip,
                        const struct ynode *at, struct coop_err *e)
{
    size_t np = en->n_params ? en->n_params : 1;
    int *dim_of = coop_mx_alloc(m, np * sizeof *dim_of);
    size_t *dim_len = coop_mx_alloc(m, np * sizeof *dim_len), nd = 0;
    size_t *idx = coop_mx_alloc(m, np * sizeof *idx);
    if (!dim_of || !dim_len || !idx)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    int rc = entry_dims(m, en, zip, dim_of, dim_len, &nd, e);
    if (rc)
        return rc;
    size_t total = 1;
    for (size_t d = 0; d < nd; d++) {
        if (dim_len[d] > COOP_MATRIX_MAX_TRIALS / total)
            return coop_mx_fail(e, m, at, COOP_E_NOMEM, "%s: more than %d parameter combinations",
                                en->name, COOP_MATRIX_MAX_TRIALS);
        total *= dim_len[d];
    }
    en->variants = coop_mx_alloc(m, total * sizeof *en->variants);
    if (!en->variants)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t t = 0; t < total; t++) {
        size_t r = t; /* last dim fastest */
        for (size_t d = nd; d-- > 0;) {
            idx[d] = r % dim_len[d];
            r /= dim_len[d];
        }
        if (make_variant(m, en, idx, dim_of, &en->variants[t]))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    en->n_variants = total;
    return 0;
}

/* name, label: a plain scalar each */
static int entry_name(struct coop_matrix *m, struct mx_entry *en, const struct ynode *n,
                      const char *name_key, enum coop_plugin_kind hint, struct coop_err *e)
{
    const struct ynode *nm = n->kind == YNODE_SCALAR ? n : coop_ymap_get(n, name_key);
    if (!nm)
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s entry: '%s' is required", kind_word(hint),
                            name_key);
    int rc = coop_mx_expect_scalar(m, nm, name_key, e);
    if (!rc)
        rc = lookup(m, nm, hint, nm->str, &en->info, e);
    if (rc)
        return rc;
    if (!(en->name = coop_mx_strdup(m, nm->str)))
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    en->line = n->line;
    en->col = n->col;
    const struct ynode *lb = n->kind == YNODE_MAP ? coop_ymap_get(n, "label") : NULL;
    if (lb && (rc = coop_mx_expect_scalar(m, lb, "label", e)))
        return rc;
    en->label = lb ? coop_mx_strdup(m, lb->str) : en->name;
    return en->label ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
}

static int entry_list(struct coop_matrix *m, const struct ynode *n, const char *what,
                      struct mx_entry **out, size_t *count, bool allow_single,
                      struct coop_err *e)
{
    if (!n)
        return coop_fail(e, COOP_E_INVAL, "%s:1:1: '%s' is required", m->file, what);
    size_t cnt = n->kind == YNODE_SEQ ? n->n : 1;
    if (n->kind == YNODE_SEQ && cnt == 0)
        return coop_mx_fail(e, m, n, COOP_E_INVAL,
                            "%s: empty list (an axis needs at least one value)", what);
    if (n->kind != YNODE_SEQ && !allow_single)
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "%s: expected a list, got %s", what,
                            coop_ynode_kind_name(n->kind));
    *out = coop_mx_alloc(m, cnt * sizeof **out);
    *count = cnt;
    return *out ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
}

static const struct ynode *item(const struct ynode *n, size_t i)
{
    return n->kind == YNODE_SEQ ? n->items[i] : n;
}

/* Each entry of a list on its own, so the errors of all of them are reported;
 * returns the first entry's error code. */
static int each_entry(struct coop_matrix *m, const struct ynode *n, struct mx_entry *list,
                      size_t count,
                      int (*one)(struct coop_matrix *, const struct ynode *, struct mx_entry *,
                                 struct coop_err *),
                      struct coop_err *e)
{
    int rc = 0, first = 0;
    for (size_t i = 0; i < count && coop_mx_next(m, rc, &first, e); i++)
        rc = one(m, item(n, i), &list[i], e);
    coop_mx_next(m, rc, &first, e);
    return first;
}

static int check_file(struct coop_matrix *m, const struct ynode *n, const char *what,
                      const char **abs, const char **written, struct coop_err *e)
{
    int rc = coop_mx_expect_scalar(m, n, what, e);
    if (rc)
        return rc;
    *written = coop_mx_strdup(m, n->str);
    *abs = coop_mx_path(m, n->str);
    if (!*abs || !*written)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (coop_dir_exists(*abs))
        return coop_mx_fail(e, m, n, COOP_E_IO, "%s: '%s' is a folder, not a file", what, *abs);
    if (!coop_file_exists(*abs))
        return coop_mx_fail(e, m, n, COOP_E_IO, "%s: file '%s' does not exist", what, *abs);
    return 0;
}

static const char *const backbone_keys[] = {"plugin", "label", "checkpoint", "vocab",
                                            "options", "zip"};

static int parse_backbone(struct coop_matrix *m, const struct ynode *it, struct mx_entry *en,
                          struct coop_err *e)
{
    en->kind = MX_BACKBONE;
    int rc = coop_mx_check_keys(m, it, "backbone", backbone_keys, 6, e);
    if (rc || (rc = entry_name(m, en, it, "plugin", COOP_PLUGIN_BACKBONE, e)))
        return rc;
    const struct ynode *ck = coop_ymap_get(it, "checkpoint"), *vb = coop_ymap_get(it, "vocab");
    if (!ck)
        rc = coop_mx_fail(e, m, it, COOP_E_INVAL, "backbone: 'checkpoint' is required");
    if (!rc)
        rc = check_file(m, ck, "backbone: checkpoint", &en->checkpoint,
                        &en->checkpoint_as_written, e);
    if (!rc && vb)
        rc = check_file(m, vb, "backbone: vocab", &en->vocab, &en->vocab_as_written, e);
    if (!rc && !coop_ymap_get(it, "label")) {
        const char *b = strrchr(en->checkpoint_as_written, '/');
        char *s = coop_mx_strdup(m, b ? b + 1 : en->checkpoint_as_written);
        char *dot = s ? strchr(s, '.') : NULL;
        if (dot && dot != s)
            *dot = '\0';
        en->label = s ? s : en->name;
    }
    if (!rc)
        rc = parse_params(m, en, coop_ymap_get(it, "options"), it, NULL, 0, e);
    if (!rc)
        rc = expand_entry(m, en, coop_ymap_get(it, "zip"), it, e);
    return rc;
}

int coop_mx_parse_backbones(struct coop_matrix *m, const struct ynode *n, struct coop_err *e)
{
    int rc = entry_list(m, n, "backbone", &m->backbones, &m->n_backbones, true, e);
    return rc ? rc : each_entry(m, n, m->backbones, m->n_backbones, parse_backbone, e);
}

static const char *const dataset_keys[] = {"name", "label", "targets", "epochs", "options",
                                           "zip", "protocol"};
static const struct coop_param_spec epochs_spec = {"epochs", COOP_PARAM_INT, NULL, 1, 100000,
                                                   NULL, NULL};

static int parse_targets(struct coop_matrix *m, struct mx_entry *en, const struct ynode *t,
                         struct coop_err *e)
{
    if (t->kind == YNODE_MAP)
        return coop_mx_fail(e, m, t, COOP_E_INVAL, "targets: expected a list of dataset names");
    size_t cnt = t->kind == YNODE_SEQ ? t->n : 1;
    en->targets = coop_mx_alloc(m, (cnt ? cnt : 1) * sizeof(char *));
    if (!en->targets)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        const struct ynode *it = item(t, i);
        struct coop_matrix_plugin_info info;
        int rc = coop_mx_expect_scalar(m, it, "targets", e);
        if (!rc)
            rc = lookup(m, it, COOP_PLUGIN_DATASET, it->str, &info, e);
        for (size_t j = 0; !rc && j < i; j++)
            if (strcmp(en->targets[j], it->str) == 0)
                rc = coop_mx_fail(e, m, it, COOP_E_INVAL, "targets: duplicate '%s'", it->str);
        if (rc)
            return rc;
        if (!(en->targets[i] = coop_mx_strdup(m, it->str)))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        en->n_targets++;
    }
    return 0;
}

/* "epochs: 50" for every shot count, or "epochs: {1: 50, 2: 25, 16: 5}" per shot count. */
static int parse_dataset_epochs(struct coop_matrix *m, struct mx_entry *en, const struct ynode *v,
                                struct coop_err *e)
{
    char *c = NULL;
    en->epochs_node = v;
    if (v->kind != YNODE_MAP) {
        int rc = coop_mx_canon(m, v, "dataset: epochs", &epochs_spec, &c, e);
        if (!rc)
            en->epochs = atoi(c);
        free(c);
        return rc;
    }
    if (v->n == 0)
        return coop_mx_fail(e, m, v, COOP_E_INVAL,
                            "dataset: epochs: an empty mapping (give a number "
                            "or shots: epochs pairs)");
    size_t pairs = v->n / 2; /* items: key, value, key, value, ... */
    en->epoch_shots = coop_mx_alloc(m, pairs * sizeof(int));
    en->epoch_counts = coop_mx_alloc(m, pairs * sizeof(int));
    if (!en->epoch_shots || !en->epoch_counts)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < pairs; i++) {
        int rc = coop_mx_canon(m, v->items[2 * i], "dataset: epochs: shots",
                               coop_mx_setting_spec("shots"), &c, e);
        int shots = rc ? 0 : atoi(c);
        free(c);
        c = NULL;
        for (size_t j = 0; !rc && j < i; j++)
            if (en->epoch_shots[j] == shots)
                rc = coop_mx_fail(e, m, v->items[2 * i], COOP_E_INVAL,
                                  "dataset: epochs: %d shots given twice", shots);
        if (!rc)
            rc = coop_mx_canon(m, v->items[2 * i + 1], "dataset: epochs", &epochs_spec, &c, e);
        if (rc)
            return rc;
        en->epoch_shots[i] = shots;
        en->epoch_counts[i] = atoi(c);
        free(c);
        c = NULL;
        en->n_epoch_map++;
    }
    return 0;
}

/* "protocol: all" (the default: every class) or "protocol: base2new" (train
 * on the first half of the classes, evaluate on both halves). Base-to-new
 * trials are evaluated on the dataset's own classes, never on shift targets. */
static int parse_protocol(struct coop_matrix *m, struct mx_entry *en, const struct ynode *v,
                          struct coop_err *e)
{
    int rc = coop_mx_expect_scalar(m, v, "dataset: protocol", e);
    if (rc)
        return rc;
    if (strcmp(v->str, "base2new") == 0)
        en->base2new = true;
    else if (strcmp(v->str, "all") != 0)
        return coop_mx_fail(e, m, v, COOP_E_INVAL,
                            "dataset '%s': protocol: '%s' is not one of all, base2new", en->label,
                            v->str);
    if (en->base2new && en->n_targets)
        return coop_mx_fail(e, m, v, COOP_E_INVAL,
                            "dataset '%s': protocol base2new evaluates on the dataset's own base "
                            "and new classes; it takes no targets", en->label);
    return 0;
}

int coop_mx_dataset_epochs(const struct mx_entry *en, int shots)
{
    for (size_t i = 0; i < en->n_epoch_map; i++)
        if (en->epoch_shots[i] == shots)
            return en->epoch_counts[i];
    return en->epochs;
}

int coop_mx_check_dataset_epochs(const struct coop_matrix *m, struct coop_err *e)
{
    for (size_t i = 0; i < m->n_datasets; i++) {
        const struct mx_entry *en = &m->datasets[i];
        for (size_t k = 0; en->n_epoch_map && k < m->shots.n; k++)
            if (!coop_mx_dataset_epochs(en, atoi(m->shots.values[k])))
                return coop_mx_fail(e, m, en->epochs_node, COOP_E_INVAL,
                                    "dataset '%s': epochs gives no count for %s shots", en->label,
                                    m->shots.values[k]);
    }
    return 0;
}

static int parse_dataset(struct coop_matrix *m, const struct ynode *it, struct mx_entry *en,
                         struct coop_err *e)
{
    const struct ynode *v;
    int rc = 0;
    en->kind = MX_DATASET;
    if (it->kind == YNODE_SEQ)
        rc = coop_mx_fail(e, m, it, COOP_E_INVAL, "datasets: an entry is a name or a mapping");
    if (!rc && it->kind == YNODE_MAP)
        rc = coop_mx_check_keys(m, it, "dataset", dataset_keys, 7, e);
    if (!rc)
        rc = entry_name(m, en, it, "name", COOP_PLUGIN_DATASET, e);
    if (!rc && (v = coop_ymap_get(it, "targets")))
        rc = parse_targets(m, en, v, e);
    if (!rc && (v = coop_ymap_get(it, "epochs")))
        rc = parse_dataset_epochs(m, en, v, e);
    if (!rc && (v = coop_ymap_get(it, "protocol")))
        rc = parse_protocol(m, en, v, e);
    if (!rc)
        rc = parse_params(m, en, coop_ymap_get(it, "options"), it, NULL, 0, e);
    if (!rc)
        rc = expand_entry(m, en, coop_ymap_get(it, "zip"), it, e);
    return rc;
}

int coop_mx_parse_datasets(struct coop_matrix *m, const struct ynode *n, struct coop_err *e)
{
    int rc = entry_list(m, n, "datasets", &m->datasets, &m->n_datasets, false, e);
    return rc ? rc : each_entry(m, n, m->datasets, m->n_datasets, parse_dataset, e);
}

static const char *const method_keys[] = {"name", "label", "zip", "train"};

static int parse_method(struct coop_matrix *m, const struct ynode *it, struct mx_entry *en,
                        struct coop_err *e)
{
    int rc = 0;
    en->kind = MX_METHOD;
    if (it->kind == YNODE_SEQ)
        rc = coop_mx_fail(e, m, it, COOP_E_INVAL, "methods: an entry is a name or a mapping");
    if (!rc)
        rc = entry_name(m, en, it, "name", 0, e);
    if (!rc)
        rc = parse_params(m, en, it->kind == YNODE_MAP ? it : NULL, it, method_keys, 4, e);
    const struct ynode *tr = coop_ymap_get(it, "train");
    if (!rc && tr)
        rc = coop_mx_parse_train_override(m, tr, en->train, e);
    if (!rc)
        rc = coop_mx_train_recipe(m, en, it, e);
    if (!rc)
        rc = expand_entry(m, en, coop_ymap_get(it, "zip"), it, e);
    return rc;
}

int coop_mx_parse_methods(struct coop_matrix *m, const struct ynode *n, struct coop_err *e)
{
    int rc = entry_list(m, n, "methods", &m->methods, &m->n_methods, false, e);
    return rc ? rc : each_entry(m, n, m->methods, m->n_methods, parse_method, e);
}
