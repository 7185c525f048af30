/* test_blas.c: the OpenBLAS core-type choice. coop_blas_decide over a table
 * of CPUs, core names, builds and environments; coop_cpu_detect against the
 * kernel's /proc/cpuinfo flags; the re-execution itself, end to end, through
 * coop-run with a preloaded fake openblas_get_corename that reports Prescott
 * (what OpenBLAS 0.3.21 says on CPUs it does not know); the results file's
 * blas_core attributes. */
#include "coop/cpu.h"
#include "coop/results.h"
#include "coop/util.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

char *openblas_get_corename(void);

#define CFG "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64"

/* CPUs: the development host (AMD EPYC, AVX-512 + BF16, no AMX), a Sapphire
 * Rapids (AMX), a Skylake-SP, a Haswell, a Zen 2, a Hygon, a Sandy Bridge, an
 * AVX2 CPU without FMA (cannot run the Haswell kernels), Knights Landing
 * (AVX-512F without BW/VL/DQ), and a non-x86 CPU. */
static const struct coop_cpu_features epyc = {"AuthenticAMD", 1, 1, 1, 1, 1, 1, 1, 1, 0};
static const struct coop_cpu_features spr = {"GenuineIntel", 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const struct coop_cpu_features skx = {"GenuineIntel", 1, 1, 1, 1, 1, 1, 1, 0, 0};
static const struct coop_cpu_features hsw = {"GenuineIntel", 1, 1, 1, 0, 0, 0, 0, 0, 0};
static const struct coop_cpu_features zen2 = {"AuthenticAMD", 1, 1, 1, 0, 0, 0, 0, 0, 0};
static const struct coop_cpu_features hygon = {"HygonGenuine", 1, 1, 1, 0, 0, 0, 0, 0, 0};
static const struct coop_cpu_features snb = {"GenuineIntel", 1, 0, 0, 0, 0, 0, 0, 0, 0};
static const struct coop_cpu_features nofma = {"GenuineIntel", 1, 1, 0, 0, 0, 0, 0, 0, 0};
static const struct coop_cpu_features knl = {"GenuineIntel", 1, 1, 1, 1, 0, 0, 0, 0, 0};
static const struct coop_cpu_features arm = {"", 0, 0, 0, 0, 0, 0, 0, 0, 0};

#define OB COOP_BLAS_CHOICE_OPENBLAS
#define COOP COOP_BLAS_CHOICE_COOP
#define ENV COOP_BLAS_CHOICE_ENVIRONMENT

static const struct decide_case {
    const char *what;
    const struct coop_cpu_features *cpu;
    const char *core, *config, *env_coretype, *env_reexec;
    const char *expect_coretype; /* NULL: keep the current core */
    enum coop_blas_choice expect_choice;
} cases[] = {
    {"misdetected EPYC",
     &epyc, "Prescott", CFG, NULL, NULL, "Cooperlake", OB},
    {"Sapphire Rapids on 0.3.21",
     &spr, "Prescott", CFG, NULL, NULL, "Cooperlake", OB},
    {"Skylake-SP as Nehalem",
     &skx, "Nehalem", CFG, NULL, NULL, "SkylakeX", OB},
    {"Haswell as Sandybridge",
     &hsw, "Sandybridge", CFG, NULL, NULL, "Haswell", OB},
    {"Zen 2 as Prescott",
     &zen2, "Prescott", CFG, NULL, NULL, "Zen", OB},
    {"Hygon as Bulldozer",
     &hygon, "Bulldozer", CFG, NULL, NULL, "Zen", OB},
    {"Unknown core",
     &epyc, "Unknown", CFG, NULL, NULL, "Cooperlake", OB},
    {"name in capitals",
     &skx, "PRESCOTT", CFG, NULL, NULL, "SkylakeX", OB},
    {"empty OPENBLAS_CORETYPE is unset",
     &epyc, "Prescott", CFG, "", NULL, "Cooperlake", OB},
    {"Knights Landing: AVX2 kernels",
     &knl, "Prescott", CFG, NULL, NULL, "Haswell", OB},
    {"0.3.10 has no Cooperlake",
     &epyc, "Prescott", "OpenBLAS 0.3.10 DYNAMIC_ARCH", NULL, NULL, "SkylakeX", OB},
    {"0.2.19 has no Zen",
     &zen2, "Prescott", "OpenBLAS 0.2.19 DYNAMIC_ARCH", NULL, NULL, "Haswell", OB},
    {"0.2.8 has nothing better",
     &hsw, "Prescott", "OpenBLAS 0.2.8 DYNAMIC_ARCH", NULL, NULL, NULL, OB},
    {"version unreadable",
     &hsw, "Prescott", "DYNAMIC_ARCH", NULL, NULL, NULL, OB},
    {"user forced Prescott",
     &epyc, "Prescott", CFG, "Prescott", NULL, NULL, ENV},
    {"host set Haswell",
     &epyc, "Haswell", CFG, "Haswell", NULL, NULL, ENV},
    {"after coop's re-exec",
     &epyc, "Cooperlake", CFG, "Cooperlake", "Prescott:Cooperlake", NULL, COOP},
    {"coop's value, other case",
     &epyc, "Cooperlake", CFG, "cooperlake", "Prescott:Cooperlake", NULL, COOP},
    {"user changed coop's value",
     &epyc, "Prescott", CFG, "Prescott", "Prescott:Cooperlake", NULL, ENV},
    {"loop guard",
     &epyc, "Prescott", CFG, NULL, "Prescott:Cooperlake", NULL, OB},
    {"right core already",
     &epyc, "Cooperlake", CFG, NULL, NULL, NULL, OB},
    {"Haswell on AVX-512 is not clearly below",
     &skx, "Haswell", CFG, NULL, NULL, NULL, OB},
    {"Zen on Zen",
     &zen2, "Zen", CFG, NULL, NULL, NULL, OB},
    {"Sandy Bridge as Prescott",
     &snb, "Prescott", CFG, NULL, NULL, NULL, OB},
    {"AVX2 without FMA",
     &nofma, "Prescott", CFG, NULL, NULL, NULL, OB},
    {"one-core build",
     &epyc, "PRESCOTT", "OpenBLAS 0.3.21 NO_AFFINITY PRESCOTT", NULL, NULL, NULL, OB},
    {"no config string",
     &epyc, "Prescott", NULL, NULL, NULL, NULL, OB},
    {"core name coop does not know",
     &epyc, "Neoverse", CFG, NULL, NULL, NULL, OB},
    {"not x86",
     &arm, "generic", "OpenBLAS 0.3.21 DYNAMIC_ARCH", NULL, NULL, NULL, OB},
};

START_TEST(decide_table)
{
    const struct decide_case *c = &cases[_i];
    struct coop_blas_inputs in = {c->cpu, c->core, c->config, c->env_coretype, c->env_reexec};
    struct coop_blas_decision d;
    coop_blas_decide(&in, &d);
    ck_assert_msg(d.reexec == (c->expect_coretype != NULL), "%s: reexec %d (%s)", c->what,
                  d.reexec, d.reason);
    if (c->expect_coretype)
        ck_assert_msg(d.coretype && !strcmp(d.coretype, c->expect_coretype),
                      "%s: coretype %s, expected %s", c->what, d.coretype ? d.coretype : "NULL",
                      c->expect_coretype);
    else
        ck_assert_msg(d.coretype == NULL, "%s: coretype %s", c->what, d.coretype);
    ck_assert_msg(d.choice == c->expect_choice, "%s: choice %s", c->what,
                  coop_blas_choice_name(d.choice));
    ck_assert_msg(d.reason[0] != '\0', "%s: no reason", c->what);
}
END_TEST

START_TEST(choice_names)
{
    ck_assert_str_eq(coop_blas_choice_name(COOP_BLAS_CHOICE_OPENBLAS), "openblas");
    ck_assert_str_eq(coop_blas_choice_name(COOP_BLAS_CHOICE_COOP), "coop");
    ck_assert_str_eq(coop_blas_choice_name(COOP_BLAS_CHOICE_ENVIRONMENT), "environment");
}
END_TEST

START_TEST(wait_decide)
{
    static const struct {
        const char *policy, *spincount, *want, *what;
    } w[] = {
        {NULL, NULL, "passive", "nothing set: the passive policy"},
        {"", "", "passive", "empty counts as unset"},
        {"active", NULL, NULL, "the user's policy kept"},
        {NULL, "10000", NULL, "the user's spin count kept, no policy added"},
        {"active", "100", NULL, "both set: nothing"},
    };
    for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
        const char *got = coop_threads_wait_decide(w[i].policy, w[i].spincount);
        ck_assert_msg(w[i].want ? got && !strcmp(got, w[i].want) : !got, "%s: got %s", w[i].what,
                      got ? got : "-");
    }
}
END_TEST

