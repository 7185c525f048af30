/* coop-bench-vision: images per second of the CLIP image towers (ViT-B/16 and
 * RN50, randomly initialised, 224 px) at batch 1 and 32, the GFLOP/s that
 * makes, the share of this machine's measured sgemm peak, the CPU seconds
 * per image (all threads; steadier than wall time on a shared machine), and
 * PyTorch's figure for the same model when Debian's /usr/bin/python3 with
 * torch and the committed bench_torch.py are present (the column is skipped
 * otherwise). --precision bf16: the towers' weight products in bf16
 * (coop_clip_*_bf16_enable), the share against the measured bf16 peak.
 * A benchmark, not a test: it prints numbers and asserts nothing. */
#include "coop/bf16.h"
#include "coop/clip.h"
#include "coop/cpu.h"
#include "coop/nn.h"
#include "coop/util.h"
#include "coop_config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Multiply-adds per image. */
static double vit_macs(const struct coop_clip_vit *v)
{
    double W = v->width, G = v->image_size / v->patch_size, T = G * G + 1;
    double P = v->patch_size, hd = W / v->heads;
    double per_layer = T * (3 * W * W + W * W + 8 * W * W) + 2.0 * v->heads * T * T * hd;
    return G * G * 3 * P * P * W + v->layers * per_layer + W * v->embed_dim;
}

static double conv_macs(int Co, int Ci, int k, int Ho) { return (double)Co * Ci * k * k * Ho * Ho; }

static double resnet_macs(const struct coop_clip_resnet *r)
{
    int S = r->image_size, W = r->width, h = S / 2, R = h / 2;
    double m = conv_macs(W / 2, 3, 3, h) + conv_macs(W / 2, W / 2, 3, h) +
               conv_macs(W, W / 2, 3, h);
    int nb = r->layers[0] + r->layers[1] + r->layers[2] + r->layers[3];
    for (int k = 0; k < nb; k++) {
        const struct coop_clip_bottleneck *b = &r->blocks[k];
        int Ro = R / b->stride;
        m += conv_macs(b->planes, b->inplanes, 1, R) + conv_macs(b->planes, b->planes, 3, R) +
             conv_macs(4 * b->planes, b->planes, 1, Ro);
        if (b->has_downsample)
            m += conv_macs(4 * b->planes, b->inplanes, 1, Ro);
        R = Ro;
    }
    double D = 32.0 * W, T = (double)R * R + 1;
    return m + 2 * T * D * D + 2 * D * D + D * r->embed_dim + 2 * T * D;
}

/* PyTorch's images/s (and *cpu, its CPU seconds per image), or a negative
 * value when it cannot be measured. */
static double torch_rate(const char *model, int B, int reps, int threads, double *cpu)
{
    *cpu = -1.0;
    char script[4096], cmd[8192];
    snprintf(script, sizeof script, "%s/bench/coop-bench-vision/bench_torch.py",
             COOP_SOURCE_ROOT);
    if (access("/usr/bin/python3", X_OK) != 0 || access(script, R_OK) != 0)
        return -1.0;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' %s %d %d %d 2>/dev/null", script, model, B,
             reps, threads);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1.0;
    char line[256];
    double rate = -1.0;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "images_per_s %lf", &rate) != 1)
            sscanf(line, "cpu_s_per_image %lf", cpu);
    pclose(p);
    return rate;
}

struct bench {
    const char *name, *torch_name;
    int vit; /* 1: ViT, 0: ResNet */
    struct coop_clip_vit v;
    struct coop_clip_resnet r;
    double macs;
};

/* CPU seconds of this process (every thread, user + system): steadier than
 * wall time on a shared machine. */
