/* coop-bench-text: throughput of the CLIP ViT-B/16 text tower (random
 * weights) on CoOp-shaped prompts: SOS + 16 shared context vectors + class
 * tokens (2-4) + "." + EOT, for K = 37, 100, 1000 classes. Compares the plain
 * path (every prompt, all 77 positions) with the fast path (positions up to
 * the longest EOT, the 17-row prefix computed once), forward and
 * forward + backward to the input embeddings (frozen weights), and reports
 * GFLOP/s against the measured sgemm peak. Options: --quick (one repetition),
 * --min-k / --max-k (subset of K), --precision bf16 (the tower's weight
 * products in bf16, coop_clip_text_bf16_enable; GEMMs against the measured
 * bf16 matmul peak). A benchmark, not a test: prints figures, asserts
 * nothing. */
#include "coop/bf16.h"
#include "coop/clip.h"
#include "coop/cpu.h"
#include "coop/nn.h"
#include "coop/util.h"
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#define L 77
#define W 512
#define E 512
#define NCTX 16
#define PLAIN_CHUNK 100 /* plain path runs in chunks of prompts to bound memory */

struct prompts {
    int K, *eot;
    float *emb, *dfeat, *feat, *demb;
};

static int make_prompts(struct prompts *p, const struct coop_clip_text *t, int K)
{
    p->K = K;
    p->eot = malloc(sizeof(int) * K);
    p->emb = coop_alloc_floats((size_t)K * L * W);
    p->demb = coop_alloc_floats((size_t)K * L * W);
    p->feat = coop_alloc_floats((size_t)K * E);
    p->dfeat = coop_alloc_floats((size_t)K * E);
    if (!p->eot || !p->emb || !p->demb || !p->feat || !p->dfeat)
        return -1;
    float ctx[NCTX * W];
    coop_hash_uniform(ctx, NCTX * W, 5, -0.02, 0.02);
    coop_hash_uniform(p->dfeat, (size_t)K * E, 6, -1.0, 1.0);
    struct coop_rng r;
    coop_rng_seed(&r, 42);
    for (int k = 0; k < K; k++) {
        int ncls = 2 + k % 3, n = 0, ids[L] = {0};
        ids[n++] = 49406;
        n += NCTX; /* context rows filled below */
        for (int c = 0; c < ncls; c++)
            ids[n++] = 1 + (int)coop_rng_below(&r, 49000);
        ids[n++] = 269;
        ids[n++] = 49407;
        p->eot[k] = n - 1;
        for (int i = 0; i < L; i++) {
            const float *src = (i >= 1 && i <= NCTX) ? ctx + (size_t)(i - 1) * W
                                                     : t->token_embedding + (size_t)ids[i] * W;
            memcpy(p->emb + ((size_t)k * L + i) * W, src, sizeof(float) * W);
        }
    }
    return 0;
}

static void free_prompts(struct prompts *p)
{
    free(p->eot);
    coop_free(p->emb), coop_free(p->demb), coop_free(p->feat), coop_free(p->dfeat);
}

enum path { PLAIN, TRUNC, FAST };

/* One pass over all K prompts; returns seconds or < 0 on error. */
static double pass(const struct coop_clip_text *t, struct prompts *p, enum path path, int bwd)
{
    struct coop_err e;
    double t0 = coop_now();
    int chunk = path == PLAIN ? PLAIN_CHUNK : p->K;
    for (int k0 = 0; k0 < p->K; k0 += chunk) {
        int n = p->K - k0 < chunk ? p->K - k0 : chunk;
        const float *emb = p->emb + (size_t)k0 * L * W;
        const int *eot = p->eot + k0;
        float *feat = p->feat + (size_t)k0 * E;
        struct coop_clip_text_tape *tape = NULL, **tp = bwd ? &tape : NULL;
        int rc = path == PLAIN ? coop_clip_text_forward_plain(t, emb, eot, n, feat, tp, &e)
                               : coop_clip_text_forward(t, emb, eot, n, path == FAST ? 1 + NCTX : 0,
                                                        feat, tp, &e);
        if (!rc && bwd)
            rc = coop_clip_text_backward(t, tape, p->dfeat + (size_t)k0 * E,
                                         p->demb + (size_t)k0 * L * W, NULL, &e);
        coop_clip_text_tape_free(tape);
        if (rc) {
            fprintf(stderr, "coop-bench-text: %s\n", e.msg);
            return -1.0;
        }
    }
    return coop_now() - t0;
}

