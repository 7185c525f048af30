/* test_featcache.c: the feature cache: persistence, invalidation by key (a
 * changed checkpoint or preprocessing is another key, hence another file),
 * a torn last record from a killed writer; torn files (zero bytes, half a
 * header, bad magic) rebuilt once with a warning; damaged tails cut off; a
 * foreign header refused; a full disk leaving nothing broken behind; and a
 * sweep resumed with half its feature cache gone is bit-identical. */
#include "coop/featcache.h"
#include "coop/loader.h"
#include "coop/matrix.h"
#include "coop/results.h"
#include "coop/run.h"
#include "coop/util.h"
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

#define FC_TEST_HEADER 56 /* the file header's bytes (featcache.c) */

static char dir[256];

START_TEST(persist_invalidate_and_recover)
{
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "featcache"), 0);
    struct coop_featcache *c;
    struct coop_err e;
    const char *key = "checkpoint=aaa\npreprocess=v1\nview=0\n";
    float f[3][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
    ck_assert_int_eq(coop_featcache_open(dir, key, 10, 4, &c, &e), 0);
    ck_assert(!coop_featcache_has(c, 2));
    ck_assert_int_eq(coop_featcache_put(c, 2, f[0], &e), 0);
    ck_assert_int_eq(coop_featcache_put(c, 7, f[1], &e), 0);
    ck_assert_int_eq(coop_featcache_put(c, 9, f[2], &e), 0);
    ck_assert_int_eq(coop_featcache_put(c, 10, f[2], &e), COOP_E_INVAL);
    char *path = coop_strdup(coop_featcache_path(c));
    coop_featcache_close(c);
    /* persisted */
    ck_assert_int_eq(coop_featcache_open(dir, key, 10, 4, &c, &e), 0);
    ck_assert_uint_eq(coop_featcache_count(c), 3);
    ck_assert(memcmp(coop_featcache_get(c, 7), f[1], sizeof f[1]) == 0);
    coop_featcache_close(c);
    /* another checkpoint or preprocessing: another file, nothing reused */
    ck_assert_int_eq(coop_featcache_open(dir, "checkpoint=bbb\npreprocess=v1\nview=0\n", 10, 4,
                                         &c, &e), 0);
    ck_assert_str_ne(coop_featcache_path(c), path);
    ck_assert_uint_eq(coop_featcache_count(c), 0);
    coop_featcache_close(c);
    /* a killed writer's torn record is dropped, the rest kept, appends go on */
    FILE *fp = fopen(path, "r+b");
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fclose(fp);
    ck_assert_int_eq(truncate(path, len - 5), 0);
    ck_assert_int_eq(coop_featcache_open(dir, key, 10, 4, &c, &e), 0);
    ck_assert_uint_eq(coop_featcache_count(c), 2);
    ck_assert_ptr_nonnull(coop_featcache_warning(c));
    ck_assert_ptr_nonnull(strstr(coop_featcache_warning(c), path));
    ck_assert(!coop_featcache_has(c, 9));
    ck_assert_int_eq(coop_featcache_put(c, 9, f[2], &e), 0);
    coop_featcache_close(c);
    ck_assert_int_eq(coop_featcache_open(dir, key, 10, 4, &c, &e), 0);
    ck_assert_uint_eq(coop_featcache_count(c), 3);
    ck_assert(memcmp(coop_featcache_get(c, 9), f[2], sizeof f[2]) == 0);
    ck_assert_ptr_null(coop_featcache_warning(c));
    coop_featcache_close(c);
    /* a different item count for the same key is refused, naming the file */
    ck_assert_int_eq(coop_featcache_open(dir, key, 11, 4, &c, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, path));
    /* so is another key's whole header under this key's name: no accident
     * makes one (the name is 96 bits of the key's digest); nothing touched */
    ck_assert_int_eq(coop_featcache_open(dir, "checkpoint=bbb\npreprocess=v1\nview=0\n", 10,
                                         4, &c, &e), 0);
    char *path_b = coop_strdup(coop_featcache_path(c));
    coop_featcache_close(c);
    ck_assert_int_eq(rename(path, path_b), 0);
    ck_assert_int_eq(coop_featcache_open(dir, "checkpoint=bbb\npreprocess=v1\nview=0\n", 10,
                                         4, &c, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, path_b));
    ck_assert_ptr_nonnull(strstr(e.msg, "does not match this key"));
    free(path_b);
    free(path);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

/* Entries of a folder, hidden ones too. */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static const char *key_a = "checkpoint=aaa\npreprocess=v1\nview=0\n";

/* Opens key_a's cache (10 items of 4 floats) and returns its path. */
static char *open_a(struct coop_featcache **c)
{
    struct coop_err e;
    ck_assert_int_eq(coop_featcache_open(dir, key_a, 10, 4, c, &e), 0);
    return coop_strdup(coop_featcache_path(*c));
}

static long file_size(const char *path)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return n;
}

