/* coop-prompt: a trial's learned context as nearest words, and its export as
 * a prompt file coop-eval can evaluate. Thin wrapper over coop/prompt.h. */
#include "coop/cpu.h"
#include "coop/loader.h"
#include "coop/prompt.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: coop-prompt [options] TRIAL.h5\n"
               "Prints each learned context vector of a prompt trial (per class for\n"
               "class-specific context) with its nearest tokens of the backbone's embedding\n"
               "table, cosine similarity and L2 distance; tokens are shown as text, with a\n"
               "trailing '-' when a token does not end a word (docs/running.md).\n"
               "  --top K          nearest tokens per vector (default 5)\n"
               "  --by l2|cosine   rank by L2 distance or cosine similarity (default cosine)\n"
               "  --class C        class-specific context: only class C (name or 1-based index)\n"
               "  --export OUT.h5  write the learned context as a prompt file for\n"
               "                   coop-eval --prompt (schema: docs/results.md); no backbone\n"
               "                   is loaded unless words are printed too (--show)\n"
               "  --show           with --export, print the nearest words as well\n"
               "  --plugin-path P  also load plugins from P (repeatable)\n"
               "  --version, --help\n"
               "Example:\n"
               "  coop-prompt results/fewshot/<trial_id>.h5 --top 3\n"
               "  coop-prompt results/fewshot/<trial_id>.h5 --export ctx.h5\n"
               "Exit status: 0 done, 1 out of memory or the export could not be written,\n"
               "2 usage or input error (bad option, a file that is not a prompt trial's,\n"
               "a backbone that does not load).\n");
}

static int parse_top(const char *v, int *top)
{
    char *end;
    long k = strtol(v, &end, 10);
    if (*end || k < 1 || k > 64) {
        fprintf(stderr, "coop-prompt: --top %s: expected an integer from 1 to 64\n", v);
        return 2;
    }
    *top = (int)k;
    return 0;
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    struct coop_prompt_request q = {0};
    const char *extra[64], *export_to = NULL;
    size_t n_extra = 0;
    int show = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--version")) { printf("coop-prompt %s\n", coop_version_string()); return 0; }
        else if (!strcmp(a, "--show")) show = 1;
        else if (!strcmp(a, "--top") && v) { if (parse_top(argv[++i], &q.top_k)) return 2; }
        else if (!strcmp(a, "--by") && v && (!strcmp(v, "l2") || !strcmp(v, "cosine"))) q.by_l2 = !strcmp(argv[++i], "l2");
        else if (!strcmp(a, "--export") && v) export_to = argv[++i];
        else if (!strcmp(a, "--class") && v) q.cls = argv[++i];
        else if (!strcmp(a, "--plugin-path") && v && n_extra < 64) extra[n_extra++] = argv[++i];
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "coop-prompt: unknown option or missing value: %s\n", a); usage(stderr); return 2; }
        else if (!q.file) q.file = a;
        else { fprintf(stderr, "coop-prompt: more than one results file given (%s)\n", a); return 2; }
    }
    if (!q.file) {
        usage(stderr);
        return 2;
    }
    struct coop_err e = {{0}};
    int rc = 0;
    if (export_to && (rc = coop_prompt_export(q.file, export_to, &e)) == 0)
        fprintf(stderr, "coop-prompt: wrote %s\n", export_to);
    if (rc == 0 && (!export_to || show)) {
        struct coop_registry *reg = NULL;
        rc = coop_registry_create(&reg, &e);
        if (rc == 0)
            rc = coop_registry_discover(reg, extra, n_extra, &e);
        if (rc == 0)
            rc = coop_prompt_show(&q, reg, stdout, &e);
        coop_registry_free(reg);
    }
    if (rc) {
        fprintf(stderr, "coop-prompt: %s\n", e.msg);
        return rc == COOP_E_NOMEM || (rc == COOP_E_IO && export_to) ? 1 : 2;
    }
    return 0;
}
