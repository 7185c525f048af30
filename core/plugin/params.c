/* params.c: accessors over the canonical key/value strings a plugin receives. */
#include "coop/plugin.h"
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
