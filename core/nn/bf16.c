/* bf16.c: the parts of coop/bf16.h that need no oneDNN: which bf16
 * instruction set a CPU has, the refusal for a CPU without one, and the
 * reference product (bf16 rounding is coop_f32_to_bf16, as for checkpoints).
 * The layer itself is bf16_onednn.c, or bf16_none.c in a build without
 * oneDNN. Never prints. */
#include "bf16_internal.h"
#include "nn_internal.h"
#include "coop/safetensors.h"
#include "coop/util.h"
#include <math.h>

enum coop_bf16_isa coop_bf16_isa(const struct coop_cpu_features *f)
{
    if (f->amx)
        return COOP_BF16_ISA_AMX;
    return f->avx512_bf16 ? COOP_BF16_ISA_AVX512 : COOP_BF16_ISA_NONE;
}

const char *coop_bf16_isa_name(enum coop_bf16_isa isa)
{
    switch (isa) {
    case COOP_BF16_ISA_AMX: return "amx";
    case COOP_BF16_ISA_AVX512: return "avx512_bf16";
    case COOP_BF16_ISA_NONE: break;
    }
    return "none";
}

static double rounded(float x)
{
    return (double)coop_bf16_to_f32(coop_f32_to_bf16(x));
}

void coop_bf16_linear_forward_ref(float *out, const float *inp, const float *w,
                                  const float *bias, int M, int K, int N)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = bias ? (double)bias[n] : 0.0;
            for (int k = 0; k < K; k++)
                s += rounded(inp[(size_t)m * K + k]) * rounded(w[(size_t)n * K + k]);
            out[(size_t)m * N + n] = (float)s;
        }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "default")))
#endif
void coop_bf16_round_n(uint16_t *restrict dst, const float *restrict src, size_t n)
{
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++)
        dst[i] = coop_bf16_round(src[i]);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "default")))
#endif
void coop_bf16_layernorm(uint16_t *restrict out, float *restrict mean, float *restrict rstd,
                         const float *restrict inp, const float *restrict w,
                         const float *restrict b, int M, int C, float eps)
{
#pragma omp parallel for schedule(static) if ((size_t)M * C > COOP_PAR_MIN_ELEMS)
    for (int i = 0; i < M; i++) {
        const float *x = inp + (size_t)i * C;
        uint16_t *y = out + (size_t)i * C;
        float acc[16] = {0}, m = 0.0f, v = 0.0f;
        int c = 0;
        for (; c + 16 <= C; c += 16)
            for (int l = 0; l < 16; l++)
                acc[l] += x[c + l];
        for (; c < C; c++)
            m += x[c];
        for (int l = 0; l < 16; l++)
            m += acc[l], acc[l] = 0.0f;
        m /= (float)C;
        for (c = 0; c + 16 <= C; c += 16)
            for (int l = 0; l < 16; l++)
                acc[l] += (x[c + l] - m) * (x[c + l] - m);
        for (; c < C; c++)
            v += (x[c] - m) * (x[c] - m);
        for (int l = 0; l < 16; l++)
            v += acc[l];
        float s = 1.0f / sqrtf(v / (float)C + eps);
        for (c = 0; c < C; c++)
            y[c] = coop_bf16_round((x[c] - m) * s * w[c] + b[c]);
        if (mean)
            mean[i] = m;
        if (rstd)
            rstd[i] = s;
    }
}

int coop_bf16_cpu_check(struct coop_err *e)
{
    struct coop_cpu_features f;
    coop_cpu_detect(&f);
    if (coop_bf16_isa(&f) != COOP_BF16_ISA_NONE)
        return 0;
    char desc[200];
    coop_cpu_describe(&f, desc, sizeof desc);
    return coop_fail(e, COOP_E_UNSUPPORTED, "bf16: this CPU has neither AMX nor AVX512-BF16 "
                     "(%s); bf16 products need one of them", desc);
}
