/* expand.c: the Cartesian product of the top-level axes (backbone, dataset,
 * method variant, train.* and augment.* lists, shots, seed) with zip groups
 * and exclude rules; each trial gets its canonical config text and the id
 * derived from it. Non-training methods are not multiplied by shots, seeds or
 * training settings. The product is bounded before anything is allocated. */
#include "mx.h"
#include "coop/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { AX_BACKBONE, AX_DATASET, AX_METHOD, AX_TRAIN0,
       AX_AUGMENT0 = AX_TRAIN0 + MX_TRAIN_KEYS, AX_SHOTS = AX_AUGMENT0 + MX_AUGMENT_KEYS,
       AX_SEED, AX_COUNT };

struct flat { struct mx_entry *en; size_t v; };

static const char *axis_name(const struct coop_matrix *m, int a)
{
    static const char *const base[] = {"backbone", "dataset", "method"};
    if (a < AX_TRAIN0)
        return base[a];
    if (a < AX_AUGMENT0)
        return m->train[a - AX_TRAIN0].name;
    if (a < AX_SHOTS)
        return m->augment[a - AX_AUGMENT0].name;
    return a == AX_SHOTS ? "shots" : "seed";
}

static size_t entries_len(const struct mx_entry *en, size_t n)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += en[i].n_variants;
    return t;
}

static size_t axis_len(const struct coop_matrix *m, int a)
{
    if (a == AX_BACKBONE)
        return entries_len(m->backbones, m->n_backbones);
    if (a == AX_DATASET)
        return entries_len(m->datasets, m->n_datasets);
    if (a == AX_METHOD)
        return entries_len(m->methods, m->n_methods);
    if (a < AX_AUGMENT0)
        return m->train[a - AX_TRAIN0].n;
    if (a < AX_SHOTS)
        return m->augment[a - AX_AUGMENT0].n;
    return a == AX_SHOTS ? m->shots.n : m->seeds.n;
}

static int axis_by_name(const struct coop_matrix *m, const char *s)
{
    static const char *const plural[] = {"backbones", "datasets", "methods"};
    for (int a = 0; a < AX_COUNT; a++)
        if (strcmp(s, axis_name(m, a)) == 0 || (a < AX_TRAIN0 && strcmp(s, plural[a]) == 0))
            return a;
    return strcmp(s, "seeds") == 0 ? AX_SEED : -1;
}

/* ---- zip ------------------------------------------------------------------ */
int coop_mx_parse_zip(struct coop_matrix *m, const struct ynode *n, struct coop_err *e)
{
    if (!n)
        return 0;
    if (n->kind != YNODE_SEQ || n->n == 0)
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "zip: expected a list of axis groups, e.g. "
                                                   "[[shots, seeds]]");
    bool one = n->items[0]->kind != YNODE_SEQ;
    size_t ng = one ? 1 : n->n;
    m->zips = coop_mx_alloc(m, ng * sizeof *m->zips);
    m->zip_len = coop_mx_alloc(m, ng * sizeof *m->zip_len);
    if (!m->zips || !m->zip_len)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    bool used[AX_COUNT] = {false};
    const char *names[AX_COUNT + 5];
    for (int a = 0; a < AX_COUNT; a++)
        names[a] = axis_name(m, a);
    for (size_t g = 0; g < ng; g++) {
        const struct ynode *grp = one ? n : n->items[g];
        if (grp->kind != YNODE_SEQ || grp->n < 2)
            return coop_mx_fail(e, m, grp, COOP_E_INVAL,
                                "zip: each group is a list of two or more axis names");
        m->zips[g] = coop_mx_alloc(m, (grp->n + 1) * sizeof(int));
        if (!m->zips[g])
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        for (size_t j = 0; j < grp->n; j++) {
            const struct ynode *it = grp->items[j];
            int rc = coop_mx_expect_scalar(m, it, "zip", e);
            if (rc)
                return rc;
            int a = axis_by_name(m, it->str);
            if (a < 0) {
                const char *s = coop_suggest(it->str, names, AX_COUNT);
                return coop_mx_fail(e, m, it, COOP_E_INVAL, "zip: unknown axis '%.60s'%s%s%s",
                                    it->str, s ? " (did you mean '" : "", s ? s : "",
                                    s ? "'?)" : "");
            }
            if (used[a])
                return coop_mx_fail(e, m, it, COOP_E_INVAL,
                                    "zip: axis '%s' appears twice", it->str);
            used[a] = true;
            if (j && axis_len(m, a) != m->zip_len[g])
                return coop_mx_fail(e, m, it, COOP_E_INVAL,
                                    "zip: axis '%s' has %zu values but '%s' has %zu", it->str,
                                    axis_len(m, a), grp->items[0]->str, m->zip_len[g]);
            m->zip_len[g] = axis_len(m, a);
            m->zips[g][j] = a;
        }
        m->zips[g][grp->n] = -1;
    }
    m->n_zips = ng;
    m->zip_node = n;
    return 0;
}