/* 1 when the "flags" line of /proc/cpuinfo names flag, 0 when not, -1 when
 * there is no such line. */
static int cpuinfo_has(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int found = -1;
    while (f && found < 0 && fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            found = 0;
            for (char *t = strtok(strchr(line, ':') + 1, " \n"); t; t = strtok(NULL, " \n"))
                found |= !strcmp(t, flag);
        }
    if (f)
        fclose(f);
    return found;
}

START_TEST(detect_matches_cpuinfo)
{
    struct coop_cpu_features f;
    coop_cpu_detect(&f);
    if (cpuinfo_has("fpu") < 0) {
        fprintf(stderr, "no x86 flags line in /proc/cpuinfo: detection not compared\n");
        ck_assert(!f.avx2 && !f.avx512f);
        return;
    }
    const struct {
        const char *flag;
        bool have;
    } t[] = {{"avx", f.avx}, {"avx2", f.avx2}, {"fma", f.fma}, {"avx512f", f.avx512f},
             {"avx512bw", f.avx512bw}, {"avx512vl", f.avx512vl}, {"avx512dq", f.avx512dq},
             {"avx512_bf16", f.avx512_bf16}};
    /* valgrind emulates a CPU without AVX-512: there, only claim nothing extra */
    bool subset = getenv("COOP_VALGRIND") != NULL;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        ck_assert_msg(subset ? !t[i].have || cpuinfo_has(t[i].flag) == 1
                             : cpuinfo_has(t[i].flag) == (int)t[i].have,
                      "%s: cpuid says %d", t[i].flag, t[i].have);
    bool amx = cpuinfo_has("amx_tile") == 1 && cpuinfo_has("amx_bf16") == 1;
    ck_assert(subset ? !f.amx || amx : f.amx == amx);
    ck_assert(f.vendor[0] != '\0');
    char desc[256];
    coop_cpu_describe(&f, desc, sizeof desc);
    ck_assert_msg(strstr(desc, f.vendor) == desc, "%s", desc);
    ck_assert(!f.avx2 || strstr(desc, " avx2"));
}
END_TEST

