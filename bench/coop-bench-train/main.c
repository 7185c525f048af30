/* coop-bench-train: seconds per CoOp training iteration (batch 32, M = 16,
 * class token at the end, unified context) for a ViT-B/16-shaped CLIP with
 * random weights and 37, 100 and 1000 classes, measured through the real
 * `clip` backbone and `coop` prompt plugins and coop_train_prompt itself (the
 * runner's default `views` mode: precomputed image features served by the
 * fetch callback), for the whole iteration and the text side alone, with the
 * speed-up over the published PyTorch implementation on the same machine;
 * plus the extra cost of the `online` mode (32 images through the ViT-B/16
 * image tower per iteration). --official runs the official PyTorch code
 * (bench/official/) beside each row with the same shapes and threads;
 * --method cocoop measures the cocoop plugin's training step (K = 50, batch
 * 1 unless --classes / --batch say otherwise) with images/s and the growth
 * of the peak resident set. A benchmark, not a test: it prints numbers and
 * asserts nothing. See docs/performance.md. */
#define _POSIX_C_SOURCE 200809L
#include "coop/checkpoint.h"
#include "coop/clip.h"
#include "coop/cpu.h"
#include "coop/loader.h"
#include "coop/nn.h"
#include "coop/plugin.h"
#include "coop/train.h"
#include "coop/util.h"
#include "coop_config.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define N_CTX 16

/* What one run measures: the method (the `coop` or the `cocoop` prompt
 * plugin), its batch size and context length. */
struct method {
    const char *name; /* prompt plugin */
    int batch, n_ctx;
};

/* Published PyTorch CoOp on this machine (2 cores, fp32), seconds/iteration. */
struct torch_ref {
    int K;
    double iter_s, text_s; /* text_s < 0: not published */
};
static const struct torch_ref torch_refs[] = {{37, 12.5, 4.4}, {100, 18.5, -1.0}};

/* Oxford-IIIT Pets, the 37-class dataset of the published figure. */
static const char *const pets[37] = {
    "abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle",
    "bengal", "birman", "bombay", "boxer", "british_shorthair", "chihuahua", "egyptian_mau",
    "english_cocker_spaniel", "english_setter", "german_shorthaired", "great_pyrenees",
    "havanese", "japanese_chin", "keeshond", "leonberger", "maine_coon", "miniature_pinscher",
    "newfoundland", "persian", "pomeranian", "pug", "ragdoll", "russian_blue", "saint_bernard",
    "samoyed", "scottish_terrier", "shiba_inu", "siamese", "sphynx",
    "staffordshire_bull_terrier", "wheaten_terrier", "yorkshire_terrier"};

/* Words for the generated class names of K != 37 (1-4 words each). */
static const char *const mods[] = {
    "red", "black", "white", "golden", "little", "great", "common", "northern", "southern",
    "wild", "spotted", "striped", "giant", "dwarf", "mountain", "river", "sea", "desert",
    "garden", "wooden", "electric", "old", "small", "long"};
static const char *const nouns[] = {
    "fox", "owl", "shark", "beetle", "lizard", "frog", "heron", "sparrow", "salmon", "turtle",
    "spider", "snake", "rabbit", "horse", "monkey", "whale", "bridge", "tower", "guitar",
    "violin", "kettle", "lamp", "chair", "truck", "boat", "train", "clock", "helmet", "basket",
    "hammer", "camera", "bicycle", "tractor", "piano", "castle", "fountain", "mushroom",
    "orchid", "daisy", "cactus"};
#define N_MODS (sizeof mods / sizeof *mods)
#define N_NOUNS (sizeof nouns / sizeof *nouns)

static void die(const char *what, const struct coop_err *e)
{
    fprintf(stderr, "coop-bench-train: %s: %s\n", what, e ? e->msg : "failed");
    exit(1);
}

/* K class names: Oxford Pets for K = 37, otherwise distinct generated names
 * of 1-4 words ("noun", "mod noun", "mod mod noun", "mod mod mod noun";
 * weights 40/35/15/10 %), joined with '_' as dataset class names are. */
