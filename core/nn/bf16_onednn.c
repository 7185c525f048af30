/* bf16_onednn.c: the bf16 x bf16 -> fp32 linear layer of coop/bf16.h over
 * oneDNN's matmul primitive. At creation the weights are rounded to bf16 and
 * reordered once into the blocked layout oneDNN's kernels read (asked for with
 * format "any"); each forward rounds the activations into a buffer the object
 * keeps and runs one matmul, whose primitive is rebuilt only when the row
 * count changes (oneDNN also caches primitives). Never prints. */
#include "bf16_internal.h"
#include "coop/util.h"
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

struct coop_bf16_linear {
    int K, N;
    struct mm mm;
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

/* Matmul primitive descriptor for M rows with weights laid out as w_md. */
static dnnl_status_t matmul_pd(dnnl_primitive_desc_t *pd, const struct coop_bf16_linear *l,
                               int M, const dnnl_memory_desc_t *w_md)
{
    dnnl_memory_desc_t src, dst, bias;
    md2(&src, M, l->K, dnnl_bf16, dnnl_ab);
    md2(&dst, M, l->N, dnnl_f32, dnnl_ab);
    md2(&bias, 1, l->N, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t d;
    dnnl_status_t st = dnnl_matmul_desc_init(&d, &src, w_md, l->bias ? &bias : NULL, &dst);
    return st == dnnl_success ? dnnl_primitive_desc_create(pd, &d, NULL, l->mm.eng, NULL) : st;
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
    dnnl_status_t st = matmul_pd(&pd, l, PROBE_ROWS, &any);
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

/* Makes l->mm.prim the primitive for M rows. */
static int prepare(struct coop_bf16_linear *l, int M, struct coop_err *e)
{
    if (l->mm.prim && l->mm.n == M)
        return 0;
    mm_reset(&l->mm);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = matmul_pd(&pd, l, M, &l->w_md);
    st = mm_set(&l->mm, st, pd, M);
    return st == dnnl_success ? 0 : dnnl_fail(e, st, "matmul (bf16) for this row count");
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

int coop_bf16_linear_forward(struct coop_bf16_linear *l, float *out, const float *inp, int M,
                             struct coop_err *e)
{
    if (M <= 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: forward over %d rows", M);
    int rc = round_activations(l, inp, M, e);
    if (!rc)
        rc = prepare(l, M, e);
    if (rc)
        return rc;
    dnnl_memory_desc_t src_md, dst_md, b_md;
    md2(&src_md, M, l->K, dnnl_bf16, dnnl_ab);
    md2(&dst_md, M, l->N, dnnl_f32, dnnl_ab);
    md2(&b_md, 1, l->N, dnnl_f32, dnnl_ab);
    const struct mm_arg a[] = {{DNNL_ARG_SRC, &src_md, l->act}, {DNNL_ARG_WEIGHTS, &l->w_md, l->w},
                               {DNNL_ARG_DST, &dst_md, out}, {DNNL_ARG_BIAS, &b_md, l->bias}};
    dnnl_status_t st = run_args(&l->mm, l->mm.prim, a, l->bias ? 4 : 3);
    return st == dnnl_success ? 0 : dnnl_fail(e, st, "matmul (bf16)");
}

const char *coop_bf16_linear_impl(const struct coop_bf16_linear *l)
{
    return l ? l->mm.impl : "";
}

void coop_bf16_linear_free(struct coop_bf16_linear *l)
{
    if (!l)
        return;
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
};

static void md4(dnnl_memory_desc_t *md, int n, int c, int h, int w, dnnl_data_type_t t,
                dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {n, c, h, w};
    dnnl_memory_desc_init_by_tag(md, 4, d, t, tag);
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
    mm_close(&l->mm);
    coop_free(l->wplain);
    coop_free(l->bias);
    free(l);
}