/* ---- exclude -------------------------------------------------------------- */
static bool known_param(const struct mx_entry *en, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < en[i].n_params; j++)
            if (strcmp(en[i].params[j].spec->name, key) == 0)
                return true;
    return false;
}

static int exclude_key(struct coop_matrix *m, const struct ynode *k, struct coop_err *e)
{
    if (axis_by_name(m, k->str) >= 0 || known_param(m->methods, m->n_methods, k->str) ||
        known_param(m->datasets, m->n_datasets, k->str) ||
        known_param(m->backbones, m->n_backbones, k->str))
        return 0;
    const char *names[MX_MAX_EXCLUDE_NAMES];
    size_t nn = 0;
    for (int a = 0; a < AX_COUNT; a++)
        names[nn++] = axis_name(m, a);
    const struct mx_entry *groups[3] = {m->methods, m->datasets, m->backbones};
    size_t counts[3] = {m->n_methods, m->n_datasets, m->n_backbones};
    for (int g = 0; g < 3; g++)
        for (size_t i = 0; i < counts[g]; i++)
            for (size_t j = 0; j < groups[g][i].n_params && nn < MX_MAX_EXCLUDE_NAMES; j++)
                names[nn++] = groups[g][i].params[j].spec->name;
    const char *s = coop_suggest(k->str, names, nn);
    return coop_mx_fail(e, m, k, COOP_E_INVAL, "exclude: unknown key '%.60s'%s%s%s", k->str,
                        s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
}

/* A rule on backbone, dataset or method must name an entry of the file (a
 * typo would otherwise silently exclude nothing). */
static int check_entry_value(struct coop_matrix *m, const char *key, const struct ynode *v,
                             struct coop_err *e)
{
    int a = axis_by_name(m, key);
    if (a < 0 || a > AX_METHOD)
        return 0;
    const struct mx_entry *en = a == AX_BACKBONE ? m->backbones
                              : a == AX_DATASET ? m->datasets : m->methods;
    size_t n = a == AX_BACKBONE ? m->n_backbones : a == AX_DATASET ? m->n_datasets : m->n_methods;
    const char *names[2 * MX_MAX_EXCLUDE_NAMES];
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v->str, en[i].label) == 0 || strcmp(v->str, en[i].name) == 0)
            return 0;
        if (nn + 2 <= 2 * MX_MAX_EXCLUDE_NAMES) {
            names[nn++] = en[i].label;
            names[nn++] = en[i].name;
        }
    }
    const char *s = coop_suggest(v->str, names, nn);
    return coop_mx_fail(e, m, v, COOP_E_INVAL, "exclude: %s '%.60s' is not in this file%s%s%s",
                        axis_name(m, a), v->str, s ? " (did you mean '" : "", s ? s : "",
                        s ? "'?)" : "");
}

/* Canonical text of one exclude value, typed like the key it tests (an entry
 * parameter of that name, shots, seed, train.*, augment.*), so a value no
 * trial can have is an error rather than a rule that silently drops nothing. */
