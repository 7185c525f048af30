/* blascore.c: which OpenBLAS core type runs, and the one re-execution that
 * corrects OpenBLAS when it picked kernels far below the CPU (0.3.21 takes
 * Prescott, SSE3, on x86 models it does not know: a third to a sixth of the
 * sgemm throughput of the AVX-512 kernels). OpenBLAS reads OPENBLAS_CORETYPE once,
 * when the library loads, so the only way to change the core is to set it and
 * exec the program again. The decision is pure (coop_blas_decide); the exec
 * wrapper is thin. A value of OPENBLAS_CORETYPE that coop did not set is never
 * overridden (some hosts set it because old builds crash on them). Never
 * prints. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "coop/cpu.h"
#include <errno.h>
#include <sched.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* OpenBLAS extensions (not in every cblas.h). */
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* ISA level of OpenBLAS's x86 core types: 0 SSE only, 1 AVX (no AVX2/FMA
 * kernels), 2 AVX2 + FMA, 3 AVX-512. Names as openblas_get_corename prints
 * them (DYNAMIC_ARCH builds); matched without case. */
static const struct {
    const char *name;
    int level;
} core_levels[] = {
    {"Unknown", 0},     {"Katmai", 0},     {"Coppermine", 0},   {"Northwood", 0},
    {"Prescott", 0},    {"Banias", 0},     {"Atom", 0},         {"Core2", 0},
    {"Penryn", 0},      {"Dunnington", 0}, {"Nehalem", 0},      {"Athlon", 0},
    {"Opteron", 0},     {"Opteron_SSE3", 0}, {"Barcelona", 0},  {"Nano", 0},
    {"Bobcat", 0},      {"generic", 0},    {"Sandybridge", 1},  {"Bulldozer", 1},
    {"Piledriver", 1},  {"Steamroller", 1}, {"Haswell", 2},     {"Excavator", 2},
    {"Zen", 2},         {"SkylakeX", 3},   {"Cooperlake", 3},   {"SapphireRapids", 3},
};

static int core_level(const char *name)
{
    for (size_t i = 0; name && i < sizeof core_levels / sizeof *core_levels; i++)
        if (!strcasecmp(name, core_levels[i].name))
            return core_levels[i].level;
    return -1;
}

static int cpu_level(const struct coop_cpu_features *f)
{
    if (!(f->avx2 && f->fma))
        return f->avx ? 1 : 0;
    return f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq ? 3 : 2;
}

/* OpenBLAS version as 10000 major + 100 minor + patch, or -1. */
static int blas_version(const char *config)
{
    int a, b, c;
    if (!config || sscanf(config, "OpenBLAS %d.%d.%d", &a, &b, &c) != 3)
        return -1;
    return a * 10000 + b * 100 + c;
}

/* The best core type of this OpenBLAS version the CPU can run (at level >= 2),
 * or NULL. Versions: Haswell 0.2.9, Zen 0.2.20, SkylakeX 0.3.1 (dynamic),
 * Cooperlake 0.3.11. */
static const char *best_core(const struct coop_cpu_features *f, int version)
{
    int level = cpu_level(f);
    if (level >= 3 && f->avx512_bf16 && version >= 311)
        return "Cooperlake";
    if (level >= 3 && version >= 301)
        return "SkylakeX";
    bool amd = !strcmp(f->vendor, "AuthenticAMD") || !strcmp(f->vendor, "HygonGenuine");
    if (level >= 2 && amd && version >= 220)
        return "Zen";
    if (level >= 2 && version >= 209)
        return "Haswell";
    return NULL;
}

static bool is_set(const char *v)
{
    return v && v[0];
}

/* COOP_BLAS_REEXEC is "<detected>:<set>"; true when <set> is value. */
static bool reexec_set(const char *marker, const char *value)
{
    const char *colon = marker ? strchr(marker, ':') : NULL;
    return colon && value && !strcasecmp(colon + 1, value);
}