static char **class_names(int K)
{
    char **v = calloc((size_t)K, sizeof *v);
    if (!v)
        die("class names", NULL);
    struct coop_rng r;
    coop_rng_seed(&r, 1234);
    for (int k = 0; k < K; k++) {
        if (K == 37) {
            v[k] = coop_strdup(pets[k]);
            continue;
        }
        for (;;) {
            char buf[128] = "";
            double u = coop_rng_uniform(&r);
            int words = u < 0.40 ? 1 : u < 0.75 ? 2 : u < 0.90 ? 3 : 4;
            for (int w = 0; w < words - 1; w++) {
                strcat(buf, mods[coop_rng_below(&r, N_MODS)]);
                strcat(buf, "_");
            }
            strcat(buf, nouns[coop_rng_below(&r, N_NOUNS)]);
            int dup = 0;
            for (int j = 0; j < k && !dup; j++)
                dup = strcmp(v[j], buf) == 0;
            if (!dup) {
                v[k] = coop_strdup(buf);
                break;
            }
        }
    }
    return v;
}

static void names_free(char **v, int K)
{
    for (int k = 0; k < K; k++)
        free(v[k]);
    free(v);
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes the ViT-B/16-shaped random model unless path exists. */
static void ensure_model(const char *path)
{
    if (coop_file_exists(path)) {
        printf("model: reusing %s\n", path);
        return;
    }
    struct coop_clip_model m;
    struct coop_err e;
    float *tarena = NULL;
    void *vmem = NULL;
    memset(&m, 0, sizeof m);
    char *dir = coop_strdup(path), *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (*dir && coop_mkdirs(dir, &e))
            die("cache folder", &e);
    }
    free(dir);
    printf("model: writing %s (ViT-B/16 shape, random weights) ...\n", path);
    fflush(stdout);
    if (coop_clip_text_alloc(&m.text, 77, 49408, 512, 8, 12, 512, &tarena, &e))
        die("text tower", &e);
    coop_clip_text_init_random(&m.text, 16);
    m.vision_kind = COOP_CLIP_VISION_VIT;
    if (coop_clip_vit_alloc(&m.vit, &vmem, NULL, 224, 16, 768, 12, 12, 512, &e))
        die("image tower", &e);
    if (coop_clip_vit_init_hash(&m.vit, 17))
        die("image tower init", NULL);
    m.logit_scale = 4.6052f; /* ln(100), CLIP's trained value */
    snprintf(m.arch, sizeof m.arch, "ViT-B/16");
    char *tmp = coop_asprintf("%s.tmp%ld", path, (long)getpid());
    if (!tmp || coop_clip_model_save(&m, tmp, &e))
        die("saving the model", &e);
    if (rename(tmp, path) != 0)
        die("renaming the saved model", NULL);
    free(tmp);
    coop_clip_text_free(&m.text, tarena);
    coop_free(vmem);
}

static const char *find_vocab(const char *given)
{
    static char buf[4096];
    if (given)
        return coop_file_exists(given) ? given : NULL;
    const char *sd = getenv("COOP_SHARED_DIR");
    if (sd) {
        snprintf(buf, sizeof buf, "%s/clip/bpe_simple_vocab_16e6.txt.gz", sd);
        if (coop_file_exists(buf))
            return buf;
    }
    snprintf(buf, sizeof buf, "%s/../shared/clip/bpe_simple_vocab_16e6.txt.gz",
             COOP_SOURCE_ROOT);
    return coop_file_exists(buf) ? buf : NULL;
}

static void host_log(void *ctx, enum coop_log_level lv, const char *msg)
{
    (void)ctx;
    if (lv >= COOP_LOG_WARN)
        fprintf(stderr, "coop-bench-train: %s\n", msg);
}

/* ---- batch sources --------------------------------------------------------- */
struct views_src { /* precomputed features of n items, as the views cache serves */
    const float *feat;
    int E;
};

static int fetch_views(void *vctx, int epoch, const int *idx, int n, float *out,
                       struct coop_err *e)
{
    struct views_src *s = vctx;
    (void)epoch, (void)e;
    for (int j = 0; j < n; j++)
        memcpy(out + (size_t)j * s->E, s->feat + (size_t)idx[j] * s->E,
               (size_t)s->E * sizeof *out);
    coop_l2norm_forward(out, NULL, out, n, s->E);
    return 0;
}