static int exclude_value(struct coop_matrix *m, const char *key, const struct ynode *v,
                         char **out, struct coop_err *e)
{
    int a = axis_by_name(m, key), rc;
    char *c = NULL, what[128];
    snprintf(what, sizeof what, "exclude: %s", key);
    if (a >= 0 && a <= AX_METHOD) {
        rc = check_entry_value(m, key, v, e);
        return rc ? rc : (*out = coop_mx_strdup(m, v->str)) ? 0 : coop_fail(e, COOP_E_NOMEM, "oom");
    }
    if (a == AX_TRAIN0 && !v->quoted && strcmp(v->str, "auto") == 0)
        return (*out = coop_mx_strdup(m, "auto")) ? 0 : coop_fail(e, COOP_E_NOMEM, "oom");
    if (a >= AX_TRAIN0) {
        rc = coop_mx_canon(m, v, what, coop_mx_setting_spec(key), &c, e);
        return rc ? rc : (*out = coop_mx_keep(m, c)) ? 0 : coop_fail(e, COOP_E_NOMEM, "oom");
    }
    const struct mx_entry *groups[3] = {m->methods, m->datasets, m->backbones};
    size_t counts[3] = {m->n_methods, m->n_datasets, m->n_backbones};
    int first = 0;
    for (int g = 0; g < 3; g++)
        for (size_t i = 0; i < counts[g]; i++)
            for (size_t j = 0; j < groups[g][i].n_params; j++) {
                const struct coop_param_spec *sp = groups[g][i].params[j].spec;
                if (strcmp(sp->name, key) != 0)
                    continue;
                struct coop_err tmp;
                rc = coop_mx_canon(m, v, what, sp, &c, first ? &tmp : e);
                if (!rc)
                    return (*out = coop_mx_keep(m, c)) ? 0 : coop_fail(e, COOP_E_NOMEM, "oom");
                first = first ? first : rc; /* keep the first spec's message */
            }
    return first;
}

