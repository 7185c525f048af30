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
#include "slurm_cli.h"
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
            "usage: coop-run [options] EXPERIMENT.yaml [KEY=VALUE ...]\n"
            "       coop-run --list-plugins [EXPERIMENT.yaml]\n"
            "       coop-run --describe [KIND/]PLUGIN [EXPERIMENT.yaml]\n"
            "Runs every trial of a YAML experiment matrix; results go to\n"
            "<results_dir>/<experiment>/<trial_id>.h5 (docs/experiments.md, docs/results.md).\n"
            "  KEY=VALUE, --set KEY=VALUE  override a key of the file as if it were edited:\n"
            "                   shots=[1,2] train.lr=0.01 methods.coop.n_ctx=4; ~KEY removes one\n"
            "  --print-config   print the experiment after the overrides as YAML, run nothing\n"
            "  --dry-run        print the selected trials (id, state, swept axes), run nothing\n"
            "  --status         every selected trial: done, running (host, heartbeat age),\n"
            "                   failed or to do, across all processes and hosts\n"
            "  --shard I/N      only shard I of N (1 <= I <= N; a trial's shard follows its id)\n"
            "  --trial ID       only this trial (repeatable; or ID,ID,...)\n"
            "  --where A=V[,..] only trials whose axis A is V (V1|V2: either; repeatable;\n"
            "                   e.g. --where dataset=world-shapes,shots=4)\n"
            "  --claim-timeout S  take over claims whose heartbeat is S seconds old (300)\n"
            "  --slurm          submit the selected incomplete trials as a Slurm job array\n"
            "                   (one trial a task) and a coop-report job after it\n"
            "                   (docs/cluster.md); resources from the YAML's slurm: section\n"
            "                   or --partition P --account A --cpus-per-task N --mem M\n"
            "                   --time T --max-parallel P --job-name J --sbatch-option OPT;\n"
            "                   --threads N asks for N CPUs a task unless --cpus-per-task\n"
            "  --no-submit      with --slurm: only write the scripts (<results>/slurm/)\n"
            "  --sbatch PROG    the sbatch program (default: sbatch on PATH)\n"
            "  --force          re-run trials whose results are already completed\n"
            "  --cache DIR      feature / few-shot cache (default <results_dir>/.cache)\n"
            "  --plugin-path P  also load plugins from P (file or folder; repeatable)\n"
            "  --list-plugins   list the plugins found (kind, name, version, summary)\n"
            "  --describe [KIND/]PLUGIN  a plugin's file and every parameter (type, default,\n"
            "                   range or choices, help); KIND (backbone, dataset, prompt,\n"
            "                   baseline) picks one of two plugins of the same name\n"
            "  --progress / --no-progress   force the one-line terminal display on or off\n"
            "                   (not a terminal: a line as each trial starts and ends)\n"
            "  --threads N      OpenMP and OpenBLAS threads (default: the YAML's threads:,\n"
            "                   else OMP_NUM_THREADS, else one per CPU; with --jobs N,\n"
            "                   the CPUs divided among the workers)\n"
            "  --jobs N         N worker processes share the trials (default: the YAML's\n"
            "                   jobs:, else 1); for small models, where threads mostly wait\n"
            "                   for each other (docs/running.md#threads)\n"
            "  --quiet          only errors, warnings and the final summary\n"
            "  --verbose        a line per phase and every 10th training epoch\n"
            "  --version, --help\n"
            "Example:\n"
            "  coop-run --dry-run experiments/fewshot.yaml && coop-run experiments/fewshot.yaml\n"
            "  coop-run --describe coop\n"
            "  coop-run --dry-run experiments/fewshot.yaml shots=[1,2] seeds=[1]\n"
            "  coop-run --slurm --partition cpu --cpus-per-task 4 --max-parallel 20 exp.yaml\n"
            "Exit status: 0 all trials completed (or skipped as completed), 1 some trial\n"
            "failed, 2 usage or input error (nothing ran), 3 sbatch missing or failed\n"
            "(--slurm), 130 interrupted.\n");
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

