/* coop-bench-bf16: GFLOP/s of the bf16 linear layer (coop/bf16.h, oneDNN)
 * against sgemm (coop_linear_forward, OpenBLAS) at the text tower's shapes:
 * M rows (default 37 x 20 = 740) through in_proj 512 -> 1536, out_proj
 * 512 -> 512, c_fc 512 -> 2048 and c_proj 2048 -> 512. Prints the BLAS core,
 * the bf16 instruction set and oneDNN's kernel, GFLOP/s of wall time and per
 * CPU-second of the calling thread (the figure to read with one thread on a
 * shared machine), the one-off weight conversion time and the error against
 * the fp32 product. A benchmark: asserts nothing.
 * Options: --rows M, --reps N (best of N, default 10). */
#include "coop/bf16.h"
#include "coop/cpu.h"
#include "coop/nn.h"
#include "coop/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *name;
    int K, N;
} layers[] = {{"in_proj", 512, 1536}, {"out_proj", 512, 512}, {"c_fc", 512, 2048},
              {"c_proj", 2048, 512}};

static double relerr(const float *a, const float *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return m > 0 ? d / m : d;
}

/* Seconds of this thread's CPU: with one thread the steadier figure on a
 * shared machine (other jobs stretch the wall time, not this). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct best {
    double wall, cpu;
};

static void keep_best(struct best *b, double w0, double c0)
{
    b->wall = fmin(b->wall, coop_now() - w0);
    b->cpu = fmin(b->cpu, cpu_now() - c0);
}

/* Best wall and thread-CPU seconds of reps sgemm forwards. */
static struct best time_sgemm(float *out, const float *x, const float *w, const float *b,
                              int M, int K, int N, int reps)
{
    struct best t = {1e30, 1e30};
    coop_linear_forward(out, x, w, b, M, K, N); /* warm-up */
    for (int r = 0; r < reps; r++) {
        double w0 = coop_now(), c0 = cpu_now();
        coop_linear_forward(out, x, w, b, M, K, N);
        keep_best(&t, w0, c0);
    }
    return t;
}

/* The same for the bf16 layer; wall < 0 on error (printed). */
static struct best time_bf16(struct coop_bf16_linear *l, float *out, const float *x, int M,
                             int reps)
{
    struct coop_err e;
    struct best t = {1e30, 1e30};
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up, builds the primitive */
        double w0 = coop_now(), c0 = cpu_now();
        if (coop_bf16_linear_forward(l, out, x, M, &e)) {
            fprintf(stderr, "coop-bench-bf16: %s\n", e.msg);
            t.wall = -1;
            return t;
        }
        if (r >= 0)
            keep_best(&t, w0, c0);
    }
    return t;
}

static int bench_layer(int i, int M, int reps, int bf16)
{
    int K = layers[i].K, N = layers[i].N;
    size_t mk = (size_t)M * K, nk = (size_t)N * K, mn = (size_t)M * N;
    float *x = coop_alloc_floats(mk), *w = coop_alloc_floats(nk), *b = coop_alloc_floats(N);
    float *y32 = coop_alloc_floats(mn), *y16 = coop_alloc_floats(mn);
    if (!x || !w || !b || !y32 || !y16)
        return 1;
    coop_hash_uniform(x, mk, 1 + i, -1.0, 1.0);
    coop_hash_uniform(w, nk, 11 + i, -0.05, 0.05);
    coop_hash_uniform(b, N, 21 + i, -0.05, 0.05);
    double gf = 2.0 * M * K * N / 1e9;
    struct best t32 = time_sgemm(y32, x, w, b, M, K, N, reps);
    printf("%-9s %4d x %4d x %4d  sgemm %6.1f (%6.1f cpu)", layers[i].name, M, K, N,
           gf / t32.wall, gf / t32.cpu);
    int rc = 0;
    if (bf16) {
        struct coop_bf16_linear *l = NULL;
        struct coop_err e;
        double t0 = coop_now();
        rc = coop_bf16_linear_create(&l, w, b, K, N, &e);
        double tc = coop_now() - t0;
        struct best t16 = {-1, -1};
        if (rc)
            fprintf(stderr, "\ncoop-bench-bf16: %s\n", e.msg);
        else
            t16 = time_bf16(l, y16, x, M, reps);
        if (t16.wall > 0)
            printf("  bf16 %6.1f (%6.1f cpu)  x%.2f (cpu x%.2f)  error %.1e  weights %.1f ms  %s",
                   gf / t16.wall, gf / t16.cpu, t32.wall / t16.wall, t32.cpu / t16.cpu,
                   relerr(y16, y32, mn), 1e3 * tc, coop_bf16_linear_impl(l));
        rc = rc || t16.wall < 0;
        coop_bf16_linear_free(l);
    }
    printf("\n");
    coop_free(x), coop_free(w), coop_free(b), coop_free(y32), coop_free(y16);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: coop-bench-bf16 [--rows M] [--reps N] | --version | --help\n"
               "  --rows M   rows of the activation matrix (default 740)\n"
               "  --reps N   timed repetitions (default 10)\n"
               "Example: coop-bench-bf16 --rows 740 --reps 10\n"
               "Exit status: 0 measured, 1 the benchmark failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    int M = 37 * 20, reps = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc && atoi(argv[i + 1]) > 0)
            M = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc && atoi(argv[i + 1]) > 0)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("coop-bench-bf16 %s\n", coop_version_string());
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    printf("%s\n", blas); /* the benchmark shows the kernels it measured */
    struct coop_cpu_features f;
    coop_cpu_detect(&f);
    struct coop_err e;
    int bf16 = coop_bf16_check(&e) == 0;
    if (bf16)
        printf("bf16: %s\n", coop_bf16_isa_name(coop_bf16_isa(&f)));
    else
        printf("%s (sgemm only)\n", e.msg);
    const char *omp = getenv("OMP_NUM_THREADS"), *ob = getenv("OPENBLAS_NUM_THREADS");
    printf("GFLOP/s; threads: OMP_NUM_THREADS=%s (oneDNN), OPENBLAS_NUM_THREADS=%s; best of %d\n",
           omp ? omp : "unset", ob ? ob : "unset", reps);
    int rc = 0;
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++)
        rc |= bench_layer((int)i, M, reps, bf16);
    return rc ? 1 : 0;
}