struct online_src { /* every batch encoded through the image tower */
    struct coop_backbone_ref bb;
    const float *pixels; /* [BATCH, 3, S, S] */
    double encode_s, encode_cpu;
    int E;
};

static int fetch_online(void *vctx, int epoch, const int *idx, int n, float *out,
                        struct coop_err *e)
{
    struct online_src *s = vctx;
    (void)epoch, (void)idx;
    double t0 = coop_now(), c0 = cpu_now();
    int rc = s->bb.ops->encode_images(s->bb.bb, s->pixels, n, out, e);
    s->encode_s += coop_now() - t0;
    s->encode_cpu += cpu_now() - c0;
    if (rc == 0)
        coop_l2norm_forward(out, NULL, out, n, s->E);
    return rc;
}

/* ---- one configuration ------------------------------------------------------ */
struct result {
    int K, iters, max_eot;
    double iter_s, text_s, cpu_s;
    long rss_kb; /* growth of the peak resident set over the training, KiB */
};

/* A field of /proc/self/status in KiB (VmRSS, VmHWM), or 0. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':')
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

/* Resets the peak resident set (VmHWM) to the current one (Linux >= 4.0:
 * clear_refs 5) and returns the current resident set, KiB. */
static long rss_mark(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
    return status_kb("VmRSS");
}

static struct coop_train_args train_args(struct coop_backbone_ref bb,
                                         const struct coop_prompt_ops *pops,
                                         struct coop_prompt *p, int K, const int *labels, int n,
                                         const struct coop_backbone_info *info, int batch)
{
    struct coop_optim_config oc = {1, batch, 0, 0.002, 0.9, 5e-4, 1e-5, "constant", "none"};
    struct coop_train_args a = {bb, pops, p, K, labels, n, info->embed_dim, info->logit_scale,
                                oc, 7, NULL, NULL, NULL, NULL, NULL};
    return a;
}

static struct coop_prompt *make_prompt(struct coop_backbone_ref bb,
                                       const struct coop_prompt_ops *pops, const struct coop_host *h,
                                       const struct method *m, char **names, int K, int *max_eot)
{
    static const struct coop_kv kv[] = {{"n_ctx", "16"}, {"position", "end"}, {"csc", "false"},
                                        {"init", ""}, {"init_std", "0.02"}};
    /* cocoop as the official recipe: M = 4 from "a photo of a" */
    static const struct coop_kv ckv[] = {{"n_ctx", "4"}, {"init", "a photo of a"}};
    const bool co = strcmp(m->name, "cocoop") == 0;
    struct coop_params params = {co ? ckv : kv, co ? 2 : sizeof kv / sizeof *kv};
    struct coop_prompt_args pa = {h, &params, bb, (const char *const *)names, K, 1, NULL};
    struct coop_prompt *p = NULL;
    struct coop_err e;
    if (pops->create(&pa, &p, &e))
        die("creating the coop prompt", &e);
    *max_eot = 0;
    for (int k = 0; k < K; k++) { /* "X*M name." -> SOS, M, name, '.', EOT */
        char *s = coop_strdup(names[k]);
        for (char *c = s; *c; c++)
            *c = *c == '_' ? ' ' : *c;
        int n = bb.ops->token_count(bb.bb, s, &e);
        free(s);
        if (n < 0)
            die("token count", &e);
        *max_eot = 1 + m->n_ctx + n + 1 > *max_eot ? 1 + m->n_ctx + n + 1 : *max_eot;
    }
    return p;
}

