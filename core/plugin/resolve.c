/* resolve.c: the host's view of a plugin's parameters: its spec, the check
 * of user-given key = value strings (e.g. from --set) against it with
 * defaults appended, and the texts that describe a parameter (coop-run
 * --describe). */
#include "coop/loader.h"
#include "coop/util.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int coop_params_resolve(const struct coop_param_spec *spec, struct coop_kv *kv, size_t *n,
                        size_t cap, struct coop_err *e)
{
    const char *names[128];
    size_t ns = 0;
    for (const struct coop_param_spec *p = spec; p && p->name && ns < 128; p++)
        names[ns++] = p->name;
    for (size_t i = 0; i < *n; i++) {
        const struct coop_param_spec *p = spec;
        while (p && p->name && strcmp(p->name, kv[i].key) != 0)
            p++;
        if (!p || !p->name) {
            const char *s = coop_suggest(kv[i].key, names, ns);
            return coop_fail(e, COOP_E_INVAL, "unknown dataset parameter '%s'%s%s%s", kv[i].key,
                             s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
        if (p->type == COOP_PARAM_INT || p->type == COOP_PARAM_FLOAT) {
            bool isint = p->type == COOP_PARAM_INT;
            char *end, range[64];
            double v = isint ? (double)strtoll(kv[i].value, &end, 10) : strtod(kv[i].value, &end);
            if (*end || end == kv[i].value || (p->min <= p->max && (v < p->min || v > p->max)))
                return coop_fail(e, COOP_E_INVAL, "parameter %s = '%s' is not %s in %s", p->name,
                                 kv[i].value, isint ? "an integer" : "a number",
                                 coop_param_range(p, range, sizeof range));
        }
    }
    for (const struct coop_param_spec *p = spec; p && p->name; p++) {
        size_t i = 0;
        while (i < *n && strcmp(kv[i].key, p->name) != 0)
            i++;
        if (i < *n)
            continue;
        if (!p->default_value)
            return coop_fail(e, COOP_E_INVAL, "dataset parameter %s is required", p->name);
        if (*n >= cap)
            return coop_fail(e, COOP_E_INVAL, "too many parameters");
        kv[(*n)++] = (struct coop_kv){p->name, p->default_value};
    }
    return COOP_OK;
}

/* A plugin's declared parameters (every ops table has them right after its version). */
const struct coop_param_spec *coop_plugin_params(const struct coop_plugin *p)
{
    switch (p->kind) {
    case COOP_PLUGIN_BACKBONE: return ((const struct coop_backbone_ops *)p->ops)->params;
    case COOP_PLUGIN_DATASET: return ((const struct coop_dataset_ops *)p->ops)->params;
    case COOP_PLUGIN_PROMPT: return ((const struct coop_prompt_ops *)p->ops)->params;
    case COOP_PLUGIN_BASELINE: return ((const struct coop_baseline_ops *)p->ops)->params;
    }
    return NULL;
}

const char *coop_param_type_name(enum coop_param_type t)
{
    switch (t) {
    case COOP_PARAM_INT: return "int";
    case COOP_PARAM_FLOAT: return "float";
    case COOP_PARAM_BOOL: return "bool";
    case COOP_PARAM_STRING: return "string";
    case COOP_PARAM_CHOICE: return "choice";
    }
    return "?";
}

/* The range ("[1, 64]") or choices ("end|middle|front") of a spec, or "-". */
const char *coop_param_domain(const struct coop_param_spec *s, char *buf, size_t len)
{
    if ((s->type == COOP_PARAM_INT || s->type == COOP_PARAM_FLOAT) && s->min <= s->max)
        return coop_param_range(s, buf, len);
    if (s->type != COOP_PARAM_CHOICE || !s->choices || !s->choices[0])
        return "-";
    buf[0] = '\0';
    for (size_t i = 0; s->choices[i]; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "|" : "", s->choices[i]);
    return buf;
}