/* --trial ID[,ID...] into ids; 1 (after a message) when there are too many. */
static int split_ids(char *arg, const char **ids, size_t *n, size_t max)
{
    for (char *p = strtok(arg, ","); p; p = strtok(NULL, ",")) {
        if (*n == max) {
            fprintf(stderr, "coop-run: more than %zu --trial ids\n", max);
            return 1;
        }
        ids[(*n)++] = p;
    }
    return 0;
}

static const char *status_word(enum coop_run_trial_status st)
{
    switch (st) {
    case COOP_RUN_DONE: return "done";
    case COOP_RUN_RUNNING: return "running";
    case COOP_RUN_FAILED: return "failed";
    case COOP_RUN_TODO: break;
    }
    return "todo";
}

static int print_dry_run(const struct coop_matrix *m, const unsigned char *keep, size_t n_kept)
{
    size_t n = coop_matrix_count(m);
    for (size_t i = 0; i < n; i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        char *dir = coop_asprintf("%s/%s", t->results_dir, t->experiment);
        enum coop_trial_state st = COOP_TRIAL_MISSING;
        if (!keep[i] || !dir) {
            free(dir);
            continue;
        }
        coop_results_state(dir, t->id, &st, NULL, 0, NULL);
        free(dir);
        printf("%s  %-9s %s\n", t->id,
               st == COOP_TRIAL_COMPLETED ? "done" : st == COOP_TRIAL_FAILED ? "failed" : "todo",
               t->axes_summary);
    }
    if (n_kept == n)
        printf("%zu trials\n", n);
    else
        printf("%zu of %zu trials selected\n", n_kept, n);
    return 0;
}

/* The log of the Slurm array task that last held a trial (coop-run --slurm's
 * <results>/slurm/logs/<job>_<task>.log), when it is there. */
static void print_slurm_log(const struct coop_trial *t, const char *task)
{
    char *log = coop_asprintf("%s/%s/slurm/logs/%s.log", t->results_dir, t->experiment, task);
    if (log && coop_file_exists(log))
        printf("    Slurm task %s, log %s\n", task, log);
    else
        printf("    Slurm task %s\n", task);
    free(log);
}

/* --status: one line per selected trial, then the counts. */
static int print_status(const struct coop_matrix *m, const unsigned char *keep, double timeout)
{
    size_t n = coop_matrix_count(m), count[4] = {0};
    struct coop_run_trial_info *info = calloc(n ? n : 1, sizeof *info);
    struct coop_err e;
    if (!info || coop_run_status_all(m, keep, timeout, info, count, &e) != 0) {
        fprintf(stderr, "coop-run: %s\n", info ? e.msg : "out of memory");
        free(info);
        return 2;
    }
    for (size_t i = 0; i < n; i++) {
        const struct coop_trial *t = coop_matrix_trial(m, i);
        const struct coop_run_trial_info *in = &info[i];
        if (!keep[i])
            continue;
        printf("%s  %-8s %s\n", t->id, status_word(in->status), t->axes_summary);
        if (in->status == COOP_RUN_RUNNING)
            printf("    on %s pid %ld%s%s, heartbeat %.0f s ago\n", in->host, in->pid,
                   in->slurm[0] ? ", Slurm task " : "", in->slurm, in->age);
        else if (in->status == COOP_RUN_FAILED || in->detail[0])
            printf("    %s\n", in->detail);
        if (in->status != COOP_RUN_DONE && in->slurm[0])
            print_slurm_log(t, in->slurm);
    }
    printf("%zu done, %zu running, %zu failed, %zu to do\n", count[COOP_RUN_DONE],
           count[COOP_RUN_RUNNING], count[COOP_RUN_FAILED], count[COOP_RUN_TODO]);
    free(info);
    return 0;
}

/* Each error of the experiment file (and its overrides) on its own line. */
static void print_error(void *ctx, const char *msg)
{
    (*(size_t *)ctx)++;
    fprintf(stderr, "coop-run: %s\n", msg);
}