static struct result bench_views(struct coop_backbone_ref bb, const struct coop_prompt_ops *pops,
                                 const struct coop_host *h, const struct coop_backbone_info *info,
                                 const struct method *m, int K, int iters)
{
    struct result r = {K, iters, 0, 0, 0, 0, 0};
    char **names = class_names(K);
    long rss0 = rss_mark();
    struct coop_prompt *p = make_prompt(bb, pops, h, m, names, K, &r.max_eot);
    int n = m->batch * iters, E = info->embed_dim;
    float *feat = coop_alloc_floats((size_t)n * E);
    int *labels = malloc((size_t)n * sizeof *labels);
    if (!feat || !labels)
        die("features", NULL);
    coop_hash_uniform(feat, (size_t)n * E, 99, -1.0, 1.0);
    for (int i = 0; i < n; i++)
        labels[i] = (int)(coop_mix64((uint64_t)i) % (uint64_t)K);
    struct views_src src = {feat, E};
    struct coop_train_args a = train_args(bb, pops, p, K, labels, m->batch, info, m->batch);
    a.fetch = fetch_views, a.fetch_ctx = &src;
    struct coop_train_curve c;
    struct coop_err e;
    if (coop_train_prompt(&a, &c, &e)) /* warm-up: one iteration */
        die("warm-up iteration", &e);
    coop_train_curve_free(&c);
    a.n_train = n;
    double c0 = cpu_now();
    if (coop_train_prompt(&a, &c, &e))
        die("training", &e);
    r.cpu_s = (cpu_now() - c0) / (double)c.iterations;
    r.iter_s = c.seconds / (double)c.iterations;
    r.text_s = c.text_seconds / (double)c.iterations;
    r.rss_kb = status_kb("VmHWM") - rss0;
    coop_train_curve_free(&c);
    pops->destroy(p);
    coop_free(feat);
    free(labels);
    names_free(names, K);
    return r;
}

/* Online mode: iterations whose batch is encoded by the image tower. */
static void bench_online(struct coop_backbone_ref bb, const struct coop_prompt_ops *pops,
                         const struct coop_host *h, const struct coop_backbone_info *info,
                         int iters, double out[4])
{
    const int K = 37, S = info->image_size;
    char **names = class_names(K);
    int max_eot;
    const struct method m = {"coop", BATCH, N_CTX};
    struct coop_prompt *p = make_prompt(bb, pops, h, &m, names, K, &max_eot);
    size_t np = (size_t)BATCH * 3 * S * S;
    float *px = coop_alloc_floats(np);
    int *labels = malloc((size_t)BATCH * iters * sizeof *labels);
    if (!px || !labels)
        die("pixels", NULL);
    coop_hash_uniform(px, np, 5, -1.8, 2.1); /* the normalised pixel range */
    for (int i = 0; i < BATCH * iters; i++)
        labels[i] = i % K;
    struct online_src src = {bb, px, 0.0, 0.0, info->embed_dim};
    struct coop_train_args a = train_args(bb, pops, p, K, labels, BATCH * iters, info, BATCH);
    a.fetch = fetch_online, a.fetch_ctx = &src;
    struct coop_train_curve c;
    struct coop_err e;
    double c0 = cpu_now();
    if (coop_train_prompt(&a, &c, &e))
        die("online training", &e);
    double it = (double)c.iterations;
    out[0] = c.seconds / it, out[1] = src.encode_s / it;
    out[2] = (cpu_now() - c0) / it, out[3] = src.encode_cpu / it;
    coop_train_curve_free(&c);
    pops->destroy(p);
    coop_free(px);
    free(labels);
    names_free(names, K);
}

static const struct torch_ref *torch_for(int K)
{
    for (size_t i = 0; i < sizeof torch_refs / sizeof *torch_refs; i++)
        if (torch_refs[i].K == K)
            return &torch_refs[i];
    return NULL;
}

static void print_threads(void)
{
    const char *omp = getenv("OMP_NUM_THREADS"), *ob = getenv("OPENBLAS_NUM_THREADS");
    int (*ob_get)(void) = NULL, (*omp_get)(void) = NULL;
    void *s1 = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    void *s2 = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    if (s1) /* object -> function pointer without the cast ISO C forbids */
        memcpy(&ob_get, &s1, sizeof ob_get);
    if (s2)
        memcpy(&omp_get, &s2, sizeof omp_get);
    printf("threads: %ld cores online; OpenMP %d (OMP_NUM_THREADS=%s); OpenBLAS %d "
           "(OPENBLAS_NUM_THREADS=%s)\n", sysconf(_SC_NPROCESSORS_ONLN), omp_get ? omp_get() : 1,
           omp ? omp : "unset", ob_get ? ob_get() : -1, ob ? ob : "unset");
    double la[3];
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) == 3)
    {
        printf("load average: %.2f %.2f %.2f%s\n", la[0], la[1], la[2],
               la[0] > 2.5 ? "  (other jobs are running: wall times are pessimistic)" : "");
        if (la[0] > (double)sysconf(_SC_NPROCESSORS_ONLN) && !getenv("OMP_WAIT_POLICY") &&
            (!omp || atoi(omp) != 1))
            printf("hint: on a busy machine spinning threads waste time at every barrier: "
                   "try OMP_WAIT_POLICY=passive or OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1\n");
    }
    if (f)
        fclose(f);
}

