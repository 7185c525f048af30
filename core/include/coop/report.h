/* coop/report.h: turning a results folder (one HDF5 file per trial, see
 * results.h) into the paper's tables (Markdown, CSV, LaTeX), few-shot curve
 * figures (PNG, SVG; needs cairo at build time) and a consolidated export
 * (CSV + HDF5). Library code: never prints; what a tool should show is handed
 * back in struct coop_report_output. Layout and conventions: docs/reports.md. */
#ifndef COOP_REPORT_H
#define COOP_REPORT_H

#include "coop/common.h"
#include <stdbool.h>

struct coop_report_options {
    const char *results_dir; /* results/<experiment> */
    const char *out_dir;     /* NULL: <results_dir>/report */
    bool figures;            /* draw figures (ignored, with a note, without cairo) */
};

/* Everything a caller may want to show. All strings malloc'd; free the whole
 * struct with coop_report_output_free. */
struct coop_report_output {
    char *markdown;      /* all tables as Markdown, in order, for printing */
    char **warnings;     /* mixing, duplicates, unreadable files, skipped figures */
    size_t n_warnings;
    char **written;      /* every file written, in order */
    size_t n_written;
    size_t n_files;      /* .h5 files seen */
    size_t n_completed, n_failed, n_unreadable;
};

/* Reads every <results_dir>/<trial>.h5 (dot-files, i.e. unfinished temporary files,
 * are ignored), writes tables/, figures/ and export/ under the output folder
 * and fills *out. Unreadable trial files are reported as warnings, not
 * errors; an unreadable folder or an unwritable output is an error. */
COOP_API int coop_report_generate(const struct coop_report_options *opt,
                                  struct coop_report_output *out, struct coop_err *e);
COOP_API void coop_report_output_free(struct coop_report_output *out);
/* Whether this build can draw figures (cairo was found at build time). */
COOP_API bool coop_report_have_figures(void);

/* "61.2 ± 1.3 (2/3 seeds, 1 failed)": the cell text for n values (percent)
 * out of expected, with failed trials counted; exposed for tests and tools.
 * Mean ± 1.96 * sample std / sqrt(n); n == 0 gives "—". */
COOP_API void coop_report_format_cell(char *buf, size_t len, const double *v, size_t n,
                                      size_t expected, size_t failed);

#endif