/* FLOPs actually executed: rows x (24 W^2 GEMM + 4 W ctx attention) per layer
 * forward; the input-gradient backward repeats the GEMMs once and the
 * attention twice. ctx = keys each row's scores are computed against. */
static double flops(const struct prompts *p, enum path path, int bwd)
{
    int T = 0;
    for (int k = 0; k < p->K; k++)
        T = p->eot[k] + 1 > T ? p->eot[k] + 1 : T;
    double rows, attn;
    if (path == PLAIN)
        rows = (double)p->K * L, attn = rows * L;
    else if (path == TRUNC)
        rows = (double)p->K * T, attn = rows * T;
    else {
        int P = 1 + NCTX, S = T - P;
        rows = P + (double)p->K * S, attn = (double)P * P + (double)p->K * S * T;
    }
    double lin = 24.0 * W * W * rows, att = 4.0 * W * attn;
    double f = 12.0 * (lin + att) + 2.0 * W * E * p->K;
    if (bwd)
        f += 12.0 * (lin + 2.0 * att) + 2.0 * W * E * p->K;
    return f;
}

static double best_of(const struct coop_clip_text *t, struct prompts *p, enum path path, int bwd,
                      int reps)
{
    double best = -1.0;
    for (int r = 0; r < reps; r++) {
        double s = pass(t, p, path, bwd);
        if (s < 0)
            return s;
        best = (best < 0 || s < best) ? s : best;
    }
    return best;
}

/* Best of 5 of one product rows x K -> N: sgemm, or the bf16 layer when bf16. */
static double time_shape(float *y, const float *x, const float *w, int rows, int K, int N,
                         int bf16)
{
    struct coop_bf16_linear *l = NULL;
    struct coop_err e;
    if (bf16 && (coop_bf16_linear_create(&l, w, NULL, K, N, &e) ||
                 coop_bf16_linear_forward(l, y, x, rows, &e))) { /* warm-up: the primitive */
        fprintf(stderr, "coop-bench-text: %s\n", e.msg);
        coop_bf16_linear_free(l);
        return 1e30;
    }
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = coop_now();
        if (l)
            coop_bf16_linear_forward(l, y, x, rows, &e);
        else
            coop_linear_forward(y, x, w, NULL, rows, K, N);
        double dt = coop_now() - t0;
        best = dt < best ? dt : best;
    }
    coop_bf16_linear_free(l);
    return best;
}