int coop_mx_parse_exclude(struct coop_matrix *m, const struct ynode *n, struct coop_err *e)
{
    if (!n)
        return 0;
    if (n->kind != YNODE_SEQ)
        return coop_mx_fail(e, m, n, COOP_E_INVAL, "exclude: expected a list of mappings");
    m->rules = coop_mx_alloc(m, (n->n ? n->n : 1) * sizeof *m->rules);
    if (!m->rules)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *r = n->items[i];
        if (r->kind != YNODE_MAP || r->n == 0)
            return coop_mx_fail(e, m, r, COOP_E_INVAL,
                                "exclude: each rule is a non-empty mapping, e.g. {method: coop, "
                                "csc: true}");
        struct mx_rule *rule = &m->rules[m->n_rules++];
        rule->terms = coop_mx_alloc(m, r->n / 2 * sizeof *rule->terms);
        if (!rule->terms)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        for (size_t j = 0; j + 1 < r->n; j += 2) {
            const struct ynode *k = r->items[j], *v = r->items[j + 1];
            int rc = exclude_key(m, k, e);
            for (size_t p = 0; !rc && p < j; p += 2)
                if (strcmp(r->items[p]->str, k->str) == 0)
                    rc = coop_mx_fail(e, m, k, COOP_E_INVAL, "exclude: duplicate key '%s'", k->str);
            static const struct coop_param_spec any = {"exclude", COOP_PARAM_STRING, "", 0, 0,
                                                       NULL, NULL};
            struct mx_rule_term *t = &rule->terms[rule->n++];
            t->key = k->str;
            if (!rc)
                rc = coop_mx_parse_axis(m, v, k->str, &any, &t->values, &t->n, e);
            if (rc)
                return rc;
            if (!(t->key = coop_mx_strdup(m, k->str)))
                return coop_fail(e, COOP_E_NOMEM, "out of memory");
            for (size_t q = 0; q < t->n; q++) {
                rc = exclude_value(m, k->str, v->kind == YNODE_SEQ ? v->items[q] : v,
                                   &t->values[q], e);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

/* ---- one combination ----------------------------------------------------- */
struct combo {
    struct flat bb, ds, me;
    const char *set[MX_TRAIN_KEYS + MX_AUGMENT_KEYS]; /* canonical train.* then augment.* */
    bool fixed[MX_TRAIN_KEYS]; /* train.* value set by the method itself */
    int shots, seed, epochs;
    bool trains;
};

static const char *param_value(const struct flat *f, const char *key)
{
    return coop_params_str(&f->en->variants[f->v].params, key, NULL);
}

static bool term_matches(const struct coop_matrix *m, const struct combo *c,
                         const struct mx_rule_term *t)
{
    int a = axis_by_name(m, t->key);
    const char *v1 = NULL, *v2 = NULL;
    char num[32];
    if (a >= AX_TRAIN0 && !c->trains)
        return false;
    if (a == AX_BACKBONE || a == AX_DATASET || a == AX_METHOD) {
        const struct flat *f = a == AX_BACKBONE ? &c->bb : a == AX_DATASET ? &c->ds : &c->me;
        v1 = f->en->label;
        v2 = f->en->name;
    } else if (a == AX_SHOTS || a == AX_SEED) {
        snprintf(num, sizeof num, "%d", a == AX_SHOTS ? c->shots : c->seed);
        v1 = num;
    } else if (a >= AX_TRAIN0) {
        v1 = c->set[a - AX_TRAIN0];
        if (a == AX_TRAIN0) { /* epochs: the written value ("auto") or the resolved one */
            snprintf(num, sizeof num, "%d", c->epochs);
            v2 = num;
        }
    } else if (!(v1 = param_value(&c->me, t->key)) && !(v1 = param_value(&c->ds, t->key))) {
        v1 = param_value(&c->bb, t->key);
    }
    /* rule values and trial values are both canonical text */
    for (size_t i = 0; v1 && i < t->n; i++)
        if (strcmp(t->values[i], v1) == 0 || (v2 && strcmp(t->values[i], v2) == 0))
            return true;
    return false;
}

static bool excluded(const struct coop_matrix *m, const struct combo *c)
{
    for (size_t r = 0; r < m->n_rules; r++) {
        size_t k = 0;
        while (k < m->rules[r].n && term_matches(m, c, &m->rules[r].terms[k]))
            k++;
        if (k == m->rules[r].n)
            return true;
    }
    return false;
}

/* ---- canonical config text ---------------------------------------------- */
/* Settings added after trial ids were first recorded are left out of the config
 * text at their default, so the ids of trials that do not set them stay what
 * they were. */
static bool omitted_at_default(const char *setting, const char *value)
{
    static const char *const later[] = {"augment.crop_scale"};
    for (size_t k = 0; k < sizeof later / sizeof later[0]; k++)
        if (strcmp(setting, later[k]) == 0)
            return strcmp(value, coop_mx_setting_spec(setting)->default_value) == 0;
    return false;
}
struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) COOP_PRINTF(2, 3);
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (int pass = 0; pass < 2 && !b->oom; pass++) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = true;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = (b->cap ? b->cap * 2 : 1024) + (size_t)k;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 1024) + n;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* The finished text, trimmed to its length (NULL if anything failed). */
static char *sb_done(struct sbuf *b)
{
    if (b->oom || !b->s) {
        free(b->s);
        return NULL;
    }
    char *t = realloc(b->s, b->n + 1);
    return t ? t : b->s;
}

/* YAML double-quoted string with escapes (so any text round-trips). */
static void sb_quoted(struct sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    while (*s) {
        size_t run = 0;
        while (s[run] && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20 &&
               s[run] != 0x7f)
            run++;
        sb_put(b, s, run);
        s += run;
        if (!*s)
            break;
        unsigned char ch = (unsigned char)*s++;
        if (ch == '"' || ch == '\\')
            sb_add(b, "\\%c", ch);
        else
            sb_add(b, "\\x%02x", ch);
    }
    sb_put(b, "\"", 1);
}

/* A mapping key: plain when it is a simple identifier, quoted otherwise. */
static void sb_key(struct sbuf *b, const char *k)
{
    size_t n = strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    if (n && k[n] == '\0' && !(k[0] >= '0' && k[0] <= '9'))
        sb_put(b, k, n);
    else
        sb_quoted(b, k);
}

/* The spec of parameter key of en, or NULL. */
static const struct coop_param_spec *param_spec(const struct mx_entry *en, const char *key)
{
    for (size_t j = 0; j < en->n_params; j++)
        if (strcmp(en->params[j].spec->name, key) == 0)
            return en->params[j].spec;
    return NULL;
}

/* Plugin options added after trial ids were first recorded (as
 * omitted_at_default for settings): left out of the config text at their
 * default, so the ids of trials that do not set them stay what they were. */
static bool option_omitted(const struct mx_entry *en, const struct coop_kv *kv)
{
    static const struct {
        enum mx_entry_kind kind;
        const char *name;
    } later[] = {{MX_BACKBONE, "precision"}};
    const struct coop_param_spec *sp = param_spec(en, kv->key);
    for (size_t k = 0; k < sizeof later / sizeof later[0]; k++)
        if (en->kind == later[k].kind && strcmp(kv->key, later[k].name) == 0)
            return sp && sp->default_value && strcmp(kv->value, sp->default_value) == 0;
    return false;
}

static void sb_params(struct sbuf *b, const struct mx_entry *en, const struct coop_params *p,
                      const char *indent, const char *key)
{
    size_t shown = 0;
    for (size_t i = 0; i < p->n; i++)
        shown += !option_omitted(en, &p->kv[i]);
    if (shown == 0) {
        sb_add(b, "%s%s: {}\n", indent, key);
        return;
    }
    sb_add(b, "%s%s:\n", indent, key);
    for (size_t i = 0; i < p->n; i++) {
        if (option_omitted(en, &p->kv[i]))
            continue;
        const struct coop_param_spec *sp = param_spec(en, p->kv[i].key);
        enum coop_param_type ty = sp ? sp->type : COOP_PARAM_STRING;
        sb_str(b, indent);
        sb_str(b, "  ");
        sb_key(b, p->kv[i].key);
        sb_str(b, ": ");
        if (ty == COOP_PARAM_STRING || ty == COOP_PARAM_CHOICE)
            sb_quoted(b, p->kv[i].value);
        else
            sb_str(b, p->kv[i].value);
        sb_str(b, "\n");
    }
}

static const char *const kind_names[] = {"", "backbone", "dataset", "prompt", "baseline"};

static char *config_text(const struct coop_matrix *m, const struct combo *c)
{
    struct sbuf b = {0};
    const struct mx_entry *bb = c->bb.en, *ds = c->ds.en, *me = c->me.en;
    sb_str(&b, "coop_config: 1\nbackbone:\n  plugin: ");
    sb_quoted(&b, bb->name);
    sb_str(&b, "\n  checkpoint: ");
    sb_quoted(&b, bb->checkpoint_as_written);
    if (bb->vocab_as_written) {
        sb_str(&b, "\n  vocab: ");
        sb_quoted(&b, bb->vocab_as_written);
    }
    sb_str(&b, "\n");
    sb_params(&b, bb, &bb->variants[c->bb.v].params, "  ", "options");
    sb_str(&b, "dataset:\n  name: ");
    sb_quoted(&b, ds->name);
    sb_str(&b, "\n");
    sb_params(&b, ds, &ds->variants[c->ds.v].params, "  ", "options");
    sb_str(&b, "  targets: [");
    for (size_t i = 0; i < ds->n_targets; i++) {
        sb_add(&b, "%s", i ? ", " : "");
        sb_quoted(&b, ds->targets[i]);
    }
    sb_str(&b, "]\n");
    if (ds->base2new) /* only when set: other configs keep their ids */
        sb_str(&b, "  protocol: \"base2new\"\n");
    sb_str(&b, "method:\n  name: ");
    sb_quoted(&b, me->name);
    sb_add(&b, "\n  kind: %s\n", kind_names[me->info.kind]);
    sb_params(&b, me, &me->variants[c->me.v].params, "  ", "params");
    if (c->trains) {
        sb_add(&b, "shots: %d\nseed: %d\ntrain:\n  epochs: %d\n", c->shots, c->seed, c->epochs);
        for (int i = 1; i < MX_TRAIN_KEYS + MX_AUGMENT_KEYS; i++) {
            const char *full = i < MX_TRAIN_KEYS ? m->train[i].name
                                                 : m->augment[i - MX_TRAIN_KEYS].name;
            const char *name = strchr(full, '.') + 1; /* "train.lr" -> "lr" */
            if (i == MX_TRAIN_KEYS)
                sb_str(&b, "augment:\n");
            if (omitted_at_default(full, c->set[i]))
                continue;
            bool word = c->set[i][0] >= 'a' && c->set[i][0] <= 'z';
            sb_str(&b, "  ");
            sb_str(&b, name);
            sb_str(&b, ": ");
            if (word)
                sb_quoted(&b, c->set[i]);
            else
                sb_str(&b, c->set[i]);
            sb_str(&b, "\n");
        }
    }
    return sb_done(&b);
}

/* ---- summaries ----------------------------------------------------------- */
static char *summary_text(const struct coop_matrix *m, const struct combo *c)
{
    struct sbuf b = {0};
    const struct mx_variant *bv = &c->bb.en->variants[c->bb.v];
    const struct mx_variant *dv = &c->ds.en->variants[c->ds.v];
    const struct mx_variant *mv = &c->me.en->variants[c->me.v];
    if (m->n_backbones > 1)
        sb_add(&b, "backbone=%s ", c->bb.en->label);
    if (bv->summary[0])
        sb_add(&b, "%s ", bv->summary);
    sb_add(&b, "dataset=%s ", c->ds.en->label);
    if (c->ds.en->base2new) /* tells it from the same dataset without the protocol */
        sb_str(&b, "protocol=base2new ");
    if (dv->summary[0])
        sb_add(&b, "%s ", dv->summary);
    sb_add(&b, "method=%s", c->me.en->label);
    if (mv->summary[0])
        sb_add(&b, " %s", mv->summary);
    for (int i = 0; c->trains && i < MX_TRAIN_KEYS + MX_AUGMENT_KEYS; i++) {
        const struct mx_setting *s = i < MX_TRAIN_KEYS ? &m->train[i]
                                                       : &m->augment[i - MX_TRAIN_KEYS];
        if (s->n > 1 && !(i < MX_TRAIN_KEYS && c->fixed[i]))
            sb_add(&b, " %s=%s", s->name, c->set[i]);
    }
    if (c->trains && m->shots.n > 1)
        sb_add(&b, " shots=%d", c->shots);
    if (c->trains && m->seeds.n > 1)
        sb_add(&b, " seed=%d", c->seed);
    return sb_done(&b);
}

static int add_axis_name(struct coop_matrix *m, const char *name, size_t cap)
{
    for (size_t i = 0; i < m->n_axes; i++)
        if (strcmp(m->axes[i], name) == 0)
            return 0;
    if (m->n_axes < cap)
        m->axes[m->n_axes++] = name;
    return 0;
}

static int list_axes(struct coop_matrix *m, struct coop_err *e)
{
    size_t cap = 8 + MX_TRAIN_KEYS + MX_AUGMENT_KEYS;
    const struct mx_entry *groups[3] = {m->backbones, m->datasets, m->methods};
    size_t counts[3] = {m->n_backbones, m->n_datasets, m->n_methods};
    for (int g = 0; g < 3; g++)
        for (size_t i = 0; i < counts[g]; i++)
            cap += groups[g][i].n_params;
    m->axes = coop_mx_alloc(m, cap * sizeof(char *));
    if (!m->axes)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    static const char *const base[] = {"backbone", "dataset", "method"};
    for (int g = 0; g < 3; g++) {
        if (counts[g] > 1)
            add_axis_name(m, base[g], cap);
        for (size_t i = 0; i < counts[g]; i++)
            for (size_t j = 0; j < groups[g][i].n_params; j++)
                if (groups[g][i].params[j].n > 1)
                    add_axis_name(m, groups[g][i].params[j].spec->name, cap);
    }
    for (int i = 0; i < MX_TRAIN_KEYS; i++)
        if (m->train[i].n > 1)
            add_axis_name(m, m->train[i].name, cap);
    for (int i = 0; i < MX_AUGMENT_KEYS; i++)
        if (m->augment[i].n > 1)
            add_axis_name(m, m->augment[i].name, cap);
    if (m->shots.n > 1)
        add_axis_name(m, "shots", cap);
    if (m->seeds.n > 1)
        add_axis_name(m, "seed", cap);
    return 0;
}

/* ---- ids and duplicates ---------------------------------------------------- */
struct idset {
    size_t *slot; /* trial index + 1; 0 = empty */
    size_t cap;
};

static uint64_t id_hash(const char *id)
{
    return strtoull(id, NULL, 16);
}

/* Returns 1 if an equal trial exists, 0 if inserted, <0 on error. */
static int idset_add(struct idset *s, const struct coop_trial *trials, size_t i,
                     struct coop_err *e)
{
    if ((i + 1) * 2 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        size_t *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        for (size_t k = 0; k < s->cap; k++)
            if (s->slot[k]) {
                size_t h = id_hash(trials[s->slot[k] - 1].id) & (nc - 1);
                while (ns[h])
                    h = (h + 1) & (nc - 1);
                ns[h] = s->slot[k];
            }
        free(s->slot);
        s->slot = ns;
        s->cap = nc;
    }
    size_t h = id_hash(trials[i].id) & (s->cap - 1);
    for (; s->slot[h]; h = (h + 1) & (s->cap - 1)) {
        const struct coop_trial *o = &trials[s->slot[h] - 1];
        if (strcmp(o->id, trials[i].id) == 0) {
            if (strcmp(o->config_yaml, trials[i].config_yaml) != 0)
                return coop_fail(e, COOP_E_INVAL, "trial id collision on %s", o->id);
            return 1;
        }
    }
    s->slot[h] = i + 1;
    return 0;
}

/* ---- the product ------------------------------------------------------------ */
struct dims {
    int dim_of[AX_COUNT];
    size_t len[AX_COUNT];
    bool relevant[AX_COUNT]; /* holds backbone, dataset or method: kept for non-training methods */
    size_t n;
};

static void make_dims(const struct coop_matrix *m, struct dims *d)
{
    memset(d, 0, sizeof *d);
    for (int a = 0; a < AX_COUNT; a++)
        d->dim_of[a] = -1;
    for (int a = 0; a < AX_COUNT; a++) {
        if (d->dim_of[a] >= 0)
            continue;
        size_t dim = d->n++;
        d->len[dim] = axis_len(m, a);
        d->dim_of[a] = (int)dim;
        for (size_t g = 0; g < m->n_zips; g++) {
            bool in = false;
            for (int k = 0; m->zips[g][k] >= 0; k++)
                in = in || m->zips[g][k] == a;
            for (int k = 0; in && m->zips[g][k] >= 0; k++)
                d->dim_of[m->zips[g][k]] = (int)dim;
        }
    }
    for (int a = 0; a <= AX_METHOD; a++)
        d->relevant[d->dim_of[a]] = true;
}

static struct flat flat_at(struct mx_entry *en, size_t n, size_t idx)
{
    size_t i = 0;
    while (i + 1 < n && idx >= en[i].n_variants)
        idx -= en[i++].n_variants;
    return (struct flat){en + i, idx};
}

static void fill_combo(const struct coop_matrix *m, const struct dims *d, const size_t *idx,
                       struct combo *c)
{
    struct coop_matrix *mm = (struct coop_matrix *)m;
    c->bb = flat_at(mm->backbones, m->n_backbones, idx[d->dim_of[AX_BACKBONE]]);
    c->ds = flat_at(mm->datasets, m->n_datasets, idx[d->dim_of[AX_DATASET]]);
    c->me = flat_at(mm->methods, m->n_methods, idx[d->dim_of[AX_METHOD]]);
    c->trains = c->me.en->info.trains;
    for (int i = 0; i < MX_TRAIN_KEYS; i++) {
        c->set[i] = m->train[i].values[idx[d->dim_of[AX_TRAIN0 + i]]];
        c->fixed[i] = c->me.en->train[i] != NULL;
        if (c->fixed[i])
            c->set[i] = c->me.en->train[i];
        else if (c->me.en->recipe[i] && !m->train[i].given)
            c->set[i] = c->me.en->recipe[i];
    }
    for (int i = 0; i < MX_AUGMENT_KEYS; i++)
        c->set[MX_TRAIN_KEYS + i] = m->augment[i].values[idx[d->dim_of[AX_AUGMENT0 + i]]];
    c->shots = atoi(m->shots.values[idx[d->dim_of[AX_SHOTS]]]);
    c->seed = atoi(m->seeds.values[idx[d->dim_of[AX_SEED]]]);
    int own = coop_mx_dataset_epochs(c->ds.en, c->shots); /* the dataset's rule; 0 = none */
    if (strcmp(c->set[0], "auto") != 0)
        c->epochs = atoi(c->set[0]);
    else
        c->epochs = own ? own : coop_train_epochs_auto(c->shots);
    if (!c->trains)
        c->shots = c->seed = c->epochs = 0;
}

static void copy16(char dst[16], const char *s)
{
    snprintf(dst, 16, "%s", s);
}

static void fill_trial(const struct coop_matrix *m, const struct combo *c, struct coop_trial *t)
{
    memset(t, 0, sizeof *t);
    t->experiment = m->experiment;
    t->results_dir = m->results_dir;
    t->data_root = m->data_root;
    t->backbone_plugin = c->bb.en->name;
    t->checkpoint = c->bb.en->checkpoint;
    t->vocab = c->bb.en->vocab;
    t->backbone_params = c->bb.en->variants[c->bb.v].params;
    t->dataset = c->ds.en->name;
    t->dataset_params = c->ds.en->variants[c->ds.v].params;
    t->targets = c->ds.en->targets;
    t->n_targets = c->ds.en->n_targets;
    t->base2new = c->ds.en->base2new;
    t->method = c->me.en->name;
    t->method_kind = c->me.en->info.kind;
    t->method_params = c->me.en->variants[c->me.v].params;
    t->trains = c->trains;
    t->backbone_label = c->bb.en->label;
    t->dataset_label = c->ds.en->label;
    t->method_label = c->me.en->label;
    t->shots = c->shots;
    t->seed = c->seed;
    if (!c->trains)
        return;
    t->train.epochs = c->epochs;
    t->train.batch_size = atoi(c->set[1]);
    t->train.lr = strtod(c->set[2], NULL);
    t->train.momentum = strtod(c->set[3], NULL);
    t->train.weight_decay = strtod(c->set[4], NULL);
    copy16(t->train.schedule, c->set[5]);
    t->train.warmup_epochs = atoi(c->set[6]);
    t->train.warmup_lr = strtod(c->set[7], NULL);
    copy16(t->train.warmup_type, c->set[8]);
    copy16(t->train.optimizer, c->set[9]);
    copy16(t->augment.mode, c->set[MX_TRAIN_KEYS]);
    t->augment.views = atoi(c->set[MX_TRAIN_KEYS + 1]);
    t->augment.crop_scale = strtod(c->set[MX_TRAIN_KEYS + 2], NULL);
}

/* Appends the trial of combination c unless an identical one exists. */
static int add_trial(struct coop_matrix *m, const struct combo *c, size_t *cap,
                     struct idset *ids, struct coop_err *e)
{
    if (m->n_trials == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct coop_trial *nt = realloc(m->trials, nc * sizeof *nt);
        if (!nt)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        m->trials = nt;
        *cap = nc;
    }
    struct coop_trial *t = &m->trials[m->n_trials];
    fill_trial(m, c, t);
    char *cfg = config_text(m, c), hex[65];
    if (!cfg)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    coop_sha256_hex(cfg, strlen(cfg), hex);
    memcpy(t->id, hex, 16);
    t->id[16] = '\0';
    t->config_yaml = cfg;
    int rc = idset_add(ids, m->trials, m->n_trials, e);
    if (rc) {
        free(cfg);
        return rc < 0 ? rc : 0;
    }
    if (!coop_mx_keep(m, cfg) || !(t->axes_summary = coop_mx_keep(m, summary_text(m, c))) ||
        !(t->dataset_at = coop_mx_keep(m, coop_asprintf("%s:%d:%d", m->file, c->ds.en->line,
                                                        c->ds.en->col))))
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    m->n_trials++;
    return 0;
}

static int check_shots(struct coop_matrix *m, const struct ynode *root, struct coop_err *e)
{
    bool any = false;
    for (size_t i = 0; i < m->n_methods; i++)
        any = any || m->methods[i].info.trains;
    if (m->shots.n)
        return 0;
    if (any)
        return coop_mx_fail(e, m, root, COOP_E_INVAL,
                            "shots: required when a method trains (e.g. shots: [1, 2, 4, 8, 16])");
    m->shots.values = coop_mx_alloc(m, sizeof(char *));
    if (!m->shots.values || !(m->shots.values[0] = coop_mx_strdup(m, "0")))
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    m->shots.n = 1;
    return 0;
}

int coop_mx_expand(struct coop_matrix *m, const struct ynode *root, struct coop_err *e)
{
    int rc = check_shots(m, root, e);
    if (rc)
        return rc;
    struct dims d;
    make_dims(m, &d);
    size_t total = 1;
    for (size_t k = 0; k < d.n; k++) {
        if (d.len[k] > COOP_MATRIX_MAX_TRIALS / total)
            return coop_mx_fail(e, m, root, COOP_E_NOMEM,
                                "the matrix expands to more than %d combinations",
                                COOP_MATRIX_MAX_TRIALS);
        total *= d.len[k];
    }
    struct idset ids = {0};
    size_t cap = 0, idx[AX_COUNT];
    for (size_t t = 0; !rc && t < total; t++) {
        size_t r = t;
        bool skip = false;
        for (size_t k = d.n; k-- > 0;) {
            idx[k] = r % d.len[k];
            r /= d.len[k];
        }
        struct combo c;
        fill_combo(m, &d, idx, &c);
        for (size_t k = 0; !c.trains && k < d.n; k++)
            skip = skip || (!d.relevant[k] && idx[k] != 0);
        if (!skip && !excluded(m, &c))
            rc = add_trial(m, &c, &cap, &ids, e);
    }
    free(ids.slot);
    if (!rc && m->n_trials == 0)
        rc = coop_mx_fail(e, m, root, COOP_E_INVAL, "every combination is excluded: no trials");
    return rc ? rc : list_axes(m, e);
}