static void write_bytes(const char *path, const char *mode, const void *p, size_t n)
{
    FILE *fp = fopen(path, mode);
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(p, 1, n, fp), n);
    fclose(fp);
}

/* Opening must rebuild the file by itself, once, with a warning naming it. */
static void expect_rebuilt(const char *path, const char *what)
{
    struct coop_featcache *c;
    struct coop_err e;
    float f[4] = {1, 2, 3, 4};
    ck_assert_msg(coop_featcache_open(dir, key_a, 10, 4, &c, &e) == 0, "%s: %s", what, e.msg);
    ck_assert_msg(coop_featcache_warning(c) && strstr(coop_featcache_warning(c), path),
                  "%s: no warning naming the file", what);
    ck_assert_uint_eq(coop_featcache_count(c), 0);
    ck_assert_int_eq(coop_featcache_put(c, 4, f, &e), 0);
    coop_featcache_close(c);
    ck_assert_int_eq(coop_featcache_open(dir, key_a, 10, 4, &c, &e), 0);
    ck_assert_msg(!coop_featcache_warning(c), "%s: warned again", what);
    ck_assert_uint_eq(coop_featcache_count(c), 1);
    ck_assert(memcmp(coop_featcache_get(c, 4), f, sizeof f) == 0);
    coop_featcache_close(c);
}

START_TEST(torn_files_are_rebuilt_once)
{
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "featcache"), 0);
    struct coop_featcache *c;
    char *path = open_a(&c);
    coop_featcache_close(c);
    /* zero bytes (what a full disk left before), half a header, bad magic */
    write_bytes(path, "wb", "", 0);
    expect_rebuilt(path, "zero-byte file");
    ck_assert_int_eq(truncate(path, 20), 0);
    expect_rebuilt(path, "half a header");
    write_bytes(path, "r+b", "garbage!", 8);
    expect_rebuilt(path, "bad magic");
    /* no temporary file is left beside it */
    ck_assert_int_eq(count_entries(dir), 1);
    free(path);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

START_TEST(damaged_tail_is_cut_off)
{
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "featcache"), 0);
    struct coop_featcache *c;
    struct coop_err e;
    float f[3][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
    char *path = open_a(&c);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(coop_featcache_put(c, (size_t)i, f[i], &e), 0);
    coop_featcache_close(c);
    long len = file_size(path), rec = (len - 56) / 3;
    ck_assert_int_eq(rec, 8 + 16 + 8);
    /* one float of the last record changed: its checksum fails */
    FILE *fp = fopen(path, "r+b");
    fseek(fp, len - 12, SEEK_SET);
    fputc(0x7f, fp);
    fclose(fp);
    ck_assert_int_eq(coop_featcache_open(dir, key_a, 10, 4, &c, &e), 0);
    ck_assert_uint_eq(coop_featcache_count(c), 2);
    ck_assert(!coop_featcache_has(c, 2));
    ck_assert_ptr_nonnull(coop_featcache_warning(c));
    coop_featcache_close(c);
    ck_assert_int_eq(file_size(path), len - rec);
    /* a zero-filled tail (a file system's answer to a crash) reads as index 0 */
    char zeros[64] = {0};
    write_bytes(path, "ab", zeros, (size_t)rec);
    ck_assert_int_eq(coop_featcache_open(dir, key_a, 10, 4, &c, &e), 0);
    ck_assert_uint_eq(coop_featcache_count(c), 2);
    ck_assert(memcmp(coop_featcache_get(c, 0), f[0], sizeof f[0]) == 0);
    ck_assert_ptr_nonnull(coop_featcache_warning(c));
    coop_featcache_close(c);
    free(path);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

/* Sets the file size limit; 0 restores the one the test started with. */
/* The child's appends of n records of dim floats (record i filled with i). */
static void append_records(size_t n, int dim)
{
    struct coop_featcache *c;
    struct coop_err e;
    float *f = malloc((size_t)dim * sizeof *f);
    if (!f || coop_featcache_open(dir, key_a, n, dim, &c, &e) != 0)
        _exit(1);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < dim; j++)
            f[j] = (float)i;
        if (coop_featcache_put(c, i, f, &e) != 0)
            _exit(2);
    }
    coop_featcache_close(c);
    free(f);
    _exit(0);
}

