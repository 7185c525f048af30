/* coop-export-dataset: writes any dataset plugin's splits to disk as PNG
 * images plus a split_zhou-style JSON ({"train": [[path, label, classname],
 * ...], "val": ..., "test": ...}) and meta.json, so that other
 * prompt-learning code bases can run on the same data (e.g. the synthetic
 * world). Optionally also a few-shot sample (the CoOp protocol, as a trial
 * draws it). Thin: argument parsing, plugin lookup and parameter checks
 * (coop/loader.h), the export itself (coop_dataset_export, coop/data.h). */
#include "coop/data.h"
#include "coop/loader.h"
#include "coop/plugin.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SET 64
#define MAX_PATHS 16

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coop-export-dataset DATASET OUT_DIR [options]\n"
            "       coop-export-dataset --list\n"
            "  DATASET             descriptor name (e.g. world-shapes), or MODULE.so:NAME\n"
            "  --set KEY=VALUE     dataset parameter (repeatable), e.g. --set image_size=64\n"
            "  --data-root DIR     data root handed to the plugin (real datasets)\n"
            "  --splits LIST       comma-separated subset of train,val,test (default all)\n"
            "  --json NAME         split file name (default split_zhou_DATASET.json)\n"
            "  --contact-sheet F   also write a PNG tiling the first test images\n"
            "  --sheet-n N         images on the contact sheet (default 32)\n"
            "  --fewshot K         also write fewshot/shots<K>_seed<S>.json (the CoOp few-shot\n"
            "                      sample a trial with these shots and seed uses)\n"
            "  --seed S            seed of the few-shot sample (default 1)\n"
            "  --cache-dir DIR     few-shot cache of a sweep: reuse its sample if present\n"
            "  --plugin-path DIR   extra plugin folder (repeatable)\n"
            "  --quiet             no progress on stderr\n"
            "  --version, --help\n"
            "Example:\n"
            "  coop-export-dataset world-shapes /tmp/shapes --fewshot 16 --seed 1\n"
            "Exit status: 0 exported, 1 the export failed (reading the dataset or writing\n"
            "files), 2 usage or input error (bad option, unknown dataset or parameter).\n");
}

struct args {
    const char *dataset, *data_root;
    const char *paths[MAX_PATHS];
    int n_paths, list, shots;
    bool quiet;
    long seed;
    const char *cache_dir;
    struct coop_kv kv[MAX_SET];
    size_t n_kv;
    char *kv_store[MAX_SET];
    struct coop_export_opts o;
};

static int parse_splits(struct coop_export_opts *o, const char *list)
{
    static const char *const names[3] = {"train", "val", "test"};
    memset(o->splits, 0, sizeof o->splits);
    char *copy = strdup(list), *save = NULL;
    int ok = 1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int s = 0;
        while (s < 3 && strcmp(t, names[s]) != 0)
            s++;
        if (s == 3)
            ok = 0;
        else
            o->splits[s] = true;
    }
    free(copy);
    return ok;
}

