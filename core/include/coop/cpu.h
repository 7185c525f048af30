/* coop/cpu.h: what this CPU can run (cpuid + the OS's saved register state)
 * and which OpenBLAS core type the process uses. OpenBLAS 0.3.21 falls back to
 * its Prescott (SSE3) kernels on CPU models it does not know; the executables
 * that run numerics call coop_blas_select_core first thing, which re-executes
 * the process once with OPENBLAS_CORETYPE set to the best core type the CPU and
 * the OpenBLAS build support. The decision itself is the pure function
 * coop_blas_decide. Nothing here prints; only coop_blas_select_core touches
 * the environment (and replaces the process image). */
#ifndef COOP_CPU_H
#define COOP_CPU_H

#include "coop/common.h"
#include <stdbool.h>

/* Instruction sets usable by this process: the CPU has them AND the OS saves
 * their registers (XCR0). amx: AMX-TILE and AMX-BF16 (Linux also asks each
 * process to request the tile state; oneDNN does that itself). */
struct coop_cpu_features {
    char vendor[13]; /* "GenuineIntel", "AuthenticAMD", ...; "" off x86 */
    bool avx, avx2, fma;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512_bf16;
    bool amx;
};

/* Fills f from cpuid/xgetbv (all false, vendor "" on other architectures). */
COOP_API void coop_cpu_detect(struct coop_cpu_features *f);
/* Short list for humans, e.g. "AuthenticAMD avx avx2 fma avx512f avx512bw
 * avx512vl avx512dq avx512_bf16" ("... (no AVX)" when none of them). */
COOP_API void coop_cpu_describe(const struct coop_cpu_features *f, char *out, size_t n);

/* Who picked the core type OpenBLAS runs. */
enum coop_blas_choice {
    COOP_BLAS_CHOICE_OPENBLAS = 0, /* OpenBLAS's own detection */
    COOP_BLAS_CHOICE_COOP,         /* coop re-executed with OPENBLAS_CORETYPE */
    COOP_BLAS_CHOICE_ENVIRONMENT   /* OPENBLAS_CORETYPE set outside coop, kept */
};
COOP_API const char *coop_blas_choice_name(enum coop_blas_choice c); /* "openblas", ... */

/* The loop guard coop sets next to OPENBLAS_CORETYPE when it re-executes:
 * "<core OpenBLAS detected>:<core type coop set>". */
#define COOP_BLAS_REEXEC_ENV "COOP_BLAS_REEXEC"

/* Inputs of the decision: everything it depends on, nothing read from the
 * process. env_* are the values of OPENBLAS_CORETYPE and COOP_BLAS_REEXEC
 * (NULL when unset; an empty OPENBLAS_CORETYPE counts as unset, as in
 * OpenBLAS). blas_config is openblas_get_config() ("OpenBLAS 0.3.21 ...
 * DYNAMIC_ARCH ..."): the version says which core types the build knows, and
 * only a DYNAMIC_ARCH build can switch. */
struct coop_blas_inputs {
    const struct coop_cpu_features *cpu;
    const char *corename;
    const char *blas_config;
    const char *env_coretype;
    const char *env_reexec;
};

struct coop_blas_decision {
    bool reexec;              /* re-execute with OPENBLAS_CORETYPE = coretype */
    const char *coretype;     /* static string; NULL unless reexec */
    enum coop_blas_choice choice; /* who chose the core running now */
    char reason[200];         /* one sentence, for the verbose line */
};

/* Pure: decides from in alone. Re-executes only when OPENBLAS_CORETYPE is
 * unset, no re-execution happened yet, the build is DYNAMIC_ARCH, the core
 * name is one OpenBLAS uses, and that core lacks AVX2/FMA kernels while the
 * CPU has AVX2+FMA (or AVX-512). Target: Cooperlake (AVX512-BF16) or
 * SkylakeX (AVX-512 F/BW/VL/DQ) when the version has them, else Zen on AMD
 * or Hygon, Haswell otherwise. */
COOP_API void coop_blas_decide(const struct coop_blas_inputs *in, struct coop_blas_decision *d);

/* The core OpenBLAS runs (openblas_get_corename) and who chose it (from the
 * environment, as coop_blas_decide would). */
COOP_API const char *coop_blas_core_name(void);
COOP_API enum coop_blas_choice coop_blas_core_choice(void);

/* Pure: the OMP_WAIT_POLICY coop sets from the environment's OMP_WAIT_POLICY
 * and GOMP_SPINCOUNT (NULL or "" = unset; libgomp reads both only as it
 * loads): "passive" where neither is set (idle OpenMP threads sleep at once
 * and leave the cores to OpenBLAS's), else NULL (the user's choice is kept).
 * A short spin (GOMP_SPINCOUNT=10000) with OPENBLAS_THREAD_TIMEOUT=4 is
 * faster for the bf16 towers of a full-size CLIP but slower for the float32
 * main job, so it is the user's to set (docs/running.md). */
COOP_API const char *coop_threads_wait_decide(const char *omp_wait_policy,
                                              const char *gomp_spincount);

/* Call first thing in main. Decides; when the decision is to re-execute, sets
 * OPENBLAS_CORETYPE and COOP_BLAS_REEXEC and execs /proc/self/exe with argv
 * (does not return). The same single re-execution sets the OMP_WAIT_POLICY
 * coop_threads_wait_decide chooses: with only that to set,
 * COOP_BLAS_REEXEC is "<core>:" (no core type set) and OPENBLAS_CORETYPE is
 * left alone. A process that COOP_BLAS_REEXEC marks never re-executes.
 * Otherwise (or when exec fails: the process goes on with the current core)
 * writes one line saying which core runs and why to line (the caller prints
 * it at verbose level) and returns. */
COOP_API void coop_blas_select_core(char **argv, char *line, size_t n);

/* OpenMP and OpenBLAS threads: set both to n (n >= 1; replaces
 * OMP_NUM_THREADS / OPENBLAS_NUM_THREADS), and the OpenMP count in use. */
COOP_API void coop_threads_set(int n);
COOP_API int coop_threads_get(void);
/* The CPUs this process may run on (its affinity mask, so a Slurm or
 * taskset allocation counts, not the machine), at least 1. */
COOP_API int coop_cpu_count(void);
/* A count given to option FLAG: a whole number from 1 to max into *n (0),
 * else -1 after "PROG: FLAG TEXT: want a whole number from 1 to MAX" on stderr. */
COOP_API int coop_count_parse(const char *prog, const char *flag, const char *text, int max,
                              int *n);
/* A --threads value: coop_count_parse with max 4096. */
COOP_API int coop_threads_parse(const char *prog, const char *text, int *n);

#endif