/* Readers that open while another process appends (issue 15) never take
 * the record in flight for a torn tail and cut it off: records are 256 KiB,
 * so each write spans many pages. */
START_TEST(readers_never_cut_an_appenders_record)
{
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "featcache"), 0);
    enum { N = 48, DIM = 1 << 16 };
    struct coop_featcache *c;
    struct coop_err e;
    ck_assert_int_eq(coop_featcache_open(dir, key_a, N, DIM, &c, &e), 0);
    coop_featcache_close(c);
    fflush(NULL);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        append_records(N, DIM);
    int st, opens = 0;
    size_t warnings = 0;
    for (bool done = false; !done; opens++) {
        done = waitpid(child, &st, WNOHANG) == child;
        ck_assert_msg(coop_featcache_open(dir, key_a, N, DIM, &c, &e) == 0, "%s", e.msg);
        if (coop_featcache_warning(c) && warnings++ == 0)
            printf("open %d while appending: %s\n", opens, coop_featcache_warning(c));
        coop_featcache_close(c);
    }
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_uint_eq(warnings, 0);
    ck_assert_int_eq(coop_featcache_open(dir, key_a, N, DIM, &c, &e), 0);
    ck_assert_uint_eq(coop_featcache_count(c), N);
    for (size_t i = 0; i < N; i++)
        ck_assert(coop_featcache_get(c, i)[DIM - 1] == (float)i);
    coop_featcache_close(c);
    printf("%d opens while another process appended %d records\n", opens, N);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