static enum coop_blas_choice choice_of(const char *env_coretype, const char *env_reexec)
{
    if (!is_set(env_coretype))
        return COOP_BLAS_CHOICE_OPENBLAS;
    return reexec_set(env_reexec, env_coretype) ? COOP_BLAS_CHOICE_COOP
                                                : COOP_BLAS_CHOICE_ENVIRONMENT;
}

#define KEEP(...) (snprintf(d->reason, sizeof d->reason, __VA_ARGS__), (void)0)

/* The cases that keep the core before looking at levels; true when decided. */
static bool decide_kept(const struct coop_blas_inputs *in, struct coop_blas_decision *d)
{
    const char *core = in->corename ? in->corename : "?";
    if (d->choice == COOP_BLAS_CHOICE_COOP) {
        const char *colon = strchr(in->env_reexec, ':');
        KEEP("coop set OPENBLAS_CORETYPE=%s: OpenBLAS had detected %.*s", in->env_coretype,
             (int)(colon - in->env_reexec), in->env_reexec);
    } else if (d->choice == COOP_BLAS_CHOICE_ENVIRONMENT)
        KEEP("OPENBLAS_CORETYPE=%s was set outside coop; kept", in->env_coretype);
    else if (in->env_reexec && !reexec_set(in->env_reexec, ""))
        KEEP("OpenBLAS's own choice; coop re-executed once already (%s=%s), not again",
             COOP_BLAS_REEXEC_ENV, in->env_reexec);
    else if (!in->cpu->vendor[0])
        KEEP("OpenBLAS's own choice (not an x86 CPU)");
    else if (!in->blas_config || !strstr(in->blas_config, "DYNAMIC_ARCH"))
        KEEP("OpenBLAS is built for one core type (no DYNAMIC_ARCH); kept");
    else if (core_level(core) < 0)
        KEEP("OpenBLAS's own choice (core name %s unknown to coop; kept)", core);
    else if (core_level(core) >= 2 || cpu_level(in->cpu) < 2)
        KEEP("OpenBLAS's own choice, which fits this CPU");
    else
        return false;
    return true;
}

void coop_blas_decide(const struct coop_blas_inputs *in, struct coop_blas_decision *d)
{
    memset(d, 0, sizeof *d);
    d->choice = choice_of(in->env_coretype, in->env_reexec);
    if (decide_kept(in, d))
        return;
    const char *best = best_core(in->cpu, blas_version(in->blas_config));
    if (!best) {
        KEEP("OpenBLAS chose %s below this CPU, but coop knows no better core type of this "
             "OpenBLAS version; kept", in->corename);
        return;
    }
    d->reexec = true;
    d->coretype = best;
    snprintf(d->reason, sizeof d->reason, "OpenBLAS chose %s (no AVX2/FMA kernels) on a CPU "
             "with %s; re-executing with OPENBLAS_CORETYPE=%s", in->corename,
             cpu_level(in->cpu) >= 3 ? "AVX-512" : "AVX2 and FMA", best);
}

const char *coop_blas_choice_name(enum coop_blas_choice c)
{
    switch (c) {
    case COOP_BLAS_CHOICE_COOP: return "coop";
    case COOP_BLAS_CHOICE_ENVIRONMENT: return "environment";
    case COOP_BLAS_CHOICE_OPENBLAS: break;
    }
    return "openblas";
}

const char *coop_blas_core_name(void)
{
    const char *n = openblas_get_corename();
    return n ? n : "unknown";
}

enum coop_blas_choice coop_blas_core_choice(void)
{
    return choice_of(getenv("OPENBLAS_CORETYPE"), getenv(COOP_BLAS_REEXEC_ENV));
}

const char *coop_threads_wait_decide(const char *omp_wait_policy, const char *gomp_spincount)
{
    return is_set(omp_wait_policy) || is_set(gomp_spincount) ? NULL : "passive";
}

