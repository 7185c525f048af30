/* cocoop.c: CoCoOp's meta-net (Zhou et al., CVPR 2022; the official
 * trainers/cocoop.py): pi = Linear(H, D)(ReLU(Linear(E, H)(x))), H = E / 16,
 * on the L2-normalised image feature x; pi is added to every context vector.
 * Its weights sit in the parameter arena after the context, PyTorch's
 * nn.Linear layout and default init (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
 * weights and biases). */
#include "coop/nn.h"
#include "prompt_internal.h"
#include <math.h>
#include <string.h>

size_t cocoop_meta_params(int E, int D)
{
    const size_t H = (size_t)(E / 16);
    return H * (size_t)E + H + (size_t)D * H + (size_t)D;
}

/* The meta-net's tensors inside the arena. */
struct meta {
    float *w1, *b1, *w2, *b2;
};
static struct meta meta_of(float *base, int E, int H, int D)
{
    struct meta m;
    m.w1 = base;
    m.b1 = m.w1 + (size_t)H * E;
    m.w2 = m.b1 + H;
    m.b2 = m.w2 + (size_t)D * H;
    return m;
}

void cocoop_meta_init(struct coop_prompt *p, uint64_t seed)
{
    struct meta m = meta_of(p->ctx + coop_prompt_ctx_params(p), p->E, p->H, p->D);
    const double a1 = 1.0 / sqrt((double)p->E), a2 = 1.0 / sqrt((double)p->H);
    coop_hash_uniform(m.w1, (size_t)p->H * p->E, coop_seed_derive(seed, "linear1.weight"), -a1, a1);
    coop_hash_uniform(m.b1, (size_t)p->H, coop_seed_derive(seed, "linear1.bias"), -a1, a1);
    coop_hash_uniform(m.w2, (size_t)p->D * p->H, coop_seed_derive(seed, "linear2.weight"), -a2, a2);
    coop_hash_uniform(m.b2, (size_t)p->D, coop_seed_derive(seed, "linear2.bias"), -a2, a2);
}

int cocoop_alloc(struct coop_prompt *p, struct coop_err *e)
{
    if (p->H < 1)
        return coop_fail(e, COOP_E_INVAL, "cocoop: the meta-net's hidden width is the embedding "
                                          "size / 16; embedding size %d is below 16", p->E);
    if (p->csc || p->pos != POS_END)
        return coop_fail(e, COOP_E_INVAL, "cocoop: the context is unified, class token at the end");
    p->shifted = coop_alloc_floats((size_t)p->M * p->D);
    p->meta_x = coop_alloc_floats((size_t)p->E);
    p->meta_h = coop_alloc_floats((size_t)p->H + (size_t)p->D);
    p->meta_g = coop_alloc_floats((size_t)p->H + (size_t)p->D);
    return p->shifted && p->meta_x && p->meta_h && p->meta_g ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
}

int cocoop_condition(struct coop_prompt *p, const float *image, struct coop_err *e)
{
    (void)e;
    struct meta m = meta_of(p->ctx + coop_prompt_ctx_params(p), p->E, p->H, p->D);
    float *h = p->meta_h, *pi = p->meta_h + p->H;
    memcpy(p->meta_x, image, (size_t)p->E * sizeof(float));
    coop_linear_forward(h, p->meta_x, m.w1, m.b1, 1, p->E, p->H);
    for (int i = 0; i < p->H; i++)
        h[i] = h[i] > 0 ? h[i] : 0;
    coop_linear_forward(pi, h, m.w2, m.b2, 1, p->H, p->D);
    for (int j = 0; j < p->M; j++)
        for (int d = 0; d < p->D; d++)
            p->shifted[(size_t)j * p->D + d] = p->ctx[(size_t)j * p->D + d] + pi[d];
    p->conditioned = true;
    return 0;
}

/* dshift [M, D] -> the meta-net's gradient in dmeta (accumulated): pi is
 * shared by the M vectors, so dpi sums dshift over them. */
void cocoop_meta_backward(struct coop_prompt *p, const float *dshift, float *dmeta)
{
    const int D = p->D, H = p->H;
    struct meta m = meta_of(p->ctx + coop_prompt_ctx_params(p), p->E, H, D);
    struct meta g = meta_of(dmeta, p->E, H, D);
    float *dpi = p->meta_g, *dh = p->meta_g + D;
    memset(dpi, 0, ((size_t)D + H) * sizeof(float));
    for (int j = 0; j < p->M; j++)
        for (int d = 0; d < D; d++)
            dpi[d] += dshift[(size_t)j * D + d];
    coop_linear_backward(dh, g.w2, g.b2, dpi, p->meta_h, m.w2, 1, H, D);
    for (int i = 0; i < H; i++)
        dh[i] = p->meta_h[i] > 0 ? dh[i] : 0;
    coop_linear_backward(NULL, g.w1, g.b1, dh, p->meta_x, m.w1, 1, p->E, H);
}
