/* bench_world.c: rendering and caption throughput of the synthetic world
 * (single thread). Prints figures; asserts nothing about time.
 * usage: bench_world [count] [sizes...]   (default 2000 images; 32 64 96 224)
 *        bench_world --captions N           (prints N example captions, for the docs) */
#include "coop/util.h"
#include "coop/world.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this process: the machine is shared, wall time is not ours. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench(int size, int count, int style)
{
    struct coop_world_constraints c;
    struct coop_world_scene s;
    struct coop_err e;
    coop_world_constraints_default(&c);
    c.style = style;
    uint8_t *rgb = malloc((size_t)size * size * 3);
    unsigned long sum = 0;
    double t0 = cpu_now();
    for (int i = 0; i < count; i++) {
        if (coop_world_scene_sample(&s, &c, (uint64_t)i + 1, &e) ||
            coop_world_render(rgb, &s, size, 4, &e)) {
            fprintf(stderr, "bench_world: %s\n", e.msg);
            free(rgb);
            return 1;
        }
        sum += rgb[(size_t)size * size * 3 / 2];
    }
    double dt = cpu_now() - t0;
    printf("render %3dx%-3d style %d ss 4: %8.0f images per CPU-second  (%.3f ms each, checksum %lu)\n", size,
           size, style, count / dt, 1e3 * dt / count, sum);
    free(rgb);
    return 0;
}

/* Captions of the first n test items of world-shapes (default config), three each. */
static int print_captions(int n)
{
    const struct coop_world_task *t = coop_world_task_find("world-shapes");
    struct coop_world_config cfg;
    struct coop_world_scene s;
    struct coop_err e;
    char cap[COOP_WORLD_CAPTION_MAX];
    int label;
    coop_world_config_default(&cfg);
    for (int i = 0; i < n; i++) {
        if (coop_world_task_item(t, &cfg, 2, (size_t)i, &s, &label, &e))
            return 1;
        printf("test/%06d:", i);
        for (uint64_t k = 0; k < 3; k++) {
            coop_world_caption(cap, sizeof cap, &s, k, &e);
            printf(" | %s", cap);
        }
        printf("\n");
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--captions") == 0)
        return print_captions(atoi(argv[2]));
    int count = argc > 1 ? atoi(argv[1]) : 2000;
    int sizes[8] = {32, 64, 96, 224}, ns = 4;
    if (argc > 2)
        for (ns = 0; ns < 8 && ns + 2 < argc; ns++)
            sizes[ns] = atoi(argv[ns + 2]);
    for (int i = 0; i < ns; i++) {
        int n = sizes[i] >= 200 ? count / 8 : count;
        for (int style = 0; style < 3; style++)
            if (bench(sizes[i], n > 0 ? n : 1, style))
                return 1;
    }
    struct coop_world_constraints c;
    struct coop_world_scene s;
    struct coop_err e;
    char cap[COOP_WORLD_CAPTION_MAX];
    coop_world_constraints_default(&c);
    coop_world_scene_sample(&s, &c, 1, &e);
    double t0 = cpu_now();
    for (int i = 0; i < count * 10; i++)
        coop_world_caption(cap, sizeof cap, &s, (uint64_t)i, &e);
    printf("captions: %.0f per CPU-second\n", count * 10 / (cpu_now() - t0));
    return 0;
}
