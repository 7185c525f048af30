/* test_schema.c: the documented results schema is the written one. A small
 * sweep (toy plugins: a CoOp trial with a domain-shift target, zero-shot, a
 * linear probe, the three under the base-to-new protocol, and a failed trial) and a coop-eval --out file are listed
 * (every root attribute, every dataset path) and compared both ways with the
 * names in the first column of the tables in docs/results.md ("Root
 * attributes", "Datasets", and "Prompt files" for a coop-prompt --export
 * file) and docs/running.md ("What `--out` writes"). A
 * <placeholder> in a documented name stands for one path segment. */
#include "coop/loader.h"
#include "coop/matrix.h"
#include "coop/prompt.h"
#include "coop/results.h"
#include "coop/run.h"
#include "coop/util.h"
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"
#include "../common/toy_sweep.h"

static char tmpdir[256];

struct names {
    char **v;
    size_t n;
};

static void names_add(struct names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], name))
            return;
    s->v = realloc(s->v, (s->n + 1) * sizeof *s->v);
    ck_assert_ptr_nonnull(s->v);
    s->v[s->n++] = coop_strdup(name);
}

static void names_free(struct names *s)
{
    coop_results_free_strings(s->v, s->n);
    s->v = NULL;
    s->n = 0;
}

/* pattern matches name; "<...>" in the pattern matches one or more bytes other than '/'. */
static bool name_matches(const char *pat, const char *name)
{
    if (*pat == '\0')
        return *name == '\0';
    if (*pat == '<') {
        const char *close = strchr(pat, '>');
        ck_assert_ptr_nonnull(close);
        for (const char *q = name; *q && *q != '/'; q++)
            if (name_matches(close + 1, q + 1))
                return true;
        return false;
    }
    return *pat == *name && name_matches(pat + 1, name + 1);
}

/* Names in backticks in the first column of the table rows of the section that
 * starts at the line `heading` and ends at the next heading. */
static void doc_names(const char *doc_rel, const char *heading, struct names *out)
{
    struct coop_err e;
    char *path = coop_asprintf("%s/%s", getenv("COOP_SOURCE_ROOT"), doc_rel);
    char *doc;
    size_t len;
    ck_assert_msg(coop_read_file(path, 1 << 20, &doc, &len, &e) == 0, "%s", e.msg);
    const char *p = strstr(doc, heading);
    ck_assert_msg(p, "%s: no section '%s'", doc_rel, heading);
    p = strchr(p + 1, '\n');
    size_t before = out->n;
    while (p && p[1] && p[1] != '#') {
        const char *line = p + 1, *eol = strchr(line, '\n');
        const char *cell_end = line[0] == '|' ? strchr(line + 1, '|') : NULL;
        for (const char *q = line; cell_end && q < cell_end; q++) {
            const char *b = q[0] == '`' ? strchr(q + 1, '`') : NULL;
            if (!b || b > cell_end)
                continue;
            char *name = coop_asprintf("%.*s", (int)(b - q - 1), q + 1);
            names_add(out, name);
            free(name);
            q = b;
        }
        p = eol;
    }
    ck_assert_msg(out->n > before, "%s, '%s': no names in a table", doc_rel, heading);
    free(doc);
    free(path);
}

