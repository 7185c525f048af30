/* slurm_cli.c: coop-run --slurm: flags, which trials go in the array (those
 * not completed and not running elsewhere), the programs and paths the
 * scripts name (absolute, so tasks run from any folder), and submission:
 * the array first, then the report job after it (afterany). */
#include "slurm_cli.h"
#include "coop/run.h"
#include "coop/util.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int int_flag(const char *flag, const char *v, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!v[0] || *end || n < 1 || n > 1000000) {
        fprintf(stderr, "coop-run: %s %s: want a whole number from 1 to 1000000\n", flag, v);
        return -1;
    }
    *out = (int)n;
    return 1;
}

int slurm_cli_flag(struct slurm_cli *s, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--slurm") || !strcmp(a, "--no-submit")) {
        s->on = true;
        s->no_submit = s->no_submit || !strcmp(a, "--no-submit");
        return 1;
    }
    static const char *const str_flags[] = {"--partition", "--account", "--mem", "--time",
                                            "--job-name", "--sbatch", "--sbatch-option",
                                            "--cpus-per-task", "--max-parallel"};
    size_t k = 0, n = sizeof str_flags / sizeof *str_flags;
    while (k < n && strcmp(a, str_flags[k]) != 0)
        k++;
    if (k == n || *i + 1 >= argc)
        return 0;
    const char *v = argv[++*i];
    char **slot[] = {&s->set.partition, &s->set.account, &s->set.mem, &s->set.time,
                     &s->set.job_name};
    if (k < 5) {
        *slot[k] = (char *)v;
    } else if (k == 5) {
        s->sbatch = v;
    } else if (k == 6) {
        if (s->n_opts == sizeof s->opts / sizeof *s->opts) {
            fprintf(stderr, "coop-run: too many --sbatch-option flags\n");
            return -1;
        }
        s->opts[s->n_opts++] = v;
    } else {
        return int_flag(a, v, k == 7 ? &s->set.cpus_per_task : &s->set.max_parallel);
    }
    return 1;
}

/* Flags over the YAML's section (strings stay owned by argv). */
static void apply_flags(const struct slurm_cli *s, struct coop_slurm_config *c,
                        const char ***opts, size_t *n_opts)
{
    const char *from[] = {s->set.partition, s->set.account, s->set.mem, s->set.time,
                          s->set.job_name};
    char **to[] = {&c->partition, &c->account, &c->mem, &c->time, &c->job_name};
    for (size_t i = 0; i < sizeof to / sizeof *to; i++)
        if (from[i]) {
            free(*to[i]);
            *to[i] = coop_strdup(from[i]);
        }
    if (s->set.cpus_per_task)
        c->cpus_per_task = s->set.cpus_per_task;
    if (s->set.max_parallel)
        c->max_parallel = s->set.max_parallel;
    /* --sbatch-option lines come after the YAML's */
    *opts = malloc((c->n_sbatch + s->n_opts + 1) * sizeof **opts);
    *n_opts = 0;
    for (size_t i = 0; *opts && i < c->n_sbatch; i++)
        (*opts)[(*n_opts)++] = c->sbatch[i];
    for (size_t i = 0; *opts && i < s->n_opts; i++)
        (*opts)[(*n_opts)++] = s->opts[i];
}

/* An absolute form of path (which may not exist yet); malloc'd. */
static char *absolute(const char *path)
{
    char buf[PATH_MAX];
    if (realpath(path, buf))
        return coop_strdup(buf);
    if (path[0] == '/' || !getcwd(buf, sizeof buf))
        return coop_strdup(path);
    return coop_asprintf("%s/%s", buf, path);
}

/* coop-run itself, and coop-report next to it (installed) or in the build
 * tree's sibling folder. */
static int find_programs(char **run, char **report)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    *run = *report = NULL;
    if (n <= 0) {
        fprintf(stderr, "coop-run: --slurm: cannot tell where coop-run is (/proc/self/exe)\n");
        return -1;
    }
    exe[n] = '\0';
    *run = coop_strdup(exe);
    *strrchr(exe, '/') = '\0';
    const char *where[] = {"%s/coop-report", "%s/../coop-report/coop-report"};
    for (size_t i = 0; i < 2 && !*report; i++) {
        char *p = coop_asprintf(where[i], exe);
        if (p && access(p, X_OK) == 0)
            *report = absolute(p);
        free(p);
    }
    if (!*report)
        fprintf(stderr, "coop-run: --slurm: no coop-report next to %s\n", *run);
    return *report ? 0 : -1;
}

