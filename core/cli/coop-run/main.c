/* coop-run: expands a YAML experiment matrix and runs its trials. Thin: it
 * parses arguments, loads plugins and the matrix, installs signal handlers
 * and hands over to the sweep (core/run). Exit status: 0 all trials
 * completed, 1 some trial failed, 2 bad usage or bad input (nothing ran),
 * 130 interrupted. */
#include "coop/cpu.h"
#include "coop/loader.h"
#include "coop/matrix.h"
#include "coop/run.h"
#include "coop/results.h"
#include "coop/util.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requests;
static volatile int cancel_flag;

static void on_signal(int sig)
{
    stop_requests++;
    cancel_flag = 1;
    if (stop_requests > 1) { /* a second Ctrl-C: leave now (completed trials are safe) */
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coop-run [options] EXPERIMENT.yaml\n"
            "       coop-run --list-plugins [EXPERIMENT.yaml]\n"
            "       coop-run --describe [KIND/]PLUGIN [EXPERIMENT.yaml]\n"
            "Runs every trial of a YAML experiment matrix; results go to\n"
            "<results_dir>/<experiment>/<trial_id>.h5 (docs/experiments.md, docs/results.md).\n"
            "  --dry-run        print the trials (id and swept axes) and their count, run nothing\n"
            "  --force          re-run trials whose results are already completed\n"
            "  --cache DIR      feature / few-shot cache (default <results_dir>/.cache)\n"
            "  --plugin-path P  also load plugins from P (file or folder; repeatable)\n"
            "  --list-plugins   list the plugins found (kind, name, version, summary)\n"
            "  --describe [KIND/]PLUGIN  a plugin's file and every parameter (type, default,\n"
            "                   range or choices, help); KIND (backbone, dataset, prompt,\n"
            "                   baseline) picks one of two plugins of the same name\n"
            "  --progress / --no-progress   force the one-line terminal display on or off\n"
            "  --quiet          no progress output\n"
            "  --version, --help\n"
            "Example:\n"
            "  coop-run --dry-run experiments/fewshot.yaml && coop-run experiments/fewshot.yaml\n"
            "  coop-run --describe coop\n"
            "Exit status: 0 all trials completed (or skipped as completed), 1 some trial\n"
            "failed, 2 usage or input error (nothing ran), 130 interrupted.\n");
}

static void list_plugins(const struct coop_registry *reg)
{
    size_t n = coop_registry_count(reg);
    printf("%-9s %-22s %-8s %s\n", "KIND", "NAME", "VERSION", "SUMMARY");
    for (int kind = COOP_PLUGIN_BACKBONE; kind <= COOP_PLUGIN_BASELINE; kind++)
        for (size_t i = 0; i < n; i++) {
            const struct coop_plugin *p = coop_registry_get(reg, i);
            if ((int)p->kind == kind)
                printf("%-9s %-22s %-8s %s\n", coop_plugin_kind_name(p->kind), p->name,
                       p->version ? p->version : "?", p->summary ? p->summary : "");
        }
    printf("%zu plugins\n", n);
    for (size_t i = 0; i < coop_registry_problem_count(reg); i++)
        printf("note: %s\n", coop_registry_problem(reg, i));
}

static void describe_one(const struct coop_registry *reg, size_t i)
{
    const struct coop_plugin *p = coop_registry_get(reg, i);
    printf("%s %s %s: %s\nfile: %s\n", coop_plugin_kind_name(p->kind), p->name,
           p->version ? p->version : "?", p->summary ? p->summary : "",
           coop_registry_path(reg, i));
    const struct coop_param_spec *s = coop_plugin_params(p);
    if (!s || !s->name) {
        printf("no parameters\n");
        return;
    }
    printf("%-16s %-7s %-10s %-18s %s\n", "PARAMETER", "TYPE", "DEFAULT", "RANGE/CHOICES",
           "HELP");
    for (; s->name; s++) {
        char def[64], dom[256];
        if (!s->default_value)
            snprintf(def, sizeof def, "(required)");
        else if (!s->default_value[0])
            snprintf(def, sizeof def, "\"\"");
        else
            snprintf(def, sizeof def, "%s", s->default_value);
        printf("%-16s %-7s %-10s %-18s %s\n", s->name, coop_param_type_name(s->type), def,
               coop_param_domain(s, dom, sizeof dom), s->help ? s->help : "");
    }
}

/* --describe [KIND/]NAME: every plugin of that name (of that kind), or exit 2
 * with a suggestion. */
