/* test_fewshot.c: the few-shot sampler on an in-memory dataset: quotas (K per
 * class, all when fewer, min(K, 4) val, none without a val split), no repeats,
 * determinism per (dataset, K, seed), the documented derivation recomputed
 * independently, and the cache (round trip, corrupt and stale files, files of
 * another identity replaced). */
#define _XOPEN_SOURCE 700
#include "coop/data.h"
#include "coop/util.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

/* Fake dataset: class c has (5 + 3c) train items, (c + 1) val items, 2 test items. */
#define FK_C 6
struct fake {
    struct coop_item *items[3];
    size_t n[3];
    char *ids;
};

static void fake_split(struct fake *f, int s, int (*count)(int), size_t *used)
{
    size_t n = 0;
    for (int c = 0; c < FK_C; c++)
        n += (size_t)count(c);
    f->items[s] = calloc(n, sizeof *f->items[s]);
    f->n[s] = n;
    size_t i = 0;
    /* interleave classes so the sampler must group by label */
    for (int round = 0; i < n; round++)
        for (int c = 0; c < FK_C; c++)
            if (round < count(c)) {
                char *id = f->ids + 32 * (*used)++;
                snprintf(id, 32, "s%d/c%d/%03d.png", s, c, round);
                f->items[s][i++] = (struct coop_item){c, id, id, COOP_ITEM_VERSION};
            }
}

static int cnt_train(int c) { return 5 + 3 * c; }
static int cnt_val(int c) { return c + 1; }
static int cnt_test(int c) { return 2; }
static int cnt_none(int c) { return 0; }
static bool fake_no_val;

static int fk_open(const struct coop_host *h, const char *root, const struct coop_params *o,
                   struct coop_dataset **out, struct coop_err *e)
{
    struct fake *f = calloc(1, sizeof *f);
    f->ids = malloc(32 * 200);
    size_t used = 0;
    fake_split(f, 0, cnt_train, &used);
    fake_split(f, 1, fake_no_val ? cnt_none : cnt_val, &used);
    fake_split(f, 2, cnt_test, &used);
    *out = (struct coop_dataset *)f;
    return 0;
}
static void fk_close(struct coop_dataset *d)
{
    struct fake *f = (struct fake *)d;
    for (int s = 0; s < 3; s++)
        free(f->items[s]);
    free(f->ids);
    free(f);
}
static int fk_num_classes(const struct coop_dataset *d) { return FK_C; }
static size_t fk_split_size(const struct coop_dataset *d, enum coop_split s)
{
    return ((const struct fake *)d)->n[s];
}
static int fk_get_item(const struct coop_dataset *d, enum coop_split s, size_t i,
                       struct coop_item *out, struct coop_err *e)
{
    const struct fake *f = (const struct fake *)d;
    if (i >= f->n[s])
        return coop_fail(e, COOP_E_INVAL, "fake: out of range");
    *out = f->items[s][i];
    return 0;
}
static const struct coop_dataset_ops fk_ops = {
    .version = COOP_DATASET_OPS_VERSION, .open = fk_open, .close = fk_close,
    .num_classes = fk_num_classes, .split_size = fk_split_size, .get_item = fk_get_item};

static struct coop_dataset_ref open_fake(bool no_val)
{
    struct coop_dataset_ref d = {&fk_ops, NULL};
    fake_no_val = no_val;
    fk_open(NULL, NULL, NULL, &d.ds, NULL);
    return d;
}

static char root[256];
static void setup(void)
{
    ck_assert_int_eq(coop_test_tmpdir(root, sizeof root, "fewshot"), 0);
}
static void teardown(void)
{
    coop_test_rmtree(root);
}