/* ---- the official code beside ----------------------------------------------- */
struct official {
    double iter_s, text_s, cpu_s; /* negative: not measured */
    double model_mib, peak_mib;   /* peak resident set: after the model, at the end */
};

/* Runs bench/official/coop_official.py (or cocoop_official.py) with the same
 * shapes and thread count, OMP_WAIT_POLICY=passive, and reads its figures. */
static struct official run_official(const struct method *m, int K, int threads, int iters)
{
    struct official o = {-1.0, -1.0, -1.0, -1.0, -1.0};
    const bool co = strcmp(m->name, "cocoop") == 0;
    char script[4096], cmd[8192];
    snprintf(script, sizeof script, "%s/bench/official/%s_official.py", COOP_SOURCE_ROOT,
             m->name);
    if (access("/usr/bin/python3", X_OK) != 0 || access(script, R_OK) != 0) {
        fprintf(stderr, "coop-bench-train: --official needs /usr/bin/python3 (with torch) and "
                        "%s\n", script);
        return o;
    }
    if (co)
        snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=passive /usr/bin/python3 '%s' %d %d %d %d",
                 script, K, m->batch, threads, iters);
    else
        snprintf(cmd, sizeof cmd,
                 "OMP_WAIT_POLICY=passive /usr/bin/python3 '%s' %d %d %d end unified %d %d",
                 script, K, m->batch, m->n_ctx, threads, iters);
    FILE *p = popen(cmd, "r");
    if (!p)
        return o;
    char line[256];
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "iter_s %lf", &o.iter_s) != 1 &&
            sscanf(line, "text_s %lf", &o.text_s) != 1 &&
            sscanf(line, "cpu_s %lf", &o.cpu_s) != 1 &&
            sscanf(line, "model_mib %lf", &o.model_mib) != 1)
            sscanf(line, "maxrss_mib %lf", &o.peak_mib);
    if (pclose(p) != 0 || o.iter_s <= 0)
        fprintf(stderr, "coop-bench-train: the official script failed (killed for memory?): "
                        "%s\n", cmd);
    return o;
}

