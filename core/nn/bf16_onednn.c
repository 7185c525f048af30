/* bf16_onednn.c: the bf16 x bf16 -> fp32 linear layer of coop/bf16.h over
 * oneDNN's matmul primitive. At creation the weights are rounded to bf16 and
 * reordered once into the blocked layout oneDNN's kernels read (asked for with
 * format "any"); each forward rounds the activations into a buffer the object
 * keeps and runs one matmul, whose primitive is rebuilt only when the row
 * count changes (oneDNN also caches primitives). Never prints. */
#include "bf16_internal.h"
#include "nn_internal.h"
#include "coop/util.h"
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_ROWS 256 /* row count the weight layout is chosen for */

/* What both products keep: oneDNN's engine and stream, and the matmul
 * primitive for the last size asked for (rows of the linear layer, columns of
 * the left factor's product), rebuilt when that size changes. */
struct mm {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    int n;         /* the size prim is for; 0 = none yet */
    char impl[64]; /* oneDNN's implementation of prim */
};

/* A matmul primitive of a linear layer for one row count and one set of
 * COOP_BF16_* flags (the ones that shape it: output type, post-op). */
#define PRIM_SLOTS 4
struct prim_slot {
    dnnl_primitive_t prim;
    int M;              /* 0: empty */
    unsigned flags;
    unsigned long used; /* the layer's tick at its last use */
    char impl[64];      /* oneDNN's implementation */
};

struct coop_bf16_linear {
    int K, N;
    struct mm mm;            /* engine and stream (mm.prim unused) */
    struct prim_slot slot[PRIM_SLOTS]; /* the least recently used is rebuilt first */
    unsigned long tick;
    char impl[64];           /* of the last forward */
    dnnl_memory_desc_t w_md; /* the packed layout */
    void *w;                 /* packed bf16 weights */
    float *bias;             /* [N] or NULL */
    uint16_t *act;           /* bf16 activations, act_cap elements */
    size_t act_cap;
};

bool coop_bf16_built(void)
{
    return true;
}

int coop_bf16_check(struct coop_err *e)
{
    return coop_bf16_cpu_check(e);
}

static int dnnl_fail(struct coop_err *e, dnnl_status_t st, const char *what)
{
    return coop_fail(e, st == dnnl_out_of_memory ? COOP_E_NOMEM : COOP_E_UNSUPPORTED,
                     "bf16: oneDNN %s failed (status %d)", what, (int)st);
}

static void md2(dnnl_memory_desc_t *md, int rows, int cols, dnnl_data_type_t t,
                dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {rows, cols};
    dnnl_memory_desc_init_by_tag(md, 2, d, t, tag);
}

static dnnl_status_t mm_open(struct mm *m)
{
    dnnl_status_t st = dnnl_engine_create(&m->eng, dnnl_cpu, 0);
    return st == dnnl_success ? dnnl_stream_create(&m->stream, m->eng, dnnl_stream_default_flags)
                              : st;
}

/* Drops the primitive of the previous size. */
static void mm_reset(struct mm *m)
{
    dnnl_primitive_destroy(m->prim);
    m->prim = NULL;
    m->n = 0;
}

/* Makes m->prim the primitive of pd for size n and notes its implementation;
 * st is the status of pd's creation. pd is destroyed here. */
static dnnl_status_t mm_set(struct mm *m, dnnl_status_t st, dnnl_primitive_desc_t pd, int n)
{
    if (st == dnnl_success)
        st = dnnl_primitive_create(&m->prim, pd);
    const char *impl = NULL;
    if (st == dnnl_success &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success)
        snprintf(m->impl, sizeof m->impl, "%s", impl ? impl : "?");
    dnnl_primitive_desc_destroy(pd);
    if (st == dnnl_success)
        m->n = n;
    return st;
}

static void mm_close(struct mm *m)
{
    dnnl_primitive_destroy(m->prim);
    dnnl_stream_destroy(m->stream);
    dnnl_engine_destroy(m->eng);
}

static dnnl_data_type_t dst_type(unsigned flags)
{
    return flags & COOP_BF16_OUT_BF16 ? dnnl_bf16 : dnnl_f32;
}

/* The post-ops of flags in attr: QuickGELU as oneDNN's swish (x sigmoid(alpha
 * x), alpha = 1.702), the accumulation as its sum (dst = dst + product). */
static dnnl_status_t post_ops_attr(dnnl_primitive_attr_t *attr, unsigned flags)
{
    *attr = NULL;
    if (!(flags & (COOP_BF16_QUICK_GELU | COOP_BF16_ACCUMULATE)))
        return dnnl_success;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t st = dnnl_primitive_attr_create(attr);
    if (st == dnnl_success)
        st = dnnl_post_ops_create(&po);
    if (st == dnnl_success && (flags & COOP_BF16_QUICK_GELU))
        st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_swish, 1.702f, 0.0f);
    if (st == dnnl_success && (flags & COOP_BF16_ACCUMULATE))
        st = dnnl_post_ops_append_sum(po, 1.0f);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_post_ops(*attr, po);
    dnnl_post_ops_destroy(po);
    return st;
}