static void set_file_limit(rlim_t n)
{
    static struct rlimit orig;
    static int saved;
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
    if (!saved)
        orig = rl, saved = 1;
    rl.rlim_cur = n ? n : orig.rlim_cur;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* A full disk (here: the file size limit, EFBIG) fails the call that hits it
 * and leaves nothing that fails the next run. */
START_TEST(full_disk_leaves_no_broken_file)
{
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "featcache"), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct coop_featcache *c;
    struct coop_err e;
    float f[4] = {1, 2, 3, 4};
    /* the header cannot be written: an error, and no file under the name */
    set_file_limit(10);
    ck_assert_int_eq(coop_featcache_open(dir, key_a, 10, 4, &c, &e), COOP_E_IO);
    ck_assert_int_eq(count_entries(dir), 0);
    set_file_limit(0);
    char *path = open_a(&c);
    ck_assert_ptr_null(coop_featcache_warning(c));
    ck_assert_int_eq(coop_featcache_put(c, 1, f, &e), 0);
    /* a record that only half fits fails, and is not left half-written */
    long len = file_size(path);
    set_file_limit((rlim_t)len + 10);
    ck_assert_int_eq(coop_featcache_put(c, 2, f, &e), COOP_E_IO);
    ck_assert(!coop_featcache_has(c, 2));
    set_file_limit(0);
    ck_assert_int_eq(file_size(path), len);
    ck_assert_int_eq(coop_featcache_put(c, 3, f, &e), 0);
    coop_featcache_close(c);
    ck_assert_int_eq(coop_featcache_open(dir, key_a, 10, 4, &c, &e), 0);
    ck_assert_ptr_null(coop_featcache_warning(c));
    ck_assert_uint_eq(coop_featcache_count(c), 2);
    ck_assert(coop_featcache_has(c, 1) && coop_featcache_has(c, 3));
    coop_featcache_close(c);
    signal(SIGXFSZ, old_handler);
    free(path);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

/* ---- resume after losing half the cache ------------------------------------
 * A sweep on the synthetic world with the shipped CLIP, run uninterrupted;
 * then the same sweep into another folder whose cache holds every other
 * record of the first one's files: the images recomputed now share their
 * batches with other images than before, and every trial's numbers must
 * still be the same bits. */
static char tmp[256];

static void run_sweep(const char *yaml, const char *cache)
{
    struct coop_registry *r = NULL;
    struct coop_err e;
    ck_assert_int_eq(coop_registry_create(&r, &e), 0);
    ck_assert_int_eq(coop_registry_discover(r, NULL, 0, &e), 0);
    struct coop_matrix_resolver res;
    coop_run_resolver(r, &res);
    struct coop_matrix *m = NULL;
    ck_assert_msg(coop_matrix_load(yaml, &res, &m, &e) == 0, "%s", e.msg);
    struct coop_run_options o = {.cache_dir = cache, .out = stderr};
    struct coop_run_summary s;
    ck_assert_msg(coop_run_sweep(m, r, &o, &s, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(s.failed, 0);
    ck_assert_uint_eq(s.completed, 9);
    coop_run_summary_free(&s);
    coop_matrix_free(m);
    coop_registry_free(r);
}

static char *write_sweep(const char *name)
{
    const char *root = getenv("COOP_SOURCE_ROOT");
    char *yaml = coop_asprintf("%s/%s.yaml", tmp, name);
    FILE *f = fopen(yaml, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "experiment: resume\nresults_dir: %s/%s\n"
            "backbone: {plugin: clip, checkpoint: %s/models/world-clip/world-clip.safetensors,"
            " vocab: %s/models/world-clip/bpe_world.txt.gz}\n"
            "datasets: [{name: world-textures, options: {train_per_class: 8, test_per_class: 8}}]\n"
            "methods: [{name: coop, n_ctx: 4}, {name: linear_probe}, {name: zeroshot}]\n"
            "shots: [1, 4]\nseeds: [1, 2]\n"
            "train: {epochs: 10, lr: 0.002, batch_size: 8}\n"
            "augment: {mode: views, views: 2}\n",
            tmp, name, root, root);
    fclose(f);
    return yaml;
}

/* Copies every .feat file of from/ to to/ with only its even-numbered records;
 * returns the records dropped. */
static size_t copy_half(const char *from, const char *to)
{
    const size_t rec = 8 + 64 * sizeof(float) + 8; /* the world CLIP: 64 floats */
    ck_assert_int_eq(mkdir(to, 0755), 0);
    DIR *d = opendir(from);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    size_t dropped = 0;
    static char buf[272];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strstr(de->d_name, ".feat"))
            continue;
        char *src = coop_asprintf("%s/%s", from, de->d_name);
        char *dst = coop_asprintf("%s/%s", to, de->d_name);
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
        ck_assert(in && out);
        ck_assert_uint_eq(fread(buf, 1, FC_TEST_HEADER, in), FC_TEST_HEADER);
        fwrite(buf, 1, FC_TEST_HEADER, out);
        for (size_t k = 0; fread(buf, 1, rec, in) == rec; k++)
            if (k % 2 == 0)
                fwrite(buf, 1, rec, out);
            else
                dropped++;
        ck_assert(feof(in));
        fclose(in), fclose(out);
        free(src), free(dst);
    }
    closedir(d);
    return dropped;
}

/* Every dataset of a trial's file in a and b, as float64, bit for bit. */
static void compare_group(struct coop_results_reader *a, struct coop_results_reader *b,
                          const char *group, const char *file)
{
    char **names;
    size_t n;
    struct coop_err e;
    if (!coop_results_has(a, group))
        return;
    ck_assert_int_eq(coop_results_list(a, group, &names, &n, &e), 0);
    for (size_t i = 0; i < n; i++) {
        char *path = coop_asprintf("%s/%s", group, names[i]);
        double *x, *y;
        int ra, rb;
        size_t sa[COOP_RESULTS_MAX_RANK], sb[COOP_RESULTS_MAX_RANK];
        if (coop_results_read_f64(a, path, &x, &ra, sa, &e) == 0) {
            ck_assert_msg(coop_results_read_f64(b, path, &y, &rb, sb, &e) == 0, "%s", e.msg);
            size_t cnt = 1;
            for (int k = 0; k < ra; k++)
                cnt *= sa[k];
            ck_assert_int_eq(ra, rb);
            ck_assert_msg(memcmp(sa, sb, (size_t)ra * sizeof *sa) == 0 &&
                              memcmp(x, y, cnt * sizeof *x) == 0,
                          "%s: %s differs after the resume", file, path);
            free(x), free(y);
        } else if (coop_results_has(a, path) && !strstr(path, "names") &&
                   !strstr(path, "items") && !strstr(path, "words")) {
            compare_group(a, b, path, file); /* a subgroup (eval/<target>) */
        }
        free(path);
    }
    coop_results_free_strings(names, n);
}

static int compare_trials(const char *dir_a, const char *dir_b)
{
    DIR *d = opendir(dir_a);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strstr(de->d_name, ".h5"))
            continue;
        char *fa = coop_asprintf("%s/%s", dir_a, de->d_name);
        char *fb = coop_asprintf("%s/%s", dir_b, de->d_name);
        struct coop_results_reader *a, *b;
        struct coop_err e;
        ck_assert_int_eq(coop_results_open(fa, &a, &e), 0);
        ck_assert_msg(coop_results_open(fb, &b, &e) == 0, "%s", e.msg);
        static const char *groups[] = {"eval", "train/curve", "params"};
        for (int g = 0; g < 3; g++)
            compare_group(a, b, groups[g], de->d_name);
        coop_results_close(a), coop_results_close(b);
        free(fa), free(fb);
        n++;
    }
    closedir(d);
    return n;
}