static void check_quota(const struct coop_fewshot_split *s, const struct coop_dataset_ref d,
                        enum coop_split sp, int (*count)(int), int quota)
{
    size_t want = 0, i = 0;
    for (int c = 0; c < FK_C; c++)
        want += (size_t)(count(c) < quota ? count(c) : quota);
    ck_assert_uint_eq(s->n, want);
    for (int c = 0; c < FK_C; c++) {
        int q = count(c) < quota ? count(c) : quota;
        for (int j = 0; j < q; j++, i++) {
            struct coop_item it;
            ck_assert_int_eq(s->label[i], c);
            ck_assert_int_eq(d.ops->get_item(d.ds, sp, s->index[i], &it, NULL), 0);
            ck_assert_int_eq(it.label, c);
            ck_assert_str_eq(it.id, s->id[i]);
            if (j > 0) /* ascending within the class, hence no repeats */
                ck_assert_uint_lt(s->index[i - 1], s->index[i]);
        }
    }
}

START_TEST(quotas)
{
    struct coop_dataset_ref d = open_fake(false);
    int shots[] = {1, 2, 4, 8, 16};
    for (int k = 0; k < 5; k++) {
        struct coop_fewshot_opts o = {"fake", shots[k], 1, -1, NULL, NULL, false};
        struct coop_fewshot fs;
        struct coop_err e;
        ck_assert_msg(coop_fewshot_sample(&fs, d, &o, NULL, &e) == 0, "%s", e.msg);
        check_quota(&fs.train, d, COOP_SPLIT_TRAIN, cnt_train, shots[k]);
        int vq = shots[k] < 4 ? shots[k] : 4;
        ck_assert_int_eq(fs.val_shots, vq);
        check_quota(&fs.val, d, COOP_SPLIT_VAL, cnt_val, vq);
        ck_assert_ptr_null(fs.cache_path);
        coop_fewshot_free(&fs);
    }
    struct coop_fewshot_opts o = {"fake", 4, 1, 0, NULL, NULL, false};
    struct coop_fewshot fs;
    struct coop_err e;
    ck_assert_int_eq(coop_fewshot_sample(&fs, d, &o, NULL, &e), 0);
    ck_assert_uint_eq(fs.val.n, 0);
    coop_fewshot_free(&fs);
    fk_close(d.ds);
    d = open_fake(true); /* no val split (ImageNet): no val sample */
    o.val_shots = -1;
    ck_assert_int_eq(coop_fewshot_sample(&fs, d, &o, NULL, &e), 0);
    ck_assert_uint_eq(fs.train.n, 4 * FK_C);
    ck_assert_uint_eq(fs.val.n, 0);
    coop_fewshot_free(&fs);
    o.shots = 0;
    ck_assert_int_eq(coop_fewshot_sample(&fs, d, &o, NULL, &e), COOP_E_INVAL);
    ck_assert(strstr(e.msg, "shots") != NULL);
    o.shots = 1;
    o.dataset = "a/b";
    ck_assert_int_eq(coop_fewshot_sample(&fs, d, &o, NULL, &e), COOP_E_INVAL);
    fk_close(d.ds);
}
END_TEST

static bool same_split(const struct coop_fewshot_split *a, const struct coop_fewshot_split *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->index[i] != b->index[i] || a->label[i] != b->label[i] ||
            strcmp(a->id[i], b->id[i]) != 0)
            return false;
    return true;
}

/* The derivation of coop/data.h, written out independently. */
static void reference_sample(const struct coop_dataset_ref d, const char *name, int K,
                             uint64_t seed, size_t *out, size_t *nout)
{
    char label[128];
    snprintf(label, sizeof label, "fewshot/%s/shots%d", name, K);
    struct coop_rng r;
    coop_rng_seed(&r, coop_seed_derive(seed, label));
    *nout = 0;
    size_t n = d.ops->split_size(d.ds, COOP_SPLIT_TRAIN);
    for (int c = 0; c < FK_C; c++) {
        size_t cand[64], m = 0;
        for (size_t i = 0; i < n; i++) {
            struct coop_item it;
            d.ops->get_item(d.ds, COOP_SPLIT_TRAIN, i, &it, NULL);
            if (it.label == c)
                cand[m++] = i;
        }
        size_t q = m < (size_t)K ? m : (size_t)K;
        if (m > q)
            for (size_t j = 0; j < q; j++) {
                size_t k = j + (size_t)coop_rng_below(&r, m - j), t = cand[j];
                cand[j] = cand[k];
                cand[k] = t;
            }
        for (size_t a = 0; a < q; a++) /* insertion sort of the chosen */
            for (size_t b = a; b > 0 && cand[b - 1] > cand[b]; b--) {
                size_t t = cand[b];
                cand[b] = cand[b - 1];
                cand[b - 1] = t;
            }
        for (size_t j = 0; j < q; j++)
            out[(*nout)++] = cand[j];
    }
}