/* Every dataset path under group ("" = the root), groups descended into. */
static void list_datasets(struct coop_results_reader *r, const char *group, struct names *out)
{
    char **v;
    size_t n;
    struct coop_err e;
    ck_assert_msg(coop_results_list(r, *group ? group : "/", &v, &n, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < n; i++) {
        char *path = *group ? coop_asprintf("%s/%s", group, v[i]) : coop_strdup(v[i]);
        char **sub;
        size_t ns;
        if (coop_results_list(r, path, &sub, &ns, &e) == 0) {
            coop_results_free_strings(sub, ns);
            list_datasets(r, path, out);
        } else {
            names_add(out, path);
        }
        free(path);
    }
    coop_results_free_strings(v, n);
}

static void file_names(const char *file, struct names *attrs, struct names *sets)
{
    struct coop_results_reader *r;
    struct coop_err e;
    ck_assert_msg(coop_results_open(file, &r, &e) == 0, "%s", e.msg);
    char **v;
    size_t n;
    ck_assert_msg(coop_results_attr_names(r, &v, &n, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < n; i++)
        names_add(attrs, v[i]);
    coop_results_free_strings(v, n);
    list_datasets(r, "", sets);
    coop_results_close(r);
}

/* Both ways: each written name matches a documented one, each documented one
 * matches a written name. */
static void compare(const char *what, const struct names *doc, const struct names *got)
{
    for (size_t i = 0; i < got->n; i++) {
        bool hit = false;
        for (size_t j = 0; j < doc->n && !hit; j++)
            hit = name_matches(doc->v[j], got->v[i]);
        ck_assert_msg(hit, "%s: '%s' is written but not documented", what, got->v[i]);
    }
    for (size_t j = 0; j < doc->n; j++) {
        bool hit = false;
        for (size_t i = 0; i < got->n && !hit; i++)
            hit = name_matches(doc->v[j], got->v[i]);
        ck_assert_msg(hit, "%s: '%s' is documented but no file has it", what, doc->v[j]);
    }
}

static const char *sweep_yaml =
    "experiment: schema\n"
    "backbone: {plugin: toy, checkpoint: toy.ckpt}\n"
    "datasets:\n"
    "  - name: toy_colors\n"
    "    targets: [toy_colors_shift]\n"
    "    options: {fail_open: [false, true]}\n"
    "  - {name: toy_colors, label: toy_b2n, protocol: base2new}\n"
    "methods:\n"
    "  - name: coop\n"
    "    n_ctx: 2\n"
    "  - name: zeroshot\n"
    "  - name: linear_probe\n"
    "shots: [2]\n"
    "seeds: [1]\n"
    "train: {epochs: 2, lr: 0.05, batch_size: 8}\n";

/* Runs the sweep; returns the results folder (free()). */
static char *run_sweep(struct coop_registry *reg)
{
    struct coop_run_summary s;
    coop_test_toy_sweep(reg, tmpdir, "s.yaml", sweep_yaml, &s);
    ck_assert_uint_eq(s.failed, 3);
    ck_assert_uint_eq(s.completed, 6);
    coop_run_summary_free(&s);
    return coop_asprintf("%s/results/schema", tmpdir);
}

START_TEST(documented_schema_is_the_written_one)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "schema"), 0);
    struct coop_registry *reg = NULL;
    struct coop_err e;
    ck_assert_int_eq(coop_registry_create(&reg, &e), 0);
    ck_assert_int_eq(coop_registry_discover(reg, NULL, 0, &e), 0);
    char *dir = run_sweep(reg);

    struct names attrs = {0}, sets = {0}, doc_a = {0}, doc_s = {0};
    char *coop_file = NULL;
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && strstr(de->d_name, ".h5")) {
            char *file = coop_asprintf("%s/%s", dir, de->d_name);
            struct names a1 = {0}, s1 = {0};
            file_names(file, &a1, &s1);
            for (size_t i = 0; i < s1.n; i++)
                if (!strcmp(s1.v[i], "params/ctx") && !coop_file)
                    coop_file = coop_strdup(file);
            for (size_t i = 0; i < a1.n; i++)
                names_add(&attrs, a1.v[i]);
            for (size_t i = 0; i < s1.n; i++)
                names_add(&sets, s1.v[i]);
            names_free(&a1);
            names_free(&s1);
            free(file);
        }
    closedir(d);
    doc_names("docs/results.md", "\n## Root attributes", &doc_a);
    doc_names("docs/results.md", "\n## Datasets", &doc_s);
    compare("docs/results.md, root attributes", &doc_a, &attrs);
    compare("docs/results.md, datasets", &doc_s, &sets);
    names_free(&attrs);
    names_free(&sets);
    names_free(&doc_a);
    names_free(&doc_s);

    /* coop-eval --out */
    ck_assert_ptr_nonnull(coop_file);
    char *out = coop_asprintf("%s/eval-out", tmpdir), *cache = coop_asprintf("%s/cache", tmpdir);
    struct coop_eval_request q = {coop_file, "toy_colors_shift", NULL, out, cache};
    struct coop_run_options o = {.out = NULL};
    double acc, f1;
    ck_assert_msg(coop_run_eval_stored(&q, reg, &o, &acc, &f1, &e) == 0, "%s", e.msg);
    const char *base = strrchr(coop_file, '/') + 1;
    char *eval_file = coop_asprintf("%s/%.*s-on-toy_colors_shift.h5", out,
                                    (int)(strlen(base) - 3), base);
    struct names all = {0}, doc = {0};
    file_names(eval_file, &all, &all);
    doc_names("docs/running.md", "\n### What `--out` writes", &doc);
    compare("docs/running.md, coop-eval --out", &doc, &all);
    names_free(&all);
    names_free(&doc);
    /* coop-prompt --export */
    char *prompt = coop_asprintf("%s/ctx.h5", out);
    ck_assert_msg(coop_prompt_export(coop_file, prompt, &e) == 0, "%s", e.msg);
    file_names(prompt, &all, &all);
    doc_names("docs/results.md", "\n## Prompt files", &doc);
    compare("docs/results.md, prompt files", &doc, &all);
    names_free(&all);
    names_free(&doc);
    free(prompt);
    free(eval_file);
    free(out);
    free(cache);
    free(coop_file);
    free(dir);
    coop_registry_free(reg);
    ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("results-schema");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, documented_schema_is_the_written_one);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