static void print_official(const struct method *m, const struct result *r,
                           const struct official *o, int threads)
{
    if (o->iter_s <= 0)
        return;
    printf("%6s official PyTorch fp32, %d threads: iter s %.3f, text s %.3f, cpu s %.3f; "
           "coop %.1fx faster (text %.1fx, cpu %.1fx)\n", "", threads, o->iter_s, o->text_s,
           o->cpu_s, o->iter_s / r->iter_s, o->text_s / r->text_s, o->cpu_s / r->cpu_s);
    printf("%6s official peak resident set: +%.1f MiB above its model\n", "",
           o->peak_mib - o->model_mib);
    if (strcmp(m->name, "cocoop") == 0)
        printf("%6s images/s: coop %.2f, official %.3f (%.1fx per image)\n", "",
               m->batch / r->iter_s, m->batch / o->iter_s, o->iter_s / r->iter_s);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coop-bench-train [--quick] [--iters N] [--classes K1,K2,..] [--no-online]\n"
            "                        [--precision fp32|bf16] [--method coop|cocoop] [--batch N]\n"
            "                        [--official] [--vocab FILE] [--cache FILE]\n"
            "  --quick      fewer timed iterations (2; 1 for K >= 500 and online)\n"
            "  --iters N    timed iterations per class count (default 5; 3 for K >= 500)\n"
            "  --classes    class counts (default 37,100,1000)\n"
            "  --no-online  skip the online-augmentation measurement\n"
            "  --precision  the clip backbone's precision option (default fp32; bf16 runs the\n"
            "               towers' weight products in bf16 through oneDNN)\n"
            "  --method     coop (default: M = 16, end, unified) or cocoop (M = 4 from \"a photo\n"
            "               of a\", meta-net; default classes 50, batch 1; no online mode)\n"
            "  --batch N    images per iteration (default 32 for coop, 1 for cocoop)\n"
            "  --official   run the official code (bench/official/, /usr/bin/python3 with torch,\n"
            "               fp32) beside each row with the same shapes and thread count\n"
            "  --vocab      CLIP BPE vocab (default $COOP_SHARED_DIR/clip/ or "
            "../shared/clip/bpe_simple_vocab_16e6.txt.gz)\n"
            "  --cache      random model file (default /tmp/coop-bench/vitb16-random.safetensors)\n"
            "  --version, --help\n"
            "Example: coop-bench-train --quick --classes 37,100\n"
            "Exit status: 0 measured, 1 the benchmark failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    int quick = 0, iters = 0, online = 1, Ks[16] = {37, 100, 1000}, nK = 3, official = 0;
    int batch = 0, classes_given = 0;
    const char *vocab_arg = NULL, *cache = "/tmp/coop-bench/vitb16-random.safetensors";
    const char *precision = "fp32";
    struct method m = {"coop", BATCH, N_CTX};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--official"))
            official = 1;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc && atoi(argv[i + 1]) > 0)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--method") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "coop") || !strcmp(argv[i + 1], "cocoop")))
            m.name = argv[++i];
        else if (!strcmp(argv[i], "--no-online"))
            online = 0;
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc)
            vocab_arg = argv[++i];
        else if (!strcmp(argv[i], "--cache") && i + 1 < argc)
            cache = argv[++i];
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "fp32") || !strcmp(argv[i + 1], "bf16")))
            precision = argv[++i];
        else if (!strcmp(argv[i], "--classes") && i + 1 < argc) {
            nK = 0, classes_given = 1;
            for (char *s = argv[++i]; *s && nK < 16;) {
                Ks[nK++] = (int)strtol(s, &s, 10);
                if (Ks[nK - 1] <= 0) {
                    usage(stderr);
                    return 2;
                }
                s += *s == ',';
            }
        } else if (!strcmp(argv[i], "--version")) {
            printf("coop-bench-train %s\n", coop_version_string());
            return 0;
        } else {
            int help = !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
            usage(help ? stdout : stderr);
            return help ? 0 : 2;
        }
    }
    if (!strcmp(m.name, "cocoop")) { /* the CoCoOp benchmark's shapes: K = 50, batch 1 */
        m.batch = 1, m.n_ctx = 4, online = 0;
        if (!classes_given)
            Ks[0] = 50, nK = 1;
    }
    m.batch = batch > 0 ? batch : m.batch;
    printf("%s\n", blas); /* the benchmark shows the kernels it measured */
    const char *vocab = find_vocab(vocab_arg);
    if (!vocab) {
        fprintf(stderr, "coop-bench-train: the CLIP BPE vocabulary bpe_simple_vocab_16e6.txt.gz "
                        "is missing (%s); pass --vocab FILE or set COOP_SHARED_DIR\n",
                vocab_arg ? vocab_arg : "looked in $COOP_SHARED_DIR/clip and ../shared/clip");
        return 1;
    }
    printf("coop-bench-train: %s iteration, batch %d, M = %d, end, %s, "
           "ViT-B/16 shape, random weights, %s\n", strcmp(m.name, "cocoop") ? "CoOp" : "CoCoOp",
           m.batch, m.n_ctx, strcmp(m.name, "cocoop") ? "unified context" : "meta-net",
           precision);
    print_threads();
    const char *tenv = getenv("OMP_NUM_THREADS");
    const int threads = tenv && atoi(tenv) > 0 ? atoi(tenv) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    printf("vocab: %s\n", vocab);
    ensure_model(cache);

    struct coop_err e;
    struct coop_registry *reg = NULL;
    if (coop_registry_create(&reg, &e) || coop_registry_discover(reg, NULL, 0, &e))
        die("plugin discovery", &e);
    const struct coop_plugin *bp = coop_registry_find(reg, COOP_PLUGIN_BACKBONE, "clip");
    const struct coop_plugin *pp = coop_registry_find(reg, COOP_PLUGIN_PROMPT, m.name);
    if (!bp || !pp) {
        coop_registry_explain(reg, bp ? COOP_PLUGIN_PROMPT : COOP_PLUGIN_BACKBONE,
                              bp ? m.name : "clip", &e);
        die("plugins", &e);
    }
    const struct coop_backbone_ops *bops = coop_plugin_backbone(bp, &e);
    const struct coop_prompt_ops *pops = bops ? coop_plugin_prompt(pp, &e) : NULL;
    if (!bops || !pops)
        die("plugin tables", &e);
    struct coop_host host = {COOP_HOST_VERSION, NULL, host_log, NULL};
    const struct coop_kv okv[] = {{"hash_checkpoint", "false"}, {"precision", precision}};
    struct coop_params opts = {okv, 2};
    struct coop_backbone_ref bb = {bops, NULL};
    if (bops->open(&host, cache, vocab, &opts, &bb.bb, &e))
        die("opening the model through the clip plugin", &e);
    struct coop_backbone_info info;
    bops->info(bb.bb, &info);
    printf("plugins: clip %s, %s %s (from the registry); arch %s, logit scale %.1f\n",
           bp->version, m.name, pp->version, info.arch, (double)info.logit_scale);
    printf("products: %s on %s\n", info.precision, info.matmul_isa);

    printf("\n%6s %5s %5s | %10s %10s %10s | %9s %9s | %9s %9s\n", "K", "T", "iters",
           "iter s", "text s", "cpu s", "x PyTorch", "text x", "x (cpu)", "text (cpu)");
    for (int i = 0; i < nK; i++) {
        int n = iters > 0 ? iters : quick ? (Ks[i] >= 500 ? 1 : 2) : Ks[i] >= 500 ? 3 : 5;
        struct result r = bench_views(bb, pops, &host, &info, &m, Ks[i], n);
        const struct torch_ref *t = torch_for(Ks[i]);
        char sx[32] = "n/a", tx[32] = "n/a", sc[32] = "n/a", tc[32] = "n/a";
        /* CPU-time text side: the text share of the wall time applied to the CPU time */
        double text_cpu = r.iter_s > 0 ? r.cpu_s * r.text_s / r.iter_s : 0;
        if (t) {
            snprintf(sx, sizeof sx, "%.1fx", t->iter_s / r.iter_s);
            snprintf(sc, sizeof sc, "%.1fx", t->iter_s / r.cpu_s);
        }
        if (t && t->text_s > 0) {
            snprintf(tx, sizeof tx, "%.1fx", t->text_s / r.text_s);
            snprintf(tc, sizeof tc, "%.1fx", t->text_s / text_cpu);
        }
        printf("%6d %5d %5d | %10.3f %10.3f %10.3f | %9s %9s | %9s %9s\n", r.K, r.max_eot + 1,
               r.iters, r.iter_s, r.text_s, r.cpu_s, sx, tx, sc, tc);
        printf("%6s peak resident set over the training: +%.1f MiB above the loaded model "
               "(batch %d)\n", "", (double)r.rss_kb / 1024.0, m.batch);
        fflush(stdout);
        if (official) {
            struct official o = run_official(&m, Ks[i], threads, n);
            print_official(&m, &r, &o, threads);
            fflush(stdout);
        }
    }
    printf("(T = positions computed = longest EOT + 1 of L = 77; text s = prompt build + text "
           "forward + text backward;\n cpu s = process CPU seconds per iteration, all threads; "
           "PyTorch: 12.5 s (37, text 4.4 s), 18.5 s (100);\n x (cpu): speed-up "
           "from cpu s, the time one idle core needs when run with OMP_NUM_THREADS=1 "
           "OPENBLAS_NUM_THREADS=1)\n");
    if (online) {
        double o[4];
        bench_online(bb, pops, &host, &info, quick ? 1 : 2, o);
        printf("\nonline mode (K = 37): %.3f s per iteration (cpu %.3f s), of which %.3f s "
               "(cpu %.3f s) encoding %d images through the ViT-B/16 image tower\n",
               o[0], o[2], o[1], o[3], BATCH);
    }
    bops->close(bb.bb);
    coop_registry_free(reg);
    return 0;
}