START_TEST(deterministic)
{
    struct coop_dataset_ref d = open_fake(false);
    struct coop_fewshot a, b, c, x;
    struct coop_err e;
    struct coop_fewshot_opts o = {"fake", 4, 1, -1, NULL, NULL, false};
    ck_assert_int_eq(coop_fewshot_sample(&a, d, &o, NULL, &e), 0);
    ck_assert_int_eq(coop_fewshot_sample(&b, d, &o, NULL, &e), 0);
    ck_assert(same_split(&a.train, &b.train) && same_split(&a.val, &b.val));
    o.seed = 2;
    ck_assert_int_eq(coop_fewshot_sample(&c, d, &o, NULL, &e), 0);
    ck_assert(!same_split(&a.train, &c.train));
    o.seed = 1;
    o.dataset = "other";
    ck_assert_int_eq(coop_fewshot_sample(&x, d, &o, NULL, &e), 0);
    ck_assert(!same_split(&a.train, &x.train));
    size_t ref[256], nref;
    reference_sample(d, "fake", 4, 1, ref, &nref);
    ck_assert_uint_eq(nref, a.train.n);
    for (size_t i = 0; i < nref; i++)
        ck_assert_uint_eq(ref[i], a.train.index[i]);
    coop_fewshot_free(&a);
    coop_fewshot_free(&b);
    coop_fewshot_free(&c);
    coop_fewshot_free(&x);
    fk_close(d.ds);
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A hand-written cache file: format, version and recorded identity (lines of
 * the text) on the first line, then `rest` (the other members) from the second. */
static void write_cache(const char *path, int version, const char *identity, const char *rest)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"format\": \"coop-fewshot\", \"version\": %d, ", version);
    if (identity) { /* NULL: none, as in version 1 */
        fputs("\"identity\": [", f);
        for (const char *p = identity; *p;) {
            size_t len = strcspn(p, "\n");
            fprintf(f, "%s\"%.*s\"", p == identity ? "" : ", ", (int)len, p);
            p += len + (p[len] == '\n');
        }
        fputs("], ", f);
    }
    fprintf(f, "\n%s}", rest);
    fclose(f);
}

/* A host that keeps the last warning. */
static char last_warning[2048];
static void keep_warning(void *ctx, enum coop_log_level level, const char *msg)
{
    (void)ctx;
    if (level == COOP_LOG_WARN)
        snprintf(last_warning, sizeof last_warning, "%s", msg);
}
static const struct coop_host warn_host = {COOP_HOST_VERSION, NULL, keep_warning, NULL};

