/* decay.c: CLIP's rule for which parameters get weight decay in pretraining
 * (the optimiser itself is coop_adamw_update, core/train/adamw.c). */
#include "coop/pretrain.h"
#include "coop/util.h"
#include <string.h>

bool coop_pretrain_decays(const char *name, int ndim)
{
    if (ndim < 2 || strstr(name, "embedding") || strstr(name, "ln_") || strstr(name, "bn") ||
        coop_str_ends_with(name, "bias") || strstr(name, "logit_scale"))
        return false;
    return true;
}

bool coop_pretrain_decays_with(const char *name, int ndim, bool decay_embeddings)
{
    if (decay_embeddings && ndim >= 2 && strstr(name, "embedding"))
        return true;
    return coop_pretrain_decays(name, ndim);
}