/* sgemm (or bf16) throughput at the tower's GEMM shapes (rows x in -> out). */
static void gemm_shapes(int rows, double peak, int bf16)
{
    static const int sh[4][2] = {{W, 3 * W}, {W, W}, {W, 4 * W}, {4 * W, W}};
    float *x = coop_alloc_floats((size_t)rows * 4 * W), *w = coop_alloc_floats(16 * W * W);
    float *y = coop_alloc_floats((size_t)rows * 4 * W);
    if (!x || !w || !y)
        goto out;
    coop_hash_uniform(x, (size_t)rows * 4 * W, 1, -1, 1);
    coop_hash_uniform(w, 16 * W * W, 2, -1, 1);
    double tf = 0, tt = 0;
    for (int s = 0; s < 4; s++) {
        double best = time_shape(y, x, w, rows, sh[s][0], sh[s][1], bf16);
        tf += 2.0 * rows * sh[s][0] * sh[s][1];
        tt += best;
    }
    printf("  GEMMs of one layer at %6d rows: %6.1f GFLOP/s = %3.0f%% of the %s peak\n", rows,
           tf / tt / 1e9, 100.0 * tf / tt / 1e9 / peak, bf16 ? "bf16" : "sgemm");
out:
    coop_free(x), coop_free(w), coop_free(y);
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows through pipes */
    int quick = 0, max_k = 1000, min_k = 0, bf16 = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--max-k") == 0 && i + 1 < argc)
            max_k = atoi(argv[++i]);
        else if (strcmp(argv[i], "--min-k") == 0 && i + 1 < argc)
            min_k = atoi(argv[++i]);
        else if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "fp32") || !strcmp(argv[i + 1], "bf16")))
            bf16 = !strcmp(argv[++i], "bf16");
        else if (!strcmp(argv[i], "--version")) {
            printf("coop-bench-text %s\n", coop_version_string());
            return 0;
        } else {
            int help = !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
            fprintf(help ? stdout : stderr,
                    "usage: coop-bench-text [--quick] [--min-k N] [--max-k N] "
                    "[--precision fp32|bf16] | --version | --help\n"
                    "  --quick    one repetition instead of best of 3\n"
                    "  --min-k N, --max-k N  run only the K values (37, 100, 1000) "
                    "in [min, max]\n"
                    "  --precision bf16  the tower's weight products in bf16 (oneDNN), "
                    "GEMMs against the bf16 peak\n"
                    "Example: coop-bench-text --quick --max-k 100\n"
                    "Exit status: 0 measured, 1 the benchmark failed, 2 usage error.\n");
            return help ? 0 : 2;
        }
    }
    printf("%s\n", blas); /* the benchmark shows the kernels it measured */
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    struct coop_clip_text t;
    float *arena;
    struct coop_err e;
    if (coop_clip_text_alloc(&t, L, 49408, W, W / 64, 12, E, &arena, &e)) {
        fprintf(stderr, "coop-bench-text: %s\n", e.msg);
        return 1;
    }
    coop_clip_text_init_random(&t, 1);
    if (bf16 && coop_clip_text_bf16_enable(&t, true, &e)) {
        fprintf(stderr, "coop-bench-text: %s\n", e.msg);
        return 1;
    }
    double peak = coop_sgemm_peak_gflops(1536), bpeak = bf16 ? coop_bf16_peak_gflops(1024) : 0;
    printf("coop-bench-text: ViT-B/16 text tower (W=512, 12 layers, 8 heads, L=77), random "
           "weights, %s products\nload average at start %.2f; sgemm peak (n=1536) %.1f "
           "GFLOP/s", bf16 ? "bf16" : "fp32", load[0], peak);
    if (bf16) {
        struct coop_cpu_features f;
        coop_cpu_detect(&f);
        printf("; bf16 peak (squares to 1024, %s) %.1f GFLOP/s",
               coop_bf16_isa_name(coop_bf16_isa(&f)), bpeak);
    }
    printf("\n");
    static const int Ks[3] = {37, 100, 1000};
    static const char *names[3] = {"plain", "trunc", "fast"};
    for (int i = 0; i < 3 && Ks[i] <= max_k; i++) {
        if (Ks[i] < min_k)
            continue;
        struct prompts p;
        if (make_prompts(&p, &t, Ks[i])) {
            fprintf(stderr, "coop-bench-text: out of memory for K=%d\n", Ks[i]);
            return 1;
        }
        printf("\nK = %d prompts (%d context tokens, longest EOT at %d, shared prefix %d)\n",
               Ks[i], NCTX, 1 + NCTX + 4 + 1, 1 + NCTX);
        printf("  %-6s %12s %10s %8s | %12s %10s %8s\n", "path", "fwd prm/s", "fwd s", "GF/s",
               "f+b prm/s", "f+b s", "GF/s");
        double tfb[3] = {0};
        for (int pth = 0; pth < 3; pth++) {
            int reps = quick || (pth == PLAIN && Ks[i] >= 1000) ? 1 : 3;
            double tf = best_of(&t, &p, pth, 0, reps), tb = best_of(&t, &p, pth, 1, reps);
            if (tf < 0 || tb < 0)
                return 1;
            tfb[pth] = tb;
            printf("  %-6s %12.1f %10.4f %8.1f | %12.1f %10.4f %8.1f\n", names[pth], Ks[i] / tf,
                   tf, flops(&p, pth, 0) / tf / 1e9, Ks[i] / tb, tb, flops(&p, pth, 1) / tb / 1e9);
        }
        printf("  forward+backward speed-up fast vs plain: %.1fx (vs trunc only: %.1fx)\n",
               tfb[PLAIN] / tfb[FAST], tfb[TRUNC] / tfb[FAST]);
        int T = 0;
        for (int k = 0; k < p.K; k++)
            T = p.eot[k] + 1 > T ? p.eot[k] + 1 : T;
        gemm_shapes(1 + NCTX + Ks[i] * (T - 1 - NCTX), bf16 ? bpeak : peak, bf16);
        if (bf16)
            printf("  bf16 kernel (oneDNN): %s\n", coop_clip_bf16_impl(t.bf16));
        free_prompts(&p);
    }
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\nload average at end %.2f; sgemm peak re-measured %.1f GFLOP/s; max RSS %.2f GB\n",
           load[0], coop_sgemm_peak_gflops(1536), ru.ru_maxrss / 1048576.0);
    coop_clip_text_free(&t, arena);
    return 0;
}
