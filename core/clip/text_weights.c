/* text_weights.c: the text tower's weights in one float arena: sizes, binding
 * named pointers in the canonical order (see coop/clip.h), allocation of
 * weights and same-layout gradient containers, and the deterministic random
 * initialisation shared with tests/fixtures/gen_text.py. */
#include "coop/clip.h"
#include "coop/util.h"
#include <math.h>
#include <stdlib.h>

#define BLOCK_TENSORS 12

size_t coop_clip_text_size(int L, int V, int W, int layers, int E)
{
    size_t w = (size_t)W;
    size_t block = 4 * w + (3 * w * w + 3 * w) + (w * w + w) + (4 * w * w + 4 * w) +
                   (4 * w * w + w);
    return (size_t)V * w + (size_t)L * w + (size_t)layers * block + 2 * w + w * (size_t)E;
}

/* Pointers of tensor i (canonical order) and its element count. */
static float **tensor_slot(struct coop_clip_text *t, int i, size_t *n)
{
    size_t W = (size_t)t->width;
    int nb = t->layers * BLOCK_TENSORS;
    if (i == 0)
        return *n = (size_t)t->vocab_size * W, &t->token_embedding;
    if (i == 1)
        return *n = (size_t)t->context_length * W, &t->positional_embedding;
    if (i >= 2 && i < 2 + nb) {
        struct coop_clip_block *b = &t->blocks[(i - 2) / BLOCK_TENSORS];
        switch ((i - 2) % BLOCK_TENSORS) {
        case 0: return *n = W, &b->ln_1_w;
        case 1: return *n = W, &b->ln_1_b;
        case 2: return *n = 3 * W * W, &b->in_proj_w;
        case 3: return *n = 3 * W, &b->in_proj_b;
        case 4: return *n = W * W, &b->out_proj_w;
        case 5: return *n = W, &b->out_proj_b;
        case 6: return *n = W, &b->ln_2_w;
        case 7: return *n = W, &b->ln_2_b;
        case 8: return *n = 4 * W * W, &b->c_fc_w;
        case 9: return *n = 4 * W, &b->c_fc_b;
        case 10: return *n = 4 * W * W, &b->c_proj_w;
        default: return *n = W, &b->c_proj_b;
        }
    }
    if (i == 2 + nb)
        return *n = W, &t->ln_final_w;
    if (i == 3 + nb)
        return *n = W, &t->ln_final_b;
    if (i == 4 + nb)
        return *n = W * (size_t)t->embed_dim, &t->text_projection;
    return *n = 0, NULL;
}

size_t coop_clip_text_bind(struct coop_clip_text *t, struct coop_clip_block *blocks, float *arena,
                           int L, int V, int W, int heads, int layers, int E)
{
    t->context_length = L, t->vocab_size = V, t->width = W, t->heads = heads;
    t->layers = layers, t->embed_dim = E, t->blocks = blocks, t->bf16 = NULL;
    t->tape_budget = 0;
    size_t off = 0, n;
    float **slot;
    for (int i = 0; (slot = tensor_slot(t, i, &n)) != NULL; i++) {
        *slot = arena + off;
        off += n;
    }
    return off;
}

int coop_clip_text_alloc(struct coop_clip_text *t, int L, int V, int W, int heads, int layers,
                         int E, float **arena, struct coop_err *e)
{
    if (L <= 0 || V <= 0 || W <= 0 || layers < 0 || E <= 0 || heads <= 0 || W % heads)
        return coop_fail(e, COOP_E_INVAL,
                         "text tower config L=%d V=%d W=%d heads=%d layers=%d E=%d: sizes must "
                         "be positive and heads must divide W", L, V, W, heads, layers, E);
    size_t n = coop_clip_text_size(L, V, W, layers, E);
    struct coop_clip_block *blocks = calloc(layers > 0 ? (size_t)layers : 1, sizeof(*blocks));
    float *a = coop_alloc_floats(n);
    if (!blocks || !a) {
        free(blocks);
        coop_free(a);
        return coop_fail(e, COOP_E_NOMEM, "text tower: cannot allocate %zu floats", n);
    }
    coop_clip_text_bind(t, blocks, a, L, V, W, heads, layers, E);
    *arena = a;
    return COOP_OK;
}

int coop_clip_text_grads_alloc(struct coop_clip_text *g, const struct coop_clip_text *t,
                               float **arena, struct coop_err *e)
{
    return coop_clip_text_alloc(g, t->context_length, t->vocab_size, t->width, t->heads,
                                t->layers, t->embed_dim, arena, e);
}

void coop_clip_text_free(struct coop_clip_text *t, float *arena)
{
    if (t) {
        coop_clip_text_bf16_disable(t);
        free(t->blocks);
        t->blocks = NULL;
    }
    coop_free(arena);
}

/* Range [lo, hi) of tensor i for the random initialisation. */
static void init_range(const struct coop_clip_text *t, int i, double *lo, double *hi)
{
    double W = t->width, a;
    int nb = t->layers * BLOCK_TENSORS;
    if (i == 0)
        a = 0.035;
    else if (i == 1)
        a = 0.017;
    else if (i < 2 + nb) {
        int k = (i - 2) % BLOCK_TENSORS;
        if (k == 0 || k == 6) {
            *lo = 0.9, *hi = 1.1;
            return;
        }
        a = (k == 1 || k == 7) ? 0.1 : 1.0 / sqrt(k >= 10 ? 4.0 * W : W);
    } else if (i == 2 + nb) {
        *lo = 0.9, *hi = 1.1;
        return;
    } else if (i == 3 + nb)
        a = 0.1;
    else
        a = 1.0 / sqrt(W);
    *lo = -a, *hi = a;
}

void coop_clip_text_init_random(struct coop_clip_text *t, uint64_t seed)
{
    size_t n;
    float **slot;
    for (int i = 0; (slot = tensor_slot(t, i, &n)) != NULL; i++) {
        double lo, hi;
        init_range(t, i, &lo, &hi);
        coop_hash_uniform(*slot, n, seed * 1000 + (uint64_t)i, lo, hi);
    }
}
