/* bench_datasets.c: figures for docs/performance.md (not a test: it
 * asserts nothing about time). Builds a synthetic ImageNet tree (C class
 * folders x N empty files) and a synthetic split_zhou file (M entries) in a
 * scratch folder, then times open (folder listing / JSON parsing) and the
 * few-shot sampler. Usage: bench_datasets [C N M] (default 1000 50 100000). */
#include "coop/data.h"
#include "coop/util.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../common/tmpdir.h"

static const struct coop_dataset_ops *find(const char *name)
{
    const char *b = getenv("COOP_BUILD_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/plugins/datasets/coop_layouts/coop-coop_layouts.so",
             b ? b : "build");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        exit(1);
    }
    coop_plugin_enum_fn fn;
    *(void **)&fn = dlsym(h, COOP_PLUGIN_ENUM_SYMBOL);
    for (uint32_t i = 0; fn(i); i++)
        if (strcmp(fn(i)->name, name) == 0)
            return fn(i)->ops;
    exit(1);
}

static void touch(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0)
        close(fd);
}

static void make_imagenet(const char *root, int C, int N)
{
    char path[1024];
    struct coop_err e;
    snprintf(path, sizeof path, "%s/imagenet/classnames.txt", root);
    snprintf(path, sizeof path, "%s/imagenet", root);
    coop_mkdirs(path, &e);
    snprintf(path, sizeof path, "%s/imagenet/classnames.txt", root);
    FILE *f = fopen(path, "w");
    for (int k = 0; k < C; k++)
        fprintf(f, "n%08d class number %d\n", k, k);
    fclose(f);
    for (int k = 0; k < C; k++)
        for (int s = 0; s < 2; s++) {
            snprintf(path, sizeof path, "%s/imagenet/images/%s/n%08d", root, s ? "val" : "train",
                     k);
            coop_mkdirs(path, &e);
            int n = s ? 2 : N;
            for (int i = 0; i < n; i++) {
                snprintf(path, sizeof path, "%s/imagenet/images/%s/n%08d/n%08d_%06d.JPEG", root,
                         s ? "val" : "train", k, k, i);
                touch(path);
            }
        }
}

static void make_zhou(const char *root, int M)
{
    char path[1024];
    struct coop_err e;
    snprintf(path, sizeof path, "%s/food-101/images", root);
    coop_mkdirs(path, &e);
    snprintf(path, sizeof path, "%s/food-101/split_zhou_Food101.json", root);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"train\": [");
    for (int i = 0; i < M; i++)
        fprintf(f, "%s[\"class_%d/%07d.jpg\", %d, \"class_%d\"]", i ? ", " : "", i % 101, i,
                i % 101, i % 101);
    fprintf(f, "], \"val\": [], \"test\": []}\n");
    fclose(f);
}

int main(int argc, char **argv)
{
    int C = argc > 1 ? atoi(argv[1]) : 1000, N = argc > 2 ? atoi(argv[2]) : 50;
    int M = argc > 3 ? atoi(argv[3]) : 100000;
    char root[256];
    if (coop_test_tmpdir(root, sizeof root, "bench-datasets"))
        return 1;
    double t0 = coop_now();
    make_imagenet(root, C, N);
    make_zhou(root, M);
    printf("setup: %d classes x %d files + %d-entry split file in %.1f s\n", C, N, M,
           coop_now() - t0);

    struct coop_err e;
    struct coop_dataset_ref d = {find("imagenet"), NULL};
    t0 = coop_now();
    if (d.ops->open(NULL, root, NULL, &d.ds, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double t = coop_now() - t0;
    size_t n = d.ops->split_size(d.ds, COOP_SPLIT_TRAIN) + d.ops->split_size(d.ds, COOP_SPLIT_TEST);
    printf("imagenet open (listing): %zu items in %.3f s = %.0f items/s\n", n, t, (double)n / t);
    struct coop_fewshot fs;
    struct coop_fewshot_opts o = {"imagenet", 16, 1, -1, NULL, NULL, false};
    t0 = coop_now();
    if (coop_fewshot_sample(&fs, d, &o, NULL, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    printf("few-shot sample K=16: %zu items in %.3f s\n", fs.train.n, coop_now() - t0);
    coop_fewshot_free(&fs);
    d.ops->close(d.ds);

    struct coop_kv kv[] = {{"check_files", "false"}};
    struct coop_params p = {kv, 1};
    d.ops = find("food101");
    t0 = coop_now();
    if (d.ops->open(NULL, root, &p, &d.ds, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    t = coop_now() - t0;
    printf("split_zhou open (JSON parse + checks, check_files=false): %d entries in %.3f s\n", M,
           t);
    d.ops->close(d.ds);
    return coop_test_rmtree(root) == 0 ? 0 : 1;
}
