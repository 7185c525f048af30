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

/* Runs matmul p on the n (argument, descriptor, data) triples, wrapping the
 * data in memory objects for the call. */
struct mm_arg {
    int arg;
    const dnnl_memory_desc_t *md;
    void *data;
};
static dnnl_status_t run_matmul(const struct mm *m, const struct mm_arg *a, int n)
{
    dnnl_exec_arg_t ex[4] = {{0, NULL}};
    dnnl_status_t st = dnnl_success;
    int made = 0;
    for (; made < n && st == dnnl_success; made++) {
        ex[made].arg = a[made].arg;
        st = dnnl_memory_create(&ex[made].memory, a[made].md, m->eng, a[made].data);
    }
    if (st == dnnl_success)
        st = run(m->prim, m->stream, n, ex);
    for (int i = 0; i < made; i++)
        dnnl_memory_destroy(ex[i].memory);
    return st;
}

/* Reorders plain bf16 w [N,K] (the K x N matrix in "ba" order) into mem. */
static dnnl_status_t reorder_weights(struct coop_bf16_linear *l, uint16_t *plain,
                                     dnnl_memory_t dst)
{
    dnnl_memory_desc_t src_md;
    md2(&src_md, l->K, l->N, dnnl_bf16, dnnl_ba);
    dnnl_memory_t src = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    dnnl_status_t st = dnnl_memory_create(&src, &src_md, l->mm.eng, plain);
    if (st == dnnl_success)
        st = dnnl_reorder_primitive_desc_create(&pd, &src_md, l->mm.eng, &l->w_md, l->mm.eng,
                                                NULL);
    if (st == dnnl_success)
        st = dnnl_primitive_create(&p, pd);
    if (st == dnnl_success) {
        dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
        st = run(p, l->mm.stream, 2, a);
    }
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(src);
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
    dnnl_memory_t dst = NULL;
    st = dnnl_memory_create(&dst, &l->w_md, l->mm.eng, l->w);
    if (st == dnnl_success)
        st = reorder_weights(l, plain, dst);
    dnnl_memory_destroy(dst);
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
    dnnl_status_t st = run_matmul(&l->mm, a, l->bias ? 4 : 3);
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

/* ---- frozen left factor ------------------------------------------------ */
struct coop_bf16_wmat {
    int M, K;
    struct mm mm; /* mm.n: the columns of its primitive */
    uint16_t *a;  /* [M,K] bf16 */
};

int coop_bf16_wmat_create(struct coop_bf16_wmat **out, const float *a, int M, int K,
                          struct coop_err *e)
{
    *out = NULL;
    int rc = coop_bf16_check(e);
    if (rc)
        return rc;
    if (M <= 0 || K <= 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: left factor of %d x %d", M, K);
    struct coop_bf16_wmat *l = calloc(1, sizeof *l);
    if (!l)
        return coop_fail(e, COOP_E_NOMEM, "bf16: out of memory");
    l->M = M, l->K = K;
    dnnl_status_t st = mm_open(&l->mm);
    l->a = st == dnnl_success ? coop_alloc((size_t)M * K * sizeof *l->a) : NULL;
    if (st != dnnl_success || !l->a) {
        rc = st != dnnl_success ? dnnl_fail(e, st, "engine")
                                : coop_fail(e, COOP_E_NOMEM, "bf16: out of memory for %d x %d "
                                            "weights", M, K);
        coop_bf16_wmat_free(l);
        return rc;
    }
    coop_bf16_round_n(l->a, a, (size_t)M * K);
    *out = l;
    return 0;
}

/* Makes l->mm.prim the primitive for N columns (plain layouts throughout). */
static int wmat_prepare(struct coop_bf16_wmat *l, int N, struct coop_err *e)
{
    if (l->mm.prim && l->mm.n == N)
        return 0;
    mm_reset(&l->mm);
    dnnl_memory_desc_t src, wei, dst;
    md2(&src, l->M, l->K, dnnl_bf16, dnnl_ab);
    md2(&wei, l->K, N, dnnl_bf16, dnnl_ab);
    md2(&dst, l->M, N, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_matmul_desc_init(&d, &src, &wei, NULL, &dst);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, NULL, l->mm.eng, NULL);
    st = mm_set(&l->mm, st, pd, N);
    return st == dnnl_success ? 0
                              : dnnl_fail(e, st, "matmul (bf16, left factor) for this column count");
}

int coop_bf16_wmat_forward(struct coop_bf16_wmat *l, float *out, const uint16_t *b, int N,
                           struct coop_err *e)
{
    if (N <= 0)
        return coop_fail(e, COOP_E_INVAL, "bf16: product of %d columns", N);
    int rc = wmat_prepare(l, N, e);
    if (rc)
        return rc;
    dnnl_memory_desc_t src_md, wei_md, dst_md;
    md2(&src_md, l->M, l->K, dnnl_bf16, dnnl_ab);
    md2(&wei_md, l->K, N, dnnl_bf16, dnnl_ab);
    md2(&dst_md, l->M, N, dnnl_f32, dnnl_ab);
    const struct mm_arg a[] = {{DNNL_ARG_SRC, &src_md, l->a},
                               {DNNL_ARG_WEIGHTS, &wei_md, (void *)b},
                               {DNNL_ARG_DST, &dst_md, out}};
    dnnl_status_t st = run_matmul(&l->mm, a, 3);
    return st == dnnl_success ? 0 : dnnl_fail(e, st, "matmul (bf16, left factor)");
}

const char *coop_bf16_wmat_impl(const struct coop_bf16_wmat *l)
{
    return l ? l->mm.impl : "";
}

void coop_bf16_wmat_free(struct coop_bf16_wmat *l)
{
    if (!l)
        return;
    mm_close(&l->mm);
    coop_free(l->a);
    free(l);
}
