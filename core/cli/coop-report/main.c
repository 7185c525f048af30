/* coop-report: turn results/<experiment> into tables, figures and an export.
 * Thin wrapper: argument parsing and printing; the work is coop_report_generate. */
#include "coop/report.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: coop-report [--out DIR] [--no-figures] [--quiet] results/<experiment>\n"
          "Writes tables (Markdown, CSV, LaTeX), few-shot figures (PNG, SVG) and an export of\n"
          "all trials (CSV, HDF5) under <results>/report/ (or --out DIR).\n"
          "  --out DIR      output folder (default: <results>/report)\n"
          "  --no-figures   do not draw figures\n"
          "  --quiet        do not print the tables\n"
          "  --version, --help\n"
          "Example:\n"
          "  coop-report results/fewshot\n"
          "Exit status: 0 written, 1 the report could not be made (no readable results,\n"
          "an output that cannot be written), 2 usage or input error (bad option, no such\n"
          "results folder).\n", f);
}

int main(int argc, char **argv)
{
    struct coop_report_options opt = {NULL, NULL, true};
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            opt.out_dir = argv[++i];
        } else if (!strcmp(argv[i], "--no-figures")) {
            opt.figures = false;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("coop-report %s\n", coop_version_string());
            return 0;
        } else if (argv[i][0] == '-' || opt.results_dir) {
            fprintf(stderr, "coop-report: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            opt.results_dir = argv[i];
        }
    }
    if (!opt.results_dir) {
        usage(stderr);
        return 2;
    }
    if (!coop_dir_exists(opt.results_dir)) {
        fprintf(stderr, "coop-report: %s: no such results folder\n", opt.results_dir);
        return 2;
    }
    struct coop_report_output out;
    struct coop_err e;
    if (coop_report_generate(&opt, &out, &e) != 0) {
        fprintf(stderr, "coop-report: %s\n", e.msg);
        return 1;
    }
    if (!quiet)
        fputs(out.markdown, stdout);
    for (size_t i = 0; i < out.n_warnings; i++)
        fprintf(stderr, "coop-report: warning: %s\n", out.warnings[i]);
    printf("%zu trial files: %zu completed, %zu failed, %zu unreadable\n", out.n_files,
           out.n_completed, out.n_failed, out.n_unreadable);
    for (size_t i = 0; i < out.n_written; i++)
        printf("wrote %s\n", out.written[i]);
    coop_report_output_free(&out);
    return 0;
}