static int describe_plugins(const struct coop_registry *reg, const char *arg)
{
    enum coop_plugin_kind kind = 0;
    const char *name = arg, *slash = strchr(arg, '/');
    if (slash) {
        for (int k = COOP_PLUGIN_BACKBONE; k <= COOP_PLUGIN_BASELINE; k++)
            if (strlen(coop_plugin_kind_name(k)) == (size_t)(slash - arg) &&
                !strncmp(arg, coop_plugin_kind_name(k), (size_t)(slash - arg)))
                kind = k;
        if (!kind) {
            fprintf(stderr, "coop-run: --describe %s: unknown plugin kind '%.*s' (backbone, "
                            "dataset, prompt or baseline)\n", arg, (int)(slash - arg), arg);
            return 2;
        }
        name = slash + 1;
    }
    size_t shown = 0;
    for (size_t i = 0; i < coop_registry_count(reg); i++) {
        const struct coop_plugin *p = coop_registry_get(reg, i);
        if ((!kind || p->kind == kind) && !strcmp(p->name, name)) {
            if (shown++)
                printf("\n");
            describe_one(reg, i);
        }
    }
    if (shown)
        return 0;
    struct coop_err e = {{0}};
    coop_registry_explain(reg, kind, name, &e);
    fprintf(stderr, "coop-run: --describe: %s\n", e.msg);
    return 2;
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    if (coop_verbose())
        fprintf(stderr, "coop-run: %s\n", blas);
    const char *yaml = NULL, *cache = NULL, *describe = NULL;
    const char *extra[64];
    size_t n_extra = 0;
    int dry = 0, force = 0, list = 0, quiet = 0, progress = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--dry-run")) dry = 1;
        else if (!strcmp(a, "--force")) force = 1;
        else if (!strcmp(a, "--list-plugins")) list = 1;
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (!strcmp(a, "--progress")) progress = 1;
        else if (!strcmp(a, "--no-progress")) progress = 0;
        else if (!strcmp(a, "--version")) { printf("coop-run %s\n", coop_version_string()); return 0; }
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--cache") && i + 1 < argc) cache = argv[++i];
        else if (!strcmp(a, "--describe") && i + 1 < argc) describe = argv[++i];
        else if (!strcmp(a, "--plugin-path") && i + 1 < argc && n_extra < 64) extra[n_extra++] = argv[++i];
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "coop-run: unknown option %s\n", a); usage(stderr); return 2; }
        else if (!yaml) yaml = a;
        else { fprintf(stderr, "coop-run: more than one experiment file given (%s)\n", a); return 2; }
    }
    if (!yaml && !list && !describe) {
        usage(stderr);
        return 2;
    }
    struct coop_err e = {{0}};
    char **yaml_paths = NULL;
    size_t n_yaml_paths = 0;
    if (yaml && coop_matrix_peek_plugin_paths(yaml, &yaml_paths, &n_yaml_paths, &e) != 0) {
        fprintf(stderr, "coop-run: %s\n", e.msg);
        return 2;
    }
    const char **all = calloc(n_extra + n_yaml_paths + 1, sizeof *all);
    memcpy(all, extra, n_extra * sizeof *all);
    for (size_t i = 0; i < n_yaml_paths; i++)
        all[n_extra + i] = yaml_paths[i];
    struct coop_registry *reg = NULL;
    int rc = coop_registry_create(&reg, &e);
    if (rc == 0)
        rc = coop_registry_discover(reg, all, n_extra + n_yaml_paths, &e);
    free(all);
    coop_matrix_free_paths(yaml_paths, n_yaml_paths);
    if (rc) {
        fprintf(stderr, "coop-run: %s\n", e.msg);
        coop_registry_free(reg);
        return 2;
    }
    if (describe) {
        rc = describe_plugins(reg, describe);
        coop_registry_free(reg);
        return rc;
    }
    if (list) {
        list_plugins(reg);
        coop_registry_free(reg);
        return 0;
    }
    struct coop_matrix_resolver res;
    coop_run_resolver(reg, &res);
    struct coop_matrix *m = NULL;
    if (coop_matrix_load(yaml, &res, &m, &e) != 0) {
        fprintf(stderr, "coop-run: %s\n", e.msg);
        coop_registry_free(reg);
        return 2;
    }
    size_t n = coop_matrix_count(m);
    if (dry) {
        for (size_t i = 0; i < n; i++) {
            const struct coop_trial *t = coop_matrix_trial(m, i);
            char *dir = coop_asprintf("%s/%s", t->results_dir, t->experiment);
            enum coop_trial_state st = COOP_TRIAL_MISSING;
            if (dir)
                coop_results_state(dir, t->id, &st, NULL, 0, NULL);
            free(dir);
            printf("%s  %-9s %s\n", t->id,
                   st == COOP_TRIAL_COMPLETED ? "done" : st == COOP_TRIAL_FAILED ? "failed" : "todo",
                   t->axes_summary);
        }
        printf("%zu trials\n", n);
        coop_matrix_free(m);
        coop_registry_free(reg);
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    const char *omp = getenv("OMP_NUM_THREADS");
    struct coop_run_options o = {
        .force = force, .cache_dir = cache,
        .tty = progress >= 0 ? progress : isatty(fileno(stderr)),
        .out = quiet ? NULL : stderr, .cancel = &cancel_flag,
        .threads = omp ? atoi(omp) : (int)sysconf(_SC_NPROCESSORS_ONLN)};
    struct coop_run_summary s;
    rc = coop_run_sweep(m, reg, &o, &s, &e);
    int status = 0;
    if (rc == COOP_E_INTERRUPTED) {
        fprintf(stderr, "coop-run: interrupted; %zu trials completed in this run. Completed "
                        "results are kept; run the same command again to resume.\n",
                s.completed);
        status = 130;
    } else if (rc) {
        fprintf(stderr, "coop-run: %s\n", e.msg);
        status = 2;
    } else {
        printf("%zu trials: %zu completed now, %zu already completed (skipped), %zu failed "
               "(%.1f s)\n",
               s.total, s.completed, s.skipped, s.failed, s.seconds);
        for (size_t i = 0; i < s.failed; i++)
            printf("  FAILED %s %s\n    %s\n", s.failures[i].id,
                   s.failures[i].summary ? s.failures[i].summary : "",
                   s.failures[i].message ? s.failures[i].message : "");
        if (s.results_dir)
            printf("results: %s/  (tables and figures: coop-report %s)\n", s.results_dir,
                   s.results_dir);
        if (s.foreign)
            printf("note: %s/ also holds %zu result file%s that no trial of this experiment "
                   "names (other settings, plugin options or versions); coop-report reads "
                   "them too, so move them out for a report of this run alone\n",
                   s.results_dir, s.foreign, s.foreign == 1 ? "" : "s");
        status = s.failed ? 1 : 0;
    }
    coop_run_summary_free(&s);
    coop_matrix_free(m);
    coop_registry_free(reg);
    return status;
}