static int parse_args(struct args *a, int argc, char **argv)
{
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(s, "--set") == 0 || strcmp(s, "--data-root") == 0 ||
                    strcmp(s, "--splits") == 0 || strcmp(s, "--json") == 0 ||
                    strcmp(s, "--contact-sheet") == 0 || strcmp(s, "--sheet-n") == 0 ||
                    strcmp(s, "--plugin-path") == 0 || strcmp(s, "--fewshot") == 0 ||
                    strcmp(s, "--seed") == 0 || strcmp(s, "--cache-dir") == 0;
        if (takes && !v) {
            fprintf(stderr, "coop-export-dataset: %s needs a value\n", s);
            return -1;
        }
        if (strcmp(s, "--list") == 0)
            a->list = 1;
        else if (strcmp(s, "--quiet") == 0)
            a->quiet = true;
        else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(s, "--version") == 0) {
            printf("coop-export-dataset %s\n", coop_version_string());
            exit(0);
        } else if (strcmp(s, "--set") == 0) {
            const char *eq = strchr(v, '=');
            if (!eq || a->n_kv >= MAX_SET) {
                fprintf(stderr, "coop-export-dataset: --set wants KEY=VALUE, got '%s'\n", v);
                return -1;
            }
            char *key = strndup(v, (size_t)(eq - v));
            a->kv_store[a->n_kv] = key;
            a->kv[a->n_kv++] = (struct coop_kv){key, eq + 1};
        } else if (strcmp(s, "--data-root") == 0)
            a->data_root = v;
        else if (strcmp(s, "--splits") == 0) {
            if (!parse_splits(&a->o, v)) {
                fprintf(stderr, "coop-export-dataset: --splits: '%s' is not a list of "
                        "train,val,test\n", v);
                return -1;
            }
        } else if (strcmp(s, "--json") == 0)
            a->o.json_name = v;
        else if (strcmp(s, "--contact-sheet") == 0)
            a->o.sheet = v;
        else if (strcmp(s, "--sheet-n") == 0)
            a->o.sheet_n = atoi(v);
        else if (strcmp(s, "--fewshot") == 0 || strcmp(s, "--seed") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < (s[2] == 'f' ? 1 : 0)) {
                fprintf(stderr, "coop-export-dataset: %s wants a number, got '%s'\n", s, v);
                return -1;
            }
            if (s[2] == 'f')
                a->shots = (int)n;
            else
                a->seed = n;
        } else if (strcmp(s, "--cache-dir") == 0)
            a->cache_dir = v;
        else if (strcmp(s, "--plugin-path") == 0) {
            if (a->n_paths < MAX_PATHS)
                a->paths[a->n_paths++] = v;
        } else if (s[0] == '-' && s[1] == '-') {
            fprintf(stderr, "coop-export-dataset: unknown option %s\n", s);
            return -1;
        } else if (pos == 0) {
            a->dataset = s;
            pos++;
            continue;
        } else if (pos == 1) {
            a->o.out_dir = s;
            pos++;
            continue;
        } else {
            fprintf(stderr, "coop-export-dataset: unexpected argument %s\n", s);
            return -1;
        }
        if (takes)
            i++;
    }
    return 0;
}

static int list_datasets(const struct coop_registry *reg)
{
    for (size_t i = 0; i < coop_registry_count(reg); i++) {
        const struct coop_plugin *d = coop_registry_get(reg, i);
        if (d->kind == COOP_PLUGIN_DATASET)
            printf("%-24s %-6s %s\n    %s\n", d->name, d->version ? d->version : "?",
                   coop_registry_path(reg, i), d->summary ? d->summary : "");
    }
    fflush(stdout); /* keep the listing in one piece when both go to one file */
    for (size_t i = 0; i < coop_registry_problem_count(reg); i++)
        fprintf(stderr, "coop-export-dataset: note: %s\n", coop_registry_problem(reg, i));
    return COOP_OK;
}

/* The dataset descriptor: by name, or "MODULE.so:NAME" for one file. */
static const struct coop_plugin *find_dataset(struct coop_registry *reg, const char *spec,
                                              const char **name, struct coop_err *e)
{
    const char *colon = strrchr(spec, ':');
    *name = spec;
    if (colon && strchr(spec, '/')) {
        char file[1024];
        snprintf(file, sizeof file, "%.*s", (int)(colon - spec), spec);
        if (coop_registry_load_file(reg, file, e))
            return NULL;
        *name = colon + 1;
    }
    const struct coop_plugin *p = coop_registry_find(reg, COOP_PLUGIN_DATASET, *name);
    if (!p)
        coop_registry_explain(reg, COOP_PLUGIN_DATASET, *name, e);
    return p;
}

/* The few-shot cache identity's source: this tool resolves every option, so
 * its files are its own (hashed names), apart from coop-run's. */
static char *fewshot_source(const struct args *a, const struct coop_plugin *p)
{
    char opts[4096] = "";
    size_t len = 0;
    for (size_t i = 0; i < a->n_kv && len < sizeof opts - 1; i++)
        len += (size_t)snprintf(opts + len, sizeof opts - len, "%s=%s;", a->kv[i].key,
                                a->kv[i].value);
    return coop_asprintf("tool=coop-export-dataset\ndataset_plugin=%s %s\noptions=%s\n"
                         "data_root=%s\n",
                         p->name, p->version ? p->version : "", opts,
                         a->data_root ? a->data_root : "");
}