/* Runs cmd (through the shell, stderr into stdout) and returns its output. */
static char *run_capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    size_t k;
    while ((k = fread(out + len, 1, cap - 1 - len, p)) > 0)
        len += k;
    out[len] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    return out;
}

/* coop-run --version under a fake corename: with COOP_VERBOSE its BLAS line
 * says what happened. The fake reports Prescott while OPENBLAS_CORETYPE is
 * unset and the real core once it is set (the type coop chose, which need not
 * be the one OpenBLAS detects unfaked: SkylakeX on a Sapphire Rapids host
 * where coop picks Cooperlake), so only an executable that re-executed itself
 * with OPENBLAS_CORETYPE reports coop's choice. */
static char *run_fake(const char *env)
{
    const char *root = getenv("COOP_BUILD_ROOT");
    ck_assert_ptr_nonnull(root);
    char *cmd = coop_asprintf(
        "env -u OPENBLAS_CORETYPE -u " COOP_BLAS_REEXEC_ENV " COOP_VERBOSE=1 %s "
        "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0\" "
        "LD_PRELOAD=\"%s/tests/blas/libfake_corename.so${LD_PRELOAD:+:$LD_PRELOAD}\" "
        "%s/core/cli/coop-run/coop-run --version 2>&1",
        env, root, root);
    char *out = run_capture(cmd);
    free(cmd);
    return out;
}

