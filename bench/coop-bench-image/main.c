/* coop-bench-image: images/s of load + CLIP preprocessing for one file
 * (default: the 500x375 JPEG fixture), single thread. Prints figures only;
 * nothing is asserted. Wall and thread-CPU time are both reported. Usage: coop-bench-image [-n N] [file] */
#include "coop/image.h"
#include "coop/util.h"
#include "coop_config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU seconds of this thread: less disturbed than wall time on a busy machine. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum bench_kind { BENCH_DECODE, BENCH_EVAL, BENCH_TRAIN };

static int run_one(enum bench_kind k, const char *path, uint8_t *rgb, float *chw,
                   struct coop_rng *rng, struct coop_err *e)
{
    struct coop_image img;
    int rc = coop_image_load(&img, path, e);
    if (rc == 0 && k == BENCH_EVAL)
        rc = coop_image_clip_eval_rgb8(rgb, &img, 224, e);
    if (rc == 0 && k == BENCH_TRAIN)
        rc = coop_image_clip_train_rgb8(rgb, &img, 224, 0.08, rng, e);
    if (rc == 0 && k != BENCH_DECODE)
        coop_image_normalize(chw, rgb, 224, coop_clip_mean, coop_clip_std);
    coop_image_free(&img);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: coop-bench-image [-n N] [FILE] | --version | --help\n"
               "  -n N   iterations (default 200); FILE: a JPEG or PNG (default the fixture)\n"
               "Example: coop-bench-image -n 200 tests/fixtures/image/bench_500x375.jpg\n"
               "Exit status: 0 measured, 1 the benchmark failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    int n = 200;
    const char *path = COOP_SOURCE_ROOT "/tests/fixtures/image/bench_500x375.jpg";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("coop-bench-image %s\n", coop_version_string());
            return 0;
        } else if (argv[i][0] == '-') {
            usage(stderr);
            return 2;
        } else
            path = argv[i];
    }
    static uint8_t rgb[224 * 224 * 3];
    static float chw[3 * 224 * 224];
    struct coop_rng rng;
    coop_rng_seed(&rng, 1);
    struct coop_err e;
    struct coop_image probe;
    if (coop_image_load(&probe, path, &e)) {
        fprintf(stderr, "coop-bench-image: %s\n", e.msg);
        return 1;
    }
    printf("file %s: %dx%d mode %s, %d iterations, 1 thread\n", path, probe.w, probe.h,
           coop_image_mode_name(probe.mode), n);
    coop_image_free(&probe);
    static const char *const names[] = {"decode only", "decode + eval transform + normalize",
                                        "decode + train transform + normalize"};
    for (int k = BENCH_DECODE; k <= BENCH_TRAIN; k++) {
        double t0 = coop_now(), c0 = cpu_now();
        for (int i = 0; i < n; i++)
            if (run_one((enum bench_kind)k, path, rgb, chw, &rng, &e)) {
                fprintf(stderr, "coop-bench-image: %s\n", e.msg);
                return 1;
            }
        double dt = coop_now() - t0, dc = cpu_now() - c0;
        printf("%-38s %7.1f images/s wall (%.3f ms/image), %7.1f per CPU-second (%.3f ms)\n",
               names[k], n / dt, 1e3 * dt / n, n / dc, 1e3 * dc / n);
    }
    return 0;
}