static int export_fewshot(const struct args *a, const struct coop_plugin *p,
                          const struct coop_dataset_ops *ops, struct coop_dataset *ds,
                          const char *name, struct coop_err *e)
{
    struct coop_fewshot fs;
    char *source = fewshot_source(a, p);
    if (!source)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    struct coop_fewshot_opts fo = {name, a->shots, (uint64_t)a->seed, -1, a->cache_dir, source,
                                   true};
    struct coop_dataset_ref ref = {ops, ds};
    int rc = coop_fewshot_sample(&fs, ref, &fo, NULL, e);
    free(source);
    if (rc)
        return rc;
    char path[1200];
    snprintf(path, sizeof path, "%s/fewshot/shots%d_seed%ld.json", a->o.out_dir, a->shots,
             a->seed);
    rc = coop_dataset_export_fewshot(ops, ds, fs.train.index, fs.train.n, fs.val.index,
                                       fs.val.n, path, e);
    if (!rc && !a->quiet)
        fprintf(stderr, "%s: few-shot sample (%d shots, seed %ld%s): %zu train, %zu val -> %s\n",
                name, a->shots, a->seed, fs.from_cache ? ", from the cache" : "", fs.train.n,
                fs.val.n, path);
    coop_fewshot_free(&fs);
    return rc;
}

static void on_split(void *ctx, const char *split, size_t n)
{
    fprintf(stderr, "%s: %s: %zu images\n", (const char *)ctx, split, n);
}

static int run(struct args *a, struct coop_err *e)
{
    struct coop_registry *reg = NULL;
    struct coop_dataset *ds = NULL;
    const struct coop_dataset_ops *ops = NULL;
    char json_name[512];
    const char *name;
    int rc = coop_registry_create(&reg, e);
    if (!rc)
        rc = coop_registry_discover(reg, a->paths, (size_t)a->n_paths, e);
    if (rc)
        goto done;
    if (a->list) {
        rc = list_datasets(reg);
        goto done;
    }
    const struct coop_plugin *p = find_dataset(reg, a->dataset, &name, e);
    if (!p || !(ops = coop_plugin_dataset(p, e))) {
        rc = COOP_E_NOTFOUND;
        goto done;
    }
    if (!ops->open || !ops->get_item || !ops->class_name || !ops->num_classes ||
        !ops->split_size || !ops->close) {
        rc = coop_fail(e, COOP_E_ABI, "dataset %s lacks required ops", name);
        goto done;
    }
    if (a->shots > 0 && (!a->o.splits[COOP_SPLIT_TRAIN] || !a->o.splits[COOP_SPLIT_VAL])) {
        rc = coop_fail(e, COOP_E_INVAL, "--fewshot refers to train and val images: export both");
        goto done;
    }
    if ((rc = coop_params_resolve(ops->params, a->kv, &a->n_kv, MAX_SET, e)))
        goto done;
    struct coop_params params = {a->kv, a->n_kv};
    struct coop_host host = {COOP_HOST_VERSION, NULL, NULL, NULL};
    if ((rc = ops->open(&host, a->data_root, &params, &ds, e))) {
        coop_fail_prefix(e, rc, "%s", name);
        ds = NULL;
        goto done;
    }
    if (!a->o.json_name) {
        snprintf(json_name, sizeof json_name, "split_zhou_%s.json", name);
        a->o.json_name = json_name;
    }
    if (!a->quiet) {
        a->o.on_split = on_split;
        a->o.ctx = (void *)name;
    }
    rc = coop_dataset_export(ops, ds, name, &a->o, e);
    if (!rc && a->shots > 0)
        rc = export_fewshot(a, p, ops, ds, name, e);
done:
    if (ds)
        ops->close(ds);
    coop_registry_free(reg);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a;
    memset(&a, 0, sizeof a);
    a.o.splits[0] = a.o.splits[1] = a.o.splits[2] = true;
    a.o.sheet_n = 32;
    a.seed = 1;
    int rc = parse_args(&a, argc, argv);
    if (rc == 0 && !a.list && (!a.dataset || !a.o.out_dir)) {
        usage(stderr);
        rc = -1;
    }
    int status = rc ? 2 : 0;
    struct coop_err e = {{0}};
    if (rc == 0 && (rc = run(&a, &e)) != 0) {
        fprintf(stderr, "coop-export-dataset: %s\n", e.msg);
        status = rc == COOP_E_INVAL || rc == COOP_E_NOTFOUND ? 2 : 1;
    }
    for (size_t i = 0; i < a.n_kv; i++)
        free(a.kv_store[i]);
    return status;
}
