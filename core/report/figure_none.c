/* figure_none.c: built when cairo is absent: figures are skipped and the
 * report says so (see report.c). */
#include "report_internal.h"

const bool coop_rp_have_figures = false;

int coop_rp_figure_fewshot(const struct rp_curves *c, const char *stem, struct coop_err *e)
{
    return coop_fail(e, COOP_E_UNSUPPORTED, "%s: figures need cairo, which was not found when "
                     "coop was built (install libcairo2-dev and reconfigure)", stem);
}
