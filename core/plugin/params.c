/* params.c: accessors over the canonical key/value strings a plugin receives,
 * and the text of a parameter's range for messages. */
#include "coop/plugin.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *coop_params_str(const struct coop_params *p, const char *key, const char *def)
{
    if (p)
        for (size_t i = 0; i < p->n; i++)
            if (strcmp(p->kv[i].key, key) == 0)
                return p->kv[i].value;
    return def;
}

long coop_params_int(const struct coop_params *p, const char *key, long def)
{
    const char *v = coop_params_str(p, key, NULL);
    return v ? strtol(v, NULL, 10) : def;
}

double coop_params_float(const struct coop_params *p, const char *key, double def)
{
    const char *v = coop_params_str(p, key, NULL);
    return v ? strtod(v, NULL) : def;
}

bool coop_params_bool(const struct coop_params *p, const char *key, bool def)
{
    const char *v = coop_params_str(p, key, NULL);
    if (!v)
        return def;
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0;
}

const char *coop_param_range(const struct coop_param_spec *spec, char *buf, size_t len)
{
    if (spec->type == COOP_PARAM_INT)
        snprintf(buf, len, "[%lld, %lld]", (long long)spec->min, (long long)spec->max);
    else
        snprintf(buf, len, "[%.9g, %.9g]", spec->min, spec->max);
    return buf;
}