/* "; idle threads: OMP_WAIT_POLICY=... GOMP_SPINCOUNT=... OPENBLAS_THREAD_TIMEOUT=..."
 * as this process runs them ("unset" for an unset one). */
static const char *wait_line(char *buf, size_t n)
{
    static const char *const names[] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                                        "OPENBLAS_THREAD_TIMEOUT"};
    size_t at = (size_t)snprintf(buf, n, "; idle threads:");
    for (int i = 0; i < 3 && at < n; i++) {
        const char *v = getenv(names[i]);
        at += (size_t)snprintf(buf + at, n - at, " %s=%s", names[i], is_set(v) ? v : "unset");
    }
    return buf;
}

/* Sets the variables (OPENBLAS_CORETYPE only when coretype is not NULL,
 * OMP_WAIT_POLICY when policy is not NULL) and execs; returns only when that
 * failed, with the environment as it was. */
static void reexec(char **argv, const char *coretype, const char *detected, const char *policy)
{
    char marker[128];
    snprintf(marker, sizeof marker, "%s:%s", detected, coretype ? coretype : "");
    if ((!coretype || setenv("OPENBLAS_CORETYPE", coretype, 1) == 0) &&
        (!policy || setenv("OMP_WAIT_POLICY", policy, 1) == 0) &&
        setenv(COOP_BLAS_REEXEC_ENV, marker, 1) == 0) {
        fflush(NULL);
        execv("/proc/self/exe", argv);
    }
    if (coretype)
        unsetenv("OPENBLAS_CORETYPE");
    if (policy)
        unsetenv("OMP_WAIT_POLICY");
    unsetenv(COOP_BLAS_REEXEC_ENV);
}

int coop_count_parse(const char *prog, const char *flag, const char *text, int max, int *n)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < 1 || v > max) {
        fprintf(stderr, "%s: %s %s: want a whole number from 1 to %d\n", prog, flag, text, max);
        return -1;
    }
    *n = (int)v;
    return 0;
}

int coop_threads_parse(const char *prog, const char *text, int *n)
{
    return coop_count_parse(prog, "--threads", text, 4096, n);
}

void coop_threads_set(int n)
{
    if (n < 1)
        return;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
}

int coop_cpu_count(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* OpenMP's thread count; without OpenMP (-Dopenmp=disabled) OpenBLAS's. */
int coop_threads_get(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return openblas_get_num_threads();
#endif
}

void coop_blas_select_core(char **argv, char *line, size_t n)
{
    struct coop_cpu_features cpu;
    coop_cpu_detect(&cpu);
    const char *core = coop_blas_core_name();
    struct coop_blas_inputs in = {&cpu, core, openblas_get_config(), getenv("OPENBLAS_CORETYPE"),
                                  getenv(COOP_BLAS_REEXEC_ENV)};
    struct coop_blas_decision d;
    coop_blas_decide(&in, &d);
    char feats[160], waits[160];
    coop_cpu_describe(&cpu, feats, sizeof feats);
    const char *policy = getenv(COOP_BLAS_REEXEC_ENV)
                             ? NULL
                             : coop_threads_wait_decide(getenv("OMP_WAIT_POLICY"),
                                                        getenv("GOMP_SPINCOUNT"));
    if (!d.reexec && policy && argv && argv[0])
        reexec(argv, NULL, core, policy); /* returns only when exec failed: go on */
    if (d.reexec) {
        int err = 0;
        if (argv && argv[0]) {
            reexec(argv, d.coretype, core, policy);
            err = errno;
        }
        snprintf(line, n, "BLAS core %s, chosen by openblas: re-executing with "
                 "OPENBLAS_CORETYPE=%s failed (%s); kept (CPU: %s)%s", core, d.coretype,
                 err ? strerror(err) : "no argv", feats, wait_line(waits, sizeof waits));
        return;
    }
    snprintf(line, n, "BLAS core %s, chosen by %s: %s (CPU: %s)%s", core,
             coop_blas_choice_name(d.choice), d.reason, feats, wait_line(waits, sizeof waits));
}