/* Loads yaml with the overrides; every error is printed (exit 2 on any). */
static int load_matrix(const char *yaml, const struct coop_matrix_resolver *res,
                       const char *const *sets, size_t n_sets, int print_config,
                       struct coop_matrix **m)
{
    size_t printed = 0;
    struct coop_matrix_options mo = {.overrides = sets, .n_overrides = n_sets,
                                     .on_error = print_error, .ctx = &printed,
                                     .keep_yaml = print_config};
    struct coop_err e = {{0}};
    if (coop_matrix_load_opts(yaml, res, &mo, m, &e) == 0)
        return 0;
    if (printed != 1)
        fprintf(stderr, "coop-run: %s\n", e.msg);
    return 2;
}

/* --print-config: the experiment after the overrides, as YAML. */
static void print_config(const char *yaml, const struct coop_matrix *m, size_t n_sets)
{
    const char *y = coop_matrix_yaml(m);
    printf("# %s%s: %zu trials\n%s%s", yaml, n_sets ? " with overrides" : "",
           coop_matrix_count(m), y, y[0] && y[strlen(y) - 1] != '\n' ? "\n" : "");
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    if (coop_verbose())
        fprintf(stderr, "coop-run: %s\n", blas);
    const char *yaml = NULL, *cache = NULL, *describe = NULL;
    const char *extra[64], *ids[256], *where[64], *sets[256];
    size_t n_extra = 0, n_ids = 0, n_where = 0, n_sets = 0;
    struct coop_run_selection sel = {0};
    double claim_timeout = 0;
    long threads = 0, jobs = 0;
    int dry = 0, force = 0, list = 0, verbosity = 0, progress = -1, status_only = 0,
        show_config = 0;
    struct slurm_cli slurm;
    memset(&slurm, 0, sizeof slurm);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int sl = slurm_cli_flag(&slurm, argc, argv, &i);
        if (sl < 0) return 2;
        if (sl) continue;
        if (!strcmp(a, "--dry-run")) dry = 1;
        else if (!strcmp(a, "--force")) force = 1;
        else if (!strcmp(a, "--list-plugins")) list = 1;
        else if (!strcmp(a, "--quiet")) verbosity = -1;
        else if (!strcmp(a, "--verbose")) verbosity = 1;
        else if (!strcmp(a, "--progress")) progress = 1;
        else if (!strcmp(a, "--no-progress")) progress = 0;
        else if (!strcmp(a, "--version")) { printf("coop-run %s\n", coop_version_string()); return 0; }
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--print-config")) show_config = 1;
        else if (!strcmp(a, "--set") && i + 1 < argc && n_sets < 256) sets[n_sets++] = argv[++i];
        else if (a[0] != '-' && (strchr(a, '=') || a[0] == '~') && n_sets < 256) sets[n_sets++] = a;
        else if (!strcmp(a, "--cache") && i + 1 < argc) cache = argv[++i];
        else if (!strcmp(a, "--describe") && i + 1 < argc) describe = argv[++i];
        else if (!strcmp(a, "--plugin-path") && i + 1 < argc && n_extra < 64) extra[n_extra++] = argv[++i];
        else if (!strcmp(a, "--status")) status_only = 1;
        else if (!strcmp(a, "--threads") && i + 1 < argc) {
            int t;
            if (coop_threads_parse("coop-run", argv[++i], &t))
                return 2;
            threads = t;
        }
        else if (!strcmp(a, "--jobs") && i + 1 < argc) {
            int j;
            if (coop_count_parse("coop-run", "--jobs", argv[++i], 256, &j))
                return 2;
            jobs = j;
        }
        else if (!strcmp(a, "--where") && i + 1 < argc && n_where < 64)
            where[n_where++] = argv[++i];
        else if (!strcmp(a, "--trial") && i + 1 < argc) {
            if (split_ids(argv[++i], ids, &n_ids, 256)) return 2;
        } else if (!strcmp(a, "--shard") && i + 1 < argc) {
            struct coop_err se;
            if (coop_run_parse_shard(argv[++i], &sel.shard_index, &sel.shard_count, &se)) {
                fprintf(stderr, "coop-run: %s\n", se.msg);
                return 2;
            }
        } else if (!strcmp(a, "--claim-timeout") && i + 1 < argc) {
            char *end;
            slurm.claim_timeout = argv[i + 1];
            claim_timeout = strtod(argv[++i], &end);
            if (*end || !(claim_timeout >= 1)) {
                fprintf(stderr, "coop-run: --claim-timeout %s: want seconds >= 1\n", argv[i]);
                return 2;
            }
        }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "coop-run: unknown option %s\n", a); usage(stderr); return 2; }
        else if (!yaml) yaml = a;
        else { fprintf(stderr, "coop-run: more than one experiment file given (%s)\n", a); return 2; }
    }
    if (!yaml && !list && !describe) {
        usage(stderr);
        return 2;
    }
    if (n_sets && slurm.on) { /* the array's tasks re-read the file as it is */
        fprintf(stderr, "coop-run: --slurm runs the file as written: save the overrides into "
                        "it first (coop-run --print-config %s KEY=VALUE... > new.yaml)\n", yaml);
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
    rc = load_matrix(yaml, &res, sets, n_sets, show_config, &m);
    if (rc || show_config) {
        if (!rc)
            print_config(yaml, m, n_sets);
        coop_matrix_free(m);
        coop_registry_free(reg);
        return rc;
    }
    size_t n = coop_matrix_count(m), n_kept = 0;
    unsigned char *keep = malloc(n ? n : 1);
    sel.trial_ids = ids;
    sel.n_trial_ids = n_ids;
    sel.where = where;
    sel.n_where = n_where;
    if (!keep || coop_run_select(m, &sel, keep, &n_kept, &e) != 0) {
        fprintf(stderr, "coop-run: %s\n", keep ? e.msg : "out of memory");
        free(keep);
        coop_matrix_free(m);
        coop_registry_free(reg);
        return 2;
    }
    if (slurm.on) {
        /* --threads N asks Slurm for N CPUs a task (--cpus-per-task wins) */
        if (threads && !slurm.set.cpus_per_task)
            slurm.set.cpus_per_task = (int)threads;
        slurm.cache = cache;
        slurm.plugin_paths = extra;
        slurm.n_plugin_paths = n_extra;
        rc = slurm_cli_run(&slurm, yaml, m, keep);
        free(keep);
        coop_matrix_free(m);
        coop_registry_free(reg);
        return rc;
    }
    if (dry || status_only) {
        if (dry && coop_run_preflight(m, reg, keep, stderr, &e) != 0) {
            fprintf(stderr, "coop-run: %s\n", e.msg);
            rc = 2;
        } else
            rc = status_only ? print_status(m, keep, claim_timeout)
                             : print_dry_run(m, keep, n_kept);
        free(keep);
        coop_matrix_free(m);
        coop_registry_free(reg);
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!jobs)
        jobs = coop_matrix_jobs(m);
    if (!threads)
        threads = coop_matrix_threads(m);
    if (!threads && jobs > 1 && !getenv("OMP_NUM_THREADS")) { /* the CPUs shared out */
        threads = coop_cpu_count() / jobs;
        if (threads < 1)
            threads = 1;
    }
    if (threads)
        coop_threads_set((int)threads);
    struct coop_run_options o = {
        .force = force, .cache_dir = cache,
        .tty = progress >= 0 ? progress : isatty(fileno(stderr)),
        .out = stderr, .verbosity = verbosity, .cancel = &cancel_flag,
        .threads = coop_threads_get(),
        .selected = keep, .claim_timeout = claim_timeout, .jobs = (int)jobs};
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
        if (s.elsewhere)
            printf("%zu trial%s left to other processes (running, or finished by them since "
                   "this run started): coop-run --status shows them\n",
                   s.elsewhere, s.elsewhere == 1 ? "" : "s");
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
    free(keep);
    coop_matrix_free(m);
    coop_registry_free(reg);
    return status;
}