START_TEST(reexec_end_to_end)
{
    struct coop_cpu_features f;
    coop_cpu_detect(&f);
    struct coop_blas_inputs in = {&f, "Prescott", CFG, NULL, NULL};
    struct coop_blas_decision d;
    coop_blas_decide(&in, &d);
    char *out = run_fake("");
    ck_assert_msg(strstr(out, "coop-run 0.1") != NULL, "%s", out);
    if (!d.reexec) { /* a CPU without AVX2 + FMA: Prescott is kept */
        ck_assert_msg(strstr(out, "BLAS core Prescott, chosen by openblas") != NULL, "%s", out);
        free(out);
        return;
    }
    /* under valgrind this process sees fewer features than coop-run (not traced) */
    char *want = getenv("COOP_VALGRIND")
                     ? coop_asprintf("chosen by coop: coop set OPENBLAS_CORETYPE=")
                     : coop_asprintf("BLAS core %s, chosen by coop: coop set "
                                     "OPENBLAS_CORETYPE=%s: OpenBLAS had detected Prescott",
                                     d.coretype, d.coretype);
    ck_assert_msg(strstr(out, want) != NULL, "expected '%s' in:\n%s", want, out);
    free(want);
    free(out);
    out = run_fake("OPENBLAS_CORETYPE=Prescott"); /* set by the user: kept, no re-exec */
    ck_assert_msg(strstr(out, "chosen by environment: OPENBLAS_CORETYPE=Prescott was set "
                              "outside coop; kept") != NULL, "%s", out);
    free(out);
    out = run_fake(COOP_BLAS_REEXEC_ENV "=Prescott:Cooperlake"); /* loop guard */
    ck_assert_msg(strstr(out, "BLAS core Prescott, chosen by openblas") != NULL &&
                  strstr(out, "re-executed once already") != NULL, "%s", out);
    free(out);
}
END_TEST

static char *attr(const char *file, const char *name)
{
    struct coop_results_reader *r = NULL;
    struct coop_err e;
    char *v = NULL;
    ck_assert_msg(coop_results_open(file, &r, &e) == 0, "%s", e.msg);
    ck_assert_msg(coop_results_read_attr_str(r, name, &v, &e) == 0, "%s", e.msg);
    coop_results_close(r);
    return v;
}

static void write_trial(const char *dir, const char *id)
{
    struct coop_results_writer *w = NULL;
    struct coop_err e;
    ck_assert_msg(coop_results_begin(dir, id, true, &w, &e) == 0, "%s", e.msg);
    ck_assert_msg(coop_results_commit(w, "completed", NULL, &e) == 0, "%s", e.msg);
}

START_TEST(results_record_core)
{
    char dir[4096];
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "blas"), 0);
    char *file = coop_asprintf("%s/t1.h5", dir);
    const char *was = getenv("OPENBLAS_CORETYPE");
    char *saved = was ? coop_strdup(was) : NULL;
    unsetenv("OPENBLAS_CORETYPE");
    write_trial(dir, "t1");
    char *core = attr(file, "blas_core"), *choice = attr(file, "blas_core_choice");
    ck_assert_str_eq(core, openblas_get_corename());
    ck_assert_str_eq(choice, "openblas");
    free(choice);
    setenv("OPENBLAS_CORETYPE", "Haswell", 1); /* as if the user had set it */
    write_trial(dir, "t1");
    choice = attr(file, "blas_core_choice");
    ck_assert_str_eq(choice, "environment");
    free(choice);
    setenv(COOP_BLAS_REEXEC_ENV, "Prescott:Haswell", 1); /* as after coop's re-exec */
    write_trial(dir, "t1");
    choice = attr(file, "blas_core_choice");
    ck_assert_str_eq(choice, "coop");
    unsetenv(COOP_BLAS_REEXEC_ENV);
    if (saved)
        setenv("OPENBLAS_CORETYPE", saved, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    free(saved), free(choice), free(core), free(file);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

START_TEST(verbose_switch)
{
    const char *was = getenv("COOP_VERBOSE");
    char *saved = was ? coop_strdup(was) : NULL;
    unsetenv("COOP_VERBOSE");
    ck_assert(!coop_verbose());
    setenv("COOP_VERBOSE", "0", 1);
    ck_assert(!coop_verbose());
    setenv("COOP_VERBOSE", "", 1);
    ck_assert(!coop_verbose());
    setenv("COOP_VERBOSE", "1", 1);
    ck_assert(coop_verbose());
    if (saved)
        setenv("COOP_VERBOSE", saved, 1);
    else
        unsetenv("COOP_VERBOSE");
    free(saved);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blas");
    TCase *tc = tcase_create("core type");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, decide_table, 0, (int)(sizeof cases / sizeof *cases));
    tcase_add_test(tc, choice_names);
    tcase_add_test(tc, wait_decide);
    tcase_add_test(tc, detect_matches_cpuinfo);
    tcase_add_test(tc, reexec_end_to_end);
    tcase_add_test(tc, results_record_core);
    tcase_add_test(tc, verbose_switch);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
