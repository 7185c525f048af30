/* bf16_internal.h: shared by bf16.c and bf16_onednn.c. Not installed. */
#ifndef COOP_BF16_INTERNAL_H
#define COOP_BF16_INTERNAL_H

#include "coop/bf16.h"

/* 0 when this CPU has AMX or AVX512-BF16; else COOP_E_UNSUPPORTED naming its
 * features. */
int coop_bf16_cpu_check(struct coop_err *e);

#endif
