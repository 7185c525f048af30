/* bf16_internal.h: shared by bf16.c and bf16_onednn.c. Not installed. */
#ifndef COOP_BF16_INTERNAL_H
#define COOP_BF16_INTERNAL_H

#include "coop/bf16.h"
#include <string.h>

/* 0 when this CPU has AMX or AVX512-BF16; else COOP_E_UNSUPPORTED naming its
 * features. */
int coop_bf16_cpu_check(struct coop_err *e);

/* coop_f32_to_bf16 (round to nearest even, NaN kept quiet) inlined, so the
 * per-call activation loop vectorises; tests/blas compares the two. */
static inline uint16_t coop_bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* LayerNorm of the rows of inp [M,C] (weight w, bias b [C]) written in bf16
 * (rounded to nearest even) for the next product's COOP_BF16_IN_BF16: the
 * float32 computation of coop_layernorm_forward with its sums over 16 lanes
 * (vectorised, AVX-512 where the CPU has it), on the OpenMP threads for large
 * inputs. mean, rstd [M] (may be NULL) receive each row's statistics, as
 * coop_layernorm_forward's do, for its backward. */
void coop_bf16_layernorm(uint16_t *out, float *mean, float *rstd, const float *inp,
                         const float *w, const float *b, int M, int C, float eps);

/* QuickGELU written in bf16 for the next product's COOP_BF16_IN_BF16:
 * out[i] = bf16(coop_quick_gelu_forward_fast's value). The backward writes
 * (does not add) dinp[i] = bf16(dout[i] QuickGELU'(inp[i])), the value
 * coop_quick_gelu_backward_fast adds to a zeroed float32 array, rounded.
 * On the OpenMP threads for large n (activations.c). */
void coop_quick_gelu_forward_bf16(uint16_t *out, const float *inp, size_t n);
void coop_quick_gelu_backward_bf16(uint16_t *dinp, const float *dout, const float *inp, size_t n);

#endif