/* Matmul primitive descriptor for M rows with weights laid out as w_md and
 * the output type and post-ops of flags. */
static dnnl_status_t matmul_pd(dnnl_primitive_desc_t *pd, const struct coop_bf16_linear *l,
                               int M, const dnnl_memory_desc_t *w_md, unsigned flags)
{
    dnnl_memory_desc_t src, dst, bias;
    md2(&src, M, l->K, dnnl_bf16, dnnl_ab);
    md2(&dst, M, l->N, dst_type(flags), dnnl_ab);
    md2(&bias, 1, l->N, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t d;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t st = dnnl_matmul_desc_init(&d, &src, w_md, l->bias ? &bias : NULL, &dst);
    if (st == dnnl_success)
        st = post_ops_attr(&attr, flags);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(pd, &d, attr, l->mm.eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

static dnnl_status_t run(dnnl_primitive_t p, dnnl_stream_t s, int n, const dnnl_exec_arg_t *a)
{
    dnnl_status_t st = dnnl_primitive_execute(p, s, n, a);
    return st == dnnl_success ? dnnl_stream_wait(s) : st;
}

/* Runs primitive p on the n (argument, descriptor, data) triples, wrapping
 * the data in memory objects for the call. */
struct mm_arg {
    int arg;
    const dnnl_memory_desc_t *md;
    void *data;
};
static dnnl_status_t run_args(const struct mm *m, dnnl_primitive_t p, const struct mm_arg *a,
                              int n)
{
    dnnl_exec_arg_t ex[4] = {{0, NULL}};
    dnnl_status_t st = dnnl_success;
    int made = 0;
    for (; made < n && st == dnnl_success; made++) {
        ex[made].arg = a[made].arg;
        st = dnnl_memory_create(&ex[made].memory, a[made].md, m->eng, a[made].data);
    }
    if (st == dnnl_success)
        st = run(p, m->stream, n, ex);
    for (int i = 0; i < made; i++)
        dnnl_memory_destroy(ex[i].memory);
    return st;
}

/* A reorder primitive from layout a to layout b. */
static dnnl_status_t reorder_prim(dnnl_primitive_t *p, const dnnl_memory_desc_t *a,
                                  const dnnl_memory_desc_t *b, dnnl_engine_t eng)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, a, eng, b, eng, NULL);
    if (st == dnnl_success)
        st = dnnl_primitive_create(p, pd);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* Runs reorder p from data from (layout ma) to data to (layout mb). */
static dnnl_status_t run_reorder(const struct mm *m, dnnl_primitive_t p,
                                 const dnnl_memory_desc_t *ma, void *from,
                                 const dnnl_memory_desc_t *mb, void *to)
{
    const struct mm_arg a[] = {{DNNL_ARG_FROM, ma, from}, {DNNL_ARG_TO, mb, to}};
    return run_args(m, p, a, 2);
}

/* Reorders from (layout ma) into to (layout mb) once, through a primitive
 * made for the call: a frozen weight's packing. */
static dnnl_status_t reorder_once(const struct mm *m, const dnnl_memory_desc_t *ma, void *from,
                                  const dnnl_memory_desc_t *mb, void *to)
{
    dnnl_primitive_t p = NULL;
    dnnl_status_t st = reorder_prim(&p, ma, mb, m->eng);
    if (st == dnnl_success)
        st = run_reorder(m, p, ma, from, mb, to);
    dnnl_primitive_destroy(p);
    return st;
}

/* Chooses the packed layout (from a probe primitive) and fills l->w. */
static int pack_weights(struct coop_bf16_linear *l, const float *w, struct coop_err *e)
{
    dnnl_memory_desc_t any;
    md2(&any, l->K, l->N, dnnl_bf16, dnnl_format_tag_any);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = matmul_pd(&pd, l, PROBE_ROWS, &any, 0);
    if (st != dnnl_success)
        return dnnl_fail(e, st, "matmul (bf16) setup");
    const dnnl_memory_desc_t *chosen =
        dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (chosen)
        l->w_md = *chosen;
    dnnl_primitive_desc_destroy(pd);
    if (!chosen)
        return coop_fail(e, COOP_E_UNSUPPORTED, "bf16: oneDNN chose no weight layout");
    size_t nk = (size_t)l->N * l->K;
    uint16_t *plain = malloc(nk * sizeof *plain);
    l->w = coop_alloc(dnnl_memory_desc_get_size(&l->w_md));
    if (!plain || !l->w) {
        free(plain);
        return coop_fail(e, COOP_E_NOMEM, "bf16: out of memory for %d x %d weights", l->N, l->K);
    }
    for (size_t i = 0; i < nk; i++)
        plain[i] = coop_bf16_round(w[i]);
    dnnl_memory_desc_t plain_md; /* w [N,K] is the K x N matrix in "ba" order */
    md2(&plain_md, l->K, l->N, dnnl_bf16, dnnl_ba);
    st = reorder_once(&l->mm, &plain_md, plain, &l->w_md, l->w);
    free(plain);
    return st == dnnl_success ? 0 : dnnl_fail(e, st, "weight reorder");
}

int coop_bf16_linear_create(struct coop_bf16_linear **out, const float *w, const float *bias,
                            int K, int N, struct coop_err *e)
{
    *out = NULL;
    int rc = coop_bf16_check(e);
    if (rc)
        return rc;
    if (K <= 0 || N <= 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: linear layer of %d x %d", N, K);
    struct coop_bf16_linear *l = calloc(1, sizeof *l);
    if (!l)
        return coop_fail(e, COOP_E_NOMEM, "bf16: out of memory");
    l->K = K;
    l->N = N;
    dnnl_status_t st = mm_open(&l->mm);
    if (st != dnnl_success)
        rc = dnnl_fail(e, st, "engine");
    if (!rc && bias) {
        l->bias = coop_alloc_floats((size_t)N);
        if (l->bias)
            memcpy(l->bias, bias, sizeof(float) * (size_t)N);
        else
            rc = coop_fail(e, COOP_E_NOMEM, "bf16: out of memory");
    }
    if (!rc)
        rc = pack_weights(l, w, e);
    if (rc) {
        coop_bf16_linear_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* The primitive for M rows and flags: a slot that has it, else the least
 * recently used slot rebuilt for it. NULL on failure (*rc and e say why). */
static struct prim_slot *prepare(struct coop_bf16_linear *l, int M, unsigned flags, int *rc,
                                 struct coop_err *e)
{
    struct prim_slot *sl = &l->slot[0];
    for (int i = 0; i < PRIM_SLOTS; i++) {
        struct prim_slot *c = &l->slot[i];
        if (c->prim && c->M == M && c->flags == flags) {
            c->used = ++l->tick;
            return c;
        }
        if (c->used < sl->used)
            sl = c;
    }
    dnnl_primitive_destroy(sl->prim);
    memset(sl, 0, sizeof *sl);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = matmul_pd(&pd, l, M, &l->w_md, flags);
    if (st == dnnl_success)
        st = dnnl_primitive_create(&sl->prim, pd);
    const char *impl = NULL;
    if (st == dnnl_success &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success)
        snprintf(sl->impl, sizeof sl->impl, "%s", impl ? impl : "?");
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        dnnl_primitive_destroy(sl->prim);
        memset(sl, 0, sizeof *sl);
        *rc = dnnl_fail(e, st, "matmul (bf16) for this row count and these post-ops");
        return NULL;
    }
    sl->M = M, sl->flags = flags, sl->used = ++l->tick;
    return sl;
}

static int round_activations(struct coop_bf16_linear *l, const float *inp, int M,
                             struct coop_err *e)
{
    size_t n = (size_t)M * l->K;
    if (n > l->act_cap) {
        coop_free(l->act);
        l->act = coop_alloc(n * sizeof *l->act);
        l->act_cap = l->act ? n : 0;
        if (!l->act)
            return coop_fail(e, COOP_E_NOMEM, "bf16: out of memory for %d x %d activations",
                             M, l->K);
    }
    coop_bf16_round_n(l->act, inp, n);
    return 0;
}

int coop_bf16_linear_forward_ex(struct coop_bf16_linear *l, void *out, const void *inp, int M,
                                unsigned flags, struct coop_err *e)
{
    if (!l) { /* a layer that could not be created: say why */
        int rc = coop_bf16_check(e);
        return rc ? rc : coop_fail(e, COOP_E_INVAL, "bf16: forward through no layer");
    }
    if (M <= 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: forward over %d rows", M);
    if ((flags & ~(unsigned)COOP_BF16_FLAGS) ||
        ((flags & COOP_BF16_ACCUMULATE) && (flags & (COOP_BF16_OUT_BF16 | COOP_BF16_QUICK_GELU))))
        return coop_fail(e, COOP_E_INVAL, "bf16: forward flags 0x%x (accumulation takes a "
                         "float32 output and no QuickGELU)", flags);
    const void *src = inp;
    int rc = 0;
    if (!(flags & COOP_BF16_IN_BF16)) {
        if ((rc = round_activations(l, inp, M, e)))
            return rc;
        src = l->act;
    }
    struct prim_slot *sl = prepare(l, M, flags & ~(unsigned)COOP_BF16_IN_BF16, &rc, e);
    if (!sl)
        return rc;
    dnnl_memory_desc_t src_md, dst_md, b_md;
    md2(&src_md, M, l->K, dnnl_bf16, dnnl_ab);
    md2(&dst_md, M, l->N, dst_type(flags), dnnl_ab);
    md2(&b_md, 1, l->N, dnnl_f32, dnnl_ab);
    const struct mm_arg a[] = {{DNNL_ARG_SRC, &src_md, (void *)src},
                               {DNNL_ARG_WEIGHTS, &l->w_md, l->w},
                               {DNNL_ARG_DST, &dst_md, out}, {DNNL_ARG_BIAS, &b_md, l->bias}};
    dnnl_status_t st = run_args(&l->mm, sl->prim, a, l->bias ? 4 : 3);
    if (st != dnnl_success)
        return dnnl_fail(e, st, "matmul (bf16)");
    memcpy(l->impl, sl->impl, sizeof l->impl);
    return 0;
}

int coop_bf16_linear_forward(struct coop_bf16_linear *l, float *out, const float *inp, int M,
                             struct coop_err *e)
{
    return coop_bf16_linear_forward_ex(l, out, inp, M, 0, e);
}

const char *coop_bf16_linear_impl(const struct coop_bf16_linear *l)
{
    return l ? l->impl : "";
}

void coop_bf16_linear_free(struct coop_bf16_linear *l)
{
    if (!l)
        return;
    for (int i = 0; i < PRIM_SLOTS; i++)
        dnnl_primitive_destroy(l->slot[i].prim);
    mm_close(&l->mm);
    coop_free(l->w);
    coop_free(l->bias);
    coop_free(l->act);
    free(l);
}

/* ---- convolution ------------------------------------------------------- */
/* oneDNN's convolution primitive for one image, in the layouts it prefers
 * (format "any": blocked or channels-last), between the caller's plain
 * float32 [C, H, W] planes: a reorder rounds the input to bf16 into the
 * chosen layout, the convolution accumulates in float32, a second reorder
 * (skipped when the chosen layout is already plain) writes the planes back.
 * The primitives, the packed weights and both buffers are built for one
 * input size and rebuilt when it changes. */
struct coop_bf16_conv {
    int Co, Ci, k, stride, pad;
    float *bias;           /* [Co] or NULL: the affine map's shift */
    dnnl_memory_desc_t bias_md; /* [Co] float32 */
    bool relu;             /* ReLU as a post-op */
    struct mm mm;          /* mm.prim: the convolution; mm.n: 1 once built */
    uint16_t *wplain;      /* [Co, Ci, k, k] bf16 */
    int H, W;              /* the input size the primitives are for */
    dnnl_primitive_t rin, rout; /* f32 plain -> bf16 chosen; f32 chosen -> plain (or NULL) */
    dnnl_memory_desc_t src_md, wei_md, dst_md, usrc_md, udst_md;
    void *wei, *src, *dst;
    /* channels-last mode (coop_bf16_conv_forward_nhwc): its own primitive and
     * packed weights, for one (H, W, flags) */
    dnnl_primitive_t nprim;
    int nH, nW;
    unsigned nflags;
    dnnl_memory_desc_t n_src_md, n_wei_md, n_dst_md;
    void *nwei;
    char nimpl[64];
};

static void md4(dnnl_memory_desc_t *md, int n, int c, int h, int w, dnnl_data_type_t t,
                dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {n, c, h, w};
    dnnl_memory_desc_init_by_tag(md, 4, d, t, tag);
}

static void conv_drop_nhwc(struct coop_bf16_conv *l)
{
    dnnl_primitive_destroy(l->nprim);
    l->nprim = NULL;
    coop_free(l->nwei);
    l->nwei = NULL;
    l->nH = l->nW = 0;
}

static void conv_drop(struct coop_bf16_conv *l)
{
    mm_reset(&l->mm);
    dnnl_primitive_destroy(l->rin);
    dnnl_primitive_destroy(l->rout);
    l->rin = l->rout = NULL;
    coop_free(l->wei), coop_free(l->src), coop_free(l->dst);
    l->wei = l->src = l->dst = NULL;
    l->H = l->W = 0;
}

/* A buffer of *buf for data in layout md. */
static dnnl_status_t alloc_md(void **buf, const dnnl_memory_desc_t *md)
{
    *buf = coop_alloc(dnnl_memory_desc_get_size(md));
    return *buf ? dnnl_success : dnnl_out_of_memory;
}

/* Builds the primitives and buffers for an H x W input. */
static int conv_prepare(struct coop_bf16_conv *l, int H, int W, struct coop_err *e)
{
    if (l->mm.prim && l->H == H && l->W == W)
        return 0;
    conv_drop(l);
    int Ho = (H + 2 * l->pad - l->k) / l->stride + 1, Wo = (W + 2 * l->pad - l->k) / l->stride + 1;
    if (Ho <= 0 || Wo <= 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: convolution of a %d x %d input with a %d x %d "
                         "kernel", H, W, l->k, l->k);
    dnnl_memory_desc_t src, wei, dst, uwei;
    md4(&src, 1, l->Ci, H, W, dnnl_bf16, dnnl_format_tag_any);
    md4(&wei, l->Co, l->Ci, l->k, l->k, dnnl_bf16, dnnl_format_tag_any);
    md4(&dst, 1, l->Co, Ho, Wo, dnnl_f32, dnnl_format_tag_any);
    md4(&l->usrc_md, 1, l->Ci, H, W, dnnl_f32, dnnl_nchw);
    md4(&l->udst_md, 1, l->Co, Ho, Wo, dnnl_f32, dnnl_nchw);
    md4(&uwei, l->Co, l->Ci, l->k, l->k, dnnl_bf16, dnnl_oihw);
    dnnl_dims_t strides = {l->stride, l->stride}, pad = {l->pad, l->pad};
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t st = dnnl_convolution_forward_desc_init(
        &d, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei, l->bias ? &l->bias_md : NULL,
        &dst, strides, pad, pad);
    if (st == dnnl_success && l->relu && (st = dnnl_primitive_attr_create(&attr)) == dnnl_success &&
        (st = dnnl_post_ops_create(&po)) == dnnl_success &&
        (st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f)) ==
            dnnl_success)
        st = dnnl_primitive_attr_set_post_ops(attr, po);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, attr, l->mm.eng, NULL);
    dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    if (st == dnnl_success) {
        l->src_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        l->wei_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        l->dst_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    }
    st = mm_set(&l->mm, st, pd, 1);
    if (st == dnnl_success && (st = alloc_md(&l->wei, &l->wei_md)) == dnnl_success &&
        (st = alloc_md(&l->src, &l->src_md)) == dnnl_success &&
        (st = alloc_md(&l->dst, &l->dst_md)) == dnnl_success &&
        (st = reorder_prim(&l->rin, &l->usrc_md, &l->src_md, l->mm.eng)) == dnnl_success &&
        (dnnl_memory_desc_equal(&l->dst_md, &l->udst_md) ||
         (st = reorder_prim(&l->rout, &l->dst_md, &l->udst_md, l->mm.eng)) == dnnl_success))
        st = reorder_once(&l->mm, &uwei, l->wplain, &l->wei_md, l->wei);
    if (st != dnnl_success) {
        conv_drop(l);
        return dnnl_fail(e, st, "convolution (bf16) for this input size");
    }
    l->H = H, l->W = W;
    return 0;
}

/* The convolution's post-ops: [sum (accumulate)], [ReLU]. */
static dnnl_status_t conv_attr(dnnl_primitive_attr_t *attr, bool accumulate, bool relu)
{
    *attr = NULL;
    if (!accumulate && !relu)
        return dnnl_success;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t st = dnnl_primitive_attr_create(attr);
    if (st == dnnl_success)
        st = dnnl_post_ops_create(&po);
    if (st == dnnl_success && accumulate)
        st = dnnl_post_ops_append_sum(po, 1.0f);
    if (st == dnnl_success && relu)
        st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_post_ops(*attr, po);
    dnnl_post_ops_destroy(po);
    return st;
}

/* Builds the channels-last primitive and its packed weights for an H x W
 * input and flags. */
static int conv_prepare_nhwc(struct coop_bf16_conv *l, int H, int W, unsigned flags,
                             struct coop_err *e)
{
    if (l->nprim && l->nH == H && l->nW == W && l->nflags == flags)
        return 0;
    conv_drop_nhwc(l);
    int Ho = (H + 2 * l->pad - l->k) / l->stride + 1, Wo = (W + 2 * l->pad - l->k) / l->stride + 1;
    if (Ho <= 0 || Wo <= 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: convolution of a %d x %d input with a %d x %d "
                         "kernel", H, W, l->k, l->k);
    dnnl_memory_desc_t wei, uwei;
    md4(&l->n_src_md, 1, l->Ci, H, W, dnnl_bf16, dnnl_nhwc);
    md4(&wei, l->Co, l->Ci, l->k, l->k, dnnl_bf16, dnnl_format_tag_any);
    md4(&l->n_dst_md, 1, l->Co, Ho, Wo, dst_type(flags), dnnl_nhwc);
    md4(&uwei, l->Co, l->Ci, l->k, l->k, dnnl_bf16, dnnl_oihw);
    dnnl_dims_t strides = {l->stride, l->stride}, pad = {l->pad, l->pad};
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t st = dnnl_convolution_forward_desc_init(
        &d, dnnl_forward_inference, dnnl_convolution_direct, &l->n_src_md, &wei,
        l->bias ? &l->bias_md : NULL, &l->n_dst_md, strides, pad, pad);
    if (st == dnnl_success)
        st = conv_attr(&attr, flags & COOP_BF16_ACCUMULATE, l->relu || (flags & COOP_BF16_RELU));
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, attr, l->mm.eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    const char *impl = NULL;
    if (st == dnnl_success) {
        l->n_wei_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success)
            snprintf(l->nimpl, sizeof l->nimpl, "%s", impl ? impl : "?");
        st = dnnl_primitive_create(&l->nprim, pd);
    }
    dnnl_primitive_desc_destroy(pd);
    if (st == dnnl_success && (st = alloc_md(&l->nwei, &l->n_wei_md)) == dnnl_success)
        st = reorder_once(&l->mm, &uwei, l->wplain, &l->n_wei_md, l->nwei);
    if (st != dnnl_success) {
        conv_drop_nhwc(l);
        return dnnl_fail(e, st, "channels-last convolution (bf16) for this input size");
    }
    l->nH = H, l->nW = W, l->nflags = flags;
    return 0;
}

int coop_bf16_conv_forward_nhwc(struct coop_bf16_conv *l, void *out, const uint16_t *inp, int H,
                                int W, unsigned flags, struct coop_err *e)
{
    if (!l) {
        int rc = coop_bf16_check(e);
        return rc ? rc : coop_fail(e, COOP_E_INVAL, "bf16: convolution through no object");
    }
    if (H <= 0 || W <= 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: convolution of a %d x %d input", H, W);
    if ((flags & ~(unsigned)(COOP_BF16_OUT_BF16 | COOP_BF16_ACCUMULATE | COOP_BF16_RELU)) ||
        (flags & COOP_BF16_OUT_BF16 && flags & COOP_BF16_ACCUMULATE))
        return coop_fail(e, COOP_E_INVAL, "bf16: channels-last convolution flags 0x%x (bf16 "
                         "output or accumulation into float32)", flags);
    int rc = conv_prepare_nhwc(l, H, W, flags, e);
    if (rc)
        return rc;
    const struct mm_arg a[] = {{DNNL_ARG_SRC, &l->n_src_md, (void *)inp},
                               {DNNL_ARG_WEIGHTS, &l->n_wei_md, l->nwei},
                               {DNNL_ARG_DST, &l->n_dst_md, out},
                               {DNNL_ARG_BIAS, &l->bias_md, l->bias}};
    dnnl_status_t st = run_args(&l->mm, l->nprim, a, l->bias ? 4 : 3);
    if (st != dnnl_success)
        return dnnl_fail(e, st, "channels-last convolution (bf16)");
    memcpy(l->mm.impl, l->nimpl, sizeof l->mm.impl);
    return 0;
}

int coop_bf16_conv_create(struct coop_bf16_conv **out, const float *w, int Co, int Ci, int k,
                          int stride, int pad, struct coop_err *e)
{
    return coop_bf16_conv_create_affine(out, w, Co, Ci, k, stride, pad, NULL, NULL, false, e);
}

int coop_bf16_conv_create_affine(struct coop_bf16_conv **out, const float *w, int Co, int Ci,
                                 int k, int stride, int pad, const float *scale,
                                 const float *shift, bool relu, struct coop_err *e)
{
    *out = NULL;
    int rc = coop_bf16_check(e);
    if (rc)
        return rc;
    if (Co <= 0 || Ci <= 0 || k <= 0 || stride <= 0 || pad < 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: convolution %d -> %d channels, kernel %d, "
                         "stride %d, padding %d", Ci, Co, k, stride, pad);
    struct coop_bf16_conv *l = calloc(1, sizeof *l);
    if (!l)
        return coop_fail(e, COOP_E_NOMEM, "bf16: out of memory");
    l->Co = Co, l->Ci = Ci, l->k = k, l->stride = stride, l->pad = pad, l->relu = relu;
    dnnl_dims_t bd = {Co};
    dnnl_memory_desc_init_by_tag(&l->bias_md, 1, bd, dnnl_f32, dnnl_x);
    size_t n = (size_t)Co * Ci * k * k, per = n / (size_t)Co;
    dnnl_status_t st = mm_open(&l->mm);
    l->wplain = st == dnnl_success ? coop_alloc(n * sizeof *l->wplain) : NULL;
    float *scaled = scale && l->wplain ? coop_alloc_floats(n) : NULL;
    l->bias = shift && l->wplain ? coop_alloc_floats((size_t)Co) : NULL;
    if (st != dnnl_success || !l->wplain || (scale && !scaled) || (shift && !l->bias)) {
        coop_free(scaled);
        rc = st != dnnl_success ? dnnl_fail(e, st, "engine")
                                : coop_fail(e, COOP_E_NOMEM, "bf16: out of memory for a %d x %d "
                                            "x %d x %d kernel", Co, Ci, k, k);
        coop_bf16_conv_free(l);
        return rc;
    }
    if (scale) { /* folded before the rounding, as a BatchNorm folds into its convolution */
        for (size_t i = 0; i < n; i++)
            scaled[i] = w[i] * scale[i / per];
        w = scaled;
    }
    if (shift)
        memcpy(l->bias, shift, sizeof(float) * (size_t)Co);
    coop_bf16_round_n(l->wplain, w, n);
    coop_free(scaled);
    *out = l;
    return 0;
}

int coop_bf16_conv_forward(struct coop_bf16_conv *l, float *out, const float *inp, int H, int W,
                           struct coop_err *e)
{
    if (H <= 0 || W <= 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: convolution of a %d x %d input", H, W);
    int rc = conv_prepare(l, H, W, e);
    if (rc)
        return rc;
    dnnl_status_t st = run_reorder(&l->mm, l->rin, &l->usrc_md, (void *)inp, &l->src_md, l->src);
    if (st == dnnl_success) {
        const struct mm_arg a[] = {{DNNL_ARG_SRC, &l->src_md, l->src},
                                   {DNNL_ARG_WEIGHTS, &l->wei_md, l->wei},
                                   {DNNL_ARG_DST, &l->dst_md, l->rout ? l->dst : out},
                                   {DNNL_ARG_BIAS, &l->bias_md, l->bias}};
        st = run_args(&l->mm, l->mm.prim, a, l->bias ? 4 : 3);
    }
    if (st == dnnl_success && l->rout)
        st = run_reorder(&l->mm, l->rout, &l->dst_md, l->dst, &l->udst_md, out);
    return st == dnnl_success ? 0 : dnnl_fail(e, st, "convolution (bf16)");
}

const char *coop_bf16_conv_impl(const struct coop_bf16_conv *l)
{
    return l ? l->mm.impl : "";
}

void coop_bf16_conv_free(struct coop_bf16_conv *l)
{
    if (!l)
        return;
    conv_drop(l);
    conv_drop_nhwc(l);
    mm_close(&l->mm);
    coop_free(l->wplain);
    coop_free(l->bias);
    free(l);
}

/* ---- attention --------------------------------------------------------- */
/* One sequence's multi-head attention: the heads' q, k, v copied out of the
 * packed bf16 qkv into dense head-major [H, T, d] arrays (the layout oneDNN's
 * AMX batched matmul takes; a strided view of qkv falls back to a slower
 * kernel), scores = q k^T in float32, the softmax in float32 written as bf16
 * probabilities, o = p v in bf16, copied back into the [T, C] rows. */
struct coop_bf16_attention {
    int T, C, H, d;
    struct mm scores, pv; /* one primitive each */
    dnnl_memory_desc_t q_md, kt_md, s_md, p_md, v_md, o_md;
    uint16_t *q, *k, *v, *p, *o; /* [H, T, d] x 3, [H, T, T], [H, T, d] */
    float *s;                    /* [H, T, T] */
};

static dnnl_status_t md3(dnnl_memory_desc_t *md, int a, int b, int c, dnnl_data_type_t t,
                         long sa, long sb, long sc)
{
    dnnl_dims_t d = {a, b, c}, st = {sa, sb, sc};
    return dnnl_memory_desc_init_by_strides(md, 3, d, t, st);
}

static dnnl_status_t batched_matmul(struct mm *m, const dnnl_memory_desc_t *src,
                                    const dnnl_memory_desc_t *wei, const dnnl_memory_desc_t *dst)
{
    dnnl_matmul_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = mm_open(m);
    if (st == dnnl_success)
        st = dnnl_matmul_desc_init(&d, src, wei, NULL, dst);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, NULL, m->eng, NULL);
    return mm_set(m, st, pd, 1);
}

int coop_bf16_attention_create(struct coop_bf16_attention **out, int T, int C, int H,
                               struct coop_err *e)
{
    *out = NULL;
    int rc = coop_bf16_check(e);
    if (rc)
        return rc;
    if (T <= 0 || H <= 0 || C <= 0 || C % H)
        return coop_fail(e, COOP_E_INVAL, "bf16: attention of %d positions, width %d, %d heads",
                         T, C, H);
    struct coop_bf16_attention *a = calloc(1, sizeof *a);
    if (!a)
        return coop_fail(e, COOP_E_NOMEM, "bf16: out of memory");
    int d = C / H;
    long td = (long)T * d, tt = (long)T * T;
    a->T = T, a->C = C, a->H = H, a->d = d;
    dnnl_status_t st = md3(&a->q_md, H, T, d, dnnl_bf16, td, d, 1);
    if (st == dnnl_success) /* k [H, T, d] read as k^T [H, d, T] */
        st = md3(&a->kt_md, H, d, T, dnnl_bf16, td, 1, d);
    if (st == dnnl_success)
        st = md3(&a->s_md, H, T, T, dnnl_f32, tt, T, 1);
    if (st == dnnl_success)
        st = md3(&a->p_md, H, T, T, dnnl_bf16, tt, T, 1);
    if (st == dnnl_success)
        st = md3(&a->v_md, H, T, d, dnnl_bf16, td, d, 1);
    if (st == dnnl_success)
        st = md3(&a->o_md, H, T, d, dnnl_bf16, td, d, 1);
    if (st == dnnl_success)
        st = batched_matmul(&a->scores, &a->q_md, &a->kt_md, &a->s_md);
    if (st == dnnl_success)
        st = batched_matmul(&a->pv, &a->p_md, &a->v_md, &a->o_md);
    size_t nh = (size_t)H * td, ns = (size_t)H * tt;
    uint16_t *buf = st == dnnl_success ? coop_alloc((4 * nh + ns) * sizeof *buf) : NULL;
    a->s = buf ? coop_alloc_floats(ns) : NULL;
    if (st != dnnl_success || !a->s) {
        coop_free(buf);
        rc = st != dnnl_success ? dnnl_fail(e, st, "attention (bf16) setup")
                                : coop_fail(e, COOP_E_NOMEM, "bf16: out of memory for the "
                                            "attention of %d positions", T);
        coop_bf16_attention_free(a);
        return rc;
    }
    a->q = buf, a->k = buf + nh, a->v = buf + 2 * nh, a->o = buf + 3 * nh, a->p = buf + 4 * nh;
    *out = a;
    return 0;
}

/* Each row of the scores s [rows, T] scaled and softmaxed in float32 (max
 * subtracted, coop_exp_fast, sums over 16 lanes; s is overwritten with the
 * exponentials), the probabilities rounded into p. */
FAST_CLONES static void softmax_rows_bf16(uint16_t *p, float *s, int rows, int T, float scale)
{
#pragma omp parallel for schedule(static) if ((size_t)rows * T > COOP_PAR_MIN_ELEMS)
    for (int r = 0; r < rows; r++) {
        float *x = s + (size_t)r * T, acc[16], mx = -INFINITY, sum = 0.0f;
        uint16_t *y = p + (size_t)r * T;
        int j = 0;
        for (int l = 0; l < 16; l++)
            acc[l] = -INFINITY;
        for (; j + 16 <= T; j += 16)
            for (int l = 0; l < 16; l++)
                acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
        for (; j < T; j++)
            mx = x[j] > mx ? x[j] : mx;
        for (int l = 0; l < 16; l++)
            mx = acc[l] > mx ? acc[l] : mx;
        for (j = 0; j < T; j++)
            x[j] = coop_exp_fast((x[j] - mx) * scale);
        for (int l = 0; l < 16; l++)
            acc[l] = 0.0f;
        for (j = 0; j + 16 <= T; j += 16)
            for (int l = 0; l < 16; l++)
                acc[l] += x[j + l];
        for (; j < T; j++)
            sum += x[j];
        for (int l = 0; l < 16; l++)
            sum += acc[l];
        float inv = 1.0f / sum;
        for (j = 0; j < T; j++)
            y[j] = coop_bf16_round(x[j] * inv);
    }
}

int coop_bf16_attention_forward(struct coop_bf16_attention *a, uint16_t *out,
                                const uint16_t *qkv, struct coop_err *e)
{
    if (!a) {
        int rc = coop_bf16_check(e);
        return rc ? rc : coop_fail(e, COOP_E_INVAL, "bf16: attention through no object");
    }
    int T = a->T, C = a->C, H = a->H, d = a->d;
    size_t row = sizeof *out * (size_t)d;
    int par = (size_t)T * C > COOP_PAR_MIN_ELEMS;
#pragma omp parallel for schedule(static) if (par)
    for (int h = 0; h < H; h++) /* q | k | v of each head, head-major */
        for (int t = 0; t < T; t++) {
            const uint16_t *src = qkv + (size_t)t * 3 * C + (size_t)h * d;
            size_t at = ((size_t)h * T + t) * d;
            memcpy(a->q + at, src, row);
            memcpy(a->k + at, src + C, row);
            memcpy(a->v + at, src + 2 * C, row);
        }
    const struct mm_arg sa[] = {{DNNL_ARG_SRC, &a->q_md, a->q}, {DNNL_ARG_WEIGHTS, &a->kt_md, a->k},
                                {DNNL_ARG_DST, &a->s_md, a->s}};
    dnnl_status_t st = run_args(&a->scores, a->scores.prim, sa, 3);
    if (st == dnnl_success) {
        softmax_rows_bf16(a->p, a->s, H * T, T, 1.0f / sqrtf((float)d));
        const struct mm_arg pa[] = {{DNNL_ARG_SRC, &a->p_md, a->p},
                                    {DNNL_ARG_WEIGHTS, &a->v_md, a->v},
                                    {DNNL_ARG_DST, &a->o_md, a->o}};
        st = run_args(&a->pv, a->pv.prim, pa, 3);
    }
    if (st != dnnl_success)
        return dnnl_fail(e, st, "attention (bf16)");
#pragma omp parallel for schedule(static) if (par)
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            memcpy(out + (size_t)t * C + (size_t)h * d, a->o + ((size_t)h * T + t) * d, row);
    return 0;
}

const char *coop_bf16_attention_impl(const struct coop_bf16_attention *a)
{
    return a ? a->scores.impl : "";
}

void coop_bf16_attention_free(struct coop_bf16_attention *a)
{
    if (!a)
        return;
    mm_close(&a->scores);
    mm_close(&a->pv);
    coop_free(a->q);
    coop_free(a->s);
    free(a);
}