START_TEST(cache_round_trip)
{
    struct coop_dataset_ref d = open_fake(false);
    struct coop_fewshot a, b;
    struct coop_err e;
    struct coop_fewshot_opts o = {"fake", 8, 3, -1, root, NULL, false};
    ck_assert_msg(coop_fewshot_sample(&a, d, &o, NULL, &e) == 0, "%s", e.msg);
    ck_assert(!a.from_cache);
    char path[512];
    snprintf(path, sizeof path, "%s/fewshot/fake_shots8_seed3.json", root);
    ck_assert_str_eq(a.cache_path, path);
    char *cp = coop_fewshot_cache_path(&o);
    ck_assert_str_eq(cp, path);
    free(cp);
    ck_assert_msg(coop_fewshot_sample(&b, d, &o, NULL, &e) == 0, "%s", e.msg);
    ck_assert(b.from_cache);
    ck_assert(same_split(&a.train, &b.train) && same_split(&a.val, &b.val));
    ck_assert_int_eq(b.val_shots, 4);
    coop_fewshot_free(&b);
    char *text;
    ck_assert_int_eq(coop_read_file(path, 1 << 20, &text, NULL, &e), 0);
    ck_assert(strstr(text, "\"format\": \"coop-fewshot\"") != NULL);
    ck_assert(strstr(text, "\"version\": 2") != NULL);
    ck_assert(strstr(text, "\"seed\": \"3\"") != NULL);
    ck_assert(strstr(text, "\"identity\": [\n    \"coop-fewshot sampler v1\",\n"
                           "    \"dataset=fake\",\n    \"shots=8\",\n    \"seed=3\",\n"
                           "    \"val_shots=4\"\n  ]") != NULL);
    free(text);
    /* the file is read, not re-sampled: a hand-edited (valid) cache is what comes back */
    char *id = coop_fewshot_identity(&o);
    write_cache(path, 2, id,
                "\"dataset\": \"fake\", \"shots\": 8, \"seed\": \"3\", \"val_shots\": 4,"
                " \"train\": [[6, 0, \"s0/c0/001.png\"]], \"val\": [[1, 1, \"s1/c1/000.png\"]]");
    free(id);
    ck_assert_msg(coop_fewshot_sample(&b, d, &o, NULL, &e) == 0, "%s", e.msg);
    ck_assert(b.from_cache);
    ck_assert_uint_eq(b.train.n, 1);
    ck_assert_uint_eq(b.train.index[0], 6);
    ck_assert_str_eq(b.val.id[0], "s1/c1/000.png");
    ck_assert_int_eq(b.val.label[0], 1);
    coop_fewshot_free(&b);
    coop_fewshot_free(&a);
    fk_close(d.ds);
}
END_TEST

START_TEST(cache_corrupt_or_stale)
{
    struct coop_dataset_ref d = open_fake(false);
    struct coop_fewshot a;
    struct coop_err e;
    struct coop_fewshot_opts o = {"fake", 2, 1, -1, root, NULL, false};
    ck_assert_int_eq(coop_fewshot_sample(&a, d, &o, NULL, &e), 0);
    char *path = coop_strdup(a.cache_path), *good;
    ck_assert_int_eq(coop_read_file(path, 1 << 20, &good, NULL, &e), 0);
    coop_fewshot_free(&a);
    /* truncated file: a JSON error naming it with the line */
    good[strlen(good) / 2] = '\0';
    write_text(path, good);
    free(good);
    ck_assert_int_eq(coop_fewshot_sample(&a, d, &o, NULL, &e), COOP_E_FORMAT);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "json:"), "%s", e.msg);
    char *id = coop_fewshot_identity(&o);
    /* an id that no longer matches the dataset's item */
    write_cache(path, 2, id,
                "\"dataset\": \"fake\", \"shots\": 2, \"seed\": \"1\", \"val_shots\": 2,\n"
                " \"train\": [[0, 0, \"renamed.png\"]], \"val\": []");
    ck_assert_int_eq(coop_fewshot_sample(&a, d, &o, NULL, &e), COOP_E_FORMAT);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, ":3:") && strstr(e.msg, "stale cache") &&
                  strstr(e.msg, "renamed.png"), "%s", e.msg);
    /* index out of range */
    write_cache(path, 2, id,
                "\"dataset\": \"fake\", \"shots\": 2, \"seed\": \"1\", \"val_shots\": 2,"
                " \"train\": [[9999, 0, \"x\"]], \"val\": []");
    ck_assert_int_eq(coop_fewshot_sample(&a, d, &o, NULL, &e), COOP_E_FORMAT);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "index <"), "%s", e.msg);
    /* this identity but a header for other options (a hand-edited file) */
    write_cache(path, 2, id,
                "\"dataset\": \"fake\", \"shots\": 2, \"seed\": \"7\", \"val_shots\": 2,"
                " \"train\": [], \"val\": []");
    ck_assert_int_eq(coop_fewshot_sample(&a, d, &o, NULL, &e), COOP_E_FORMAT);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "does not match"), "%s", e.msg);
    free(id);
    write_text(path, "[]");
    ck_assert_int_eq(coop_fewshot_sample(&a, d, &o, NULL, &e), COOP_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "object"), "%s", e.msg);
    /* deleting the file re-samples the same shots */
    remove(path);
    ck_assert_int_eq(coop_fewshot_sample(&a, d, &o, NULL, &e), 0);
    ck_assert(!a.from_cache);
    coop_fewshot_free(&a);
    ck_assert_int_eq(coop_read_file(path, 1 << 20, &good, NULL, &e), 0);
    free(good);
    free(path);
    fk_close(d.ds);
}
END_TEST

