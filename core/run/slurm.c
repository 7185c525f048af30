/* slurm.c: coop-run --slurm (see coop/slurm.h): the `slurm:` section of an
 * experiment file, the array and report scripts, and sbatch. The section is
 * read here, not by the matrix, which only lets the key through: no trial
 * config holds it, so resources never change a trial id. Values end up in a
 * shell script, so none may hold a line break; paths are single-quoted. */
#include "coop/matrix.h"
#include "coop/slurm.h"
#include "coop/util.h"
#include "matrix/ytree.h"
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- the slurm: section ------------------------------------------------------ */
enum key_kind { KEY_STR, KEY_INT, KEY_LIST };
struct key {
    const char *name;
    enum key_kind kind;
    size_t off;  /* char * / int / char ** in struct coop_slurm_config */
    size_t noff; /* KEY_LIST: its count */
};
#define STR_KEY(k) {#k, KEY_STR, offsetof(struct coop_slurm_config, k), 0}
#define INT_KEY(k) {#k, KEY_INT, offsetof(struct coop_slurm_config, k), 0}
#define LIST_KEY(k)                                                                         \
    {#k, KEY_LIST, offsetof(struct coop_slurm_config, k), offsetof(struct coop_slurm_config, n_##k)}
static const struct key keys[] = {
    STR_KEY(partition), STR_KEY(account), INT_KEY(cpus_per_task), STR_KEY(mem),
    STR_KEY(time),      STR_KEY(job_name), INT_KEY(max_parallel), LIST_KEY(sbatch),
    LIST_KEY(setup)};
#define N_KEYS (sizeof keys / sizeof *keys)

static int node_fail(struct coop_err *e, const char *file, const struct ynode *n,
                     const char *key, const char *what)
{
    return coop_fail(e, COOP_E_INVAL, "%s:%d:%d: slurm: %s: %s", file, n->line, n->col, key,
                     what);
}

/* A scalar fit for a script line: no line break, no NUL. */
static int scalar_text(const char *file, const struct ynode *n, const char *key, char **out,
                       struct coop_err *e)
{
    if (n->kind != YNODE_SCALAR)
        return node_fail(e, file, n, key, "expected a single value");
    if (strlen(n->str) != n->len || strpbrk(n->str, "\r\n") || !n->str[0])
        return node_fail(e, file, n, key, "must be one non-empty line");
    return (*out = coop_strdup(n->str)) ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
}

static int parse_int(const char *file, const struct ynode *n, const char *key, int *out,
                     struct coop_err *e)
{
    char *end;
    long v = n->kind == YNODE_SCALAR ? strtol(n->str, &end, 10) : 0;
    if (n->kind != YNODE_SCALAR || !n->str[0] || *end || v < 1 || v > 1000000)
        return node_fail(e, file, n, key, "expected a whole number from 1 to 1000000");
    *out = (int)v;
    return 0;
}

static int parse_list(const char *file, const struct ynode *n, const char *key, char ***out,
                      size_t *count, struct coop_err *e)
{
    if (n->kind == YNODE_SCALAR) { /* one line */
        *out = calloc(1, sizeof **out);
        *count = *out ? 1 : 0;
        return *out ? scalar_text(file, n, key, &(*out)[0], e)
                    : coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    if (n->kind != YNODE_SEQ)
        return node_fail(e, file, n, key, "expected a list of lines");
    *out = calloc(n->n ? n->n : 1, sizeof **out);
    if (!*out)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n->n && rc == 0; i++)
        if ((rc = scalar_text(file, n->items[i], key, &(*out)[i], e)) == 0)
            *count = i + 1;
    return rc;
}

static int parse_key(const char *file, const struct ynode *k, const struct ynode *v,
                     struct coop_slurm_config *c, struct coop_err *e)
{
    const char *names[N_KEYS];
    size_t i = 0;
    for (; i < N_KEYS; i++)
        names[i] = keys[i].name;
    for (i = 0; i < N_KEYS && strcmp(k->str, keys[i].name) != 0; i++)
        ;
    if (i == N_KEYS) {
        const char *s = coop_suggest(k->str, names, N_KEYS);
        return coop_fail(e, COOP_E_INVAL, "%s:%d:%d: slurm: unknown key '%.80s'%s%s%s; valid "
                         "keys: partition, account, cpus_per_task, mem, time, job_name, "
                         "max_parallel, sbatch, setup", file, k->line, k->col, k->str,
                         s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    }
    char *base = (char *)c;
    switch (keys[i].kind) {
    case KEY_STR: return scalar_text(file, v, k->str, (char **)(base + keys[i].off), e);
    case KEY_INT: return parse_int(file, v, k->str, (int *)(base + keys[i].off), e);
    case KEY_LIST:
        return parse_list(file, v, k->str, (char ***)(base + keys[i].off),
                          (size_t *)(base + keys[i].noff), e);
    }
    return 0;
}

static int parse_section(const char *file, const struct ynode *n, struct coop_slurm_config *c,
                         struct coop_err *e)
{
    if (n->kind != YNODE_MAP)
        return coop_fail(e, COOP_E_INVAL, "%s:%d:%d: slurm: expected a mapping (partition, "
                         "account, cpus_per_task, mem, time, max_parallel, ...), got %s", file,
                         n->line, n->col, coop_ynode_kind_name(n->kind));
    int rc = 0;
    for (size_t i = 0; i + 1 < n->n && rc == 0; i += 2) {
        const struct ynode *k = n->items[i];
        for (size_t p = 0; p < i && rc == 0; p += 2)
            if (strcmp(n->items[p]->str, k->str) == 0)
                rc = coop_fail(e, COOP_E_INVAL, "%s:%d:%d: slurm: duplicate key '%s'", file,
                               k->line, k->col, k->str);
        if (rc == 0)
            rc = parse_key(file, k, n->items[i + 1], c, e);
    }
    return rc;
}

int coop_slurm_config_load(const char *yaml_path, struct coop_slurm_config *c,
                           struct coop_err *e)
{
    memset(c, 0, sizeof *c);
    char *text;
    size_t len;
    int rc = coop_read_file(yaml_path, COOP_MATRIX_MAX_FILE_BYTES, &text, &len, e);
    if (rc)
        return rc;
    struct ydoc d;
    memset(&d, 0, sizeof d);
    rc = coop_ydoc_parse(&d, text, len, yaml_path, e);
    const struct ynode *n = rc == 0 ? coop_ymap_get(d.root, "slurm") : NULL;
    if (n)
        rc = parse_section(yaml_path, n, c, e);
    coop_ydoc_free(&d);
    free(text);
    if (rc)
        coop_slurm_config_free(c);
    return rc;
}

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void coop_slurm_config_free(struct coop_slurm_config *c)
{
    free(c->partition);
    free(c->account);
    free(c->mem);
    free(c->time);
    free(c->job_name);
    free_lines(c->sbatch, c->n_sbatch);
    free_lines(c->setup, c->n_setup);
    memset(c, 0, sizeof *c);
}

/* ---- the scripts ------------------------------------------------------------------ */
/* s single-quoted for the shell. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

static void put_option(FILE *f, const char *name, const char *value)
{
    if (value)
        fprintf(f, "#SBATCH --%s=%s\n", name, value);
}

/* The #SBATCH lines both scripts share (where the job runs, who pays). */
static void put_common(FILE *f, const struct coop_slurm_config *c)
{
    put_option(f, "partition", c->partition);
    put_option(f, "account", c->account);
}

/* Runs coop-run with the job's options (and extra, one argument, quoted). */
static void put_coop_run(FILE *f, const struct coop_slurm_job *j, const char *extra)
{
    put_quoted(f, j->coop_run);
    for (size_t i = 0; i < j->n_run_args; i++) {
        fputc(' ', f);
        put_quoted(f, j->run_args[i]);
    }
    fprintf(f, " %s ", extra);
    put_quoted(f, j->yaml);
}

static void write_array(FILE *f, const struct coop_slurm_config *c,
                        const struct coop_slurm_job *j, const char *logs)
{
    const char *name = c->job_name ? c->job_name : j->experiment;
    fprintf(f, "#!/bin/bash\n# coop-run --slurm: one array task per incomplete trial of %s\n"
               "#SBATCH --job-name=coop-%s\n#SBATCH --array=0-%zu", j->yaml, name,
            j->n_trials - 1);
    if (c->max_parallel)
        fprintf(f, "%%%d", c->max_parallel);
    fprintf(f, "\n#SBATCH --output=%s/%%A_%%a.log\n#SBATCH --open-mode=append\n", logs);
    put_common(f, c);
    if (c->cpus_per_task)
        fprintf(f, "#SBATCH --cpus-per-task=%d\n", c->cpus_per_task);
    put_option(f, "mem", c->mem);
    put_option(f, "time", c->time);
    for (size_t i = 0; i < c->n_sbatch; i++)
        fprintf(f, "#SBATCH %s\n", c->sbatch[i]);
    fputs("set -u\ntrials=(\n", f);
    for (size_t i = 0; i < j->n_trials; i++)
        fprintf(f, "  %s\n", j->trial_ids[i]);
    fputs(")\nid=${trials[$SLURM_ARRAY_TASK_ID]}\n"
          "# one trial per task: its BLAS and OpenMP threads are the task's CPUs\n"
          "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}\n"
          "export OPENBLAS_NUM_THREADS=$OMP_NUM_THREADS\n", f);
    for (size_t i = 0; i < c->n_setup; i++)
        fprintf(f, "%s\n", c->setup[i]);
    fputs("echo \"coop-run: Slurm task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on "
          "$(hostname): trial $id\"\n"
          "# exec: Slurm's SIGTERM (time limit, preemption) reaches coop-run, which gives the\n"
          "# trial's claim back; a resubmission or requeue runs it again\nexec ", f);
    /* --threads: the task's CPUs, also over a threads: in the YAML; one trial
     * a task, so one process (--jobs 1 over a jobs: in the YAML) */
    put_coop_run(f, j, "--no-progress --jobs 1 --threads \"$OMP_NUM_THREADS\" --trial \"$id\"");
    fputc('\n', f);
}

static void write_report(FILE *f, const struct coop_slurm_config *c,
                         const struct coop_slurm_job *j, const char *logs)
{
    const char *name = c->job_name ? c->job_name : j->experiment;
    fprintf(f, "#!/bin/bash\n# coop-run --slurm: after the array (afterany), the sweep's "
               "status and coop-report\n#SBATCH --job-name=coop-%s-report\n"
               "#SBATCH --output=%s/report-%%j.log\n", name, logs);
    put_common(f, c);
    fputs("set -u\nsummary=", f);
    put_quoted(f, j->results_dir);
    fputs("/slurm/summary.txt\n", f);
    put_coop_run(f, j, "--status");
    fputs(" > \"$summary\"\nst=$?\ncat \"$summary\"\n", f);
    put_quoted(f, j->coop_report);
    fputc(' ', f);
    put_quoted(f, j->results_dir);
    fputs(" || st=$?\nexit $st\n", f);
}

static int write_script(const char *path, const struct coop_slurm_config *c,
                        const struct coop_slurm_job *j, const char *logs, bool array,
                        struct coop_err *e)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return coop_fail(e, COOP_E_IO, "%s: cannot write: %s", path, strerror(errno));
    if (array)
        write_array(f, c, j, logs);
    else
        write_report(f, c, j, logs);
    int bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        return coop_fail(e, COOP_E_IO, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

int coop_slurm_write(const struct coop_slurm_config *c, const struct coop_slurm_job *j,
                     char **array_path, char **report_path, struct coop_err *e)
{
    *array_path = *report_path = NULL;
    if (j->n_trials == 0)
        return coop_fail(e, COOP_E_INVAL, "no trials for a Slurm array");
    char *logs = coop_asprintf("%s/slurm/logs", j->results_dir);
    *array_path = coop_asprintf("%s/slurm/array.sbatch", j->results_dir);
    *report_path = coop_asprintf("%s/slurm/report.sbatch", j->results_dir);
    int rc = logs && *array_path && *report_path ? coop_mkdirs(logs, e)
                                                 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = write_script(*array_path, c, j, logs, true, e);
    if (rc == 0)
        rc = write_script(*report_path, c, j, logs, false, e);
    free(logs);
    if (rc) {
        free(*array_path);
        free(*report_path);
        *array_path = *report_path = NULL;
    }
    return rc;
}

/* ---- sbatch ---------------------------------------------------------------------- */
/* Starts argv with stdout and stderr into a pipe; its output (up to len - 1
 * bytes) goes to out. Returns the exit status, -1 when it cannot start
 * (errno set), -2 when it died of a signal. */
static int run_capture(char *const *argv, char *out, size_t len)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    size_t used = 0;
    for (ssize_t n = 1; !err && n > 0 && used + 1 < len; used += (size_t)(n > 0 ? n : 0))
        n = read(p[0], out + used, len - 1 - used);
    out[used] = '\0';
    char drain[256];
    while (!err && read(p[0], drain, sizeof drain) > 0)
        ;
    close(p[0]);
    if (err) {
        errno = err;
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

int coop_slurm_submit(const char *sbatch, const char *script, const char *after, char *job_id,
                      size_t len, struct coop_err *e)
{
    char dep[96], out[2048];
    const char *prog = sbatch ? sbatch : "sbatch";
    char *argv[5] = {(char *)prog, "--parsable", NULL, NULL, NULL};
    int a = 2;
    if (after) {
        snprintf(dep, sizeof dep, "--dependency=afterany:%s", after);
        argv[a++] = dep;
    }
    argv[a] = (char *)script;
    int st = run_capture(argv, out, sizeof out);
    if (st == -1)
        return coop_fail(e, COOP_E_NOTFOUND, "cannot run %s: %s (is Slurm installed here? "
                         "--no-submit only writes the scripts)", prog, strerror(errno));
    size_t idl = strspn(out, "0123456789");
    char how[32];
    snprintf(how, sizeof how, st == -2 ? "killed by a signal" : "exit status %d", st);
    if (st != 0 || idl == 0 || idl >= len)
        return coop_fail(e, COOP_E_IO, "%s %s failed (%s): %.1500s", prog, script,
                         st ? how : "no job id", out[0] ? out : "(no output)");
    memcpy(job_id, out, idl);
    job_id[idl] = '\0';
    return 0;
}
