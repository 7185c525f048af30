/* bf16_none.c: coop/bf16.h in a build without oneDNN (meson -Donednn=disabled,
 * or libdnnl-dev missing): every bf16 product is refused with
 * COOP_E_UNSUPPORTED and a message saying how to get one. */
#include "coop/bf16.h"

bool coop_bf16_built(void)
{
    return false;
}

int coop_bf16_check(struct coop_err *e)
{
    return coop_fail(e, COOP_E_UNSUPPORTED, "bf16: this build of coop has no oneDNN (install "
                     "libdnnl-dev, then meson setup --reconfigure -Donednn=enabled)");
}

int coop_bf16_linear_create(struct coop_bf16_linear **out, const float *w, const float *bias,
                            int K, int N, struct coop_err *e)
{
    *out = NULL;
    return coop_bf16_check(e);
}

int coop_bf16_linear_forward(struct coop_bf16_linear *l, float *out, const float *inp, int M,
                             struct coop_err *e)
{
    return coop_bf16_check(e);
}

int coop_bf16_linear_forward_ex(struct coop_bf16_linear *l, void *out, const void *inp, int M,
                                unsigned flags, struct coop_err *e)
{
    return coop_bf16_check(e);
}

int coop_bf16_attention_create(struct coop_bf16_attention **out, int T, int C, int H,
                               struct coop_err *e)
{
    *out = NULL;
    return coop_bf16_check(e);
}

int coop_bf16_attention_forward(struct coop_bf16_attention *a, uint16_t *out,
                                const uint16_t *qkv, struct coop_err *e)
{
    return coop_bf16_check(e);
}

const char *coop_bf16_attention_impl(const struct coop_bf16_attention *a)
{
    return "";
}

void coop_bf16_attention_free(struct coop_bf16_attention *a)
{
}

const char *coop_bf16_linear_impl(const struct coop_bf16_linear *l)
{
    return "";
}

void coop_bf16_linear_free(struct coop_bf16_linear *l)
{
}

int coop_bf16_conv_create(struct coop_bf16_conv **out, const float *w, int Co, int Ci, int k,
                          int stride, int pad, struct coop_err *e)
{
    *out = NULL;
    return coop_bf16_check(e);
}

int coop_bf16_conv_create_affine(struct coop_bf16_conv **out, const float *w, int Co, int Ci,
                                 int k, int stride, int pad, const float *scale,
                                 const float *shift, bool relu, struct coop_err *e)
{
    *out = NULL;
    return coop_bf16_check(e);
}

int coop_bf16_conv_forward(struct coop_bf16_conv *l, float *out, const float *inp, int H, int W,
                           struct coop_err *e)
{
    return coop_bf16_check(e);
}

int coop_bf16_conv_forward_nhwc(struct coop_bf16_conv *l, void *out, const uint16_t *inp, int H,
                                int W, unsigned flags, struct coop_err *e)
{
    return coop_bf16_check(e);
}

const char *coop_bf16_conv_impl(const struct coop_bf16_conv *l)
{
    return "";
}

void coop_bf16_conv_free(struct coop_bf16_conv *l)
{
}