static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
           (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

static double run_once(struct bench *b, const float *px, int B, float *feat, double *cpu)
{
    struct coop_err e;
    double c0 = cpu_seconds(), t0 = coop_now();
    int rc = b->vit ? coop_clip_vit_forward(&b->v, px, B, feat, NULL, &e)
                    : coop_clip_resnet_forward(&b->r, px, B, feat, &e);
    if (rc) {
        fprintf(stderr, "coop-bench-vision: %s: %s\n", b->name, e.msg);
        exit(1);
    }
    *cpu = cpu_seconds() - c0;
    return coop_now() - t0;
}

static void bench_model(struct bench *b, int B, int reps, double peak, const char *peak_name,
                        int threads, int torch)
{
    size_t n = (size_t)B * 3 * 224 * 224;
    int E = b->vit ? b->v.embed_dim : b->r.embed_dim;
    float *px = coop_alloc_floats(n), *feat = coop_alloc_floats((size_t)B * E);
    if (!px || !feat) {
        fprintf(stderr, "coop-bench-vision: out of memory\n");
        exit(1);
    }
    coop_hash_uniform(px, n, 7, -2.0, 2.0);
    double cpu, best_cpu = 1e30;
    run_once(b, px, B, feat, &cpu); /* warm-up */
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        double dt = run_once(b, px, B, feat, &cpu);
        best = dt < best ? dt : best;
        best_cpu = cpu < best_cpu ? cpu : best_cpu;
    }
    double ips = B / best, gflops = 2.0 * b->macs * ips / 1e9;
    printf("%-9s batch %2d  %8.2f img/s  %7.1f GFLOP/s  %5.1f%% of %s peak  %6.3f CPU s/img",
           b->name, B, ips, gflops, 100.0 * gflops / peak, peak_name, best_cpu / B);
    if (torch) {
        double tcpu, t = torch_rate(b->torch_name, B, reps, threads, &tcpu);
        if (t > 0)
            printf("  | PyTorch %8.2f img/s  (coop/PyTorch %.2fx)", t, ips / t);
        if (t > 0 && tcpu > 0)
            printf("  %6.3f CPU s/img (%.2fx)", tcpu, tcpu * B / best_cpu);
        else
            printf("  | PyTorch n/a");
    }
    printf("\n");
    fflush(stdout);
    coop_free(px);
    coop_free(feat);
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    int quick = 0, torch = 1, big = 0, only = -1, bf16 = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--no-torch"))
            torch = 0;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc && atoi(argv[i + 1]) > 0)
            big = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "vit") || !strcmp(argv[i + 1], "rn50")))
            only = !strcmp(argv[++i], "vit") ? 0 : 1;
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "fp32") || !strcmp(argv[i + 1], "bf16")))
            bf16 = !strcmp(argv[++i], "bf16");
        else if (!strcmp(argv[i], "--version")) {
            printf("coop-bench-vision %s\n", coop_version_string());
            return 0;
        } else {
            int help = !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
            fprintf(help ? stdout : stderr,
                    "usage: coop-bench-vision [--quick] [--no-torch] [--batch N] "
                    "[--model vit|rn50] [--precision fp32|bf16]\n"
                    "  --quick      one timed repetition, large batch 8 instead of 32\n"
                    "  --batch N    the large batch (default 32, 8 with --quick)\n"
                    "  --model M    only ViT-B/16 (vit) or RN50 (rn50)\n"
                    "  --no-torch   skip the PyTorch column (PyTorch runs fp32)\n"
                    "  --precision  bf16: the towers' weight products in bf16 (oneDNN)\n"
                    "  --version, --help\n"
                    "Example: coop-bench-vision --quick --model vit\n"
                    "Exit status: 0 measured, 1 the benchmark failed, 2 usage error.\n");
            return help ? 0 : 2;
        }
    }
    printf("%s\n", blas); /* the benchmark shows the kernels it measured */
    const char *env = getenv("OMP_NUM_THREADS");
    int threads = env && atoi(env) > 0 ? atoi(env) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    double peak = coop_sgemm_peak_gflops(1024);
    printf("coop-bench-vision: %d thread(s), sgemm peak %.1f GFLOP/s (1024^3), randomly "
           "initialised towers, 224 px\n", threads, peak);
    struct coop_err e;
    struct bench bs[2] = {{.name = "ViT-B/16", .torch_name = "vit_b16", .vit = 1},
                          {.name = "RN50", .torch_name = "rn50", .vit = 0}};
    void *mem[2];
    int layers[4] = {3, 4, 6, 3};
    if (coop_clip_vit_alloc(&bs[0].v, &mem[0], NULL, 224, 16, 768, 12, 12, 512, &e) ||
        coop_clip_resnet_alloc(&bs[1].r, &mem[1], NULL, 224, 64, layers, 32, 1024, &e)) {
        fprintf(stderr, "coop-bench-vision: %s\n", e.msg);
        return 1;
    }
    coop_clip_vit_init_hash(&bs[0].v, 1);
    coop_clip_resnet_init_hash(&bs[1].r, 2);
    if (bf16 && (coop_clip_vit_bf16_enable(&bs[0].v, &e) ||
                 coop_clip_resnet_bf16_enable(&bs[1].r, &e))) {
        fprintf(stderr, "coop-bench-vision: %s\n", e.msg);
        return 1;
    }
    if (bf16) {
        struct coop_cpu_features f;
        coop_cpu_detect(&f);
        peak = coop_bf16_peak_gflops(1024);
        printf("bf16 products (%s), bf16 peak %.1f GFLOP/s (squares to 1024^3)\n",
               coop_bf16_isa_name(coop_bf16_isa(&f)), peak);
    }
    bs[0].macs = vit_macs(&bs[0].v);
    bs[1].macs = resnet_macs(&bs[1].r);
    int batches[2] = {1, big ? big : quick ? 8 : 32}, reps = quick ? 1 : 3;
    for (int m = 0; m < 2; m++) {
        if (only >= 0 && m != only)
            continue;
        printf("%s: %.2f GMAC per image\n", bs[m].name, bs[m].macs / 1e9);
        for (int k = 0; k < 2; k++)
            bench_model(&bs[m], batches[k], reps, peak, bf16 ? "bf16" : "sgemm", threads, torch);
        if (bf16)
            printf("%s bf16 kernel (oneDNN): %s\n", bs[m].name,
                   coop_clip_bf16_impl(bs[m].vit ? bs[m].v.bf16 : bs[m].r.bf16));
    }
    coop_clip_vit_bf16_disable(&bs[0].v);
    coop_clip_resnet_bf16_disable(&bs[1].r);
    coop_free(mem[0]);
    coop_free(mem[1]);
    return 0;
}