START_TEST(resume_with_half_the_cache_is_bit_identical)
{
    ck_assert_int_eq(coop_test_tmpdir(tmp, sizeof tmp, "featcache-resume"), 0);
    char *ya = write_sweep("a"), *yb = write_sweep("b");
    char *ca = coop_asprintf("%s/cache-a", tmp), *cb = coop_asprintf("%s/cache-b", tmp);
    run_sweep(ya, ca);
    char *fa = coop_asprintf("%s/features", ca), *fb = coop_asprintf("%s/features", cb);
    ck_assert_int_eq(mkdir(cb, 0755), 0);
    ck_assert_uint_gt(copy_half(fa, fb), 10);
    run_sweep(yb, cb);
    char *ra = coop_asprintf("%s/a/resume", tmp), *rb = coop_asprintf("%s/b/resume", tmp);
    ck_assert_int_eq(compare_trials(ra, rb), 9);
    free(ya), free(yb), free(ca), free(cb), free(fa), free(fb), free(ra), free(rb);
    ck_assert_int_eq(coop_test_rmtree(tmp), 0);
}
END_TEST

/* A temporary left by a killed process of this host (its PID no longer
 * runs) is removed when the file is next created; one of a live process
 * (this test's parent) or of another host stays. */
START_TEST(stale_temporaries_are_removed)
{
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "featcache"), 0);
    struct coop_featcache *c;
    struct coop_err e;
    const char *key = "checkpoint=ccc\npreprocess=v1\nview=0\n";
    ck_assert_int_eq(coop_featcache_open(dir, key, 4, 2, &c, &e), 0);
    char *path = coop_strdup(coop_featcache_path(c));
    coop_featcache_close(c);
    ck_assert_int_eq(unlink(path), 0); /* the next open creates it again */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    ck_assert_int_gt(dead, 0);
    ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
    char host[256];
    coop_host_name(host, sizeof host);
    const char *base = strrchr(path, '/') + 1;
    char *stale = coop_asprintf("%s/.%s.tmp-%s-%ld", dir, base, host, (long)dead);
    char *live = coop_asprintf("%s/.%s.tmp-%s-%ld", dir, base, host, (long)getppid());
    char *other = coop_asprintf("%s/.%s.tmp-otherhost-%ld", dir, base, (long)dead);
    const char *all[] = {stale, live, other};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(all[i], "w");
        ck_assert_ptr_nonnull(f);
        fputs("0123456789", f);
        fclose(f);
    }
    ck_assert_int_eq(coop_featcache_open(dir, key, 4, 2, &c, &e), 0);
    coop_featcache_close(c);
    ck_assert_int_ne(access(stale, F_OK), 0);
    ck_assert_int_eq(access(live, F_OK), 0);
    ck_assert_int_eq(access(other, F_OK), 0);
    free(stale), free(live), free(other), free(path);
    coop_test_rmtree(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("featcache");
    if (!getenv("COOP_VALGRIND")) { /* two world-CLIP sweeps: minutes under valgrind */
        TCase *tr = tcase_create("resume");
        tcase_set_timeout(tr, 600);
        tcase_add_test(tr, resume_with_half_the_cache_is_bit_identical);
        suite_add_tcase(s, tr);
    }
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, persist_invalidate_and_recover);
    tcase_add_test(tc, torn_files_are_rebuilt_once);
    tcase_add_test(tc, damaged_tail_is_cut_off);
    tcase_add_test(tc, readers_never_cut_an_appenders_record);
    tcase_add_test(tc, full_disk_leaves_no_broken_file);
    tcase_add_test(tc, stale_temporaries_are_removed);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