/* Ids of the selected trials that are neither completed nor running. */
static const char **incomplete(const struct coop_matrix *m, const unsigned char *keep,
                               double timeout, size_t *n_out, size_t counts[4])
{
    size_t n = coop_matrix_count(m);
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    struct coop_run_trial_info *info = calloc(n ? n : 1, sizeof *info);
    struct coop_err e;
    *n_out = 0;
    if (!ids || !info || coop_run_status_all(m, keep, timeout, info, counts, &e) != 0) {
        fprintf(stderr, "coop-run: %s\n", ids && info ? e.msg : "out of memory");
        free(ids);
        free(info);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (keep[i] && (info[i].status == COOP_RUN_TODO || info[i].status == COOP_RUN_FAILED))
            ids[(*n_out)++] = coop_matrix_trial(m, i)->id;
    free(info);
    return ids;
}

static int submit(const struct slurm_cli *s, const char *array, const char *report,
                  const char *results, size_t n)
{
    char job[64], rep[64];
    struct coop_err e;
    if (coop_slurm_submit(s->sbatch, array, NULL, job, sizeof job, &e) != 0 ||
        coop_slurm_submit(s->sbatch, report, job, rep, sizeof rep, &e) != 0) {
        fprintf(stderr, "coop-run: --slurm: %s\n", e.msg);
        return COOP_RUN_EXIT_SBATCH;
    }
    printf("submitted array job %s (%zu tasks; task i logs to %s/slurm/logs/%s_i.log)\n"
           "and report job %s after it (afterany; writes %s/slurm/summary.txt, then "
           "coop-report)\n", job, n, results, job, rep, results);
    return 0;
}

/* The coop-run options every task repeats; strings are malloc'd. */
static size_t run_args(const struct slurm_cli *s, char **args, size_t max)
{
    size_t n = 0;
    if (s->cache && n + 2 <= max) {
        args[n++] = coop_strdup("--cache");
        args[n++] = absolute(s->cache);
    }
    for (size_t i = 0; i < s->n_plugin_paths && n + 2 <= max; i++) {
        args[n++] = coop_strdup("--plugin-path");
        args[n++] = absolute(s->plugin_paths[i]);
    }
    if (s->claim_timeout && n + 2 <= max) {
        args[n++] = coop_strdup("--claim-timeout");
        args[n++] = coop_strdup(s->claim_timeout);
    }
    return n;
}

static int write_and_submit(struct slurm_cli *s, const char *yaml,
                            const struct coop_slurm_config *c, const struct coop_trial *t0,
                            const char **ids, size_t n_ids)
{
    char *run = NULL, *report = NULL, *args[140], *array = NULL, *rep = NULL;
    size_t n_args = run_args(s, args, sizeof args / sizeof *args);
    char *abs_yaml = absolute(yaml), *results = absolute(t0->results_dir);
    char *dir = coop_asprintf("%s/%s", results, t0->experiment);
    int status = find_programs(&run, &report) ? 2 : 0;
    struct coop_err e;
    struct coop_slurm_job j = {abs_yaml, run, report, dir, t0->experiment,
                               (const char *const *)args, n_args, ids, n_ids};
    if (status == 0 && coop_slurm_write(c, &j, &array, &rep, &e) != 0) {
        fprintf(stderr, "coop-run: --slurm: %s\n", e.msg);
        status = 2;
    }
    if (status == 0 && s->no_submit)
        printf("wrote %s and %s (not submitted); to submit:\n  job=$(sbatch --parsable %s) && "
               "sbatch --dependency=afterany:$job %s\n", array, rep, array, rep);
    else if (status == 0)
        status = submit(s, array, rep, dir, n_ids);
    for (size_t i = 0; i < n_args; i++)
        free(args[i]);
    free(run), free(report), free(array), free(rep), free(abs_yaml), free(results), free(dir);
    return status;
}

int slurm_cli_run(struct slurm_cli *s, const char *yaml, const struct coop_matrix *m,
                  const unsigned char *keep)
{
    struct coop_slurm_config c;
    struct coop_err e;
    if (coop_slurm_config_load(yaml, &c, &e) != 0) {
        fprintf(stderr, "coop-run: %s\n", e.msg);
        return 2;
    }
    const char **opts = NULL, **ids = NULL;
    size_t n_opts = 0, n_ids = 0, counts[4] = {0};
    char **yaml_opts = c.sbatch;
    size_t n_yaml_opts = c.n_sbatch;
    apply_flags(s, &c, &opts, &n_opts);
    c.sbatch = (char **)opts;
    c.n_sbatch = n_opts;
    double timeout = s->claim_timeout ? atof(s->claim_timeout) : 0;
    int status = opts && (ids = incomplete(m, keep, timeout, &n_ids, counts)) ? 0 : 2;
    if (status == 0)
        printf("coop-run --slurm: %zu trial%s to run (%zu done, %zu running elsewhere, left "
               "out)\n", n_ids, n_ids == 1 ? "" : "s", counts[COOP_RUN_DONE],
               counts[COOP_RUN_RUNNING]);
    if (status == 0 && n_ids == 0)
        printf("nothing to submit\n");
    else if (status == 0)
        status = write_and_submit(s, yaml, &c, coop_matrix_trial(m, 0), ids, n_ids);
    c.sbatch = yaml_opts;
    c.n_sbatch = n_yaml_opts;
    coop_slurm_config_free(&c);
    free(opts);
    free(ids);
    return status;
}