/* A file recorded for another identity (an old version-1 file, a collision,
 * another variant's sample) is never used: a warning names it and a fresh
 * sample replaces it. */
START_TEST(cache_of_another_identity_is_replaced)
{
    struct coop_dataset_ref d = open_fake(false);
    struct coop_fewshot a, b;
    struct coop_err e;
    struct coop_fewshot_opts o = {"fake", 2, 1, -1, root, "options=x=1;\n", true};
    ck_assert_msg(coop_fewshot_sample(&a, d, &o, NULL, &e) == 0, "%s", e.msg);
    char *path = coop_strdup(a.cache_path);
    /* the name carries the identity's hash: another source, another file */
    char *id = coop_fewshot_identity(&o), hex[65], want[512];
    coop_sha256_hex(id, strlen(id), hex);
    snprintf(want, sizeof want, "%s/fewshot/fake_shots2_seed1_%.16s.json", root, hex);
    ck_assert_str_eq(path, want);
    o.source = "options=x=2;\n";
    char *other = coop_fewshot_cache_path(&o);
    ck_assert_str_ne(other, path);
    free(other);
    o.source = "options=x=1;\n";
    const char *rest = "\"dataset\": \"fake\", \"shots\": 2, \"seed\": \"1\", \"val_shots\": 2,"
                       " \"train\": [[6, 0, \"s0/c0/001.png\"]], \"val\": []";
    const char *stale[][2] = {
        {"1", NULL},                                /* version 1: no identity */
        {"2", "coop-fewshot sampler v1\ndataset=fake\nshots=2\nseed=1\nval_shots=2\n"
              "options=x=2;\n"},                  /* another variant's */
        {"3", id},                                  /* a later format */
    };
    for (size_t i = 0; i < sizeof stale / sizeof *stale; i++) {
        write_cache(path, atoi(stale[i][0]), stale[i][1], rest);
        last_warning[0] = '\0';
        ck_assert_msg(coop_fewshot_sample(&b, d, &o, &warn_host, &e) == 0, "%s", e.msg);
        ck_assert(!b.from_cache);
        ck_assert(same_split(&a.train, &b.train) && same_split(&a.val, &b.val));
        ck_assert_msg(strstr(last_warning, path) && strstr(last_warning, "re-sampled"), "%s",
                      last_warning);
        coop_fewshot_free(&b);
        /* replaced: read back now, without a warning */
        last_warning[0] = '\0';
        ck_assert_msg(coop_fewshot_sample(&b, d, &o, &warn_host, &e) == 0, "%s", e.msg);
        ck_assert(b.from_cache);
        ck_assert_str_eq(last_warning, "");
        ck_assert(same_split(&a.train, &b.train));
        coop_fewshot_free(&b);
    }
    /* the public reader refuses it, naming the file */
    write_cache(path, 2, "another", rest);
    ck_assert_int_eq(coop_fewshot_read(&b, path, d, &o, &e), COOP_E_FORMAT);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "another identity"), "%s", e.msg);
    free(id);
    free(path);
    coop_fewshot_free(&a);
    fk_close(d.ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fewshot");
    TCase *tc = tcase_create("fewshot");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, quotas);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, cache_round_trip);
    tcase_add_test(tc, cache_corrupt_or_stale);
    tcase_add_test(tc, cache_of_another_identity_is_replaced);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
